package tlsrec

import (
	"bytes"
	"testing"
)

// inputAll feeds data to a server's Stream: its first lead bytes as what
// the handshake left over, the rest in reads of the given sizes (cycled).
// It returns the application data that came out and the error, if any.
func inputAll(t *testing.T, data []byte, lead int, sizes []byte) ([]byte, error) {
	t.Helper()
	rec, err := New(fuzzSecrets(false), false, 0)
	if err != nil {
		t.Fatal(err)
	}
	s := &Stream{Conn: rec, raw: bytes.Clone(data[:lead])}
	var got []byte
	data = data[lead:]
	for i := 0; ; i++ {
		n := len(data)
		if len(sizes) > 0 {
			n = min(n, int(sizes[i%len(sizes)]))
		}
		read := bytes.Clone(data[:n]) // a loop's buffer, reused after
		data = data[n:]
		first, rest, err := s.Input(read)
		got = append(append(got, first...), rest...)
		clear(read)
		if err != nil {
			return got, err
		}
		if k := s.Kept(); k >= HeaderLen && k >= RecordLen(s.raw) {
			t.Fatalf("the Stream kept %d bytes, a whole record, between reads", k)
		}
		if len(data) == 0 {
			return got, nil
		}
	}
}

// TestStreamCuts: however the records are cut into reads, and however much
// of them the handshake left over, the same plaintext comes out, and the
// Stream keeps only an incomplete record between reads.
func TestStreamCuts(t *testing.T) {
	wire, plain := fuzzStream()
	for _, lead := range []int{0, 3, 40, 200, len(wire) / 2} {
		for _, sizes := range [][]byte{nil, {1}, {2, 7}, {5}, {16, 255, 3}} {
			got, err := inputAll(t, wire, lead, sizes)
			if err != ErrCloseNotify || !bytes.Equal(got, plain) {
				t.Fatalf("lead %d, reads %v: %d bytes, %v; want the %d bytes and close_notify", lead, sizes, len(got), err, len(plain))
			}
		}
	}
}

// FuzzInput: records cut into reads anyhow, with bytes changed anywhere,
// never give out a byte that was not sealed: what comes out is a prefix
// of the sealed plaintext.
func FuzzInput(f *testing.F) {
	wire, _ := fuzzStream()
	f.Add(wire, uint16(0), []byte{7})
	f.Add(wire, uint16(30), []byte{1, 200})
	f.Add(wire[:len(wire)-3], uint16(len(wire)/2), []byte{})
	f.Fuzz(func(t *testing.T, data []byte, lead uint16, sizes []byte) {
		_, plain := fuzzStream()
		for i, s := range sizes {
			sizes[i] = max(s, 1)
		}
		got, _ := inputAll(t, data, int(lead)%(len(data)+1), sizes)
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("Input gave out %x, not a prefix of what was sealed", got)
		}
	})
}
