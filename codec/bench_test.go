package codec

import (
	"bytes"
	"testing"
)

func BenchmarkParseHeader(b *testing.B) {
	for _, n := range []int{16, 1024, 70000} {
		wire := AppendMaskedFrame(nil, true, OpBinary, make([]byte, n), testMask)
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, hl, err := ParseHeader(wire); hl == 0 || err != nil {
					b.Fatal(hl, err)
				}
			}
		})
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	for _, n := range []int{16, 1024, 70000} {
		payload := make([]byte, n)
		dst := make([]byte, 0, n+MaxHeaderSize)
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				dst = AppendFrame(dst[:0], true, OpText, payload)
			}
		})
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	dst := make([]byte, 0, MaxHeaderSize)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dst = AppendHeader(dst[:0], true, OpBinary, 70000)
	}
}

// BenchmarkReaderFrame is the per-frame receive path: header, checks,
// in-place unmask and UTF-8 validation of a text frame.
func BenchmarkReaderFrame(b *testing.B) {
	for _, n := range []int{16, 1024, 65536} {
		text := bytes.Repeat([]byte("κόσμε ascii "), n/16+1)[:n]
		for !ValidUTF8(text) {
			text = text[:len(text)-1]
		}
		wire := AppendMaskedFrame(nil, true, OpText, text, testMask)
		work := make([]byte, len(wire))
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(text)))
			var r Reader
			for i := 0; i < b.N; i++ {
				copy(work, wire) // Frame unmasks in place
				h, hl, _ := ParseHeader(work)
				if err := r.Check(h); err != nil {
					b.Fatal(err)
				}
				if _, ok, err := r.Frame(h, work[hl:]); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
	}
}

func BenchmarkUTF8(b *testing.B) {
	for _, tc := range []struct {
		name string
		text []byte
	}{
		{name: "ascii", text: bytes.Repeat([]byte("hello world "), 1000)},
		{name: "mixed", text: bytes.Repeat([]byte("κόσμε→世界 "), 1000)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.text)))
			for i := 0; i < b.N; i++ {
				if !ValidUTF8(tc.text) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func sizeName(n int) string {
	switch {
	case n >= 1024 && n%1024 == 0:
		return itoa(n/1024) + "KiB"
	default:
		return itoa(n) + "B"
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// BenchmarkCompress is a loop's Compressor on JSON messages, reused as the
// server reuses it; the ratio is compressed/plain.
func BenchmarkCompress(b *testing.B) {
	for _, n := range []int{256, 1024, 16 << 10} {
		p := jsonish(n, 7)
		z, _ := NewCompressor(0)
		dst := z.Append(nil, p, 0, nil)
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				dst = z.Append(dst[:0], p, 0, nil)
			}
			b.ReportMetric(float64(len(dst))/float64(n), "ratio")
		})
	}
}

// BenchmarkInflate is a loop's Decompressor on what BenchmarkCompress
// makes.
func BenchmarkInflate(b *testing.B) {
	for _, n := range []int{256, 1024, 16 << 10} {
		z, _ := NewCompressor(0)
		c := z.Append(nil, jsonish(n, 7), 0, nil)
		d := NewDecompressor()
		dst := make([]byte, 0, n+1)
		b.Run(sizeName(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for i := 0; i < b.N; i++ {
				var err error
				if dst, err = d.Append(dst[:0], c, int64(n), nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
