package codec

import (
	"bytes"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// streamResult is what a stream of client bytes produced.
type streamResult struct {
	msgs []Message
	err  error
}

// readStream feeds wire to a Reader the way the server does, in chunks of
// the given size: a complete frame is handled in place; a data frame whose
// payload has not all arrived is streamed with Begin and Feed; an
// incomplete control frame or header waits for the next chunk.
func readStream(wire []byte, chunk int, max int64) streamResult {
	var res streamResult
	r := Reader{MaxMessage: max}
	var buf []byte
	deliver := func(m Message, ok bool, err error) bool {
		if err != nil {
			res.err = err
			return false
		}
		if ok {
			m.Payload = append([]byte(nil), m.Payload...)
			res.msgs = append(res.msgs, m)
		}
		return true
	}
	for len(wire) > 0 || len(buf) > 0 {
		n := min(chunk, len(wire))
		buf = append(buf, wire[:n]...)
		wire = wire[n:]
		for len(buf) > 0 {
			if need := r.Need(); need > 0 {
				k := int(min(need, int64(len(buf))))
				if !deliver(r.Feed(buf[:k])) {
					return res
				}
				buf = buf[k:]
				continue
			}
			h, hlen, err := ParseHeader(buf)
			if err == nil && hlen > 0 {
				err = r.Check(h)
			}
			if err != nil {
				res.err = err
				return res
			}
			if hlen == 0 {
				break
			}
			end := hlen + int(h.Length)
			if len(buf) < end {
				if h.OpCode.IsControl() {
					break
				}
				r.Begin(h)
				buf = buf[hlen:]
				continue
			}
			if !deliver(r.Frame(h, buf[hlen:end])) {
				return res
			}
			buf = buf[end:]
		}
		if n == 0 {
			break // stream ends inside a frame
		}
	}
	return res
}

func FuzzFrame(f *testing.F) {
	f.Add(frame(true, OpText, "hello"), uint16(3))
	f.Add(cat(frame(false, OpText, "κ\xcf"), frame(true, OpPing, "p"), frame(true, OpContinuation, "\x8cσμε")), uint16(5))
	f.Add(cat(frame(false, OpBinary, "ab"), frame(true, OpContinuation, "cd"), frame(true, OpClose, "\x03\xe8ok")), uint16(1))
	f.Add(frame(true, OpText, string(bytes.Repeat([]byte("x"), 300))), uint16(64))
	f.Add([]byte{0x81, 0xfe, 0x00, 0x7d}, uint16(2))
	f.Add([]byte{0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}, uint16(14))
	f.Add(frame(true, OpText, "\xed\xa0\x80"), uint16(7))
	const max = 1 << 10
	f.Fuzz(func(t *testing.T, wire []byte, chunk uint16) {
		whole := readStream(bytes.Clone(wire), len(wire)+1, max)
		chunked := readStream(bytes.Clone(wire), int(chunk%64)+1, max)

		// The outcome does not depend on how the bytes were split.
		if !errors.Is(chunked.err, whole.err) || len(chunked.msgs) != len(whole.msgs) {
			t.Fatalf("chunked read gave %d messages and %v, whole read %d and %v",
				len(chunked.msgs), chunked.err, len(whole.msgs), whole.err)
		}
		for i, m := range whole.msgs {
			if m.Op != chunked.msgs[i].Op || !bytes.Equal(m.Payload, chunked.msgs[i].Payload) {
				t.Fatalf("message %d differs between chunked and whole reads", i)
			}
			switch {
			case m.Op == OpText && !utf8.Valid(m.Payload):
				t.Fatalf("text message %d is not valid UTF-8", i)
			case m.Op.IsData() && len(m.Payload) > max:
				t.Fatalf("message %d has %d bytes, over the %d limit", i, len(m.Payload), max)
			case m.Op.IsControl() && len(m.Payload) > MaxControlPayload:
				t.Fatalf("control frame %d has %d bytes", i, len(m.Payload))
			}
		}
		var pe *ProtocolError
		if whole.err != nil && !errors.As(whole.err, &pe) {
			t.Fatalf("error %v is not a ProtocolError", whole.err)
		}

		// A header we accept reads the same with gobwas/ws.
		if h, n, err := ParseHeader(wire); err == nil && n > 0 {
			g, gerr := ws.ReadHeader(bytes.NewReader(wire))
			if gerr != nil || g != h {
				t.Fatalf("ParseHeader = %+v, ws.ReadHeader = %+v, %v", h, g, gerr)
			}
		}
	})
}
