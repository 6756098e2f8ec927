package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// DefaultMaxMessage is the message size limit of a Reader whose MaxMessage
// is zero.
const DefaultMaxMessage = 1 << 20

// DefaultMaxFragments is the frame limit of a message of a Reader whose
// MaxFragments is zero: room for a message of DefaultMaxMessage in 256-byte
// fragments, where clients that fragment at all use a few kilobytes.
const DefaultMaxFragments = 4096

// Reader holds what one connection's stream needs between frames: the
// fragmented message being reassembled, a frame whose payload is arriving
// in pieces, and the UTF-8 state. Its zero value reads client frames (which
// must be masked) with DefaultMaxMessage and DefaultMaxFragments.
//
// A Reader is used by one goroutine at a time (in the server, the
// connection's event loop).
type Reader struct {
	// MaxMessage bounds a message's payload, summed over its fragments.
	MaxMessage int64
	// MaxFragments bounds the frames of one message. Without it a message
	// that never ends (empty continuation frames, sent for ever) would
	// cost the reader work without bound and never reach a rate limit
	// that counts messages.
	MaxFragments int
	// Alloc, if set, gives the Reader each new message buffer, of length
	// 0 and a capacity of at least n, so that the caller can recycle the
	// buffers of the messages it is done with; without it the Reader
	// makes them.
	Alloc func(n int) []byte
	// FromServer reads frames sent by a server: they must not be masked.
	FromServer bool
	// Deflate says the connection negotiated permessage-deflate (RFC
	// 7692): the first frame of a data message may set RSV1, and the
	// message is then returned as it came, compressed (Message.Compressed),
	// for the caller to inflate and to check for UTF-8. Its size on the
	// wire is bounded by MaxMessage too, with room for DEFLATE's overhead
	// on data that does not compress (an eighth more).
	Deflate bool

	// (A Reader lives in every connection: its small fields are kept
	// together.)
	fragmented bool   // a fragmented message is in progress
	skip       bool   // the message in progress is being dropped (Skip)
	compressed bool   // the message in progress is compressed (RSV1)
	op         OpCode // its opcode (text or binary)
	utf8       UTF8   // its UTF-8 state, when text
	frames     int32  // its frames so far
	size       int64  // its payload so far, in frames that are complete
	buf        []byte // its payload so far, unless skipped

	streamed Header // a data frame whose payload is arriving in pieces
	need     int64  // how much of it is still to come; 0 when none is
}

// Message is a complete message or a control frame.
type Message struct {
	Op      OpCode
	Payload []byte
	// Compressed says the payload is compressed (permessage-deflate): it
	// is as on the wire, without the four bytes RFC 7692 leaves off, and
	// a text message's has not been checked for UTF-8.
	Compressed bool
}

