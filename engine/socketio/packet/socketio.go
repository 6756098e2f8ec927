package packet

import (
	"bytes"
	"strconv"

	"github.com/valyala/fastjson"
)

// SType is the type of a Socket.IO packet. Its value is the character
// that stands for it on the wire.
type SType byte

// The Socket.IO packet types.
const (
	Connect      SType = '0' // join a namespace; the server's answer carries {"sid":…}
	Disconnect   SType = '1' // leave a namespace
	Event        SType = '2' // an event: ["name", args...]
	Ack          SType = '3' // the answer to an event with an id: [args...]
	ConnectError SType = '4' // server to client: joining refused, {"message":…}
	BinaryEvent  SType = '5' // an Event with binary attachments
	BinaryAck    SType = '6' // an Ack with binary attachments
)

// Valid reports whether t is one of the packet types.
func (t SType) Valid() bool { return t >= Connect && t <= BinaryAck }

// Binary reports whether packets of type t have attachments.
func (t SType) Binary() bool { return t == BinaryEvent || t == BinaryAck }

var stypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String is the type's name in the protocol document ("EVENT"), or
// "SType(c)" for a byte that is no type.
func (t SType) String() string {
	if t.Valid() {
		return stypeNames[t-Connect]
	}
	return "SType(" + string(rune(t)) + ")"
}

// MaxID is the largest ack id: the largest integer a JavaScript number
// holds exactly (2^53-1), since the peers of a server are mostly
// JavaScript; 16 digits at most.
const MaxID = 1<<53 - 1

// MaxAttachments is the most attachments a binary packet may have,
// whatever limit the caller gives; DefaultMaxAttachments is the
// reference parser's default limit.
const (
	MaxAttachments        = 256
	DefaultMaxAttachments = 10
)

// SPacket is one Socket.IO packet.
type SPacket struct {
	Type SType
	// Namespace is the namespace, from its '/' to before its ','; "/" for
	// the main namespace, which is not written (AppendSocket writes none
	// for "/" or an empty Namespace). Parsed, it aliases the input, or a
	// shared "/": read-only.
	Namespace []byte
	// ID is the ack id, from 0 to MaxID; -1 for none. An Event with one
	// asks for an Ack with the same; an Ack always has one.
	ID int64
	// Attachments is the number of binary attachments of a BinaryEvent or
	// BinaryAck, from 1; 0 for the other types.
	Attachments int
	// Data is the JSON payload as it was written (binary packets: with
	// placeholders), without a byte before or after; empty for none.
	// Parsed, it aliases the input.
	Data []byte
}

// mainNamespace is the Namespace of a packet without one. Capped, so that
// an append to it copies.
var mainNamespace = []byte("/")[:1:1]

// reserved are the event names the reference implementation keeps for
// itself: its parser refuses events of these names.
var reserved = [...]string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}

// IsReserved reports whether name is one of the event names the reference
// implementation keeps for itself ("connect", "connect_error",
// "disconnect", "disconnecting", "newListener", "removeListener"): an
// event of such a name is refused (ParseSocket: ErrReserved), so a server
// must not emit one.
func IsReserved(name []byte) bool {
	for _, r := range reserved {
		if string(name) == r {
			return true
		}
	}
	return false
}

