package security

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

// proxyV2 builds a version 2 header: command, family byte, the address
// block and TLVs as given.
func proxyV2(cmd, fam byte, block []byte) []byte {
	b := append([]byte(nil), proxyV2Sig...)
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)))
	return append(b, block...)
}

// v2Block is the address block of TCP over IPv4 or IPv6 from src to dst.
func v2Block(src, dst netip.AddrPort) []byte {
	var b []byte
	if src.Addr().Is4() {
		s, d := src.Addr().As4(), dst.Addr().As4()
		b = append(append(b, s[:]...), d[:]...)
	} else {
		s, d := src.Addr().As16(), dst.Addr().As16()
		b = append(append(b, s[:]...), d[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, src.Port())
	return binary.BigEndian.AppendUint16(b, dst.Port())
}

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProxyHeaderValid: the spec's examples and the forms it allows, each
// followed by the bytes of the protocol it carries, which are not taken.
func TestProxyHeaderValid(t *testing.T) {
	ap := netip.MustParseAddrPort
	v6 := "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
	cases := []struct {
		name string
		hdr  []byte
		want netip.AddrPort // zero: keep the connection's own
	}{
		{"v1 spec example", []byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"), ap("192.168.0.1:56324")},
		{"v1 longest TCP4", []byte("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"), ap("255.255.255.255:65535")},
		{"v1 longest TCP6", []byte("PROXY TCP6 " + v6 + " " + v6 + " 65535 65535\r\n"), ap("[" + v6 + "]:65535")},
		{"v1 TCP6 mapped IPv4", []byte("PROXY TCP6 ::ffff:a00:1 ::1 7 443\r\n"), ap("10.0.0.1:7")},
		{"v1 TCP6 compressed", []byte("PROXY TCP6 2001:db8::1 2001:db8::2 0 443\r\n"), ap("[2001:db8::1]:0")},
		{"v1 UNKNOWN short", []byte("PROXY UNKNOWN\r\n"), netip.AddrPort{}},
		{"v1 UNKNOWN worst case", []byte("PROXY UNKNOWN " + v6 + " " + v6 + " 65535 65535\r\n"), netip.AddrPort{}},
		// haproxy's send-proxy-v2 for 172.19.0.1:42578 → 172.19.0.3:80.
		{"v2 haproxy TCP4", unhex(t, "0d0a0d0a000d0a515549540a 21 11 000c ac130001 ac130003 a652 0050"), ap("172.19.0.1:42578")},
		{"v2 TCP6", proxyV2(1, 0x21, v2Block(ap("[2001:db8::7]:1234"), ap("[2001:db8::1]:443"))), ap("[2001:db8::7]:1234")},
		{"v2 TCP6 mapped IPv4", proxyV2(1, 0x21, v2Block(ap("[::ffff:10.1.2.3]:99"), ap("[::1]:443"))), ap("10.1.2.3:99")},
		{"v2 TLVs", proxyV2(1, 0x11, append(v2Block(ap("10.0.0.9:5000"), ap("10.0.0.1:443")),
			0x04, 0, 3, 0, 0, 0, // NOOP, 3 bytes
			0xea, 0, 2, 'v', 'p', // a vendor's
			0x03, 0, 0)), // an empty one
			ap("10.0.0.9:5000")},
		{"v2 LOCAL", proxyV2(0, 0x00, nil), netip.AddrPort{}},
		{"v2 LOCAL with addresses", proxyV2(0, 0x11, v2Block(ap("10.0.0.9:5000"), ap("10.0.0.1:443"))), netip.AddrPort{}},
	}
	for _, c := range cases {
		in := append(append([]byte(nil), c.hdr...), "GET / HTTP/1.1\r\n"...)
		src, n, err := ParseProxyHeader(in)
		if err != nil || n != len(c.hdr) || src != c.want {
			t.Errorf("%s: got %v, %d, %v; want %v, %d", c.name, src, n, err, c.want, len(c.hdr))
		}
		// In pieces, a valid header is never refused: every prefix
		// asks for more.
		for i := range len(c.hdr) {
			if _, n, err := ParseProxyHeader(c.hdr[:i]); n != 0 || err != nil {
				t.Fatalf("%s: prefix of %d bytes: %d, %v", c.name, i, n, err)
			}
		}
	}
}

// TestProxyHeaderRefused: every way a header is refused.
func TestProxyHeaderRefused(t *testing.T) {
	ap := netip.MustParseAddrPort
	v4 := v2Block(ap("10.0.0.9:5000"), ap("10.0.0.1:443"))
	v6 := v2Block(ap("[2001:db8::7]:1234"), ap("[2001:db8::1]:443"))
	cases := []struct {
		name string
		hdr  string
	}{
		{"no signature", "GET / HTTP/1.1\r\n"},
		{"TLS", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00\x00\x00\x00"},
		{"lower case", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 LF only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"},
		{"v1 CR only", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rGET"},
		{"v1 CR inside", "PROXY TCP4 1.2.3.4\r 5.6.7.8 1 2\r\n"},
		{"v1 overlong", "PROXY UNKNOWN " + strings.Repeat("x", 100)},
		{"v1 overlong with CRLF", "PROXY UNKNOWN " + strings.Repeat("x", 92) + "\r\n"},
		{"v1 unknown protocol", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 UNKNOWNX", "PROXY UNKNOWNX\r\n"},
		{"v1 empty", "PROXY \r\n"},
		{"v1 four fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"},
		{"v1 six fields", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"},
		{"v1 two spaces", "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"},
		{"v1 TCP4 with IPv6", "PROXY TCP4 ::1 ::1 1 2\r\n"},
		{"v1 TCP6 with IPv4", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 TCP6 embedded IPv4", "PROXY TCP6 ::ffff:1.2.3.4 ::1 1 2\r\n"},
		{"v1 TCP6 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"},
		{"v1 leading zero address", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"},
		{"v1 bad destination", "PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n"},
		{"v1 leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"},
		{"v1 port too big", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"},
		{"v1 signed port", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"},
		{"v1 empty port", "PROXY TCP4 1.2.3.4 5.6.7.8  2\r\n"},
		{"v1 hostname", "PROXY TCP4 example.com 5.6.7.8 1 2\r\n"},
		{"v2 bad signature", "\r\n\r\n\x00\r\nQUIX\n\x21\x11\x00\x0c" + string(v4)},
		{"v2 version 1", string(proxyV2(1, 0x11, v4)[:12]) + "\x11\x11\x00\x0c" + string(v4)},
		{"v2 version 3", string(proxyV2(1, 0x11, v4)[:12]) + "\x31\x11\x00\x0c" + string(v4)},
		{"v2 command 2", string(proxyV2(2, 0x11, v4))},
		{"v2 command 15", string(proxyV2(15, 0x11, v4))},
		{"v2 family 4", string(proxyV2(1, 0x41, v4))},
		{"v2 LOCAL family 4", string(proxyV2(0, 0x41, nil))},
		{"v2 protocol 3", string(proxyV2(1, 0x13, v4))},
		{"v2 UDP", string(proxyV2(1, 0x12, v4))},
		{"v2 UNIX", string(proxyV2(1, 0x31, make([]byte, 216)))},
		{"v2 PROXY UNSPEC", string(proxyV2(1, 0x00, nil))},
		{"v2 short IPv4", string(proxyV2(1, 0x11, v4[:11]))},
		{"v2 IPv4 length of IPv6", string(proxyV2(1, 0x21, v4))},
		{"v2 short IPv6", string(proxyV2(1, 0x21, v6[:35]))},
		{"v2 too long", string(proxyV2(1, 0x11, append(v4, make([]byte, MaxProxyV2)...)))},
		{"v2 TLV truncated header", string(proxyV2(1, 0x11, append(v4, 0x04, 0)))},
		{"v2 TLV truncated value", string(proxyV2(1, 0x11, append(v4, 0x04, 0, 5, 0)))},
	}
	for _, c := range cases {
		src, n, err := ParseProxyHeader([]byte(c.hdr))
		if !errors.Is(err, ErrProxyHeader) || n != 0 || src.IsValid() {
			t.Errorf("%s: got %v, %d, %v; want ErrProxyHeader", c.name, src, n, err)
		}
	}
}

func TestIsProxyHeader(t *testing.T) {
	for _, c := range []struct {
		in       string
		is, sure bool
	}{
		{"", false, false},
		{"P", false, false},
		{"PROXY", false, false},
		{"PROXY ", true, true},
		{"POST / HTTP/1.1", false, true},
		{"\r\n\r\n\x00", false, false},
		{string(proxyV2Sig), true, true},
		{"\r\n\r\nX", false, true},
		{"\x16\x03\x01", false, true},
	} {
		if is, sure := IsProxyHeader([]byte(c.in)); is != c.is || sure != c.sure {
			t.Errorf("IsProxyHeader(%q) = %v, %v; want %v, %v", c.in, is, sure, c.is, c.sure)
		}
	}
}

// FuzzProxyHeader checks what a reader relies on, not only that the
// parser does not panic: a header is taken the same whole or in pieces
// (a prefix asks for more, never refuses, and bytes after it change
// nothing); n is bounded; and the address of an accepted header, written
// out again in either version, parses to itself.
func FuzzProxyHeader(f *testing.F) {
	ap := netip.MustParseAddrPort
	f.Add([]byte("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 2001:db8::2 0 443\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(proxyV2(1, 0x11, v2Block(ap("10.0.0.9:5000"), ap("10.0.0.1:443"))))
	f.Add(proxyV2(1, 0x21, append(v2Block(ap("[2001:db8::7]:1234"), ap("[::1]:443")), 0x04, 0, 1, 0)))
	f.Add(proxyV2(0, 0x00, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, n, err := ParseProxyHeader(b)
		if err != nil {
			if n != 0 || src.IsValid() {
				t.Fatalf("error %v with %v, %d", err, src, n)
			}
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v is not ErrProxyHeader", err)
			}
			return
		}
		if n == 0 {
			if src.IsValid() || len(b) >= MaxProxyV2 {
				t.Fatalf("waiting for more with %v after %d bytes", src, len(b))
			}
			return
		}
		if n > len(b) || n > MaxProxyV2 || b[0] == 'P' && n > MaxProxyV1 {
			t.Fatalf("n = %d of %d bytes", n, len(b))
		}
		for i := range n {
			if _, m, err := ParseProxyHeader(b[:i]); m != 0 || err != nil {
				t.Fatalf("prefix of %d bytes of a %d-byte header: %d, %v", i, n, m, err)
			}
		}
		if src2, n2, err := ParseProxyHeader(append(b[:n:n], "more"...)); src2 != src || n2 != n || err != nil {
			t.Fatalf("with bytes after it: %v, %d, %v; alone %v, %d", src2, n2, err, src, n)
		}
		if !src.IsValid() {
			return
		}
		dst := ap("[::1]:443")
		proto := "TCP6 "
		if src.Addr().Is4() {
			dst, proto = ap("127.0.0.1:443"), "TCP4 "
		}
		v1 := []byte("PROXY " + proto + src.Addr().String() + " " + dst.Addr().String() + " " +
			strconv.Itoa(int(src.Port())) + " 443\r\n")
		fam := byte(0x21)
		if src.Addr().Is4() {
			fam = 0x11
		}
		for _, h := range [][]byte{v1, proxyV2(1, fam, v2Block(src, dst))} {
			if got, m, err := ParseProxyHeader(h); got != src || m != len(h) || err != nil {
				t.Fatalf("%q: %v, %d, %v; want %v", h, got, m, err, src)
			}
		}
	})
}
