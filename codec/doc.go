// Package codec turns bytes into WebSocket frames and messages and back
// (RFC 6455), with no goroutines and no I/O of its own.
//
// Frames are parsed straight from a caller's buffer: ParseHeader reads a
// header, Reader.Check vets it against the stream before its payload has
// arrived (so an oversized message is refused on its declared length), and
// Reader.Frame unmasks a complete frame in place, validates it and returns a
// message once one is whole. A message that arrived in a single frame is
// returned as a sub-slice of the caller's buffer. A data frame whose payload
// arrives in pieces is fed to Reader.Feed after Reader.Begin; it and
// fragmented messages are copied into a reassembly buffer that is released
// when the message ends.
//
// Frames are written with the AppendX functions, which append to a caller's
// buffer and allocate nothing when it has room.
//
// The permessage-deflate extension (RFC 7692) is here too, as parts a
// server puts together: NegotiateDeflate answers a request's offers by a
// DeflatePolicy, the Reader takes RSV1 on a message's first frame once it
// is negotiated (Reader.Deflate) and returns the message compressed, and a
// Compressor and a Decompressor hold the DEFLATE state for any number of
// connections, one message at a time, so that a server keeps one of each
// per event loop rather than per connection. Decompressor.Append stops at a
// limit, so a message that would inflate past it costs no more than the
// limit's worth of work. A window kept between messages (context takeover)
// is the caller's, as a dictionary (Window).
//
// The opening handshake, an HTTP/1.1 exchange, is engine/http1's.
package codec
