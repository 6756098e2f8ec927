// Package http1 is HTTP/1.1 as the event loop speaks it: request heads
// read straight from the loop's buffer, and the WebSocket opening
// handshake (RFC 6455 section 4.2), with no goroutines, no I/O and no
// allocation of its own.
//
// Request heads have one reader, strict by design: HeadLen finds where a
// head ends, Parse parses it by RFC 9112's grammar, refusing what is
// malformed or ambiguous (a duplicated singleton field, whitespace before
// a colon, a folded line, a body that two parsers could frame differently)
// rather than guessing, and CheckUpgrade decides whether it is an opening
// handshake, which AppendUpgradeResponse answers. A refusal is an *Error
// that carries the status to answer with.
//
// A request's body is framed by its head alone (Request.ContentLength,
// Request.TransferEncoding), so a transport that takes bodies (HTTP long
// polling) reads it after the head from the same buffer, and the next
// request of a kept-alive or pipelined connection after that. The engine
// does so on the routes of its HTTPHandlers, one request at a time, up to
// a limit (ErrBodyTooLarge): a body of a Content-Length, or a chunked one
// (Transfer-Encoding: chunked, the only coding Parse takes), which Chunked
// decodes as it arrives, in pieces of any size, without reading any byte
// twice. Request.Query reads a parameter of the target's query for them
// (QueryParam, for a query from elsewhere; the security package's token
// reader is one).
package http1
