package codec

import (
	"bytes"
	"errors"
	"testing"
)

var testMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frame is a client frame for the tests: masked, as a browser sends it.
func frame(fin bool, op OpCode, payload string) []byte {
	return AppendMaskedFrame(nil, fin, op, []byte(payload), testMask)
}

// feed runs every frame in wire through r and returns the messages it gave,
// or the first error.
func feed(r *Reader, wire []byte) ([]Message, error) {
	var out []Message
	for len(wire) > 0 {
		h, n, err := ParseHeader(wire)
		if err != nil {
			return out, err
		}
		if n == 0 {
			return out, errors.New("truncated header")
		}
		if err := r.Check(h); err != nil {
			return out, err
		}
		end := n + int(h.Length)
		if end > len(wire) {
			return out, errors.New("truncated payload")
		}
		m, ok, err := r.Frame(h, wire[n:end])
		if err != nil {
			return out, err
		}
		if ok {
			m.Payload = append([]byte(nil), m.Payload...)
			out = append(out, m)
		}
		wire = wire[end:]
	}
	return out, nil
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int64
		wire []byte
		want []Message
		err  error
	}{
		{
			name: "single text",
			wire: frame(true, OpText, "hello"),
			want: []Message{{Op: OpText, Payload: []byte("hello")}},
		},
		{
			name: "fragmented binary with a ping in the middle",
			wire: cat(frame(false, OpBinary, "ab"), frame(true, OpPing, "p"), frame(false, OpContinuation, "cd"), frame(true, OpContinuation, "e")),
			want: []Message{{Op: OpPing, Payload: []byte("p")}, {Op: OpBinary, Payload: []byte("abcde")}},
		},
		{
			name: "text split inside a code point",
			wire: cat(frame(false, OpText, "κ\xcf"), frame(true, OpContinuation, "\x8cσμε")),
			want: []Message{{Op: OpText, Payload: []byte("κόσμε")}},
		},
		{
			name: "empty fragments",
			wire: cat(frame(false, OpText, ""), frame(false, OpContinuation, ""), frame(true, OpContinuation, "")),
			want: []Message{{Op: OpText, Payload: []byte{}}},
		},
		{
			name: "rsv1 without extension",
			wire: func() []byte { b := frame(true, OpText, "x"); b[0] |= 0x40; return b }(),
			err:  ErrReservedBits,
		},
		{
			name: "reserved data opcode",
			wire: frame(true, OpCode(3), "x"),
			err:  ErrReservedOpCode,
		},
		{
			name: "reserved control opcode",
			wire: frame(true, OpCode(0xb), "x"),
			err:  ErrReservedOpCode,
		},
		{
			name: "unmasked client frame",
			wire: AppendFrame(nil, true, OpText, []byte("x")),
			err:  ErrUnmasked,
		},
		{
			name: "ping over 125 bytes",
			wire: frame(true, OpPing, string(bytes.Repeat([]byte{'x'}, 126))),
			err:  ErrControlTooLong,
		},
		{
			name: "fragmented ping",
			wire: frame(false, OpPing, "x"),
			err:  ErrControlFragmented,
		},
		{
			name: "continuation with nothing to continue",
			wire: frame(true, OpContinuation, "x"),
			err:  ErrUnexpectedCont,
		},
		{
			name: "new message before the last fragment",
			wire: cat(frame(false, OpText, "a"), frame(true, OpText, "b")),
			err:  ErrExpectedCont,
		},
		{
			name: "invalid utf-8 in a single frame",
			wire: frame(true, OpText, "a\xffb"),
			err:  ErrInvalidUTF8,
		},
		{
			name: "invalid utf-8 fails on its fragment",
			wire: cat(frame(false, OpText, "ok"), frame(false, OpContinuation, "\xed\xa0\x80")),
			err:  ErrInvalidUTF8,
		},
		{
			name: "text ending inside a code point",
			wire: frame(true, OpText, "\xe2\x82"),
			err:  ErrInvalidUTF8,
		},
		{
			name: "binary is not checked for utf-8",
			wire: frame(true, OpBinary, "\xff"),
			want: []Message{{Op: OpBinary, Payload: []byte{0xff}}},
		},
		{
			name: "message at the limit",
			max:  4,
			wire: cat(frame(false, OpText, "ab"), frame(true, OpContinuation, "cd")),
			want: []Message{{Op: OpText, Payload: []byte("abcd")}},
		},
		{
			name: "fragments over the limit",
			max:  4,
			wire: cat(frame(false, OpText, "ab"), frame(true, OpContinuation, "cde")),
			err:  ErrMessageTooBig,
		},
		{
			name: "control frames do not count toward the limit",
			max:  1,
			wire: frame(true, OpPing, "ping"),
			want: []Message{{Op: OpPing, Payload: []byte("ping")}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Reader{MaxMessage: tc.max}
			got, err := feed(&r, tc.wire)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if tc.err != nil {
				return
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d messages, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if got[i].Op != tc.want[i].Op || !bytes.Equal(got[i].Payload, tc.want[i].Payload) {
					t.Fatalf("message %d = %v %q, want %v %q",
						i, got[i].Op, got[i].Payload, tc.want[i].Op, tc.want[i].Payload)
				}
			}
		})
	}
}