// ParseSocket parses the Socket.IO packet b (an Engine.IO message's
// data) and its JSON, with jp (not nil; a loop's own), and returns the
// packet and its parsed data: nil without data, else valid until jp
// parses again. The packet aliases b.
//
// It is stricter than the reference parser, which accepts all that the
// reference encoder writes; a packet must be written as that encoder
// writes it:
//   - the type a digit from '0' to '6';
//   - for a binary type, the attachment count: digits without a leading
//     zero, from 1 to maxAttachments (at most MaxAttachments), then '-';
//   - a namespace, if any, from '/' to a ',' (the reference accepts one
//     ended by the end of the packet);
//   - an id, if any, digits without a leading zero up to MaxID; only on
//     events (optional) and acks (required);
//   - the data, JSON with no space before or after it: absent or an
//     object for Connect; absent for Disconnect; a non-empty array whose
//     first element, the event name, is a string and not IsReserved, for
//     the events (the reference also accepts a number); an array for the
//     acks; an object for ConnectError (the reference also accepts a
//     string);
//   - for a binary type, placeholders as CheckPlaceholders wants them.
//
// The JSON is checked as RFC 8259 has it (fastjson.Validate), nested at
// most fastjson.MaxDepth deep.
func ParseSocket(b []byte, maxAttachments int, jp *fastjson.Parser) (SPacket, *fastjson.Value, error) {
	p := SPacket{Namespace: mainNamespace, ID: -1}
	if len(b) == 0 {
		return p, nil, ErrEmpty
	}
	p.Type = SType(b[0])
	if !p.Type.Valid() {
		return p, nil, ErrType
	}
	i := 1
	if p.Type.Binary() {
		n, k := digits(b[i:], 3)
		if k == 0 || k >= len(b)-i || b[i+k] != '-' || n < 1 || n > int64(min(maxAttachments, MaxAttachments)) {
			return p, nil, ErrAttachments
		}
		p.Attachments = int(n)
		i += k + 1
	}
	if i < len(b) && b[i] == '/' {
		end := bytes.IndexByte(b[i:], ',')
		if end < 0 {
			return p, nil, ErrNamespace
		}
		end += i
		if end-i > 1 {
			p.Namespace = b[i:end:end]
		}
		i = end + 1
	}
	if i < len(b) && b[i] >= '0' && b[i] <= '9' {
		n, k := digits(b[i:], 16)
		if k == 0 || n > MaxID {
			return p, nil, ErrID
		}
		p.ID = n
		i += k
	}
	p.Data = b[i:]
	v, err := p.check(maxAttachments, jp)
	return p, v, err
}

// digits reads the decimal number at the start of b, at most most digits
// and without a leading zero: its value and its length; 0 digits read
// when there is none, or it has a leading zero or too many digits.
func digits(b []byte, most int) (int64, int) {
	var n int64
	k := 0
	for k < len(b) && b[k] >= '0' && b[k] <= '9' {
		if k == most || k == 1 && b[0] == '0' {
			return 0, 0
		}
		n = n*10 + int64(b[k]-'0')
		k++
	}
	return n, k
}

// check checks p's id and data against its type, and parses the data.
func (p *SPacket) check(maxAttachments int, jp *fastjson.Parser) (*fastjson.Value, error) {
	var want byte // the data's first byte; 0: no data
	switch p.Type {
	case Connect:
		if len(p.Data) > 0 {
			want = '{'
		}
	case Disconnect:
	case Event, BinaryEvent:
		want = '['
	case Ack, BinaryAck:
		if p.ID < 0 {
			return nil, ErrID
		}
		want = '['
	case ConnectError:
		want = '{'
	}
	if p.ID >= 0 && p.Type != Event && p.Type != BinaryEvent && p.Type != Ack && p.Type != BinaryAck {
		return nil, ErrID
	}
	if want == 0 {
		if len(p.Data) > 0 {
			return nil, ErrData
		}
		return nil, nil
	}
	d := p.Data
	closer := byte('}')
	if want == '[' {
		closer = ']'
	}
	if len(d) < 2 || d[0] != want || d[len(d)-1] != closer {
		return nil, ErrData
	}
	// The parser bounds the depth; the validator, which does not, is
	// strict where the parser is lenient (numbers, escapes, control
	// characters).
	v, err := jp.ParseBytes(d)
	if err != nil || fastjson.ValidateBytes(d) != nil {
		return nil, ErrJSON
	}
	if p.Type == Event || p.Type == BinaryEvent {
		a := v.GetArray()
		if len(a) == 0 {
			return nil, ErrData
		}
		name, err := a[0].StringBytes()
		if err != nil {
			return nil, ErrEventName
		}
		if IsReserved(name) {
			return nil, ErrReserved
		}
	}
	if p.Type.Binary() {
		if err := CheckPlaceholders(v, p.Attachments); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// AppendSocket appends p as the reference encoder writes it: type,
// attachment count and '-' for a binary type, namespace and ',' unless
// it is the main one, id if not negative, data. With no Data it writes
// the packet's head only, and the caller may append the data after it.
// Sent over Engine.IO, the packet is a Message: its type comes first.
func AppendSocket(dst []byte, p SPacket) []byte {
	dst = append(dst, byte(p.Type))
	if p.Type.Binary() {
		dst = strconv.AppendInt(dst, int64(p.Attachments), 10)
		dst = append(dst, '-')
	}
	if len(p.Namespace) > 0 && string(p.Namespace) != "/" {
		dst = append(dst, p.Namespace...)
		dst = append(dst, ',')
	}
	if p.ID >= 0 {
		dst = strconv.AppendInt(dst, p.ID, 10)
	}
	return append(dst, p.Data...)
}
