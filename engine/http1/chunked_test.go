package http1

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math"
	"net/http/httputil"
	"strings"
	"testing"
)

// chunkedResult is what Chunked made of an input: the data, how many bytes
// of the input the body took, whether it ended, and its refusal.
type chunkedResult struct {
	data []byte
	n    int
	done bool
	err  error
}

func (r chunkedResult) equal(o chunkedResult) bool {
	return bytes.Equal(r.data, o.data) && r.n == o.n && r.done == o.done && errors.Is(r.err, o.err) && (r.err == nil) == (o.err == nil)
}

// decodeCuts decodes in, cut before each offset of cuts (ascending), with
// the bounds given.
func decodeCuts(in []byte, maxBody, maxWire int64, cuts ...int) chunkedResult {
	var d Chunked
	d.Reset(maxBody, maxWire)
	var r chunkedResult
	start := 0
	for _, end := range append(cuts, len(in)) {
		var n int
		r.data, n, r.err = d.Decode(r.data, in[start:end])
		r.n += n
		if r.err != nil || d.Done() {
			break
		}
		start = end
	}
	r.done = d.Done()
	return r
}

// decodeBytewise decodes in one byte at a time.
func decodeBytewise(in []byte, maxBody, maxWire int64) chunkedResult {
	cuts := make([]int, 0, len(in))
	for i := 1; i < len(in); i++ {
		cuts = append(cuts, i)
	}
	return decodeCuts(in, maxBody, maxWire, cuts...)
}

// TestChunkedAccepts: bodies RFC 9112 section 7.1 allows, with extensions
// and trailers, decode to their data; the bytes after the body are left
// for the next request, however the body is cut.
func TestChunkedAccepts(t *testing.T) {
	const next = "GET / HTTP/1.1\r\n"
	cases := []struct {
		name, body, data string
	}{
		{"empty", "0\r\n\r\n", ""},
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello"},
		{"several chunks", "4\r\nlong\r\n1\r\n-\r\n7\r\npolling\r\n0\r\n\r\n", "long-polling"},
		{"hex sizes in both cases", "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n", "0123456789abcdefghijk"},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello"},
		{"sixteen digits", "0000000000000003\r\nabc\r\n0\r\n\r\n", "abc"},
		{"data holding CRLF", "5\r\n0\r\n\r\n\r\n0\r\n\r\n", "0\r\n\r\n"},
		{"extension", "5;name\r\nhello\r\n0\r\n\r\n", "hello"},
		{"extension with a token value", "5;name=value\r\nhello\r\n0;last=yes\r\n\r\n", "hello"},
		{"extension with a quoted value", "5;name=\"a \\\"quoted\\\" value; with; semicolons\"\r\nhello\r\n0\r\n\r\n", "hello"},
		{"several extensions", "5;a;b=1;c=\"\";d=x\r\nhello\r\n0\r\n\r\n", "hello"},
		{"extension of the bound", "1;" + strings.Repeat("e", maxChunkExt-1) + "\r\nx\r\n0\r\n\r\n", "x"},
		{"trailer", "5\r\nhello\r\n0\r\nExpires: never\r\n\r\n", "hello"},
		{"trailer fields", "5\r\nhello\r\n0\r\nA: 1\r\nB:\r\nC: x \t y\r\nD: caf\xc3\xa9\r\n\r\n", "hello"},
		{"trailer of the bound", "0\r\nX: " + strings.Repeat("t", maxTrailer-7) + "\r\n\r\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.body + next)
			want := chunkedResult{data: []byte(tc.data), n: len(tc.body), done: true}
			if len(tc.data) == 0 {
				want.data = nil
			}
			if got := decodeCuts(in, 1<<20, 1<<20); !got.equal(want) {
				t.Fatalf("whole: %+v; want %+v", got, want)
			}
			if got := decodeBytewise(in, 1<<20, 1<<20); !got.equal(want) {
				t.Fatalf("byte by byte: %+v; want %+v", got, want)
			}
			for cut := range len(in) {
				if got := decodeCuts(in, 1<<20, 1<<20, cut); !got.equal(want) {
					t.Fatalf("cut at %d: %+v; want %+v", cut, got, want)
				}
			}
		})
	}
}

