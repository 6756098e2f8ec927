package packet

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// AppendString appends s as a JSON string, escaped as JSON.stringify
// escapes it: '"', '\\' and the control characters, the common ones as
// \n, \t..., the others as \u00XX. A byte that is not UTF-8 is written as
// \ufffd, so that the text stays valid UTF-8.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, s[start:i]...)
				dst = append(dst, `\ufffd`...)
				start = i + 1
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendEvent appends an event packet: an Event, or a BinaryEvent when
// attachments is above 0, in namespace nsp (empty or "/": the main one),
// with ack id id (-1: none), named name (not IsReserved), and the
// arguments args. Each of args is the JSON text of one argument, or of
// several separated by commas (as SPacket.Args gives them); empty ones
// are skipped. The arguments of a BinaryEvent hold placeholders 0 to
// attachments-1 (AppendPlaceholder), each once.
func AppendEvent(dst []byte, nsp []byte, id int64, attachments int, name string, args ...[]byte) []byte {
	t := Event
	if attachments > 0 {
		t = BinaryEvent
	}
	dst = AppendSocket(dst, SPacket{Type: t, Namespace: nsp, ID: id, Attachments: attachments})
	dst = append(dst, '[')
	dst = AppendString(dst, name)
	return appendArgs(dst, true, args)
}

// AppendAck appends the ack of event id: an Ack, or a BinaryAck when
// attachments is above 0, with the arguments args, as AppendEvent has
// them.
func AppendAck(dst []byte, nsp []byte, id int64, attachments int, args ...[]byte) []byte {
	t := Ack
	if attachments > 0 {
		t = BinaryAck
	}
	dst = AppendSocket(dst, SPacket{Type: t, Namespace: nsp, ID: id, Attachments: attachments})
	dst = append(dst, '[')
	return appendArgs(dst, false, args)
}

// appendArgs appends the non-empty args, comma separated (a comma first
// too with comma), and the closing bracket.
func appendArgs(dst []byte, comma bool, args [][]byte) []byte {
	for _, a := range args {
		if len(a) == 0 {
			continue
		}
		if comma {
			dst = append(dst, ',')
		}
		dst = append(dst, a...)
		comma = true
	}
	return append(dst, ']')
}

// Args is the JSON text of the arguments of an event or an ack that
// ParseSocket returned, as they were written: what is between the event
// name's comma (an ack: the opening bracket) and the closing bracket,
// commas included; empty for none. It is what AppendEvent and AppendAck
// take to send the same arguments on (binary packets: with the same
// attachments, in the same order). Empty for the other types.
func (p SPacket) Args() []byte {
	d := p.Data
	if len(d) < 2 || d[0] != '[' || d[len(d)-1] != ']' {
		return nil
	}
	inner := d[1 : len(d)-1]
	switch p.Type {
	case Ack, BinaryAck:
		return trimSpace(inner)
	case Event, BinaryEvent:
	default:
		return nil
	}
	// Past the name, a string.
	s := trimLeft(inner)
	if len(s) == 0 || s[0] != '"' {
		return nil
	}
	end := stringEnd(s)
	if end < 0 {
		return nil
	}
	s = trimLeft(s[end:])
	if len(s) == 0 || s[0] != ',' {
		return nil
	}
	return trimSpace(s[1:])
}

// stringEnd is the index past the JSON string s starts with, or -1.
func stringEnd(s []byte) int {
	for i := 1; i < len(s); {
		j := bytes.IndexByte(s[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		k := q
		for k > 1 && s[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func trimLeft(b []byte) []byte {
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	return b
}

func trimSpace(b []byte) []byte {
	b = trimLeft(b)
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// AppendPlaceholder appends the placeholder of attachment num:
// {"_placeholder":true,"num":num}.
func AppendPlaceholder(dst []byte, num int) []byte {
	dst = append(dst, `{"_placeholder":true,"num":`...)
	dst = strconv.AppendInt(dst, int64(num), 10)
	return append(dst, '}')
}

// Placeholder reports whether v is an attachment placeholder (an object
// whose "_placeholder" is true, as the reference parser has it), and its
// number: the integer "num", from 0 to MaxAttachments-1, or -1 if it has
// none such. In the data of a binary packet that ParseSocket returned,
// every placeholder has a good number.
func Placeholder(v *fastjson.Value) (num int, ok bool) {
	if v == nil || v.Type() != fastjson.TypeObject {
		return 0, false
	}
	o, _ := v.Object()
	if ph := o.Get("_placeholder"); ph == nil || ph.Type() != fastjson.TypeTrue {
		return 0, false
	}
	n := o.Get("num")
	if n == nil || n.Type() != fastjson.TypeNumber {
		return -1, true
	}
	i, err := n.Int64()
	if err != nil || i < 0 || i >= MaxAttachments {
		return -1, true
	}
	return int(i), true
}

// CheckPlaceholders checks the placeholders in v, the data of a binary
// packet with attachments attachments (at most MaxAttachments): each
// number from 0 to attachments-1 is used by exactly one placeholder, and
// no other is (ErrPlaceholder). The reference parser checks only that
// the numbers are in range; its encoder numbers each attachment once.
func CheckPlaceholders(v *fastjson.Value, attachments int) error {
	if attachments < 0 || attachments > MaxAttachments {
		return ErrAttachments
	}
	w := placeholderWalk{n: attachments}
	w.walk(v)
	if w.bad || w.found != attachments {
		return ErrPlaceholder
	}
	return nil
}

// placeholderWalk is the state of CheckPlaceholders.
type placeholderWalk struct {
	n, found int
	seen     [MaxAttachments / 64]uint64
	bad      bool
}

// walk visits v and all it holds, as deep as it is nested (which the
// parser bounded).
func (w *placeholderWalk) walk(v *fastjson.Value) {
	if w.bad {
		return
	}
	switch v.Type() {
	case fastjson.TypeArray:
		for _, e := range v.GetArray() {
			w.walk(e)
		}
	case fastjson.TypeObject:
		if num, ok := Placeholder(v); ok {
			if num < 0 || num >= w.n || w.seen[num/64]&(1<<(num%64)) != 0 {
				w.bad = true
				return
			}
			w.seen[num/64] |= 1 << (num % 64)
			w.found++
			return
		}
		o, _ := v.Object()
		o.Visit(func(_ []byte, e *fastjson.Value) { w.walk(e) })
	}
}