// Check vets a frame header against the protocol and the stream's state,
// before the frame's payload is read: reserved bits and opcodes, masking,
// control-frame rules, fragmentation order and the limits on a message's
// size and frames, which apply to the declared length so nothing is
// buffered for a message that will be refused.
func (r *Reader) Check(h Header) error {
	compressed := r.compressed
	if h.Rsv != 0 {
		switch {
		case !r.Deflate || h.Rsv != rsv1:
			return ErrReservedBits
		case h.OpCode.IsControl():
			return ErrCompressedControl
		case h.OpCode == OpContinuation:
			return ErrCompressedContinuation
		}
		compressed = true
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
		if int(r.frames) >= r.maxFragments() {
			return ErrTooManyFragments
		}
	} else if r.fragmented {
		return ErrExpectedCont
	}
	limit := r.maxMessage()
	if compressed {
		// Data that does not compress comes out larger: by 5 bytes a
		// stored block, and zlib with a small memLevel makes blocks of
		// a few kilobytes; in fixed-Huffman blocks, by up to an eighth.
		// The inflated size has a limit of its own (Decompressor).
		limit += limit>>3 + 64
	}
	if h.Length > limit-r.size {
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

func (r *Reader) maxFragments() int {
	if r.MaxFragments > 0 {
		return r.MaxFragments
	}
	return DefaultMaxFragments
}

// Skip drops the data message of the frame Check has just passed: that
// frame and the rest of the message's are still taken (Frame, Begin, Feed)
// and checked against the protocol and the limits, but their payload is
// neither kept nor checked for UTF-8, and no message is returned for them.
// This is how a message refused after its first frame is dropped whole.
func (r *Reader) Skip() {
	r.skip, r.buf = true, nil
}

// Skipping reports whether the message in progress is being dropped.
func (r *Reader) Skipping() bool { return r.skip }

// Busy reports whether a message is in progress: a fragmented one, or a
// frame whose payload is arriving in pieces.
func (r *Reader) Busy() bool { return r.fragmented || r.need > 0 }

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
	if h.OpCode.IsControl() {
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		return Message{Op: h.OpCode, Payload: p}, true, nil
	}
	if r.skip {
		return r.skipped(h, int64(len(p)))
	}
	if h.Masked {
		ws.Cipher(p, h.Mask, 0)
	}
	if !r.fragmented {
		compressed := h.Rsv == rsv1
		if h.OpCode == OpText && !compressed {
			var u UTF8
			if !u.Write(p) || (h.Fin && !u.Complete()) {
				return Message{}, false, ErrInvalidUTF8
			}
			r.utf8 = u
		}
		if h.Fin {
			return Message{Op: h.OpCode, Payload: p, Compressed: compressed}, true, nil
		}
		r.fragmented, r.op, r.frames, r.size = true, h.OpCode, 1, int64(len(p))
		r.compressed = compressed
		r.grow(len(p))
		r.buf = append(r.buf, p...)
		return Message{}, false, nil
	}
	if r.op == OpText && !r.compressed && (!r.utf8.Write(p) || (h.Fin && !r.utf8.Complete())) {
		return Message{}, false, ErrInvalidUTF8
	}
	r.frames++
	r.size += int64(len(p))
	r.grow(len(p))
	r.buf = append(r.buf, p...)
	if !h.Fin {
		return Message{}, false, nil
	}
	m := Message{Op: r.op, Payload: r.buf, Compressed: r.compressed}
	r.Reset()
	return m, true, nil
}

// skipped takes a complete data frame of a message being dropped.
func (r *Reader) skipped(h Header, n int64) (Message, bool, error) {
	if !h.Fin {
		if !r.fragmented {
			r.fragmented, r.op = true, h.OpCode
		}
		r.frames++
		r.size += n
		return Message{}, false, nil
	}
	r.Reset()
	return Message{}, false, nil
}

// grow makes room in the message buffer for n more bytes: exactly n for a
// message's first frame, so that a message that arrives in one frame costs
// its own size and no more; for the fragments after it, at least a quarter
// more than the buffer holds, so that many small fragments are not copied
// over and over (within the message size limit).
func (r *Reader) grow(n int) {
	need := len(r.buf) + n
	if need <= cap(r.buf) {
		return
	}
	c := need
	if len(r.buf) > 0 {
		c = max(need, min(len(r.buf)+len(r.buf)/4, int(r.maxMessage())))
	}
	var b []byte
	if r.Alloc != nil {
		b = r.Alloc(c)
	} else {
		b = make([]byte, 0, c)
	}
	r.buf = append(b, r.buf...)
}

// Begin starts a data frame whose header h has passed Check but whose
// payload has not all arrived: the payload is then given to Feed piece by
// piece as it arrives, instead of waiting for all of it. The message
// buffer is sized for the whole frame at once. A bad UTF-8 byte fails the
// message in the piece that carries it, and nothing waits in the caller's
// buffer for the rest.
func (r *Reader) Begin(h Header) {
	if !r.fragmented {
		r.buf = r.buf[:0]
		r.utf8.Reset()
		r.compressed = h.Rsv == rsv1
	}
	r.streamed, r.need = h, h.Length
	if !r.skip {
		r.grow(int(h.Length))
	}
}

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
	offset := h.Length - r.need // of p in the frame's payload
	r.need -= int64(len(p))
	if r.skip {
		if r.need > 0 {
			return Message{}, false, nil
		}
		return r.skipped(h, h.Length)
	}
	start := len(r.buf)
	r.buf = append(r.buf, p...)
	piece := r.buf[start:]
	if h.Masked {
		ws.Cipher(piece, h.Mask, int(offset))
	}
	op := h.OpCode
	if op == OpContinuation {
		op = r.op
	}
	if op == OpText && !r.compressed && (!r.utf8.Write(piece) || (r.need == 0 && h.Fin && !r.utf8.Complete())) {
		return Message{}, false, ErrInvalidUTF8
	}
	if r.need > 0 {
		return Message{}, false, nil
	}
	r.frames++
	r.size += h.Length
	if !h.Fin {
		r.fragmented, r.op = true, op
		return Message{}, false, nil
	}
	m := Message{Op: op, Payload: r.buf, Compressed: r.compressed}
	r.Reset()
	return m, true, nil
}

// Reset drops any partial message and its buffer.
func (r *Reader) Reset() {
	r.fragmented, r.skip, r.compressed, r.op, r.buf = false, false, false, 0, nil
	r.frames, r.size = 0, 0
	r.need = 0
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