// TestReaderSizeCheckedOnDeclaredLength: a frame that declares more than
// the limit is refused from its header alone.
func TestReaderSizeCheckedOnDeclaredLength(t *testing.T) {
	wire := AppendHeader(nil, true, OpBinary, 1<<30)
	wire[1] |= 0x80
	wire = append(wire, testMask[:]...)
	h, n, err := ParseHeader(wire)
	if err != nil || n != len(wire) {
		t.Fatalf("ParseHeader = %d, %v", n, err)
	}
	var r Reader
	if err := r.Check(h); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("Check = %v, want ErrMessageTooBig", err)
	}
	var pe *ProtocolError
	if !errors.As(ErrMessageTooBig, &pe) || pe.Code != StatusMessageTooBig {
		t.Fatal("ErrMessageTooBig does not carry 1009")
	}
}

// TestReaderSingleFrameIsZeroCopy: a message in one frame is the caller's
// buffer, unmasked in place.
func TestReaderSingleFrameIsZeroCopy(t *testing.T) {
	wire := frame(true, OpBinary, "zero copy")
	h, n, _ := ParseHeader(wire)
	var r Reader
	if err := r.Check(h); err != nil {
		t.Fatal(err)
	}
	m, ok, err := r.Frame(h, wire[n:])
	if err != nil || !ok {
		t.Fatalf("Frame = %v, %v", ok, err)
	}
	if &m.Payload[0] != &wire[n] {
		t.Fatal("single-frame payload was copied")
	}
	if string(wire[n:]) != "zero copy" {
		t.Fatal("payload not unmasked in place")
	}
}

func TestParseClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		code   StatusCode
		reason string
		err    error
	}{
		{
			name: "empty",
			in:   nil,
			code: StatusNoStatus,
		},
		{
			name: "one byte",
			in:   []byte{3},
			err:  ErrCloseLength,
		},
		{
			name:   "normal with reason",
			in:     []byte{0x03, 0xe8, 'b', 'y', 'e'},
			code:   1000,
			reason: "bye",
		},
		{
			name: "private range",
			in:   []byte{0x13, 0x87},
			code: 4999,
		},
		{
			name: "reserved 1005",
			in:   []byte{0x03, 0xed},
			err:  ErrCloseCode,
		},
		{
			name: "unassigned 2000",
			in:   []byte{0x07, 0xd0},
			err:  ErrCloseCode,
		},
		{
			name: "invalid utf-8 reason",
			in:   []byte{0x03, 0xe8, 0xff},
			err:  ErrCloseReason,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, err := ParseClose(tc.in)
			if !errors.Is(err, tc.err) || (err == nil && (code != tc.code || string(reason) != tc.reason)) {
				t.Fatalf("ParseClose(% x) = %d %q %v, want %d %q %v",
					tc.in, code, reason, err, tc.code, tc.reason, tc.err)
			}
		})
	}
	for code := StatusCode(0); code < 6000; code++ {
		valid := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
		if ValidCloseCode(code) != valid {
			t.Fatalf("ValidCloseCode(%d) = %v", code, !valid)
		}
	}
}

