package engine

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"

	"github.com/wssd/wssd/codec"
)

// httpWait bounds every blocking step of these tests.
const httpWait = 10 * time.Second

// The key of RFC 6455's example handshake (section 1.3) and the accept
// value it gives.
const (
	httpKey    = "dGhlIHNhbXBsZSBub25jZQ=="
	httpAccept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
)

// httpHead builds a request head from its request line and header lines.
func httpHead(requestLine string, lines ...string) string {
	var b strings.Builder
	b.WriteString(requestLine)
	b.WriteString("\r\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// httpUpgradeLines returns the header lines of a valid upgrade request,
// without those named in omit, and with extra appended.
func httpUpgradeLines(omit []string, extra ...string) []string {
	all := []string{
		"Host: wssd.test",
		"Upgrade: websocket",
		"Connection: Upgrade",
		"Sec-WebSocket-Key: " + httpKey,
		"Sec-WebSocket-Version: 13",
	}
	var lines []string
next:
	for _, l := range all {
		for _, name := range omit {
			if strings.HasPrefix(l, name+":") {
				continue next
			}
		}
		lines = append(lines, l)
	}
	return append(lines, extra...)
}

// httpUpgrade is a valid upgrade request for /echo.
var httpUpgrade = httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil)...)

// httpPaddedUpgrade is a valid upgrade request for /echo whose head is
// exactly size bytes long, padded with X-Pad header lines of at most about
// a kilobyte each.
func httpPaddedUpgrade(size int) string {
	base := httpUpgrade
	var pad []string
	left := size - len(base)
	for i := 0; left > 0; i++ {
		n := left
		if n >= 2000 {
			n = 1000
		}
		name := fmt.Sprintf("X-Pad-%02d: ", i)
		pad = append(pad, name+strings.Repeat("a", n-len(name)-2))
		left -= n
	}
	h := httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil, pad...)...)
	if len(h) != size {
		panic(fmt.Sprintf("padded head is %d bytes, not %d", len(h), size))
	}
	return h
}

// httpDial opens a raw TCP connection to addr, with a deadline on all of
// its I/O. It is closed when the test ends.
func httpDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, httpWait)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	if err := nc.SetDeadline(time.Now().Add(httpWait)); err != nil {
		t.Fatal(err)
	}
	return nc
}

// httpCheck101 checks that resp is a valid answer to an upgrade request
// that sent httpKey.
func httpCheck101(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %s; want 101", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != httpAccept {
		t.Errorf("Sec-WebSocket-Accept %q; want %q", got, httpAccept)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Errorf("Upgrade %q; want websocket", got)
	}
	if got := resp.Header.Get("Connection"); !strings.EqualFold(got, "upgrade") {
		t.Errorf("Connection %q; want Upgrade", got)
	}
}

// httpRawUpgrade opens a raw connection to addr and upgrades it on /echo.
// Frames are read from the returned reader, which holds whatever followed
// the 101 response.
func httpRawUpgrade(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc := httpDial(t, addr)
	if _, err := io.WriteString(nc, httpUpgrade); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	httpCheck101(t, resp)
	return nc, br
}

// httpFrame is a frame as a server sent it.
type httpFrame struct {
	fin     bool
	op      codec.OpCode
	payload []byte
}

