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
//
// With skip set, every skip-th data message (the first, then every skip-th
// after it) is dropped with Skip at its first frame.
func readStream(wire []byte, chunk int, max int64, skip int) streamResult {
	var res streamResult
	r := Reader{MaxMessage: max, MaxFragments: 8}
	started := 0
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
			if end := hlen + int(h.Length); h.OpCode.IsControl() && len(buf) < end {
				break // a control frame waits whole, and is checked again
			}
			if h.OpCode == OpText || h.OpCode == OpBinary {
				if skip > 0 && started%skip == 0 {
					r.Skip()
				}
				started++
			}
			end := hlen + int(h.Length)
			if len(buf) < end {
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
	f.Add(cat(frame(false, OpText, "a"), bytes.Repeat(frame(false, OpContinuation, ""), 9), frame(true, OpContinuation, "")), uint16(9))
	f.Add(cat(frame(true, OpText, "\xff"), frame(true, OpBinary, "kept"), frame(false, OpText, "\xfe"), frame(true, OpContinuation, "x")), uint16(2))
	const max = 1 << 10
	f.Fuzz(func(t *testing.T, wire []byte, chunk uint16) {
		whole := readStream(bytes.Clone(wire), len(wire)+1, max, 0)
		chunked := readStream(bytes.Clone(wire), int(chunk%64)+1, max, 0)

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

		// Skipping messages drops exactly them: the others, and the
		// control frames, come as they did. (A skipped message's text
		// is not checked, so only a stream without error compares.)
		skip := int(chunk%3) + 1
		skipped := readStream(bytes.Clone(wire), int(chunk%64)+1, max, skip)
		if whole.err == nil {
			var want []Message
			data := 0
			for _, m := range whole.msgs {
				if m.Op.IsData() {
					data++
					if (data-1)%skip == 0 {
						continue
					}
				}
				want = append(want, m)
			}
			if skipped.err != nil || len(skipped.msgs) != len(want) {
				t.Fatalf("skipping every %d-th message: %d messages and %v; want %d and no error", skip, len(skipped.msgs), skipped.err, len(want))
			}
			for i, m := range want {
				if m.Op != skipped.msgs[i].Op || !bytes.Equal(m.Payload, skipped.msgs[i].Payload) {
					t.Fatalf("skipping every %d-th message: message %d differs", skip, i)
				}
			}
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
