// Package sockjs is the SockJS protocol (0.3, what sockjs-client 1.x
// speaks) on the engine's event loops, so that SockJS clients, unchanged,
// connect to wssd, through proxies that let no WebSocket through too. A
// Server serves one route and every path under it (an
// engine.SubtreeHandler): the greeting, /info, the iframe page, the raw
// WebSocket endpoint /websocket, and a session's transports at
// /<server>/<session>/<transport>. It is an engine.Protocol and an
// engine.Ticker (its per-loop counts reach the metrics each tick), built
// on the engine's public API as every protocol beside the core is. The
// application is a Handler: Echo, Hub (the /ws pub/sub protocol, one
// request per message), or the caller's own.
//
// # Transports and frames
//
// The server sends frames: o when a session opens, h as a heartbeat, a
// followed by a JSON array of messages, each a JSON string, and
// c[code,"reason"] when it closes; a client sends a JSON array of
// strings (on WebSocket, one string will do too). The WebSocket transport
// carries one frame per WebSocket message. The HTTP transports receive
// on one request at a time: xhr and jsonp answer each request with one
// frame; xhr_streaming, eventsource and htmlfile stream frames in a
// chunked answer (engine.Conn.Stream) until it has carried
// Config.ResponseLimit bytes, and the client makes another. They send
// with xhr_send and jsonp_send. Each transport wraps a frame its own way
// (a line, an event, a script calling the page's callback). A second
// receiving request while one waits gets c[2010,"Another connection still
// open"]; a receiving request whose connection is cut ends its session
// (1002 "Connection interrupted"). Strings are escaped as the protocol
// asks of servers, beside what JSON needs: the characters browsers
// mangle, and, in a script, '<'.
//
// # Sessions and their home loop
//
// A WebSocket session is its connection's: it lives on that loop and is
// in no table. A session of the HTTP transports outlives their requests,
// which may come on any connection, so on any loop: as an Engine.IO
// polling session does (package socketio), it lives on one loop, its
// home, and only that loop touches it; a request on another loop posts
// its work there (engine.Loop.Post), and the answer comes back to the
// request's loop the same way. Unlike Engine.IO's, a SockJS session id
// is the client's choice, so it cannot name its home: a sharded index
// maps the ids of the HTTP sessions to their homes (the loop of the
// session's first request). It is consulted once per HTTP request, never
// per message, and no lock sits on a message's path. A session of the
// HTTP transports takes requests from the address that opened it only:
// another address is answered as if there were no such session.
//
// # Deadlines and bounds
//
// Heartbeats, the disconnect delay and a token's expiry are
// engine.Timers on the home loop's wheel. A session of the HTTP
// transports whose client makes no receiving request for
// Config.DisconnectDelay ends; a closed one answers its close frame for
// as long, then is forgotten. What waits for an HTTP client is bounded by
// Config.MaxQueued (past it the session ends as a slow consumer, 1008),
// what a WebSocket one does not read by the engine's MaxOutbound, what a
// client sends by the engine's MaxMessageSize (a WebSocket frame) and
// MaxRequestBody (an HTTP body).
//
// # Gates
//
// The engine applies its gates to every request under the route: the
// origin allowlist (with CORS answers for allowed origins), per-IP caps
// at accept, and a token in the usual places if one is there (the query
// string's "token" is the one every transport of sockjs-client can
// carry). A session of the HTTP transports holds no connection of its
// own, so it takes a share of the per-IP cap while it lives (429 past
// it). Every session's messages pass the engine's rate limits in buckets
// of its own (1008 "rate limit exceeded"). With engine Config.Auth, a
// session whose request carried no valid token must send one as its
// first message, within the handshake timeout; the application sees
// the session only then (OnOpen), and the session ends with 1008 when
// the token expires.
package sockjs
