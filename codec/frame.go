package codec

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// OpCode is a frame's operation code.
type OpCode = ws.OpCode

// Header is a parsed frame header.
type Header = ws.Header

// StatusCode is a close status code (RFC 6455 section 7.4).
type StatusCode = ws.StatusCode

// Operation codes (RFC 6455 section 5.2).
const (
	OpContinuation = ws.OpContinuation
	OpText         = ws.OpText
	OpBinary       = ws.OpBinary
	OpClose        = ws.OpClose
	OpPing         = ws.OpPing
	OpPong         = ws.OpPong
)

// Close status codes used by the server (RFC 6455 section 7.4.1).
const (
	StatusNormalClosure   StatusCode = 1000
	StatusGoingAway       StatusCode = 1001
	StatusProtocolError   StatusCode = 1002
	StatusUnsupportedData StatusCode = 1003
	StatusNoStatus        StatusCode = 1005 // never sent: "no code received"
	StatusAbnormal        StatusCode = 1006 // never sent: "closed without a close frame"
	StatusInvalidPayload  StatusCode = 1007
	StatusPolicyViolation StatusCode = 1008
	StatusMessageTooBig   StatusCode = 1009
	StatusInternalError   StatusCode = 1011
)

// Size limits of the wire format.
const (
	MaxHeaderSize       = 14  // 2 + 8 (64-bit length) + 4 (mask)
	MaxControlPayload   = 125 // control frames carry at most this much
	maxCloseReasonBytes = MaxControlPayload - 2
)

// ParseHeader parses the frame header at the start of b. It returns the
// header and its length in bytes, or n == 0 and a nil error when b does not
// yet hold the whole header. It does not allocate and does not look at the
// payload.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return h, 0, nil
	}
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	n = 2
	switch l := b[1] & 0x7f; l {
	case 126:
		if len(b) < 4 {
			return h, 0, nil
		}
		h.Length = int64(binary.BigEndian.Uint16(b[2:4]))
		if h.Length < 126 {
			return h, 0, ErrNonMinimalLength
		}
		n = 4
	case 127:
		if len(b) < 10 {
			return h, 0, nil
		}
		u := binary.BigEndian.Uint64(b[2:10])
		if u>>63 != 0 {
			return h, 0, ErrLengthOverflow
		}
		if u <= 0xffff {
			return h, 0, ErrNonMinimalLength
		}
		h.Length = int64(u)
		n = 10
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		if len(b) < n+4 {
			return h, 0, nil
		}
		copy(h.Mask[:], b[n:n+4])
		n += 4
	}
	return h, n, nil
}

// HeaderLen returns the encoded size of a server (unmasked) frame header for
// a payload of n bytes.
func HeaderLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	default:
		return 10
	}
}

// AppendHeader appends an unmasked frame header for a payload of n bytes.
func AppendHeader(dst []byte, fin bool, op OpCode, n int) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		return append(dst, b0, byte(n))
	case n <= 0xffff:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// AppendFrame appends a complete unmasked frame carrying payload.
func AppendFrame(dst []byte, fin bool, op OpCode, payload []byte) []byte {
	return append(AppendHeader(dst, fin, op, len(payload)), payload...)
}

// AppendMaskedFrame appends a complete frame carrying payload masked with
// mask, as a client sends it. payload is not modified.
func AppendMaskedFrame(dst []byte, fin bool, op OpCode, payload []byte, mask [4]byte) []byte {
	dst = AppendHeader(dst, fin, op, len(payload))
	dst[len(dst)-HeaderLen(len(payload))+1] |= 0x80
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// AppendClose appends a close frame with code and reason. A zero code gives
// an empty close payload. A reason longer than a control frame can carry is
// cut at a UTF-8 boundary.
func AppendClose(dst []byte, code StatusCode, reason string) []byte {
	if code == 0 {
		return AppendHeader(dst, true, OpClose, 0)
	}
	if len(reason) > maxCloseReasonBytes {
		reason = truncateUTF8(reason, maxCloseReasonBytes)
	}
	dst = AppendHeader(dst, true, OpClose, 2+len(reason))
	dst = binary.BigEndian.AppendUint16(dst, uint16(code))
	return append(dst, reason...)
}

// truncateUTF8 cuts s to at most n bytes without splitting a code point.
func truncateUTF8(s string, n int) string {
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}