// TestChunkedRefuses: each way a chunked body breaks RFC 9112's grammar or
// this reader's bounds is refused with its own error, where it is found,
// whether the body comes whole or a byte at a time.
func TestChunkedRefuses(t *testing.T) {
	const maxBody, maxWire = 100, 8 << 10
	cases := []struct {
		name, body string
		err        *Error
		at         int // the offset of the byte refused
	}{
		// The chunk size.
		{"no size", "\r\nhello\r\n0\r\n\r\n", ErrChunkSize, 0},
		{"not hex", "g\r\n", ErrChunkSize, 0},
		{"0x prefix", "0x5\r\nhello\r\n", ErrChunkSize, 1},
		{"sign", "+5\r\nhello\r\n", ErrChunkSize, 0},
		{"space after the size", "5 \r\nhello\r\n", ErrChunkSize, 1},
		{"space before the size", " 5\r\nhello\r\n", ErrChunkSize, 0},
		{"whitespace before an extension", "5 ;a\r\nhello\r\n", ErrChunkSize, 1},
		{"extension without a size", ";a\r\n", ErrChunkSize, 0},
		{"seventeen digits", "00000000000000001\r\nx\r\n", ErrChunkSize, 16},
		// Line ends.
		{"bare LF after the size", "5\nhello\r\n0\r\n\r\n", ErrChunkLine, 1},
		{"bare LF first", "\n", ErrChunkLine, 0},
		{"bare CR after the size", "5\rhello\r\n", ErrChunkLine, 2},
		{"bare LF in an extension", "5;a\nhello\r\n", ErrChunkLine, 3},
		{"bare LF after the last chunk", "0\n\r\n", ErrChunkLine, 1},
		{"bare LF ending the body", "0\r\n\n", ErrChunkLine, 3},
		{"bare CR ending the body", "0\r\n\rX", ErrChunkLine, 4},
		// The data's CRLF.
		{"data longer than its size", "3\r\nhello\r\n0\r\n\r\n", ErrChunkData, 6},
		{"data shorter than its size", "6\r\nhello\r\n0\r\n\r\n", ErrChunkData, 9},
		{"data ended by a bare LF", "5\r\nhello\n0\r\n\r\n", ErrChunkData, 8},
		{"data ended by a bare CR", "5\r\nhello\r0\r\n\r\n", ErrChunkData, 9},
		{"data ended by nothing", "5\r\nhello0\r\n\r\n", ErrChunkData, 8},
		// Extensions.
		{"empty extension", "5;\r\nhello\r\n", ErrChunkExtension, 2},
		{"empty extension name", "5;=x\r\nhello\r\n", ErrChunkExtension, 2},
		{"empty extension value", "5;a=\r\nhello\r\n", ErrChunkExtension, 4},
		{"space in an extension", "5; a\r\nhello\r\n", ErrChunkExtension, 2},
		{"space before '='", "5;a =b\r\nhello\r\n", ErrChunkExtension, 3},
		{"non-token value", "5;a=b@c\r\nhello\r\n", ErrChunkExtension, 5},
		{"unclosed quoted value", "5;a=\"b\r\nhello\r\n", ErrChunkExtension, 6},
		{"control character in a quoted value", "5;a=\"\x01\"\r\nhello\r\n", ErrChunkExtension, 5},
		{"bytes after a quoted value", "5;a=\"b\"c\r\nhello\r\n", ErrChunkExtension, 7},
		{"extension past the bound", "1;" + strings.Repeat("e", maxChunkExt) + "\r\nx\r\n", ErrChunkExtension, 2 + maxChunkExt - 1},
		// Trailers.
		{"trailer without a colon", "0\r\nExpires\r\n\r\n", ErrTrailer, 10},
		{"trailer with an empty name", "0\r\n: x\r\n\r\n", ErrTrailer, 3},
		{"space before a trailer's colon", "0\r\nA : x\r\n\r\n", ErrTrailer, 4},
		{"folded trailer line", "0\r\nA: x\r\n y\r\n\r\n", ErrTrailer, 9},
		{"control character in a trailer", "0\r\nA: \x00\r\n\r\n", ErrTrailer, 6},
		{"bare CR in a trailer", "0\r\nA: b\rc\r\n\r\n", ErrChunkLine, 8},
		{"bare LF in a trailer", "0\r\nA: b\n\r\n", ErrChunkLine, 7},
		{"trailer past the bound", "0\r\nX: " + strings.Repeat("t", maxTrailer-6) + "\r\n\r\n", ErrTrailer, 3 + maxTrailer},
		// Bounds: the data, as soon as a size says it is over; the wire.
		{"data over the bound", "64\r\n" + strings.Repeat("d", maxBody) + "\r\n1\r\n", ErrBodyTooLarge, 4 + maxBody + 2},
		{"size over the bound", "65\r\n", ErrBodyTooLarge, 1},
		{"huge size", "ffffffffffffffff\r\n", ErrBodyTooLarge, 1},
		{"chunks over the bound", "32\r\n" + strings.Repeat("d", 50) + "\r\n33\r\n", ErrBodyTooLarge, 4 + 50 + 2 + 1},
		{"overhead over the wire bound", strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", 9), ErrBodyTooLarge, maxWire},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := []byte(tc.body)
			want := chunkedResult{n: tc.at, err: tc.err}
			for _, got := range []chunkedResult{decodeCuts(in, maxBody, maxWire), decodeBytewise(in, maxBody, maxWire)} {
				got.data = nil
				if !got.equal(want) {
					t.Fatalf("Decode = %d, %v; want %d, %v", got.n, got.err, want.n, want.err)
				}
			}
		})
	}
}

