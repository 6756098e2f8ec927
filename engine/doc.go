// Package engine is the core of the wssd server: it owns the sockets and
// the gnet event loops, terminates TLS, runs the HTTP upgrade, drives the
// frame codec through the security gates and hands complete messages to a
// Handler. Protocols are built beside it, on its public API
// (engine/pubsub, engine/socketio and engine/sockjs are three); it
// imports none of them.
//
// This comment is the design. Where the code and it disagree, fix one of
// them in the same change.
//
// # The data path
//
// One direction in, one out, no back and forth:
//
//	socket → event loop → [TLS records → plaintext] → HTTP upgrade (once) → frames → [inflate] → gates → Handler
//	socket ← gnet's queue ← [TLS records] ← frame encoder ← [deflate] ← Handler (Conn.Write), hub (Conn.WritePrepared)
//
// On the route of an HTTPHandler, requests that are not upgrades take a
// path of their own before the upgrade, if any:
//
//	… plaintext → request head and body → gates → HTTPHandler.ServeHTTP → Conn.Respond (or Conn.Stream, in parts) → [TLS records] → socket
//
// The packages, in the order the bytes meet them:
//
//   - engine: sockets and loops (gnet v2). A connection's Conn lives in its
//     gnet connection's context and goes through the states upgrade →
//     open → closing → flushing → lingering → closed (conn.go). A wss://
//     connection reaches its loop with its TLS handshake done.
//   - engine/tlsrec: crypto/tls runs every handshake, in a bounded pool of
//     workers off the loops; the TLS 1.3 record layer after it is wssd's,
//     on the loop (see its package doc). TLS 1.2 clients keep a tls.Conn
//     on the loop over a small net.Conn.
//   - engine/http1: the request head, parsed where it lies in the read
//     buffer, strictly; the upgrade and its 101. A request's route is its
//     path, or the SubtreeHandler's route it is under (subtree.go). A
//     request that is not an upgrade gets an HTTP answer (the page at /,
//     404, 405, 426...) and a close, unless its route's Handler is an
//     HTTPHandler (httpserve.go): then the body is read too, by its
//     Content-Length or decoded from its chunks as they come (chunked.go),
//     and the handler (every method but a CORS preflight goes to it)
//     answers, at once or later, whole or streamed in parts (chunked), on
//     a connection kept alive, one request at a time; the bytes of the
//     next wait where they are, bounded.
//   - codec: bytes in, frames and messages out (RFC 6455), no goroutine
//     and no I/O of its own; permessage-deflate's negotiation and its
//     DEFLATE state (RFC 7692), which the engine holds per loop
//     (deflate.go).
//   - security: each gate a small type with one decision method and no
//     I/O: origins, tokens, connection caps and handshake rates, token
//     buckets, message validation, TLS policy and certificates.
//   - engine/pubsub: the hub and the /ws protocol; engine/pubsub/natsbroker
//     carries them between processes.
//   - engine/socketio: Engine.IO and Socket.IO, an HTTPHandler whose
//     sessions outlive their requests, each on a home loop its id names;
//     rooms are the hub's topics (hub Members with a Sink of their own).
//     engine/socketio/packet is the wire formats, shared with bench.
//   - engine/sockjs: SockJS, a SubtreeHandler (every path under its
//     route): its WebSocket sessions are their connections'; those of its
//     HTTP transports live on a home loop as Engine.IO's do, found by a
//     sharded index of the ids clients choose, consulted once per
//     request; its streaming transports answer with Conn.Stream.
//   - engine/adminapi: the server API for backends, on the admin listener
//     (not on the loops): Hub.Publish and Server.CloseSubject behind a
//     bearer key.
//   - bench: the load generator (cmd/wssbench); cmd/wssd: flags in, Config
//     out, signals, logs; no protocol logic.
//
// # Rules of the house
//
//  1. Thread confinement. A connection's state is touched only on its
//     own event loop. Work from anywhere else reaches it through
//     Loop.Post or Conn.Post (which is what Send and Close do): no mutex
//     on the per-message path. Every method says which goroutine may call
//     it: "Called on the loop" or "Safe for concurrent use".
//  2. Zero copy where the bytes allow it. A complete frame is parsed,
//     unmasked and handed to the Handler inside the loop's read buffer;
//     over TLS 1.3 the records are opened in place there too. The slice a
//     Handler gets is valid until it returns, as its method says. Only an
//     incomplete tail is kept per connection (gnet keeps it for ws://;
//     for wss:// the decrypted tail is the connection's only copy; a
//     chunked request body that comes in pieces is kept decoded:
//     chunked.go).
//  3. Per-loop scratch, not per-connection buffers. An idle connection
//     owns no read or write buffer: frame headers, responses, records
//     being sealed, the JSON parser and the DEFLATE compressor and
//     decompressor (and what they make) are the loop's; without context
//     takeover, permessage-deflate costs a connection two bytes. Partial messages
//     are bounded by the loop's share of Config.ReassemblyBudget (no lock,
//     no atomic), and what waits to be written by Config.MaxOutbound.
//  4. No goroutine and no timer per connection. Handshake, keep-alive,
//     ping, pong, idle, close and token deadlines live on one hashed
//     timing wheel per loop, advanced on that loop each tick of
//     Config.Clock that has something due, or follows activity (a loop
//     with nothing to do is left asleep: loop.go). Activity only stamps
//     the loop's clock; the wheel looks again when a timer fires
//     (deadlines.go), so the per-message path is a store, not a list
//     move.
//  5. TLS: the handshake by crypto/tls, the TLS 1.3 records by us. The
//     workers bound the CPU and memory a handshake flood takes, and
//     their deadline is the server's handshake wheel. For TLS 1.3,
//     crypto/tls hands over the traffic secrets through its documented
//     KeyLogWriter; the tls.Conn is dropped and the records (AEAD seal
//     and open, KeyUpdate, alerts) run on the loop. An idle connection
//     holds keys, not ciphers or buffers. No fork of crypto/tls: what
//     wssd writes is the record layer, the part kernel TLS also takes.
//  6. Encode once, fan out by loop. A publication is encoded once
//     (Prepare) and posted once to each loop with subscribers; each loop
//     writes it to its own connections (TLS seals per connection, which
//     cannot be shared). Its compressed frame is made once too, by the
//     first loop with a subscriber that negotiated permessage-deflate,
//     for each server window size asked for, and shared. A peer that does not read holds at most
//     MaxOutbound: past it Config.SlowConsumer applies, and is counted.
//  7. Reject early and cheaply. Connection caps and handshake rates at
//     accept, before a byte is read (behind a trusted load balancer, the
//     per-address ones once its PROXY protocol header has named the
//     client: proxy.go); origin and token before the 101, with
//     403 and 401 (and before an HTTPHandler's ServeHTTP, with a body's
//     size from its head: 413 before it is read, or a chunked one's
//     as its chunk sizes come); rates, sizes and
//     validation per frame and message, with a close code and a reason;
//     a compressed message by what it inflates to, checked as it
//     inflates. Every refusal is counted by reason (Refusal,
//     wssd_refusals_total) and logged, sampled, so that an attack cannot
//     flood the log.
//  8. Hot-path metrics are batched. Loops count in plain integers and
//     add them to the shared counters once per tick and before each
//     scrape (a Ticker protocol does the same with its own); a counter
//     never costs an atomic per message.
//
// # Protocols
//
// A protocol is a Handler on its routes, and where it needs more, a
// Protocol (attached by New, started and stopped with the server), a
// Ticker (per-loop counts), a JSONHandler (its messages validated and
// parsed by the core: Conn.JSON) or an HTTPHandler (plain HTTP requests
// too, for a long-polling or streaming transport: Conn.Respond,
// Conn.Stream, Conn.Accept; a SubtreeHandler on the paths under its route
// as well, for a transport that puts a session in the path). Its
// per-connection state goes in the connection's slot (Conn.SetSlot; a
// Closer is told of the close, of an HTTP connection too, so that a
// pending long poll or an open stream learns that its client went), its
// per-loop state in a slice by Loop.Index, its refusals are registered
// with NewRefusal, and its own deadlines are Timers on a loop's wheel
// (Loop.Schedule). State that outlives a connection (a polling session)
// lives on one loop and is reached from the others with Loop.Post, as
// engine/socketio's and engine/sockjs's do; its rate buckets fill at
// Server.Rates, and its own caps follow Server.Reload (a Reloader). The
// core does not know it is there.
//
// # Scale on one host
//
// Linux limits each process's open files: production hosts raise the
// hard limit (1M and more); the Go runtime raises the soft limit to it at
// start, and cmd/wssd warns when --max-connections is past it. Several
// processes can share a port with Config.ReusePort (the kernel spreads
// connections); their hubs then meet through a broker, as several hosts'
// do. The load generator shards its connections over processes and
// loopback source addresses for the same reason.
package engine
