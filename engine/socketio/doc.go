// Package socketio is Engine.IO v4 and Socket.IO v5 on the engine's event
// loops, so that Socket.IO clients, unchanged, connect to wssd: a Server
// is the handler of its route (DefaultPath), built on the engine's public
// API as every protocol beside the core is. It is an engine.HTTPHandler
// (the polling transport, and upgrades it decides on), an engine.Protocol
// and an engine.Ticker (its per-loop counts reach the metrics each tick).
// The wire formats are package packet's.
//
// # Sessions and their home loop
//
// An Engine.IO session outlives the HTTP requests of a polling client,
// and those may arrive on any TCP connection, so on any loop. A session
// lives on one loop, its home, and only that loop touches it: its id's
// first byte names the home (the other 15 are random), so a request on
// another loop posts its work there (engine.Loop.Post), and the answer
// comes back to the request's loop the same way. No table is shared by
// the loops, and no lock sits on a message's path (rule 1 of the house,
// in package engine's doc). A polling session's home is the loop of its
// handshake; a WebSocket session's, its connection's. An upgrade moves
// the session to the WebSocket's loop: the old home ends the polling
// (the waiting GET gets a noop), cancels its timers and leaves its rooms,
// and posts the session to the new one, which takes it up with what the
// client sent meanwhile; from then on the session's id names a loop that
// no longer has it, so a later poll, or a second upgrade, gets 400.
//
// # Deadlines and bounds
//
// A session's ping and its connect timeout are engine.Timers on its home
// loop's wheel. The server pings every PingInterval and ends a session
// whose pong has not come PingTimeout after a ping, so a polling client
// that is gone is found as a WebSocket one is. A GET waits until a packet
// is to be sent: at the latest the next ping. What waits for a polling
// client is bounded by Config.MaxPackets and MaxPayload; past either the
// session ends as a slow consumer. A polling session's messages pass the
// engine's rate limits in buckets of its own; a WebSocket session's
// frames pass its connection's.
//
// # Gates
//
// The engine applies its gates to every request on the route: the origin
// allowlist (with CORS answers for allowed origins), per-IP caps at
// accept, and a token in the usual places if one is there. With engine
// Config.Auth, a CONNECT needs a token: the handshake's, or "token" in
// the CONNECT's auth object (what socket.io-client users write as
// io(url, {auth: {token}})); a refusal is a CONNECT_ERROR, which the
// client's connect_error handler sees.
//
// # Namespaces, events and rooms
//
// The application declares namespaces (Server.Of) and their events
// (Namespace.On), and emits to sockets (Socket.Emit, with acks both
// ways, binary arguments as attachments). Rooms are the hub's topics (see
// rooms.go), so a publication reaches /ws subscribers and Socket.IO
// sockets alike, across processes through the hub's broker; ServeHub
// speaks the hub's protocol in events, as wssd's standalone server does.
package socketio
