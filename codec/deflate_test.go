package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The examples of RFC 7692 section 7.2.3: "Hello" as a compressed payload.
var (
	rfcHello         = []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}                                     // 7.2.3.1
	rfcHelloTakeover = []byte{0xf2, 0x00, 0x11, 0x00, 0x00}                                                 // 7.2.3.2, after rfcHello
	rfcHelloStored   = []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00}             // 7.2.3.3
	rfcHelloFinal    = []byte{0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00}                               // 7.2.3.4
	rfcHelloTwo      = []byte{0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00} // 7.2.3.5
)

func TestInflateRFCExamples(t *testing.T) {
	d := NewDecompressor()
	for _, tc := range []struct {
		name    string
		payload []byte
		dict    []byte
	}{
		{"one block", rfcHello, nil},
		{"takeover", rfcHelloTakeover, []byte("Hello")},
		{"stored block", rfcHelloStored, nil},
		{"final block", rfcHelloFinal, nil},
		{"two blocks", rfcHelloTwo, nil},
	} {
		got, err := d.Append(nil, tc.payload, 1<<20, tc.dict)
		if err != nil || string(got) != "Hello" {
			t.Errorf("%s: %q, %v; want Hello", tc.name, got, err)
		}
	}
}

// TestReaderRFCFrames reads the frames of RFC 7692 section 7.2.3.1, as a
// client sends them (masked), in one frame and in two.
func TestReaderRFCFrames(t *testing.T) {
	mask := [4]byte{1, 2, 3, 4}
	one := AppendMaskedFrame(nil, true, OpText, rfcHello, mask)
	one[0] |= rsv1Bit
	first := AppendMaskedFrame(nil, false, OpText, rfcHello[:3], mask)
	first[0] |= rsv1Bit
	two := slices.Concat(first, AppendMaskedFrame(nil, true, OpContinuation, rfcHello[3:], mask))
	if want := []byte{0xc1, 0x87}; !bytes.Equal(one[:2], want) {
		t.Fatalf("frame starts % x, want % x (RFC 7692 7.2.3.1)", one[:2], want)
	}
	d := NewDecompressor()
	for name, wire := range map[string][]byte{"one frame": one, "two frames": two} {
		for _, chunk := range []int{1, 3, len(wire)} {
			r := Reader{Deflate: true}
			res := readWith(&r, wire, chunk)
			if res.err != nil || len(res.msgs) != 1 {
				t.Fatalf("%s, chunks of %d: %d messages, %v", name, chunk, len(res.msgs), res.err)
			}
			m := res.msgs[0]
			if !m.Compressed || m.Op != OpText || !bytes.Equal(m.Payload, rfcHello) {
				t.Fatalf("%s, chunks of %d: %+v", name, chunk, m)
			}
			if got, err := d.Append(nil, m.Payload, 100, nil); err != nil || string(got) != "Hello" {
				t.Fatalf("%s: inflated %q, %v", name, got, err)
			}
		}
	}
}