// httpReadFrame reads one server frame, which must not be masked.
func httpReadFrame(br *bufio.Reader) (httpFrame, error) {
	h, err := ws.ReadHeader(br)
	if err != nil {
		return httpFrame{}, err
	}
	if h.Masked {
		return httpFrame{}, errors.New("server frame is masked")
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(br, p); err != nil {
		return httpFrame{}, err
	}
	return httpFrame{fin: h.Fin, op: h.OpCode, payload: p}, nil
}

// httpMasked encodes a final client frame.
func httpMasked(op codec.OpCode, payload string) []byte {
	return codec.AppendMaskedFrame(nil, true, op, []byte(payload), [4]byte{0x37, 0xfa, 0x21, 0x3d})
}

// httpWantFrame reads one frame and checks it is a final frame with op and
// payload.
func httpWantFrame(t *testing.T, br *bufio.Reader, op codec.OpCode, payload string) {
	t.Helper()
	f, err := httpReadFrame(br)
	if err != nil {
		t.Fatalf("read frame: %v; want %v %q", err, op, payload)
	}
	if !f.fin || f.op != op || string(f.payload) != payload {
		t.Fatalf("frame fin=%v %v %.60q; want a final %v %.60q", f.fin, f.op, f.payload, op, payload)
	}
}

// httpWantEOF checks that the server has closed the connection: the next
// read returns io.EOF, not data, an error or a timeout.
func httpWantEOF(t *testing.T, br *bufio.Reader) {
	t.Helper()
	b, err := br.Peek(1)
	if len(b) != 0 || !errors.Is(err, io.EOF) {
		rest, _ := br.Peek(br.Buffered())
		t.Fatalf("read after the response = %q, %v; want EOF: nothing may follow the response "+
			"(a response to HEAD has no content), and the server must then close the connection", rest, err)
	}
}

// TestHTTPPlainRequests sends plain HTTP requests with net/http's client.
func TestHTTPPlainRequests(t *testing.T) {
	_, addr := startServer(t, Config{})
	tr := &http.Transport{DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: httpWait}
	cases := []struct {
		name       string
		method     string
		path       string
		wantStatus int
		wantType   string // prefix of Content-Type
		wantBody   string // substring of the body
		wantHeader string
		wantValue  string
	}{
		{
			name:       "page",
			method:     http.MethodGet,
			path:       "/",
			wantStatus: http.StatusOK,
			wantType:   "text/html",
			wantBody:   "new WebSocket",
		},
		{
			name:       "page with a query",
			method:     http.MethodGet,
			path:       "/?from=test",
			wantStatus: http.StatusOK,
			wantType:   "text/html",
			wantBody:   "new WebSocket",
		},
		{
			name:       "unknown path",
			method:     http.MethodGet,
			path:       "/nope",
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "POST to the WebSocket route",
			method:     http.MethodPost,
			path:       "/echo",
			wantStatus: http.StatusMethodNotAllowed,
			wantHeader: "Allow",
			wantValue:  "GET",
		},
		{
			name:       "GET of the WebSocket route without upgrade headers",
			method:     http.MethodGet,
			path:       "/echo",
			wantStatus: http.StatusUpgradeRequired,
			wantHeader: "Upgrade",
			wantValue:  "websocket",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+addr+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.path, err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("read body: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %s; want %d", resp.Status, tc.wantStatus)
			}
			if ct := resp.Header.Get("Content-Type"); tc.wantType != "" && !strings.HasPrefix(ct, tc.wantType) {
				t.Errorf("Content-Type %q; want %s", ct, tc.wantType)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body does not contain %q:\n%s", tc.wantBody, body)
			}
			if tc.wantHeader != "" && resp.Header.Get(tc.wantHeader) != tc.wantValue {
				t.Errorf("%s: %q; want %q", tc.wantHeader, resp.Header.Get(tc.wantHeader), tc.wantValue)
			}
			if !resp.Close {
				t.Errorf("response without Connection: close")
			}
			if resp.ContentLength != int64(len(body)) {
				t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
			}
		})
	}
}

// TestHTTPRawRefusals sends requests over raw sockets. Every answer that is
// not a 101 must be a well-formed HTTP/1.1 response with Connection: close,
// after which the server closes the connection.
func TestHTTPRawRefusals(t *testing.T) {
	_, addr := startServer(t, Config{})
	cases := []struct {
		name       string
		request    string
		method     string // of the request, for reading the response
		wantStatus int
		wantHeader string
		wantValue  string
	}{
		{
			name:       "page",
			request:    httpHead("GET / HTTP/1.1", "Host: wssd.test"),
			method:     http.MethodGet,
			wantStatus: http.StatusOK,
			wantHeader: "Content-Type",
			wantValue:  "text/html; charset=utf-8",
		},
		{
			name:       "unknown path",
			request:    httpHead("GET /nope HTTP/1.1", httpUpgradeLines(nil)...),
			method:     http.MethodGet,
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "POST",
			request:    httpHead("POST /echo HTTP/1.1", "Host: wssd.test", "Content-Length: 0"),
			method:     http.MethodPost,
			wantStatus: http.StatusMethodNotAllowed,
			wantHeader: "Allow",
			wantValue:  "GET",
		},
		{
			// RFC 9110 9.3.2: a response to HEAD carries no content.
			name:       "HEAD",
			request:    httpHead("HEAD /echo HTTP/1.1", "Host: wssd.test"),
			method:     http.MethodHead,
			wantStatus: http.StatusMethodNotAllowed,
			wantHeader: "Allow",
			wantValue:  "GET",
		},
		{
			name:       "no upgrade headers",
			request:    httpHead("GET /echo HTTP/1.1", "Host: wssd.test"),
			method:     http.MethodGet,
			wantStatus: http.StatusUpgradeRequired,
			wantHeader: "Upgrade",
			wantValue:  "websocket",
		},
		{
			name:       "Connection without upgrade",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Connection"}, "Connection: keep-alive")...),
			method:     http.MethodGet,
			wantStatus: http.StatusUpgradeRequired,
			wantHeader: "Upgrade",
			wantValue:  "websocket",
		},
		{
			name:       "upgrade to another protocol",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Upgrade"}, "Upgrade: h2c")...),
			method:     http.MethodGet,
			wantStatus: http.StatusUpgradeRequired,
			wantHeader: "Upgrade",
			wantValue:  "websocket",
		},
		{
			name:       "key of the wrong length",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Sec-WebSocket-Key"}, "Sec-WebSocket-Key: c2hvcnQ=")...),
			method:     http.MethodGet,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "missing key",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Sec-WebSocket-Key"})...),
			method:     http.MethodGet,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "version 8",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Sec-WebSocket-Version"}, "Sec-WebSocket-Version: 8")...),
			method:     http.MethodGet,
			wantStatus: http.StatusUpgradeRequired,
			wantHeader: "Sec-WebSocket-Version",
			wantValue:  "13",
		},
		{
			name:       "missing version",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Sec-WebSocket-Version"})...),
			method:     http.MethodGet,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "missing Host",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Host"})...),
			method:     http.MethodGet,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "garbage request line",
			request:    "HELLO THERE\x01\r\n\r\n",
			method:     http.MethodGet,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "request line without a version",
			request:    httpHead("GET /echo", httpUpgradeLines(nil)...),
			method:     http.MethodGet,
			wantStatus: http.StatusBadRequest,
		},
		{
			name:       "head one byte over 8 KiB",
			request:    httpPaddedUpgrade(DefaultMaxHeaderBytes + 1),
			method:     http.MethodGet,
			wantStatus: http.StatusRequestHeaderFieldsTooLarge,
		},
		{
			name:       "head of 9 KiB in one header line",
			request:    httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil, "X-Big: "+strings.Repeat("b", 9<<10))...),
			method:     http.MethodGet,
			wantStatus: http.StatusRequestHeaderFieldsTooLarge,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			httpWantAnswer(t, addr, tc.request, tc.method, tc.wantStatus, tc.wantHeader, tc.wantValue)
		})
	}
}

