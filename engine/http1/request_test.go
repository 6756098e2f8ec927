package http1

import (
	"bufio"
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// head joins a request line and field lines into a request head.
func head(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

// upgradeLines are the field lines of a valid opening handshake, RFC 6455
// section 1.3's example.
var upgradeLines = []string{
	"Host: server.example.com",
	"Upgrade: websocket",
	"Connection: Upgrade",
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
	"Origin: http://example.com",
	"Sec-WebSocket-Protocol: chat, superchat",
	"Sec-WebSocket-Version: 13",
}

func upgradeHead(extra ...string) string {
	return head(append(append([]string{"GET /chat HTTP/1.1"}, upgradeLines...), extra...)...)
}

func TestRequestHeadLen(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		limit int
		n     int
		err   error
	}{
		{"whole", "GET / HTTP/1.1\r\nHost: a\r\n\r\nrest", 100, 27, nil},
		{"no fields", "GET / HTTP/1.1\r\n\r\n", 100, 18, nil},
		{"not yet", "GET / HTTP/1.1\r\nHost: a\r\n", 100, 0, nil},
		{"blank line cut", "GET / HTTP/1.1\r\nHost: a\r\n\r", 100, 0, nil},
		{"at the limit", "GET / HTTP/1.1\r\n\r\n", 18, 18, nil},
		{"over the limit", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 20, 0, ErrHeadTooLarge},
		{"bare LF ends a line", "GET / HTTP/1.1\nHost: a\n\n", 100, 0, ErrBareLF},
		{"bare LF in a field line", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 100, 0, ErrBareLF},
		{"LF first", "\nGET / HTTP/1.1\r\n\r\n", 100, 0, ErrBareLF},
		{"CR LF LF", "GET / HTTP/1.1\r\n\n", 100, 0, ErrBareLF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := HeadLen([]byte(tc.in), 0, tc.limit)
			if n != tc.n || !errors.Is(err, tc.err) {
				t.Fatalf("HeadLen = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
		})
	}
}

func TestParseRequest(t *testing.T) {
	r, err := Parse([]byte(upgradeHead()))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"method": "GET", "target": "/chat", "path": "/chat", "host": "server.example.com",
		"origin": "http://example.com", "key": "dGhlIHNhbXBsZSBub25jZQ==", "version": "13",
	}
	got := map[string]string{
		"method": string(r.Method), "target": string(r.Target), "path": string(r.Path()), "host": string(r.Host),
		"origin": string(r.Origin), "key": string(r.Key), "version": string(r.Version),
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	if r.Minor != 1 || r.Authorization != nil || r.ContentLength != -1 || r.TransferEncoding {
		t.Errorf("minor %d, authorization %q, length %d, transfer-encoding %v; want 1, absent, -1, false",
			r.Minor, r.Authorization, r.ContentLength, r.TransferEncoding)
	}
	if err := CheckUpgrade(&r); err != nil {
		t.Errorf("CheckUpgrade: %v", err)
	}
	var protocols []string
	for v := range r.Values("sec-websocket-protocol") {
		protocols = append(protocols, string(v))
	}
	if !slices.Equal(protocols, []string{"chat, superchat"}) {
		t.Errorf("Values(sec-websocket-protocol) = %q", protocols)
	}
}

func TestParseRequestAccepts(t *testing.T) {
	cases := []struct {
		name, head string
		check      func(r *Request) bool
	}{
		{"HTTP/1.0 without Host", head("GET / HTTP/1.0"), func(r *Request) bool { return r.Minor == 0 && r.Host == nil }},
		{"empty Host", head("GET / HTTP/1.1", "Host:"), func(r *Request) bool { return r.Host != nil && len(r.Host) == 0 }},
		{"Host with port", head("GET / HTTP/1.1", "Host: example.com:8443"), nil},
		{"IPv4 Host", head("GET / HTTP/1.1", "Host: 127.0.0.1:80"), nil},
		{"IPv6 Host", head("GET / HTTP/1.1", "Host: [::1]:8443"), func(r *Request) bool { return string(r.Host) == "[::1]:8443" }},
		{"escaped Host", head("GET / HTTP/1.1", "Host: ex%41mple.com"), nil},
		{"whitespace around values", head("GET / HTTP/1.1", "Host: \t a.b \t"), func(r *Request) bool { return string(r.Host) == "a.b" }},
		{"no whitespace after the colon", head("GET / HTTP/1.1", "Host:a.b"), func(r *Request) bool { return string(r.Host) == "a.b" }},
		{"field names in any case", head("GET / HTTP/1.1", "hOsT: a", "ORIGIN: https://o"), func(r *Request) bool { return string(r.Origin) == "https://o" }},
		{"obs-text in a value", head("GET / HTTP/1.1", "Host: a", "X-Name: caf\xc3\xa9"), nil},
		{"repeated list fields", head("GET / HTTP/1.1", "Host: a", "Connection: keep-alive", "Connection: Upgrade"),
			func(r *Request) bool { return r.HasToken("connection", "upgrade") }},
		{"Content-Length 0", head("GET / HTTP/1.1", "Host: a", "Content-Length: 0"), func(r *Request) bool { return r.ContentLength == 0 }},
		{"Content-Length", head("POST / HTTP/1.1", "Host: a", "Content-Length: 1234"), func(r *Request) bool { return r.ContentLength == 1234 }},
		{"Transfer-Encoding", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked"), func(r *Request) bool { return r.TransferEncoding }},
		{"absolute-form", head("GET http://a.example/chat?x=1 HTTP/1.1", "Host: a.example"), func(r *Request) bool { return string(r.Path()) == "/chat" }},
		{"absolute-form without a path", head("GET wss://a.example?x=1 HTTP/1.1", "Host: a.example"), func(r *Request) bool { return string(r.Path()) == "/" }},
		{"asterisk-form", head("OPTIONS * HTTP/1.1", "Host: a"), func(r *Request) bool { return string(r.Path()) == "*" }},
		{"query", head("GET /echo?token=a%2Fb HTTP/1.1", "Host: a"), func(r *Request) bool { return string(r.Path()) == "/echo" }},
		{"HTTP/1.9", head("GET / HTTP/1.9", "Host: a"), func(r *Request) bool { return r.Minor == 9 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.head))
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.head, err)
			}
			if tc.check != nil && !tc.check(&r) {
				t.Fatalf("Parse(%q) = %+v", tc.head, r)
			}
		})
	}
}

