package security

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// The PROXY protocol (haproxy's proxy-protocol.txt, versions 1 and 2): a
// load balancer that relays a TCP connection writes, before anything
// else, a header naming the client's address. Only a trusted balancer's
// header may be believed; which one is trusted is the engine's decision.

// ErrProxyHeader is ParseProxyHeader's error: the bytes are not a PROXY
// protocol header this parser accepts. It is wrapped with the reason.
var ErrProxyHeader = errors.New("security: bad PROXY protocol header")

const (
	// MaxProxyV1 is the longest version 1 header, CRLF included.
	MaxProxyV1 = 107
	// MaxProxyV2 is the longest version 2 header accepted: the 16-byte
	// fixed part and up to 2048 bytes of addresses and TLVs (the spec
	// allows 65535; balancers send a few dozen).
	MaxProxyV2 = 16 + 2048
)

var (
	proxyV1Sig = []byte("PROXY ")
	proxyV2Sig = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

// IsProxyHeader reports whether b starts like a PROXY protocol header
// (either version's signature), and sure when b is long enough to tell:
// when sure is false, b is a strict prefix of a signature and more bytes
// are needed to decide.
func IsProxyHeader(b []byte) (is, sure bool) {
	for _, sig := range [][]byte{proxyV1Sig, proxyV2Sig} {
		n := min(len(b), len(sig))
		if bytes.Equal(b[:n], sig[:n]) {
			if n == len(sig) {
				return true, true
			}
			return false, false
		}
	}
	return false, true
}

// ParseProxyHeader parses the PROXY protocol header (version 1 or 2) at
// the front of b. It returns the header's length n and the client's
// address it names, or the zero AddrPort when the header says to keep
// the connection's own (version 1 UNKNOWN, version 2 LOCAL). While b
// holds only the start of what may be a valid header, it returns n == 0
// and a nil error: read more and call again. Anything else, a header that
// does not follow the spec to the letter included, is an error wrapping
// ErrProxyHeader: the connection is to be refused.
func ParseProxyHeader(b []byte) (src netip.AddrPort, n int, err error) {
	is, sure := IsProxyHeader(b)
	switch {
	case !sure:
		return netip.AddrPort{}, 0, nil
	case !is:
		return proxyErr("no signature")
	case b[0] == 'P':
		return parseProxyV1(b)
	}
	return parseProxyV2(b)
}

func proxyErr(why string) (netip.AddrPort, int, error) {
	return netip.AddrPort{}, 0, &proxyError{why}
}

type proxyError struct{ why string }

func (e *proxyError) Error() string { return ErrProxyHeader.Error() + ": " + e.why }
func (e *proxyError) Unwrap() error { return ErrProxyHeader }

// parseProxyV1 parses a text header: "PROXY TCP4|TCP6 src dst sport
// dport\r\n", or "PROXY UNKNOWN" and anything up to the CRLF.
func parseProxyV1(b []byte) (netip.AddrPort, int, error) {
	end := bytes.IndexByte(b[:min(len(b), MaxProxyV1)], '\n')
	if end < 0 {
		if len(b) >= MaxProxyV1 {
			return proxyErr("v1: no CRLF in 107 bytes")
		}
		if bytes.IndexByte(b, '\r') >= 0 && b[len(b)-1] != '\r' {
			return proxyErr("v1: CR without LF")
		}
		return netip.AddrPort{}, 0, nil
	}
	if end == 0 || b[end-1] != '\r' {
		return proxyErr("v1: LF without CR")
	}
	line := b[len(proxyV1Sig) : end-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return proxyErr("v1: CR without LF")
	}
	n := end + 1
	if rest, ok := bytes.CutPrefix(line, []byte("UNKNOWN")); ok {
		if len(rest) > 0 && rest[0] != ' ' {
			return proxyErr("v1: unknown protocol")
		}
		return netip.AddrPort{}, n, nil
	}
	f := bytes.Split(line, []byte(" "))
	if len(f) != 5 {
		return proxyErr("v1: not five fields")
	}
	var v4 bool
	switch string(f[0]) {
	case "TCP4":
		v4 = true
	case "TCP6":
	default:
		return proxyErr("v1: unknown protocol")
	}
	src, ok1 := parseV1Addr(f[1], v4)
	_, ok2 := parseV1Addr(f[2], v4)
	sport, ok3 := parseV1Port(f[3])
	_, ok4 := parseV1Port(f[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return proxyErr("v1: bad address or port")
	}
	return netip.AddrPortFrom(src.Unmap(), sport), n, nil
}

// parseV1Addr parses an address in the family the header announced:
// IPv4 dotted quads without leading zeros (which netip refuses), IPv6 in
// hexadecimal groups only (no zone, no embedded IPv4).
func parseV1Addr(s []byte, v4 bool) (netip.Addr, bool) {
	if !v4 && (bytes.IndexByte(s, '.') >= 0 || bytes.IndexByte(s, '%') >= 0) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(string(s))
	if err != nil || a.Is4() != v4 {
		return netip.Addr{}, false
	}
	return a, true
}

// parseV1Port parses a decimal port without leading zeros.
func parseV1Port(s []byte) (uint16, bool) {
	if len(s) == 0 || len(s) > 5 || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	p, err := strconv.ParseUint(string(s), 10, 16)
	return uint16(p), err == nil
}

// parseProxyV2 parses a binary header: the signature, version 2 with the
// LOCAL or PROXY command, and for PROXY, TCP over IPv4 or IPv6, whose
// addresses may be followed by TLVs, which are checked for their lengths
// and skipped.
func parseProxyV2(b []byte) (netip.AddrPort, int, error) {
	if len(b) < 16 {
		return netip.AddrPort{}, 0, nil
	}
	verCmd, fam := b[12], b[13]
	size := int(binary.BigEndian.Uint16(b[14:16]))
	switch {
	case verCmd>>4 != 2:
		return proxyErr("v2: version not 2")
	case verCmd&0xf > 1:
		return proxyErr("v2: unknown command")
	case fam>>4 > 3 || fam&0xf > 2:
		return proxyErr("v2: unknown family or protocol")
	case 16+size > MaxProxyV2:
		return proxyErr("v2: too long")
	}
	n := 16 + size
	if len(b) < n {
		return netip.AddrPort{}, 0, nil
	}
	if verCmd&0xf == 0 { // LOCAL: the proxy's own connection, a health check
		return netip.AddrPort{}, n, nil
	}
	body := b[16:n]
	var src netip.Addr
	var rest []byte
	switch fam {
	case 0x11: // TCP over IPv4
		if len(body) < 12 {
			return proxyErr("v2: short IPv4 addresses")
		}
		src = netip.AddrFrom4([4]byte(body[0:4]))
		rest = body[8:]
	case 0x21: // TCP over IPv6
		if len(body) < 36 {
			return proxyErr("v2: short IPv6 addresses")
		}
		src = netip.AddrFrom16([16]byte(body[0:16])).Unmap()
		rest = body[32:]
	default:
		return proxyErr("v2: not TCP over IPv4 or IPv6")
	}
	sport := binary.BigEndian.Uint16(rest[0:2])
	for tlvs := rest[4:]; len(tlvs) > 0; {
		if len(tlvs) < 3 {
			return proxyErr("v2: truncated TLV")
		}
		l := 3 + int(binary.BigEndian.Uint16(tlvs[1:3]))
		if l > len(tlvs) {
			return proxyErr("v2: truncated TLV")
		}
		tlvs = tlvs[l:]
	}
	return netip.AddrPortFrom(src, sport), n, nil
}