// TestChunkedBounds: data and wire bounds are inclusive, and a refusal
// stays.
func TestChunkedBounds(t *testing.T) {
	body := "8\r\n01234567\r\n2\r\n89\r\n0\r\n\r\n"
	if got := decodeCuts([]byte(body), 10, int64(len(body))); !got.done || got.err != nil || string(got.data) != "0123456789" {
		t.Errorf("body of both bounds: %+v", got)
	}
	if got := decodeCuts([]byte(body), 9, 1<<10); !errors.Is(got.err, ErrBodyTooLarge) {
		t.Errorf("data a byte over: %v; want ErrBodyTooLarge", got.err)
	}
	if got := decodeCuts([]byte(body+"next"), 10, int64(len(body)-1)); !errors.Is(got.err, ErrBodyTooLarge) || got.n != len(body)-1 {
		t.Errorf("wire a byte over: %d, %v; want %d, ErrBodyTooLarge", got.n, got.err, len(body)-1)
	}
	// A size is refused before it overflows, past 16 digits, whatever the
	// bound.
	if got := decodeCuts([]byte("10000000000000000\r\n"), math.MaxInt64, math.MaxInt64); !errors.Is(got.err, ErrChunkSize) || got.n != 16 {
		t.Errorf("seventeen digits: %d, %v; want 16, ErrChunkSize", got.n, got.err)
	}
	if got := decodeCuts([]byte("7fffffffffffffff\r\n"), math.MaxInt64, math.MaxInt64); got.err != nil || got.done {
		t.Errorf("size of the bound: %v, done %v; want the data awaited", got.err, got.done)
	}
	// The wire bound waits for the byte past it: a body that is short of
	// it and not over is not refused.
	var d Chunked
	d.Reset(10, 8)
	if _, n, err := d.Decode(nil, []byte("8\r\n01234")); n != 8 || err != nil {
		t.Fatalf("Decode to the wire bound = %d, %v", n, err)
	}
	if _, n, err := d.Decode(nil, []byte("5")); n != 0 || !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("Decode past the wire bound = %d, %v", n, err)
	}
	if _, n, err := d.Decode(nil, []byte("6")); n != 0 || !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("Decode after a refusal = %d, %v; want it again", n, err)
	}
	// After its end the body takes nothing more.
	d.Reset(10, 100)
	if _, n, err := d.Decode(nil, []byte("0\r\n\r\n")); n != 5 || err != nil || !d.Done() {
		t.Fatalf("Decode of an empty body = %d, %v, done %v", n, err, d.Done())
	}
	if out, n, err := d.Decode(nil, []byte("0\r\n\r\n")); n != 0 || err != nil || out != nil {
		t.Fatalf("Decode after the end = %q, %d, %v", out, n, err)
	}
}

