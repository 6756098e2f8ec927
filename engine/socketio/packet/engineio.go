package packet

import (
	"bytes"
	"encoding/base64"
	"unicode/utf8"
)

// Type is the type of an Engine.IO packet. Its value is the character
// that stands for it on the wire.
type Type byte

// The Engine.IO packet types.
const (
	Open    Type = '0' // server to client, first: the Handshake
	Close   Type = '1' // the transport may be closed
	Ping    Type = '2' // server to client; "probe" during an upgrade, from the client
	Pong    Type = '3' // the answer to a ping, with its data
	Message Type = '4' // data for the layer above: a Socket.IO packet
	Upgrade Type = '5' // client to server: the upgrade to WebSocket is done
	Noop    Type = '6' // nothing; ends a pending poll during an upgrade
)

// Separator separates the packets of a polling payload.
const Separator = 0x1e

// Valid reports whether t is one of the packet types.
func (t Type) Valid() bool { return t >= Open && t <= Noop }

var typeNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String is the type's name in the protocol document ("message"), or
// "Type(c)" for a byte that is no type.
func (t Type) String() string {
	if t.Valid() {
		return typeNames[t-Open]
	}
	return "Type(" + string(rune(t)) + ")"
}

// Packet is one Engine.IO packet.
type Packet struct {
	Type Type
	// Data is the packet's data: for a parsed packet a sub-slice of the
	// bytes it came from, or for a binary one of the caller's scratch;
	// read-only.
	Data []byte
	// Binary marks a binary message (Type is Message): Data is bytes, not
	// text. Over WebSocket it is a binary frame; in a polling payload, 'b'
	// and base64.
	Binary bool
}

// ParseText parses the packet of a WebSocket text frame: its type and
// its data, which aliases b. A binary message comes in a binary frame, as
// Packet{Type: Message, Data: frame, Binary: true}; the 'b' form belongs
// to polling payloads, and is ErrType here (the reference client's
// forceBase64 option sends it over WebSocket too; the protocol document
// does not).
func ParseText(b []byte) (Packet, error) {
	if len(b) == 0 {
		return Packet{}, ErrEmpty
	}
	t := Type(b[0])
	if !t.Valid() {
		return Packet{}, ErrType
	}
	return Packet{Type: t, Data: b[1:]}, nil
}

// AppendText appends the text form of p: its type and its data. Over
// WebSocket that is a text frame, and a binary packet is not written by
// it but sent as its Data in a binary frame; AppendText writes a binary
// packet in the polling form, 'b' and base64.
func AppendText(dst []byte, p Packet) []byte {
	if p.Binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, byte(p.Type))
	return append(dst, p.Data...)
}

// AppendPayload appends p to the polling payload dst holds: Separator
// first when dst is not empty, then the packet's text form (AppendText).
// dst holds the payload and nothing else; a body is built packet by
// packet from an empty dst.
func AppendPayload(dst []byte, p Packet) []byte {
	if len(dst) > 0 {
		dst = append(dst, Separator)
	}
	return AppendText(dst, p)
}

// strict64 is standard base64, refusing bits set in the padding.
var strict64 = base64.StdEncoding.Strict()

// SplitPayload parses a polling payload and calls f (not nil) with each
// of its packets, in order, once the whole payload has been checked: a
// malformed payload is an error and f is not called. It returns scratch,
// grown if it had to be, for the next call, and f's error if f returns
// one (f is not called again).
//
// The body holds 1 to maxPackets packets (a maxPackets below 1 counts as
// 1), separated by Separator: an empty body, an empty packet or a
// trailing separator is ErrEmpty. A text packet's data aliases body and
// must be valid UTF-8; a binary packet, 'b' and standard base64 with its
// padding (no line breaks), is decoded into scratch, reused from its
// start, and its Data is valid until scratch is used again.
func SplitPayload(body, scratch []byte, maxPackets int, f func(Packet) error) ([]byte, error) {
	scratch = scratch[:0]
	if len(body) == 0 {
		return scratch, ErrEmpty
	}
	maxPackets = max(maxPackets, 1)
	// First the checks, and the binary packets decoded.
	n := 0
	for rest := body; ; {
		p, next, more := cut(rest)
		if n++; n > maxPackets {
			return scratch, ErrTooMany
		}
		if len(p) == 0 {
			return scratch, ErrEmpty
		}
		switch {
		case p[0] == 'b':
			var err error
			if scratch, err = decode64(scratch, p[1:]); err != nil {
				return scratch, err
			}
		case !Type(p[0]).Valid():
			return scratch, ErrType
		case !utf8.Valid(p[1:]):
			return scratch, ErrUTF8
		}
		if !more {
			break
		}
		rest = next
	}
	// Then the packets, in order.
	off := 0
	for rest := body; ; {
		p, next, more := cut(rest)
		pk := Packet{Type: Type(p[0]), Data: p[1:]}
		if p[0] == 'b' {
			n := decodedLen(p[1:])
			pk = Packet{Type: Message, Data: scratch[off : off+n : off+n], Binary: true}
			off += n
		}
		if err := f(pk); err != nil {
			return scratch, err
		}
		if !more {
			return scratch, nil
		}
		rest = next
	}
}

// cut is the packet at the start of a payload, what follows its
// separator, and whether there was one.
func cut(b []byte) (p, rest []byte, more bool) {
	i := bytes.IndexByte(b, Separator)
	if i < 0 {
		return b, nil, false
	}
	return b[:i], b[i+1:], true
}

// decode64 appends the bytes src encodes in strict standard base64.
func decode64(dst, src []byte) ([]byte, error) {
	// The decoder skips line breaks; the protocol has none.
	if len(src)%4 != 0 || bytes.IndexByte(src, '\r') >= 0 || bytes.IndexByte(src, '\n') >= 0 {
		return dst, ErrBase64
	}
	out, err := strict64.AppendDecode(dst, src)
	if err != nil {
		return dst, ErrBase64
	}
	return out, nil
}

// decodedLen is the length of what src, valid padded base64, decodes to.
func decodedLen(src []byte) int {
	n := len(src) / 4 * 3
	for i := len(src) - 1; i >= 0 && i >= len(src)-2 && src[i] == '='; i-- {
		n--
	}
	return n
}
