package sockjs

import (
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/security"
)

// The frames a server sends: o opens a session, h is a heartbeat, a[...]
// carries messages, each a JSON string, and c[code,"reason"] closes.
const (
	frameOpen      = 'o'
	frameHeartbeat = 'h'
	frameArray     = 'a'
	frameClose     = 'c'
)

const hexDigits = "0123456789abcdef"

// appendQuoted appends msg as a JSON string. Beside what JSON must escape
// (the quote, the backslash and the control characters), it escapes what
// browsers mangle on the way (U+200C to U+200F, U+2028 to U+202F, U+2060
// to U+206F, U+FFF0 to U+FFFF), as the protocol asks of servers, and, for
// a frame that goes into a script (htmlfile), the '<' that could end one.
// Bytes that are not UTF-8 become U+FFFD.
func appendQuoted(dst, msg []byte, script bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(msg); {
		b := msg[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (b != '<' || !script) {
				i++
				continue
			}
			dst = append(dst, msg[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = appendU(dst, rune(b))
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRune(msg[i:])
		if r == utf8.RuneError && n == 1 || mangled(r) {
			dst = append(dst, msg[start:i]...)
			dst = appendU(dst, r)
			i += n
			start = i
			continue
		}
		i += n
	}
	dst = append(dst, msg[start:]...)
	return append(dst, '"')
}

// mangled reports whether r is one of the characters the protocol has
// servers escape.
func mangled(r rune) bool {
	return r >= 0x200c && r <= 0x200f || r >= 0x2028 && r <= 0x202f || r >= 0x2060 && r <= 0x206f || r >= 0xfff0 && r <= 0xffff
}

// appendU appends r, from the Basic Multilingual Plane, as \uXXXX.
func appendU(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendCloseFrame appends c[code,"reason"].
func appendCloseFrame(dst []byte, code int, reason string) []byte {
	dst = append(dst, frameClose, '[')
	dst = strconv.AppendInt(dst, int64(code), 10)
	dst = append(dst, ',')
	dst = appendQuoted(dst, []byte(reason), false)
	return append(dst, ']')
}

// incomingSchema is what a client may send: an array of strings, or, on
// the WebSocket transport, one string.
var incomingSchema = mustSchema(`{"type": ["array", "string"], "items": {"type": "string"}}`)

func mustSchema(doc string) *security.Schema {
	s, err := security.CompileSchema([]byte(doc))
	if err != nil {
		panic(err)
	}
	return s
}

// reader reads what clients send: a frame of JSON-encoded messages. One
// per loop.
type reader struct {
	v *security.Validator
}

func newReader() *reader { return &reader{v: security.NewValidator(incomingSchema, 1)} }

// read checks a frame and returns its messages, or false for one that is
// not an array of strings (or, with single, one string) in well-formed
// JSON of valid UTF-8. The messages are valid until the next read.
func (rd *reader) read(frame []byte, single bool) (*fastjson.Value, bool) {
	if rd.v.Validate(frame) != nil {
		return nil, false
	}
	v := rd.v.Value()
	if v == nil || v.Type() == fastjson.TypeString && !single {
		return nil, false
	}
	return v, true
}

// each calls f with each message of a frame read has checked.
func each(v *fastjson.Value, f func(msg []byte) bool) {
	if v.Type() == fastjson.TypeString {
		b, _ := v.StringBytes()
		f(b)
		return
	}
	a, _ := v.Array()
	for _, e := range a {
		b, _ := e.StringBytes()
		if !f(b) {
			return
		}
	}
}
