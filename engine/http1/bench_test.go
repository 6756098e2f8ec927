package http1

import "testing"

// BenchmarkUpgrade is the whole opening handshake of a browser-like
// request: finding the head's end, parsing it, checking it and writing the
// 101.
func BenchmarkUpgrade(b *testing.B) {
	req := []byte(upgradeHead("User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
		"Accept-Encoding: gzip, deflate, br, zstd", "Accept-Language: en-US,en;q=0.9", "Cache-Control: no-cache", "Pragma: no-cache",
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"))
	resp := make([]byte, 0, 256)
	b.ReportAllocs()
	b.SetBytes(int64(len(req)))
	for i := 0; i < b.N; i++ {
		n, err := HeadLen(req, 0, 8<<10)
		if err != nil || n != len(req) {
			b.Fatal(n, err)
		}
		r, err := Parse(req[:n])
		if err == nil {
			err = CheckUpgrade(&r)
		}
		if err != nil {
			b.Fatal(err)
		}
		resp = AppendUpgradeResponse(resp[:0], r.Key, "", nil)
	}
}
