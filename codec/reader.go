package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// DefaultMaxMessage is the message size limit of a Reader whose MaxMessage
// is zero.
const DefaultMaxMessage = 1 << 20

// Reader holds what one connection's stream needs between frames: the
// fragmented message being reassembled, a frame whose payload is arriving
// in pieces, and the UTF-8 state. Its zero value
// reads client frames (which must be masked) with DefaultMaxMessage.
//
// A Reader is used by one goroutine at a time (in the server, the
// connection's event loop).
type Reader struct {
	// MaxMessage bounds a message's payload, summed over its fragments.
	MaxMessage int64
	// FromServer reads frames sent by a server: they must not be masked.
	FromServer bool

	fragmented bool   // a fragmented message is in progress
	op         OpCode // its opcode (text or binary)
	buf        []byte // its payload so far
	utf8       UTF8   // its UTF-8 state, when text

	streamed Header // a data frame whose payload is arriving in pieces
	got      int64  // how much of its payload has arrived
	need     int64  // how much is still to come; 0 when no frame is streamed
}

// Message is a complete message or a control frame.
type Message struct {
	Op      OpCode
	Payload []byte
}

// Check vets a frame header against the protocol and the stream's state,
// before the frame's payload is read: reserved bits and opcodes, masking,
// control-frame rules, fragmentation order and the message size limit, which
// is applied to the declared length so nothing is buffered for a message
// that will be refused.
func (r *Reader) Check(h Header) error {
	if h.Rsv != 0 {
		return ErrReservedBits
	}
	if h.OpCode.IsReserved() {
		return ErrReservedOpCode
	}
	if h.Masked == r.FromServer {
		if r.FromServer {
			return ErrMasked
		}
		return ErrUnmasked
	}
	if h.OpCode.IsControl() {
		if h.Length > MaxControlPayload {
			return ErrControlTooLong
		}
		if !h.Fin {
			return ErrControlFragmented
		}
		return nil
	}
	if h.OpCode == OpContinuation {
		if !r.fragmented {
			return ErrUnexpectedCont
		}
	} else if r.fragmented {
		return ErrExpectedCont
	}
	if h.Length > r.maxMessage()-int64(len(r.buf)) {
		return ErrMessageTooBig
	}
	return nil
}

func (r *Reader) maxMessage() int64 {
	if r.MaxMessage > 0 {
		return r.MaxMessage
	}
	return DefaultMaxMessage
}

// Frame takes a complete frame whose header h has passed Check and whose
// payload, still masked as on the wire, is p. It unmasks p in place. When the
// frame completes a message, or is a control frame, it returns that message
// and true.
//
// A message carried by a single frame is returned as p itself: zero copy. A
// fragmented message is copied into a reassembly buffer as its fragments
// arrive; the Reader lets go of that buffer when it returns the message, so
// the payload stays valid until the caller is done with it. Text is checked
// for UTF-8 fragment by fragment, so a bad byte fails the message at once.
func (r *Reader) Frame(h Header, p []byte) (Message, bool, error) {
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	if h.OpCode.IsControl() {
		return Message{Op: h.OpCode, Payload: p}, true, nil
	}
	if !r.fragmented {
		if h.OpCode == OpText {
			var u UTF8
			if !u.Write(p) || (h.Fin && !u.Complete()) {
				return Message{}, false, ErrInvalidUTF8
			}
			r.utf8 = u
		}
		if h.Fin {
			return Message{Op: h.OpCode, Payload: p}, true, nil
		}
		r.fragmented, r.op = true, h.OpCode
		r.buf = append(r.buf[:0], p...)
		return Message{}, false, nil
	}
	if r.op == OpText && (!r.utf8.Write(p) || (h.Fin && !r.utf8.Complete())) {
		return Message{}, false, ErrInvalidUTF8
	}
	r.buf = append(r.buf, p...)
	if !h.Fin {
		return Message{}, false, nil
	}
	m := Message{Op: r.op, Payload: r.buf}
	r.Reset()
	return m, true, nil
}

// Begin starts a data frame whose header h has passed Check but whose
// payload has not all arrived: the payload is then given to Feed piece by
// piece as it arrives, instead of waiting for all of it. A bad UTF-8 byte
// fails the message in the piece that carries it, and nothing waits in the
// caller's buffer for the rest.
func (r *Reader) Begin(h Header) {
	if !r.fragmented {
		r.buf = r.buf[:0]
		r.utf8.Reset()
	}
	r.streamed, r.got, r.need = h, 0, h.Length
}

// Text reports whether a fragmented text message is in progress, so that a
// continuation frame carries text.
func (r *Reader) Text() bool { return r.fragmented && r.op == OpText }

// Need returns how many payload bytes the frame begun with Begin still
// needs, or 0 when no frame is being streamed.
func (r *Reader) Need() int64 { return r.need }

// Feed takes the next piece of the payload of the frame begun with Begin,
// as on the wire (masked), at most Need bytes. The piece is copied into the
// message buffer and unmasked there; p is not modified. When the piece
// completes the frame, Feed goes on as Frame does: it returns the message
// if the frame completes one.
func (r *Reader) Feed(p []byte) (Message, bool, error) {
	h := r.streamed
	start := len(r.buf)
	r.buf = append(r.buf, p...)
	piece := r.buf[start:]
	if h.Masked {
		ws.Cipher(piece, h.Mask, int(r.got))
	}
	r.got += int64(len(p))
	r.need -= int64(len(p))
	op := h.OpCode
	if op == OpContinuation {
		op = r.op
	}
	if op == OpText && (!r.utf8.Write(piece) || (r.need == 0 && h.Fin && !r.utf8.Complete())) {
		return Message{}, false, ErrInvalidUTF8
	}
	if r.need > 0 {
		return Message{}, false, nil
	}
	if !h.Fin {
		r.fragmented, r.op = true, op
		return Message{}, false, nil
	}
	m := Message{Op: op, Payload: r.buf}
	r.Reset()
	return m, true, nil
}

// Reset drops any partial message and its buffer.
func (r *Reader) Reset() {
	r.fragmented, r.op, r.buf = false, 0, nil
	r.need, r.got = 0, 0
	r.utf8.Reset()
}

// ParseClose parses a close frame's payload. An empty payload gives
// StatusNoStatus. The reason is a sub-slice of p.
func ParseClose(p []byte) (code StatusCode, reason []byte, err error) {
	switch len(p) {
	case 0:
		return StatusNoStatus, nil, nil
	case 1:
		return 0, nil, ErrCloseLength
	}
	code = StatusCode(binary.BigEndian.Uint16(p))
	if !ValidCloseCode(code) {
		return 0, nil, ErrCloseCode
	}
	if !ValidUTF8(p[2:]) {
		return 0, nil, ErrCloseReason
	}
	return code, p[2:], nil
}

// ValidCloseCode reports whether code may appear in a close frame: the codes
// RFC 6455 and the IANA registry define for use on the wire, and the ranges
// for libraries and applications (3000-4999).
func ValidCloseCode(code StatusCode) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}