func TestReaderRSV1(t *testing.T) {
	mask := [4]byte{9, 8, 7, 6}
	frame := func(fin bool, op OpCode, rsv byte, p []byte) []byte {
		b := AppendMaskedFrame(nil, fin, op, p, mask)
		b[0] |= rsv << 4
		return b
	}
	for _, tc := range []struct {
		name    string
		deflate bool
		wire    []byte
		want    error
	}{
		{"without the extension", false, frame(true, OpText, rsv1, rfcHello), ErrReservedBits},
		{"RSV2", true, frame(true, OpText, 2, rfcHello), ErrReservedBits},
		{"RSV1 and RSV3", true, frame(true, OpText, rsv1|1, rfcHello), ErrReservedBits},
		{"on a ping", true, frame(true, OpPing, rsv1, nil), ErrCompressedControl},
		{"on a close", true, frame(true, OpClose, rsv1, []byte{3, 232}), ErrCompressedControl},
		{"on a continuation", true, slices.Concat(frame(false, OpText, rsv1, rfcHello[:2]), frame(true, OpContinuation, rsv1, rfcHello[2:])), ErrCompressedContinuation},
		{"on a continuation of a plain message", true, slices.Concat(frame(false, OpText, 0, []byte("He")), frame(true, OpContinuation, rsv1, []byte("llo"))), ErrCompressedContinuation},
	} {
		r := Reader{Deflate: tc.deflate}
		if res := readWith(&r, tc.wire, len(tc.wire)); !errors.Is(res.err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, res.err, tc.want)
		}
	}

	// A compressed text message is not checked for UTF-8 as it comes:
	// its bytes are DEFLATE's.
	r := Reader{Deflate: true}
	bad := []byte{0xff, 0xfe, 0x80}
	res := readWith(&r, frame(true, OpText, rsv1, bad), 64)
	if res.err != nil || len(res.msgs) != 1 || !res.msgs[0].Compressed {
		t.Fatalf("compressed text: %+v", res)
	}
	// A plain one still is, with the extension.
	r = Reader{Deflate: true}
	if res := readWith(&r, frame(true, OpText, 0, bad), 64); !errors.Is(res.err, ErrInvalidUTF8) {
		t.Fatalf("plain text with the extension: %v", res.err)
	}
}

// TestReaderCompressedLimit: on the wire, a compressed message may be a
// little over MaxMessage (DEFLATE's overhead on what does not compress),
// and no more.
func TestReaderCompressedLimit(t *testing.T) {
	const limit = 1 << 16
	h := Header{Fin: true, OpCode: OpBinary, Masked: true, Rsv: rsv1, Length: limit + 8}
	r := Reader{Deflate: true, MaxMessage: limit}
	if err := r.Check(h); err != nil {
		t.Fatalf("compressed frame of limit+8: %v", err)
	}
	h.Length = limit + limit/8 + 64 // the most DEFLATE makes of what does not compress
	if err := r.Check(h); err != nil {
		t.Fatalf("compressed frame of limit×9/8: %v", err)
	}
	h.Length++
	if err := r.Check(h); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("compressed frame over limit×9/8: %v", err)
	}
	h.Rsv, h.Length = 0, limit+8
	if err := r.Check(h); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("plain frame of limit+8: %v", err)
	}
}

// readWith is readStream with a given Reader.
func readWith(r *Reader, wire []byte, chunk int) streamResult {
	var res streamResult
	var buf []byte
	for len(wire) > 0 || len(buf) > 0 {
		n := min(chunk, len(wire))
		buf = append(buf, wire[:n]...)
		wire = wire[n:]
		progressed := true
		for len(buf) > 0 && progressed {
			progressed = false
			var m Message
			var ok bool
			var err error
			if need := r.Need(); need > 0 {
				k := int(min(need, int64(len(buf))))
				m, ok, err = r.Feed(buf[:k])
				buf = buf[k:]
				progressed = true
			} else {
				h, hlen, perr := ParseHeader(buf)
				if perr != nil {
					res.err = perr
					return res
				}
				if hlen == 0 {
					break
				}
				if err := r.Check(h); err != nil {
					res.err = err
					return res
				}
				total := hlen + int(h.Length)
				switch {
				case len(buf) >= total:
					m, ok, err = r.Frame(h, buf[hlen:total])
					buf = buf[total:]
					progressed = true
				case h.OpCode.IsControl():
				default:
					r.Begin(h)
					buf = buf[hlen:]
					progressed = true
				}
			}
			if err != nil {
				res.err = err
				return res
			}
			if ok {
				m.Payload = slices.Clone(m.Payload)
				res.msgs = append(res.msgs, m)
			}
		}
		if len(wire) == 0 && !progressed {
			break
		}
	}
	return res
}