// TestParseRequestRefuses: each way a request head breaks RFC 9112's
// grammar, or is ambiguous, is refused with its own error.
func TestParseRequestRefuses(t *testing.T) {
	cases := []struct {
		name, head string
		err        *Error
	}{
		// The request line (RFC 9112 section 3).
		{"empty request line", head("", "Host: a"), ErrMalformedHead},
		{"no target", head("GET HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"no version", head("GET /", "Host: a"), ErrMalformedHead},
		{"two spaces", head("GET  / HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"space inside the target", head("GET /a b HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"trailing space", head("GET / HTTP/1.1 ", "Host: a"), ErrMalformedHead},
		{"tab for a space", head("GET\t/ HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"method not a token", head("G(T / HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"lower-case version", head("GET / http/1.1", "Host: a"), ErrMalformedHead},
		{"two-digit version", head("GET / HTTP/1.10", "Host: a"), ErrMalformedHead},
		{"version without minor", head("GET / HTTP/1", "Host: a"), ErrMalformedHead},
		{"HTTP/2.0", head("GET / HTTP/2.0", "Host: a"), ErrHTTPVersion},
		{"HTTP/0.9", head("GET / HTTP/0.9", "Host: a"), ErrHTTPVersion},
		{"target not a path", head("GET chat HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"fragment in the target", head("GET /chat#x HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"control character in the target", head("GET /\x01 HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"non-ASCII in the target", head("GET /caf\xc3\xa9 HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"bad escape in the target", head("GET /%zz HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"cut escape in the target", head("GET /a% HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"escape in the target's authority", head("GET a://x%41y/ HTTP/1.1", "Host: a"), ErrMalformedHead},
		{"bare CR in the request line", head("GET /\r HTTP/1.1", "Host: a"), ErrMalformedHead},
		// Field lines (RFC 9110 section 5, RFC 9112 section 5).
		{"whitespace before the colon", head("GET / HTTP/1.1", "Host : a"), ErrMalformedField},
		{"tab before the colon", head("GET / HTTP/1.1", "Host: a", "Upgrade\t: websocket"), ErrMalformedField},
		{"space inside a name", head("GET / HTTP/1.1", "Host: a", "Sec WebSocket-Key: x"), ErrMalformedField},
		{"no colon", head("GET / HTTP/1.1", "Host: a", "Upgrade websocket"), ErrMalformedField},
		{"empty name", head("GET / HTTP/1.1", "Host: a", ": x"), ErrMalformedField},
		{"obsolete line folding", head("GET / HTTP/1.1", "Host: a", "X-A: b", " c"), ErrMalformedField},
		{"whitespace before the first field", head("GET / HTTP/1.1", " Host: a"), ErrMalformedField},
		{"NUL in a value", head("GET / HTTP/1.1", "Host: a", "X-A: b\x00c"), ErrMalformedField},
		{"bare CR in a value", head("GET / HTTP/1.1", "Host: a", "X-A: b\rc"), ErrMalformedField},
		{"DEL in a value", head("GET / HTTP/1.1", "Host: a", "X-A: b\x7f"), ErrMalformedField},
		{"non-token name", head("GET / HTTP/1.1", "Host: a", "X(A): b"), ErrMalformedField},
		// Host (RFC 9112 section 3.2).
		{"missing Host", head("GET / HTTP/1.1"), ErrHost},
		{"space in Host", head("GET / HTTP/1.1", "Host: a b"), ErrHost},
		{"bad port", head("GET / HTTP/1.1", "Host: a:8x"), ErrHost},
		{"userinfo in Host", head("GET / HTTP/1.1", "Host: u@a"), ErrHost},
		{"unclosed IPv6 literal", head("GET / HTTP/1.1", "Host: [::1"), ErrHost},
		{"junk after IPv6 literal", head("GET / HTTP/1.1", "Host: [::1]x"), ErrHost},
		{"two Hosts", head("GET / HTTP/1.1", "Host: a", "Host: b"), ErrDuplicateHost},
		{"two equal Hosts", head("GET / HTTP/1.1", "Host: a", "Host: a"), ErrDuplicateHost},
		// The body's framing (RFC 9112 section 6).
		{"two Content-Lengths", head("GET / HTTP/1.1", "Host: a", "Content-Length: 1", "Content-Length: 1"), ErrDuplicateLength},
		{"Content-Length list", head("GET / HTTP/1.1", "Host: a", "Content-Length: 1, 1"), ErrContentLength},
		{"negative Content-Length", head("GET / HTTP/1.1", "Host: a", "Content-Length: -1"), ErrContentLength},
		{"signed Content-Length", head("GET / HTTP/1.1", "Host: a", "Content-Length: +1"), ErrContentLength},
		{"empty Content-Length", head("GET / HTTP/1.1", "Host: a", "Content-Length:"), ErrContentLength},
		{"huge Content-Length", head("GET / HTTP/1.1", "Host: a", "Content-Length: 9999999999999999999"), ErrContentLength},
		{"Content-Length and Transfer-Encoding", head("POST / HTTP/1.1", "Host: a", "Transfer-Encoding: chunked", "Content-Length: 3"), ErrAmbiguousBody},
		// Singletons of the opening handshake.
		{"two keys", upgradeHead("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="), ErrDuplicateKey},
		{"two equal keys", upgradeHead("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="), ErrDuplicateKey},
		{"two versions", upgradeHead("Sec-WebSocket-Version: 13"), ErrDuplicateVersion},
		{"two origins", upgradeHead("Origin: http://evil.example"), ErrDuplicateOrigin},
		{"two Authorizations", upgradeHead("Authorization: Bearer a", "Authorization: Bearer b"), ErrDuplicateAuthorization},
		// Not one head.
		{"no blank line", "GET / HTTP/1.1\r\nHost: a\r\n", ErrMalformedHead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.head))
			if !errors.Is(err, tc.err) {
				t.Fatalf("Parse(%q) = %v; want %v", tc.head, err, tc.err)
			}
		})
	}
}

func TestCheckUpgrade(t *testing.T) {
	without := func(name string, extra ...string) string {
		var lines []string
		for _, l := range upgradeLines {
			if !strings.HasPrefix(l, name+":") {
				lines = append(lines, l)
			}
		}
		return head(append(append([]string{"GET /chat HTTP/1.1"}, lines...), extra...)...)
	}
	cases := []struct {
		name, head string
		err        *Error
	}{
		{"valid", upgradeHead(), nil},
		{"Upgrade in a list", without("Upgrade", "Upgrade: h2c, WebSocket"), nil},
		{"Connection in a list, on two lines", without("Connection", "Connection: keep-alive", "Connection: upgrade"), nil},
		{"empty Content-Length", upgradeHead("Content-Length: 0"), nil},
		{"POST", strings.Replace(upgradeHead(), "GET", "POST", 1), ErrMethod},
		{"lower-case method", strings.Replace(upgradeHead(), "GET", "get", 1), ErrMethod},
		{"HTTP/1.0", strings.Replace(upgradeHead(), "HTTP/1.1", "HTTP/1.0", 1), ErrUpgradeHTTP10},
		{"no Upgrade", without("Upgrade"), ErrNotUpgrade},
		{"Upgrade to another protocol", without("Upgrade", "Upgrade: h2c"), ErrNotUpgrade},
		{"Upgrade websocket2", without("Upgrade", "Upgrade: websocket2"), ErrNotUpgrade},
		{"no Connection", without("Connection"), ErrNotUpgrade},
		{"Connection without upgrade", without("Connection", "Connection: keep-alive"), ErrNotUpgrade},
		{"no version", without("Sec-WebSocket-Version"), ErrNoVersion},
		{"version 8", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"), ErrVersion},
		{"version list", without("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8"), ErrVersion},
		{"no key", without("Sec-WebSocket-Key"), ErrKey},
		{"short key", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: c2hvcnQ="), ErrKey},
		{"key of 24 characters, not base64", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ!!"), ErrKey},
		{"key of 17 bytes", without("Sec-WebSocket-Key", "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEBE="), ErrKey},
		{"Content-Length", upgradeHead("Content-Length: 5"), ErrUpgradeHasBody},
		{"Transfer-Encoding", upgradeHead("Transfer-Encoding: chunked"), ErrUpgradeHasBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Parse([]byte(tc.head))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := CheckUpgrade(&r); tc.err == nil && err != nil || tc.err != nil && !errors.Is(err, tc.err) {
				t.Fatalf("CheckUpgrade = %v; want %v", err, tc.err)
			}
		})
	}
}

// TestUpgradeResponse: RFC 6455 section 1.3's example key gives its
// example accept value, and the response parses as a 101.
func TestUpgradeResponse(t *testing.T) {
	resp := AppendUpgradeResponse(nil, []byte("dGhlIHNhbXBsZSBub25jZQ=="), "bearer", nil)
	r, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 101 || r.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		r.Header.Get("Upgrade") != "websocket" || r.Header.Get("Connection") != "Upgrade" ||
		r.Header.Get("Sec-WebSocket-Protocol") != "bearer" {
		t.Fatalf("response %q", resp)
	}
	if got := AppendUpgradeResponse(nil, []byte("dGhlIHNhbXBsZSBub25jZQ=="), "", nil); bytes.Contains(got, []byte("Sec-WebSocket-Protocol")) {
		t.Fatalf("response without a protocol %q", got)
	}
}

// FuzzRequest checks the request head reader against itself and against
// net/http's, an independent parser. Where the head ends does not depend on
// how it trickled in; and whatever Parse accepts, net/http must read
// as the same request (method, target, version and the fields the server
// acts on): if the two disagreed on a head, a front end built like one
// could be made to see another request than the server.
func FuzzRequest(f *testing.F) {
	f.Add([]byte(upgradeHead()), uint16(10))
	f.Add([]byte("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"), uint16(10))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), uint16(4))
	f.Add([]byte("POST /echo?token=abc HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"), uint16(1))
	f.Add([]byte("GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: short\r\nSec-WebSocket-Version: 8\r\n\r\n"), uint16(30))
	f.Add([]byte("\r\n\r\n"), uint16(1))
	f.Add([]byte("GET http://example.com/echo HTTP/1.0\r\n\r\n"), uint16(2))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: [::1]:80\r\nX: a\tb\r\nTransfer-Encoding: chunked\r\n\r\n"), uint16(7))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), uint16(7))
	f.Add([]byte("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), uint16(7))
	const limit = 512
	f.Fuzz(func(t *testing.T, req []byte, step uint16) {
		n, err := HeadLen(req, 0, limit)
		got, scanned, gerr := 0, 0, error(nil)
		s := int(step%32) + 1
		for end := min(s, len(req)); ; end = min(end+s, len(req)) {
			got, gerr = HeadLen(req[:end], scanned, limit)
			if got > 0 || gerr != nil || end == len(req) {
				break
			}
			scanned = end
		}
		if got != n || !errors.Is(gerr, err) {
			t.Fatalf("incremental head length %d, %v; all at once %d, %v", got, gerr, n, err)
		}
		if n == 0 {
			return
		}
		h := req[:n]
		if n > limit || !bytes.HasSuffix(h, []byte("\r\n\r\n")) {
			t.Fatalf("head of %d bytes does not end the request head", n)
		}
		r, err := Parse(h)
		if err != nil {
			var he *Error
			if !errors.As(err, &he) || he.Status < 400 {
				t.Fatalf("Parse error %v is not an HTTP refusal", err)
			}
			return
		}
		hr, herr := http.ReadRequest(bufio.NewReader(bytes.NewReader(h)))
		if herr != nil {
			if r.TransferEncoding {
				return // net/http refuses codings it cannot decode; the server refuses any body on an upgrade
			}
			t.Fatalf("Parse accepted %q; net/http: %v", h, herr)
		}
		if string(r.Method) != hr.Method || string(r.Target) != hr.RequestURI || int(r.Minor) != hr.ProtoMinor || hr.ProtoMajor != 1 {
			t.Fatalf("request line %q %q 1.%d; net/http %q %q %d.%d", r.Method, r.Target, r.Minor, hr.Method, hr.RequestURI, hr.ProtoMajor, hr.ProtoMinor)
		}
		if authorityStart(r.Target) == 0 && string(r.Host) != hr.Host {
			t.Fatalf("Host %q; net/http %q", r.Host, hr.Host)
		}
		for name, v := range map[string][]byte{"Origin": r.Origin, "Authorization": r.Authorization, "Sec-Websocket-Key": r.Key, "Sec-Websocket-Version": r.Version} {
			hv := hr.Header.Values(name)
			if v == nil && len(hv) != 0 || v != nil && (len(hv) != 1 || hv[0] != string(v)) {
				t.Fatalf("%s %q; net/http %q", name, v, hv)
			}
		}
		if !r.TransferEncoding && r.ContentLength != max(hr.ContentLength, -1) && !(r.ContentLength == -1 && hr.ContentLength == 0) {
			t.Fatalf("Content-Length %d; net/http %d", r.ContentLength, hr.ContentLength)
		}
		if CheckUpgrade(&r) != nil {
			return
		}
		if !httpHasToken(hr.Header, "Upgrade", "websocket") || !httpHasToken(hr.Header, "Connection", "upgrade") {
			t.Fatalf("upgrade accepted, but net/http reads Upgrade %q, Connection %q", hr.Header.Values("Upgrade"), hr.Header.Values("Connection"))
		}
		resp := AppendUpgradeResponse(nil, r.Key, "", nil)
		if pr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), hr); err != nil || pr.StatusCode != 101 {
			t.Fatalf("101 response %q: %v", resp, err)
		}
	})
}

// httpHasToken reports whether a comma-separated list in header name of h
// has token, in any case.
func httpHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, e := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(e), token) {
				return true
			}
		}
	}
	return false
}

