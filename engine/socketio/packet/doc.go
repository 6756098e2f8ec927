// Package packet reads and writes the wire formats of Engine.IO v4 and
// Socket.IO v5, as their protocol documents (the READMEs of
// socketio/engine.io-protocol and socketio/socket.io-protocol) define
// them. It has no I/O, no goroutines and no state: a server's event loop
// and a load generator call it for every message. Its functions are safe
// for concurrent use; the fastjson.Parser a caller hands them is not, so
// each loop or goroutine has its own.
//
// # Engine.IO
//
// A Packet is a Type and its data. Over WebSocket each packet is one
// frame: a text frame holds the type's character and the data (ParseText,
// AppendText); a binary frame holds the data of a binary message, as it
// is, with no type. Over HTTP long-polling a body (a payload) holds one
// or more packets separated by Separator (0x1e), a binary message written
// as 'b' and its data in standard base64 (SplitPayload, AppendPayload).
// The open packet's data is a Handshake.
//
// # Socket.IO
//
// A Socket.IO packet (SPacket) is the data of an Engine.IO message:
//
//	<type>[<attachments>-][<namespace>,][<id>][<JSON>]
//
// ParseSocket checks it as the reference parser does and more strictly
// (see its doc): the JSON is parsed once, with the caller's
// fastjson.Parser, and the parsed value is handed back, so that a server
// reads the event name and the arguments without parsing again. A binary
// packet (BinaryEvent, BinaryAck) stands for its JSON with placeholders,
// {"_placeholder":true,"num":N}, and is followed by Attachments binary
// messages, the Nth replacing placeholder N.
//
// # Buffers and errors
//
// Parsed packets alias the bytes they were parsed from: their Data and
// Namespace are valid as long as those bytes are, and are read-only (the
// main namespace "/" is a shared slice). The AppendX functions append to
// the caller's buffer and allocate nothing when it has room; they write
// what they are given, and a caller that gives them an invalid packet
// gets an invalid packet.
//
// Parsing is strict and fails closed: anything malformed is an error,
// never a panic, and the work done is linear in the input (JSON nesting
// is bounded by fastjson.MaxDepth). The errors are the package's
// sentinels, compared with errors.Is; each means the peer broke the
// protocol, and the connection is ended.
//
// Text is UTF-8. A WebSocket text frame has been checked as UTF-8 by the
// WebSocket layer before ParseText and ParseSocket see it; SplitPayload
// checks the text packets of a polling body itself.
package packet