// jsonish returns n bytes of JSON-like text, as pub/sub messages are.
func jsonish(n int, seed uint64) []byte {
	rnd := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	b.WriteString(`[`)
	for b.Len() < n {
		fmt.Fprintf(&b, `{"topic":"prices.%s","price":%d.%02d,"qty":%d,"side":"%s"},`,
			[]string{"btc", "eth", "sol"}[rnd.IntN(3)], rnd.IntN(90000), rnd.IntN(100), rnd.IntN(1000), []string{"buy", "sell"}[rnd.IntN(2)])
	}
	return []byte(b.String()[:n])
}

// stdInflate inflates a payload as an independent peer would: the
// standard library's DEFLATE, with the four bytes put back.
func stdInflate(t *testing.T, payload, dict []byte) []byte {
	t.Helper()
	r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(payload), bytes.NewReader(syncTail[:])), dict)
	out, err := io.ReadAll(r)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func TestCompressorRoundTrip(t *testing.T) {
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(rand.Uint32())
	}
	d := NewDecompressor()
	for _, level := range []int{0, 1, 5, 9} {
		z, err := NewCompressor(level)
		if err != nil {
			t.Fatal(err)
		}
		for _, bits := range []uint8{0, 8, 9, 12, 15} {
			for _, n := range []int{0, 1, 100, 1024, 65536, 200000} {
				for _, kind := range []string{"json", "random"} {
					p := jsonish(n, uint64(n))
					if kind == "random" {
						p = slices.Repeat(random, n/len(random)+1)[:n]
					}
					name := fmt.Sprintf("level %d, bits %d, %d bytes of %s", level, bits, n, kind)
					c := z.Append([]byte("prefix"), p, bits, nil)
					if string(c[:6]) != "prefix" {
						t.Fatalf("%s: dst not appended to", name)
					}
					c = c[6:]
					if got := stdInflate(t, c, nil); !bytes.Equal(got, p) {
						t.Fatalf("%s: standard library inflates %d bytes, want %d", name, len(got), len(p))
					}
					got, err := d.Append(nil, c, int64(n), nil)
					if err != nil || !bytes.Equal(got, p) {
						t.Fatalf("%s: Decompressor: %d bytes, %v", name, len(got), err)
					}
					if kind == "json" && n >= 1024 && len(c) > n/2 {
						t.Errorf("%s: compressed to %d bytes", name, len(c))
					}
				}
			}
		}
	}
	if _, err := NewCompressor(10); err == nil {
		t.Fatal("NewCompressor(10) accepted")
	}
}

// TestCompressorTakeover: a message compressed with the window of the ones
// before it as a dictionary refers back into it, and inflates with it,
// and a message after it without a dictionary does not use it.
func TestCompressorTakeover(t *testing.T) {
	z, _ := NewCompressor(0)
	d := NewDecompressor()
	first := jsonish(4000, 1)
	second := slices.Concat(first[1000:3000], jsonish(500, 2))
	var win []byte
	win = Window(win, first, 1<<13)
	with := z.Append(nil, second, 15, win)
	without := z.Append(nil, second, 15, nil)
	if len(with) >= len(without) {
		t.Fatalf("with the window %d bytes, without %d", len(with), len(without))
	}
	if got := stdInflate(t, with, win); !bytes.Equal(got, second) {
		t.Fatal("standard library: wrong message with the window")
	}
	if got, err := d.Append(nil, with, 1<<20, win); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("Decompressor with the window: %v", err)
	}
	// Without it, the message that refers to it cannot be what was sent.
	if got, err := d.Append(nil, with, 1<<20, nil); err == nil && bytes.Equal(got, second) {
		t.Fatal("inflated without its window")
	}
	again := z.Append(nil, second, 15, nil)
	if !bytes.Equal(again, without) {
		t.Fatal("a message after one with a dictionary is compressed with it")
	}
	if got := stdInflate(t, again, nil); !bytes.Equal(got, second) {
		t.Fatal("wrong message after one with a dictionary")
	}

	// The RFC's own example: "Hello" after "Hello".
	got, err := d.Append(nil, rfcHelloTakeover, 100, Window(nil, []byte("Hello"), 1<<15))
	if err != nil || string(got) != "Hello" {
		t.Fatalf("RFC 7692 7.2.3.2: %q, %v", got, err)
	}
}