// TestFieldGrammarBytes tries every byte in a field name, in a field value
// and in a request target, against RFC 9110's and RFC 3986's character
// classes written out here from the RFCs' ABNF.
func TestFieldGrammarBytes(t *testing.T) {
	isTcharRFC := func(c byte) bool { // RFC 9110 section 5.6.2
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
	}
	isFieldCharRFC := func(c byte) bool { // field-vchar, SP, HTAB (RFC 9110 section 5.5)
		return 0x21 <= c && c <= 0x7e || c >= 0x80 || c == ' ' || c == '\t'
	}
	isTargetCharRFC := func(c byte) bool { // pchar, "/" and "?" (RFC 3986 sections 3.3, 3.4), '%' only as an escape
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0 ||
			strings.IndexByte(`"<>[\]^`+"`{|}", c) >= 0 // not in RFC 3986, but sent unescaped by real clients; visible ASCII passes
	}
	for i := range 256 {
		c := byte(i)
		if c == '\n' {
			continue // a line's end: TestRequestHeadLen
		}
		name := head("GET / HTTP/1.1", "Host: a", "X"+string(c)+"Y: v")
		if _, err := Parse([]byte(name)); c != ':' && (err == nil) != isTcharRFC(c) {
			t.Errorf("byte %#02x in a field name: %v", c, err)
		}
		value := head("GET / HTTP/1.1", "Host: a", "X: a"+string(c)+"b")
		if _, err := Parse([]byte(value)); (err == nil) != isFieldCharRFC(c) {
			t.Errorf("byte %#02x in a field value: %v", c, err)
		}
		target := head("GET /a"+string(c)+"b HTTP/1.1", "Host: a")
		if _, err := Parse([]byte(target)); (err == nil) != isTargetCharRFC(c) {
			t.Errorf("byte %#02x in a request target: %v", c, err)
		}
	}
}