// TestReaderStreamed: a data frame fed in pieces gives the same message as
// the whole frame, and bad UTF-8 fails in the piece that carries it.
func TestReaderStreamed(t *testing.T) {
	text := "κόσμε, streamed in pieces"
	wire := frame(true, OpText, text)
	h, hl, _ := ParseHeader(wire)
	for size := 1; size <= len(text); size++ {
		var r Reader
		if err := r.Check(h); err != nil {
			t.Fatal(err)
		}
		r.Begin(h)
		payload := wire[hl:]
		var got Message
		for len(payload) > 0 {
			k := min(size, int(r.Need()))
			m, ok, err := r.Feed(payload[:k])
			if err != nil {
				t.Fatalf("piece size %d: %v", size, err)
			}
			payload = payload[k:]
			if ok != (len(payload) == 0) {
				t.Fatalf("piece size %d: message ready %v with %d bytes left", size, ok, len(payload))
			}
			got = m
		}
		if got.Op != OpText || string(got.Payload) != text || r.Need() != 0 {
			t.Fatalf("piece size %d: got %v %q", size, got.Op, got.Payload)
		}
		if !bytes.Equal(wire, frame(true, OpText, text)) {
			t.Fatal("Feed modified its input")
		}
	}

	// A fragmented message: streamed first fragment, whole second one.
	var r Reader
	first := frame(false, OpText, "abc\xce")
	h1, hl1, _ := ParseHeader(first)
	if err := r.Check(h1); err != nil {
		t.Fatal(err)
	}
	r.Begin(h1)
	if _, ok, err := r.Feed(first[hl1:]); ok || err != nil {
		t.Fatalf("first fragment: %v, %v", ok, err)
	}
	second := frame(true, OpContinuation, "\xbcdef")
	h2, hl2, _ := ParseHeader(second)
	if err := r.Check(h2); err != nil {
		t.Fatal(err)
	}
	m, ok, err := r.Frame(h2, second[hl2:])
	if !ok || err != nil || string(m.Payload) != "abcμdef" {
		t.Fatalf("message %q, %v, %v", m.Payload, ok, err)
	}

	// Bad UTF-8 fails in its piece, before the frame is complete.
	bad := frame(true, OpText, "good \xf4\x90 and more that never comes")
	hb, hlb, _ := ParseHeader(bad)
	r.Reset()
	r.Begin(hb)
	if _, _, err := r.Feed(bad[hlb : hlb+5]); err != nil {
		t.Fatalf("valid piece: %v", err)
	}
	if _, _, err := r.Feed(bad[hlb+5 : hlb+7]); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("bad piece: %v; want ErrInvalidUTF8", err)
	}
}

// TestReaderFragmentLimit: a message may have MaxFragments frames and not
// one more, whatever their size, so an endless message of empty
// continuations is refused with 1009.
func TestReaderFragmentLimit(t *testing.T) {
	r := Reader{MaxFragments: 4}
	four := cat(frame(false, OpText, "a"), frame(false, OpContinuation, ""), frame(false, OpContinuation, "b"), frame(true, OpContinuation, ""))
	msgs, err := feed(&r, four)
	if err != nil || len(msgs) != 1 || string(msgs[0].Payload) != "ab" {
		t.Fatalf("four frames: %v, %v", msgs, err)
	}
	five := cat(frame(false, OpBinary, "a"), frame(false, OpContinuation, ""), frame(false, OpContinuation, ""), frame(false, OpContinuation, ""), frame(true, OpContinuation, ""))
	if _, err := feed(&r, five); !errors.Is(err, ErrTooManyFragments) {
		t.Fatalf("five frames: %v; want ErrTooManyFragments", err)
	}
	var pe *ProtocolError
	if !errors.As(ErrTooManyFragments, &pe) || pe.Code != StatusMessageTooBig {
		t.Fatalf("ErrTooManyFragments closes with %v", pe)
	}

	// The default, with control frames between the fragments, which do
	// not count.
	var d Reader
	wire := frame(false, OpText, "x")
	for range DefaultMaxFragments - 2 {
		wire = append(wire, frame(false, OpContinuation, "")...)
		wire = append(wire, frame(true, OpPing, "")...)
	}
	if msgs, err := feed(&d, append(wire, frame(true, OpContinuation, "")...)); err != nil || len(msgs) != DefaultMaxFragments-1 {
		t.Fatalf("%d frames: %d messages, %v", DefaultMaxFragments, len(msgs), err)
	}
	d.Reset()
	wire = append(wire, frame(false, OpContinuation, "")...)
	if _, err := feed(&d, append(wire, frame(true, OpContinuation, "")...)); !errors.Is(err, ErrTooManyFragments) {
		t.Fatalf("%d frames: %v; want ErrTooManyFragments", DefaultMaxFragments+1, err)
	}
}