// httpWantAnswer sends request over a raw socket and checks the answer: a
// well-formed HTTP/1.1 response with wantStatus (and header wantHeader
// with wantValue, if set) and Connection: close, after which the server
// closes the connection.
func httpWantAnswer(t *testing.T, addr, request, method string, wantStatus int, wantHeader, wantValue string) {
	t.Helper()
	nc := httpDial(t, addr)
	if _, err := io.WriteString(nc, request); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	if resp.StatusCode != wantStatus {
		t.Errorf("status %s (%q); want %d", resp.Status, body, wantStatus)
	}
	if resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
		t.Errorf("response protocol %s; want HTTP/1.1", resp.Proto)
	}
	if wantHeader != "" && resp.Header.Get(wantHeader) != wantValue {
		t.Errorf("%s: %q; want %q", wantHeader, resp.Header.Get(wantHeader), wantValue)
	}
	if !resp.Close {
		t.Errorf("response without Connection: close")
	}
	if method != http.MethodHead && resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d, body %d bytes", resp.ContentLength, len(body))
	}
	if resp.Header.Get("Date") == "" {
		t.Errorf("response without Date")
	}
	httpWantEOF(t, br)
}

// TestHTTPStrictHeads: request heads that RFC 6455 section 11.3 or RFC
// 9112 make invalid, or that two parsers could read as different requests,
// are refused with 400 before any upgrade, and what follows them is never
// read as WebSocket frames; the version and status answers are the ones
// the README lists.
func TestHTTPStrictHeads(t *testing.T) {
	srv, addr := startServer(t, Config{Metrics: metrics.NewSet()})
	frame := string(httpMasked(codec.OpText, "smuggled"))
	upgrade := func(extra ...string) string {
		return httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil, extra...)...)
	}
	cases := []struct {
		name, request string
		wantStatus    int
	}{
		{"two different keys", upgrade("Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA=="), http.StatusBadRequest},
		{"two Hosts", upgrade("Host: other.test"), http.StatusBadRequest},
		{"Host with a space", httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Host"}, "Host: a b")...), http.StatusBadRequest},
		{"whitespace before a colon", httpHead("GET /echo HTTP/1.1", httpUpgradeLines([]string{"Upgrade"}, "Upgrade : websocket")...), http.StatusBadRequest},
		{"space inside a name", upgrade("Sec WebSocket-Protocol: chat"), http.StatusBadRequest},
		{"folded line", upgrade("X-A: a", " b"), http.StatusBadRequest},
		{"two versions", upgrade("Sec-WebSocket-Version: 13"), http.StatusBadRequest},
		{"two origins", upgrade("Origin: https://a.test", "Origin: https://b.test"), http.StatusBadRequest},
		{"Content-Length and a body", upgrade("Content-Length: "+strconv.Itoa(len(frame))) + frame, http.StatusBadRequest},
		{"Transfer-Encoding", upgrade("Transfer-Encoding: chunked") + strconv.FormatInt(int64(len(frame)), 16) + "\r\n" + frame + "\r\n0\r\n\r\n", http.StatusBadRequest},
		{"bare LF", strings.ReplaceAll(upgrade(), "\r\n", "\n"), http.StatusBadRequest},
		{"HTTP/1.0 upgrade", httpHead("GET /echo HTTP/1.0", httpUpgradeLines(nil)...), http.StatusHTTPVersionNotSupported},
		{"HTTP/2.0", httpHead("GET / HTTP/2.0", "Host: wssd.test"), http.StatusHTTPVersionNotSupported},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			httpWantAnswer(t, addr, tc.request, http.MethodGet, tc.wantStatus, "", "")
		})
	}
	// Answered, and counted by their own status.
	httpWantAnswer(t, addr, httpHead("GET / HTTP/1.0"), http.MethodGet, http.StatusOK, "", "")
	srv.FlushMetrics()
	for status, want := range map[string]int{"400": 11, "505": 2, "200": 1, "other": 0} {
		if got := srv.cfg.Metrics.GetOrCreateCounter(`wssd_upgrade_responses_total{status="` + status + `"}`).Get(); got != uint64(want) {
			t.Errorf("answers with status %s: %d; want %d", status, got, want)
		}
	}
}