// TestInflateBomb: a payload that would inflate far past the limit stops
// at it, with ErrMessageTooBig, having made at most the limit and one
// buffer's growth.
func TestInflateBomb(t *testing.T) {
	const limit = 1 << 20
	// 1 MiB of zeros, flushed, is a kilobyte; 1024 of them one after the
	// other are a stream of 1000 MiB, as near 1 GiB as 1 MiB of DEFLATE
	// gets (its ratio is at most about 1032).
	var c bytes.Buffer
	w, _ := flate.NewWriter(&c, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	_, _ = w.Write(zeros)
	_ = w.Flush()
	payload := bytes.Repeat(c.Bytes(), 1000)
	payload = payload[:len(payload)-4]
	if got := len(stdInflate(t, payload[:c.Len()*8-4], nil)); got != 8<<20 {
		t.Fatalf("8 pieces of the bomb inflate to %d bytes", got)
	}
	if len(payload) > limit {
		t.Fatalf("the bomb is %d bytes", len(payload))
	}
	d := NewDecompressor()
	out, err := d.Append(make([]byte, 0, 16), payload, limit, nil)
	if !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("bomb: %v", err)
	}
	if len(out) > limit+1 || cap(out) > limit+1 {
		t.Fatalf("bomb: %d bytes inflated into %d", len(out), cap(out))
	}
	// Exactly the limit is a message.
	exact := z1(t, zeros[:limit])
	if got, err := d.Append(nil, exact, limit, nil); err != nil || len(got) != limit {
		t.Fatalf("exactly the limit: %d bytes, %v", len(got), err)
	}
	if _, err := d.Append(nil, exact, limit-1, nil); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("one over the limit: %v", err)
	}
}

func z1(t *testing.T, p []byte) []byte {
	t.Helper()
	z, _ := NewCompressor(1)
	return z.Append(nil, p, 15, nil)
}

func TestInflateInvalid(t *testing.T) {
	d := NewDecompressor()
	for _, p := range [][]byte{
		{0xff, 0xff, 0xff, 0xff},             // reserved block type 3
		{0x00, 0x05, 0x00, 0x00, 0x00},       // stored block whose NLEN is not ~LEN
		{0xf2, 0x48, 0xcd},                   // cut inside a block
		{0x04, 0xc0, 0x81, 0x08, 0x00, 0x00}, // dynamic block, bad code lengths
		{0x02, 0x38, 0x00, 0x00},             // refers back before the start
	} {
		if got, err := d.Append(nil, p, 1<<20, nil); !errors.Is(err, ErrInvalidDeflate) {
			t.Errorf("% x: %q, %v; want ErrInvalidDeflate", p, got, err)
		}
	}
	// The Decompressor works on after an error.
	if got, err := d.Append(nil, rfcHello, 5, nil); err != nil || string(got) != "Hello" {
		t.Fatalf("after errors: %q, %v", got, err)
	}
}

func TestWindow(t *testing.T) {
	var w []byte
	w = Window(w, []byte("abc"), 8)
	w = Window(w, []byte("defg"), 8)
	if string(w) != "abcdefg" {
		t.Fatalf("%q", w)
	}
	if cap(w) > 8 {
		t.Fatalf("cap %d over the window", cap(w))
	}
	w = Window(w, []byte("hij"), 8)
	if string(w) != "cdefghij" || cap(w) != 8 {
		t.Fatalf("%q cap %d", w, cap(w))
	}
	w = Window(w, []byte("0123456789"), 8)
	if string(w) != "23456789" || cap(w) != 8 {
		t.Fatalf("%q cap %d", w, cap(w))
	}
	// A short first message gets a short window; more makes it whole.
	w = Window(nil, []byte("subscribe"), 1<<13)
	if string(w) != "subscribe" || cap(w) != 9 {
		t.Fatalf("%q cap %d", w, cap(w))
	}
	w = Window(w, []byte("!"), 1<<13)
	if string(w) != "subscribe!" || cap(w) != 1<<13 {
		t.Fatalf("%q cap %d", w, cap(w))
	}
}

