// Package engine is the wssd server: it owns the sockets and the gnet event
// loops, runs the HTTP upgrade, drives the frame codec and hands complete
// messages to a Handler.
//
// Every connection lives on one event loop, and all of its state is touched
// only there (see DESIGN.md, "Thread confinement"). Handler methods are
// called on that loop and must not block it. Work from other goroutines
// reaches a connection through the methods documented as safe for
// concurrent use, which post it to the connection's loop.
package engine
