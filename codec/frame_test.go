package codec

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

func TestParseHeaderMatchesGobwas(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    ws.Header
	}{
		{
			name: "empty text",
			h:    ws.Header{Fin: true, OpCode: ws.OpText},
		},
		{
			name: "125 masked binary",
			h:    ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: [4]byte{1, 2, 3, 4}, Length: 125},
		},
		{
			name: "126 uses the 16-bit form",
			h:    ws.Header{Fin: true, OpCode: ws.OpText, Length: 126},
		},
		{
			name: "65535 is the largest 16-bit form",
			h:    ws.Header{OpCode: ws.OpText, Masked: true, Mask: [4]byte{9, 9, 9, 9}, Length: 65535},
		},
		{
			name: "65536 uses the 64-bit form",
			h:    ws.Header{Fin: true, OpCode: ws.OpContinuation, Length: 65536},
		},
		{
			name: "rsv bits are kept",
			h:    ws.Header{Fin: true, Rsv: 0x7, OpCode: ws.OpPing, Length: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := ws.WriteHeader(&buf, tc.h); err != nil {
				t.Fatal(err)
			}
			wire := buf.Bytes()
			got, n, err := ParseHeader(wire)
			if err != nil || n != len(wire) || got != tc.h {
				t.Fatalf("ParseHeader(% x) = %+v, %d, %v; want %+v, %d, nil",
					wire, got, n, err, tc.h, len(wire))
			}
			for i := 0; i < len(wire); i++ {
				if _, n, err := ParseHeader(wire[:i]); n != 0 || err != nil {
					t.Fatalf("ParseHeader of %d of %d bytes = %d, %v; want 0, nil",
						i, len(wire), n, err)
				}
			}
		})
	}
}

func TestParseHeaderRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		wire []byte
		want error
	}{
		{
			name: "16-bit form for a short length",
			wire: []byte{0x81, 126, 0, 125},
			want: ErrNonMinimalLength,
		},
		{
			name: "64-bit form for a 16-bit length",
			wire: []byte{0x81, 127, 0, 0, 0, 0, 0, 0, 0xff, 0xff},
			want: ErrNonMinimalLength,
		},
		{
			name: "most significant bit set",
			wire: []byte{0x81, 127, 0x80, 0, 0, 0, 0, 0, 0, 0},
			want: ErrLengthOverflow,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ParseHeader(tc.wire); !errors.Is(err, tc.want) {
				t.Fatalf(
					"err = %v, want %v",
					err, tc.want)
			}
		})
	}
}

func TestAppendFrameMatchesGobwas(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		var want bytes.Buffer
		if err := ws.WriteFrame(&want, ws.NewBinaryFrame(payload)); err != nil {
			t.Fatal(err)
		}
		got := AppendFrame([]byte("prefix"), true, OpBinary, payload)
		if !bytes.Equal(got[len("prefix"):], want.Bytes()) {
			t.Fatalf("AppendFrame of %d bytes differs from ws.WriteFrame", n)
		}
		if HeaderLen(n) != want.Len()-n {
			t.Fatalf("HeaderLen(%d) = %d, want %d", n, HeaderLen(n), want.Len()-n)
		}
	}
}

func TestAppendMaskedFrameRoundTrip(t *testing.T) {
	payload := []byte("hello, masked world")
	mask := [4]byte{0xa, 0xb, 0xc, 0xd}
	wire := AppendMaskedFrame(nil, true, OpText, payload, mask)
	f, err := readFrame((wire))
	if err != nil {
		t.Fatal(err)
	}
	if !f.Header.Masked || f.Header.Mask != mask {
		t.Fatalf("header = %+v, want masked with %v", f.Header, mask)
	}
	f = ws.UnmaskFrameInPlace(f)
	if string(f.Payload) != string(payload) {
		t.Fatalf("payload = %q, want %q", f.Payload, payload)
	}
	if string(payload) != "hello, masked world" {
		t.Fatal("AppendMaskedFrame modified its input")
	}
}

// readFrame reads one frame with gobwas/ws, for an independent view of what
// the encoders wrote.
func readFrame(b []byte) (ws.Frame, error) {
	r := bytes.NewReader(b)
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	_, err = io.ReadFull(r, f.Payload)
	return f, err
}

func TestAppendClose(t *testing.T) {
	got := AppendClose(nil, StatusGoingAway, "going away")
	f, err := readFrame((got))
	if err != nil {
		t.Fatal(err)
	}
	code, reason := ws.ParseCloseFrameData(f.Payload)
	if f.Header.OpCode != ws.OpClose || code != 1001 || reason != "going away" {
		t.Fatalf("close frame = %v %d %q", f.Header.OpCode, code, reason)
	}
	if empty := AppendClose(nil, 0, "ignored"); !bytes.Equal(empty, []byte{0x88, 0}) {
		t.Fatalf("AppendClose with no code = % x, want 88 00", empty)
	}
	// A long reason is cut to fit a control frame, on a code point boundary.
	long := AppendClose(nil, 1000, string(bytes.Repeat([]byte("é"), 100)))
	f, err = readFrame((long))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Payload) > MaxControlPayload || !ValidUTF8(f.Payload[2:]) {
		t.Fatalf("long reason gave a %d-byte payload, valid UTF-8 %v",
			len(f.Payload), ValidUTF8(f.Payload[2:]))
	}
}