func TestCompressedHeader(t *testing.T) {
	got := AppendCompressedHeader(nil, OpText, 7)
	if want := []byte{0xc1, 0x07}; !bytes.Equal(got, want) {
		t.Fatalf("% x, want % x (RFC 7692 7.2.3.1)", got, want)
	}
	h, _, err := ParseHeader(AppendCompressedHeader(nil, OpBinary, 70000))
	if err != nil || h.Rsv != rsv1 || h.Length != 70000 || !h.Fin {
		t.Fatalf("%+v %v", h, err)
	}
}

// FuzzFrameDeflate reads client bytes with permessage-deflate negotiated:
// the outcome does not depend on how the bytes were split; only a data
// message's first frame may set RSV1, and the message it starts comes
// compressed; a plain text message is valid UTF-8; and a compressed one
// inflates to at most the limit, or fails with an error of the codec's.
func FuzzFrameDeflate(f *testing.F) {
	mask := [4]byte{1, 2, 3, 4}
	comp := func(fin bool, op OpCode, p []byte) []byte {
		b := AppendMaskedFrame(nil, fin, op, p, mask)
		b[0] |= rsv1Bit
		return b
	}
	f.Add(comp(true, OpText, rfcHello), uint16(3))
	f.Add(slices.Concat(comp(false, OpText, rfcHello[:3]), AppendMaskedFrame(nil, true, OpContinuation, rfcHello[3:], mask)), uint16(2))
	f.Add(slices.Concat(comp(true, OpBinary, rfcHelloTwo), comp(true, OpPing, nil)), uint16(5))
	f.Add(slices.Concat(AppendMaskedFrame(nil, false, OpText, []byte("a"), mask), comp(true, OpContinuation, []byte("b"))), uint16(1))
	f.Add(comp(true, OpText, []byte{0xff, 0xff}), uint16(7))
	const max = 1 << 10
	d := NewDecompressor()
	f.Fuzz(func(t *testing.T, wire []byte, chunk uint16) {
		read := func(n int) streamResult {
			r := Reader{MaxMessage: max, MaxFragments: 8, Deflate: true}
			return readWith(&r, bytes.Clone(wire), n)
		}
		whole, chunked := read(len(wire)+1), read(int(chunk%64)+1)
		if !errors.Is(chunked.err, whole.err) || len(chunked.msgs) != len(whole.msgs) {
			t.Fatalf("chunked: %d messages, %v; whole: %d, %v", len(chunked.msgs), chunked.err, len(whole.msgs), whole.err)
		}
		var pe *ProtocolError
		if whole.err != nil && !errors.As(whole.err, &pe) {
			t.Fatalf("error %v is not a ProtocolError", whole.err)
		}
		for i, m := range whole.msgs {
			c := chunked.msgs[i]
			if m.Op != c.Op || m.Compressed != c.Compressed || !bytes.Equal(m.Payload, c.Payload) {
				t.Fatalf("message %d differs between chunked and whole reads", i)
			}
			switch {
			case m.Compressed && !m.Op.IsData():
				t.Fatalf("control frame %d compressed", i)
			case !m.Compressed && m.Op == OpText && !utf8.Valid(m.Payload):
				t.Fatalf("plain text message %d is not UTF-8", i)
			case m.Op.IsData() && int64(len(m.Payload)) > max+max>>13+64:
				t.Fatalf("message %d of %d bytes", i, len(m.Payload))
			}
			if m.Compressed {
				out, err := d.Append(nil, m.Payload, max, nil)
				if len(out) > max+1 || err == nil && len(out) > max {
					t.Fatalf("message %d inflated to %d bytes (%v)", i, len(out), err)
				}
				if err != nil && !errors.As(err, &pe) {
					t.Fatalf("inflate error %v is not a ProtocolError", err)
				}
			}
		}
	})
}