// TestChunkedNoAlloc: decoding into a buffer with room allocates nothing,
// and neither does parsing a chunked request's head.
func TestChunkedNoAlloc(t *testing.T) {
	body := []byte("5;a=\"b\"\r\nhello\r\n6\r\n world\r\n0\r\nX: y\r\n\r\n")
	dst := make([]byte, 0, 64)
	var d Chunked
	n := testing.AllocsPerRun(100, func() {
		d.Reset(100, 100)
		for i := range body {
			dst, _, _ = d.Decode(dst[:0], body[i:i+1])
		}
	})
	if n != 0 {
		t.Errorf("Decode: %v allocations; want 0", n)
	}
	h := []byte(head("POST /poll HTTP/1.1", "Host: a", "Transfer-Encoding: chunked"))
	if n := testing.AllocsPerRun(100, func() { _, _ = Parse(h) }); n != 0 {
		t.Errorf("Parse of a chunked request: %v allocations; want 0", n)
	}
}

// TestParseTransferEncoding: a request's Transfer-Encoding is chunked
// alone, over HTTP/1.1; a list that cannot be framed is refused, and one
// with a coding before chunked is not implemented.
func TestParseTransferEncoding(t *testing.T) {
	cases := []struct {
		name  string
		lines []string
		err   *Error
	}{
		{"chunked", []string{"Transfer-Encoding: chunked"}, nil},
		{"in any case", []string{"Transfer-Encoding: ChunKed"}, nil},
		{"with empty elements", []string{"Transfer-Encoding: , chunked ,"}, nil},
		{"on two lines, the second empty", []string{"Transfer-Encoding: chunked", "Transfer-Encoding:"}, nil},
		{"gzip", []string{"Transfer-Encoding: gzip"}, ErrTransferEncoding},
		{"chunked before gzip", []string{"Transfer-Encoding: chunked, gzip"}, ErrTransferEncoding},
		{"chunked twice", []string{"Transfer-Encoding: chunked, chunked"}, ErrTransferEncoding},
		{"chunked twice, on two lines", []string{"Transfer-Encoding: chunked", "Transfer-Encoding: chunked"}, ErrTransferEncoding},
		{"chunked with a parameter", []string{"Transfer-Encoding: chunked;q=1"}, ErrTransferEncoding},
		{"empty", []string{"Transfer-Encoding:"}, ErrTransferEncoding},
		{"gzip before chunked", []string{"Transfer-Encoding: gzip, chunked"}, ErrTransferCoding},
		{"gzip before chunked, on two lines", []string{"Transfer-Encoding: gzip", "Transfer-Encoding: chunked"}, ErrTransferCoding},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := head(append([]string{"POST / HTTP/1.1", "Host: a"}, tc.lines...)...)
			r, err := Parse([]byte(h))
			if tc.err == nil && (err != nil || !r.TransferEncoding) || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q) = %v (TransferEncoding %v); want %v", h, err, r.TransferEncoding, tc.err)
			}
		})
	}
	if _, err := Parse([]byte(head("POST / HTTP/1.0", "Transfer-Encoding: chunked"))); !errors.Is(err, ErrTransferEncoding10) {
		t.Errorf("HTTP/1.0 with Transfer-Encoding: %v; want ErrTransferEncoding10", err)
	}
}

