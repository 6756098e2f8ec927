package codec

import (
	"encoding/binary"
	"unicode/utf8"
)

// UTF8 validates UTF-8 incrementally: a text message is fed to Write one
// fragment at a time, split anywhere, even inside a code point. Write reports
// a bad sequence as soon as its first bad byte is seen, so a connection fails
// fast instead of after the whole message. The zero value is ready to use.
type UTF8 struct {
	need   uint8 // continuation bytes still expected
	lo, hi uint8 // allowed range for the next continuation byte
}

// Write validates p as the continuation of what was written before. It
// returns false at the first byte that cannot be part of valid UTF-8
// (overlong forms, surrogates and code points above U+10FFFF included).
func (u *UTF8) Write(p []byte) bool {
	// Finish a code point left open by the last Write, then hand the bulk
	// to the standard library, which is faster on non-ASCII text than the
	// byte-at-a-time machine below; the machine takes only a code point
	// that p leaves open at its end, so that its first bytes are judged now.
	for u.need > 0 && len(p) > 0 {
		if !u.step(p[:1]) {
			return false
		}
		p = p[1:]
	}
	cut := openTail(p)
	if !utf8.Valid(p[:cut]) {
		return false
	}
	return u.step(p[cut:])
}

// openTail returns where a code point that p starts but does not finish
// begins, or len(p) when p ends on a boundary (or with bytes that cannot
// start a code point, which step rejects).
func openTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-3; i-- {
		b := p[i]
		if b&0xc0 == 0x80 {
			continue // continuation byte: keep looking for the lead
		}
		var size int
		switch {
		case b >= 0xf0:
			size = 4
		case b >= 0xe0:
			size = 3
		case b >= 0xc0:
			size = 2
		default:
			size = 1
		}
		if len(p)-i < size {
			return i
		}
		return len(p)
	}
	return len(p)
}

// step runs the validating state machine over p.
func (u *UTF8) step(p []byte) bool {
	need, lo, hi := u.need, u.lo, u.hi
	for i := 0; i < len(p); {
		if need == 0 {
			// ASCII runs are the common case: skip eight bytes at a time.
			for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
				i += 8
			}
			if i == len(p) {
				break
			}
			b := p[i]
			i++
			switch {
			case b < 0x80:
				continue
			case b < 0xc2: // continuation byte, or overlong 2-byte lead
				return false
			case b < 0xe0:
				need, lo, hi = 1, 0x80, 0xbf
			case b == 0xe0: // exclude overlong 3-byte forms
				need, lo, hi = 2, 0xa0, 0xbf
			case b == 0xed: // exclude surrogates U+D800..U+DFFF
				need, lo, hi = 2, 0x80, 0x9f
			case b < 0xf0:
				need, lo, hi = 2, 0x80, 0xbf
			case b == 0xf0: // exclude overlong 4-byte forms
				need, lo, hi = 3, 0x90, 0xbf
			case b < 0xf4:
				need, lo, hi = 3, 0x80, 0xbf
			case b == 0xf4: // exclude code points above U+10FFFF
				need, lo, hi = 3, 0x80, 0x8f
			default:
				return false
			}
			continue
		}
		b := p[i]
		i++
		if b < lo || b > hi {
			return false
		}
		need, lo, hi = need-1, 0x80, 0xbf
	}
	u.need, u.lo, u.hi = need, lo, hi
	return true
}

// Complete reports whether everything written so far ends on a code point
// boundary: a message is valid only if it does.
func (u *UTF8) Complete() bool { return u.need == 0 }

// Reset forgets what was written.
func (u *UTF8) Reset() { *u = UTF8{} }

// ValidUTF8 reports whether p is complete, valid UTF-8.
func ValidUTF8(p []byte) bool {
	var u UTF8
	return u.Write(p) && u.Complete()
}