// TestHTTPHeadLimitBoundary: a head of exactly MaxHeaderBytes is accepted,
// one byte more is not, for the default and for a configured limit.
func TestHTTPHeadLimitBoundary(t *testing.T) {
	cases := []struct {
		name       string
		limit      int
		size       int
		wantStatus int
	}{
		{
			name:       "default limit, head at the limit",
			limit:      0,
			size:       DefaultMaxHeaderBytes,
			wantStatus: http.StatusSwitchingProtocols,
		},
		{
			name:       "default limit, head one byte over",
			limit:      0,
			size:       DefaultMaxHeaderBytes + 1,
			wantStatus: http.StatusRequestHeaderFieldsTooLarge,
		},
		{
			name:       "1 KiB limit, head at the limit",
			limit:      1 << 10,
			size:       1 << 10,
			wantStatus: http.StatusSwitchingProtocols,
		},
		{
			name:       "1 KiB limit, head one byte over",
			limit:      1 << 10,
			size:       1<<10 + 1,
			wantStatus: http.StatusRequestHeaderFieldsTooLarge,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{MaxHeaderBytes: tc.limit})
			nc := httpDial(t, addr)
			if _, err := io.WriteString(nc, httpPaddedUpgrade(tc.size)); err != nil {
				t.Fatalf("write request: %v", err)
			}
			br := bufio.NewReader(nc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("read response: %v", err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %s; want %d", resp.Status, tc.wantStatus)
			}
			if tc.wantStatus != http.StatusSwitchingProtocols {
				return
			}
			httpCheck101(t, resp)
			if _, err := nc.Write(httpMasked(codec.OpText, "after a big head")); err != nil {
				t.Fatal(err)
			}
			httpWantFrame(t, br, codec.OpText, "after a big head")
		})
	}
}

// TestHTTPHeadTrickle sends the upgrade request, then a frame, one byte per
// write: the server must wait for the rest each time, not fail.
func TestHTTPHeadTrickle(t *testing.T) {
	_, addr := startServer(t, Config{})
	nc := httpDial(t, addr)
	trickle := func(p []byte) {
		t.Helper()
		for i := range p {
			if _, err := nc.Write(p[i : i+1]); err != nil {
				t.Fatalf("write byte %d: %v", i, err)
			}
		}
	}
	trickle([]byte(httpUpgrade))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	httpCheck101(t, resp)
	payload := strings.Repeat("trickled ", 20) // a 16-bit length
	trickle(httpMasked(codec.OpText, payload))
	httpWantFrame(t, br, codec.OpText, payload)
}

// TestHTTPPipelinedFrames sends frames in the same write as the upgrade
// request: they are frames of the upgraded connection and are answered.
func TestHTTPPipelinedFrames(t *testing.T) {
	_, addr := startServer(t, Config{})
	nc := httpDial(t, addr)
	var out []byte
	out = append(out, httpUpgrade...)
	out = append(out, httpMasked(codec.OpText, "first")...)
	out = append(out, httpMasked(codec.OpBinary, "\x00second\xff")...)
	out = append(out, httpMasked(codec.OpPing, "ping")...)
	out = append(out, codec.AppendMaskedFrame(nil, true, codec.OpClose, []byte{0x03, 0xe8}, [4]byte{9, 8, 7, 6})...)
	if _, err := nc.Write(out); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	httpCheck101(t, resp)
	httpWantFrame(t, br, codec.OpText, "first")
	httpWantFrame(t, br, codec.OpBinary, "\x00second\xff")
	httpWantFrame(t, br, codec.OpPong, "ping")
	httpWantFrame(t, br, codec.OpClose, "\x03\xe8")
	httpWantEOF(t, br)
}