// TestReaderSkip: a skipped message is taken whole, whether it is one frame,
// fragments or a streamed frame, and returns nothing; the limits still
// apply to it; the message after it is read as usual.
func TestReaderSkip(t *testing.T) {
	skipFirst := func(r *Reader, wire []byte) ([]Message, error) {
		h, n, _ := ParseHeader(wire)
		if err := r.Check(h); err != nil {
			return nil, err
		}
		r.Skip()
		if _, ok, err := r.Frame(h, wire[n:n+int(h.Length)]); ok || err != nil {
			return nil, errors.New("the skipped frame gave a message")
		}
		if r.buf != nil {
			return nil, errors.New("the skipped frame was kept")
		}
		return feed(r, wire[n+int(h.Length):])
	}
	var r Reader
	msgs, err := skipFirst(&r, cat(frame(true, OpText, "dropped"), frame(true, OpText, "kept")))
	if err != nil || len(msgs) != 1 || string(msgs[0].Payload) != "kept" {
		t.Fatalf("one frame: %v, %v", msgs, err)
	}
	// Invalid UTF-8 in a skipped message is not looked at.
	msgs, err = skipFirst(&r, cat(frame(false, OpText, "\xff"), frame(false, OpContinuation, "\xfe"), frame(true, OpContinuation, "x"), frame(true, OpBinary, "kept")))
	if err != nil || len(msgs) != 1 || string(msgs[0].Payload) != "kept" {
		t.Fatalf("fragments: %v, %v", msgs, err)
	}
	// The size limit counts the skipped fragments.
	small := Reader{MaxMessage: 4}
	if _, err := skipFirst(&small, cat(frame(false, OpText, "abc"), frame(true, OpContinuation, "de"))); !errors.Is(err, ErrMessageTooBig) {
		t.Fatalf("skipped message over the limit: %v", err)
	}

	// A streamed frame of a message skipped mid-way: nothing is kept.
	r.Reset()
	first := frame(false, OpBinary, "kept so far")
	if _, err := feed(&r, first); err != nil {
		t.Fatal(err)
	}
	cont := frame(true, OpContinuation, "streamed and dropped")
	h, n, _ := ParseHeader(cont)
	if err := r.Check(h); err != nil {
		t.Fatal(err)
	}
	r.Skip()
	r.Begin(h)
	for i := n; i < len(cont); i++ {
		if _, ok, err := r.Feed(cont[i : i+1]); ok || err != nil || r.buf != nil {
			t.Fatalf("piece %d: %v, %v, kept %d bytes", i, ok, err, len(r.buf))
		}
	}
	if r.Busy() {
		t.Fatal("the skipped message did not end")
	}
	if msgs, err := feed(&r, frame(true, OpText, "next")); err != nil || len(msgs) != 1 || string(msgs[0].Payload) != "next" {
		t.Fatalf("after the skipped message: %v, %v", msgs, err)
	}
}

// TestReaderBufferSize: a streamed frame is buffered in exactly its own
// size, and fragments grow the buffer by at least a quarter at a time.
func TestReaderBufferSize(t *testing.T) {
	var r Reader
	wire := frame(true, OpBinary, string(make([]byte, 100_000)))
	h, n, _ := ParseHeader(wire)
	if err := r.Check(h); err != nil {
		t.Fatal(err)
	}
	r.Begin(h)
	if cap(r.buf) != 100_000 {
		t.Fatalf("buffer of %d bytes for a frame of 100000", cap(r.buf))
	}
	if _, ok, err := r.Feed(wire[n:]); !ok || err != nil {
		t.Fatalf("%v, %v", ok, err)
	}
	// 1000 fragments of 100 bytes: a handful of copies, not a thousand.
	grows := 0
	last := -1
	for i := range 1000 {
		f := frame(i == 999, OpContinuation, string(make([]byte, 100)))
		if i == 0 {
			f = frame(false, OpBinary, string(make([]byte, 100)))
		}
		if _, err := feed(&r, f); err != nil {
			t.Fatal(err)
		}
		if r.buf != nil && cap(r.buf) != last {
			grows, last = grows+1, cap(r.buf)
		}
	}
	if grows > 40 {
		t.Fatalf("the buffer grew %d times for 1000 fragments", grows)
	}
}