// FuzzChunked checks Chunked against itself and against net/http's chunked
// reader, written by others. Cut anywhere, or fed a byte at a time, an
// input gives what it gives whole. Whatever body Chunked accepts, net/http's reader reads as the
// same data; the converse is not asked, since that reader is more lenient:
// it skips whitespace after a size and anything after a ';' without
// checking it, and leaves the trailer section to its caller. (It is
// stricter in one thing, a budget of chunk overhead past 16 KiB, which the
// bounds here keep the inputs under.)
func FuzzChunked(f *testing.F) {
	f.Add([]byte("5\r\nhello\r\n0\r\n\r\n"), uint16(3))
	f.Add([]byte("4\r\nlong\r\n1\r\n-\r\n7\r\npolling\r\n0\r\n\r\nGET / HTTP/1.1\r\n"), uint16(17))
	f.Add([]byte("a;name=value;q=\"x\\\"y\"\r\n0123456789\r\n0;e\r\nA: b\r\nC:\r\n\r\n"), uint16(9))
	f.Add([]byte("0000000000000003\r\nabc\r\n0\r\n\r\n"), uint16(1))
	f.Add([]byte("00000000000000003\r\nabc\r\n0\r\n\r\n"), uint16(20))
	f.Add([]byte("5 \r\nhello\r\n0\r\n\r\n"), uint16(2))
	f.Add([]byte("5\nhello\n0\n\n"), uint16(2))
	f.Add([]byte("3\r\nabcdef\r\n0\r\n\r\n"), uint16(5))
	f.Add([]byte("1000\r\n"), uint16(4))
	f.Add([]byte("0\r\nA : b\r\n\r\n"), uint16(6))
	const maxBody, maxWire = 4 << 10, 8 << 10
	f.Fuzz(func(t *testing.T, in []byte, cut uint16) {
		whole := decodeCuts(in, maxBody, maxWire)
		at := int(cut) % (len(in) + 1)
		if got := decodeCuts(in, maxBody, maxWire, at); !got.equal(whole) {
			t.Fatalf("cut at %d: %d bytes, %v, done %v; whole: %d bytes, %v, done %v", at, got.n, got.err, got.done, whole.n, whole.err, whole.done)
		}
		if got := decodeBytewise(in, maxBody, maxWire); !got.equal(whole) {
			t.Fatalf("byte by byte: %d bytes, %v, done %v; whole: %d bytes, %v, done %v", got.n, got.err, got.done, whole.n, whole.err, whole.done)
		}
		if whole.err != nil {
			var he *Error
			if !errors.As(whole.err, &he) || he.Status < 400 {
				t.Fatalf("refusal %v is not an HTTP one", whole.err)
			}
			if whole.n >= len(in) && !errors.Is(whole.err, ErrBodyTooLarge) {
				t.Fatalf("refusal %v at %d, past the input's %d bytes", whole.err, whole.n, len(in))
			}
			return
		}
		if !whole.done {
			if whole.n != len(in) {
				t.Fatalf("unended body took %d of %d bytes", whole.n, len(in))
			}
			return
		}
		if len(whole.data) > maxBody || whole.n > maxWire {
			t.Fatalf("body of %d bytes, %d on the wire, past the bounds", len(whole.data), whole.n)
		}
		std, err := io.ReadAll(httputil.NewChunkedReader(bufio.NewReader(bytes.NewReader(in[:whole.n]))))
		if err != nil {
			t.Fatalf("Chunked took %q; net/http: %v", in[:whole.n], err)
		}
		if !bytes.Equal(std, whole.data) {
			t.Fatalf("Chunked read %q from %q; net/http %q", whole.data, in[:whole.n], std)
		}
	})
}
