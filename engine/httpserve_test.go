package engine

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// hxRoute is the HTTPHandler of these tests, on /poll. What it does with a
// request is up to the request's "mode" query parameter:
//
//   - none: answers at once with hxDescribe;
//   - later: answers the same from a task posted to the loop;
//   - hold: answers nothing; the test gets the connection from held and
//     answers when it likes, as a long poll is; the connection's slot is a
//     Closer that sends it to gone;
//   - misuse: tries what Respond and Accept refuse, answers with what it
//     saw, then sends what a second Respond returned to errs;
//
// and an upgrade is accepted at once, from a posted task (later), or
// refused with 403 (refuse). Upgraded connections echo.
type hxRoute struct {
	Echo
	held, gone chan *Conn
	errs       chan error
	opened     atomic.Int32 // OnOpen calls
	closed     atomic.Int32 // OnClose calls
}

func newHXRoute() *hxRoute {
	return &hxRoute{held: make(chan *Conn, 64), gone: make(chan *Conn, 64), errs: make(chan error, 64)}
}

func (h *hxRoute) OnOpen(*Conn)                            { h.opened.Add(1) }
func (h *hxRoute) OnClose(*Conn, codec.StatusCode, string) { h.closed.Add(1) }

// closerFunc is a slot's Closer.
type closerFunc func(*Conn)

func (f closerFunc) Closed(c *Conn) { f(c) }

func (h *hxRoute) ServeHTTP(c *Conn, r *Request) {
	var buf [16]byte
	mode, _ := r.Query(buf[:0], "mode")
	switch m := string(r.Method); {
	case m != http.MethodGet && m != http.MethodHead && m != http.MethodPost:
		// The engine hands every method to the handler.
		_ = c.Respond(http.StatusMethodNotAllowed, "text/plain", "Allow: GET, HEAD, POST, OPTIONS\r\n", []byte("method not allowed\n"))
	case r.Upgrade && string(mode) == "later":
		_ = c.Post(func() { h.errs <- c.Accept() })
	case r.Upgrade && string(mode) == "refuse":
		_ = c.Respond(http.StatusForbidden, "text/plain", "", []byte("not here\n"))
	case r.Upgrade:
		if err := c.Accept(); err != nil {
			panic(err)
		}
	case string(mode) == "hold":
		c.SetSlot(closerFunc(func(c *Conn) { h.gone <- c }))
		h.held <- c
	case string(mode) == "later":
		reply := hxDescribe(c, r)
		_ = c.Post(func() { h.errs <- c.Respond(http.StatusOK, "text/plain", "X-Mode: later\r\n", reply) })
	case string(mode) == "misuse":
		var saw []string
		if err := c.Accept(); !errors.Is(err, ErrClosed) {
			saw = append(saw, fmt.Sprintf("Accept of a request that is no upgrade: %v", err))
		}
		for _, bad := range []struct {
			status      int
			ctype, head string
			body        string
		}{
			{101, "", "", ""},
			{199, "", "", ""},
			{600, "", "", ""},
			{204, "", "", "a body"},
			{200, "text/plain\r\nX-Injected: 1", "", ""},
			{200, "", "X-No-End: 1", ""},
		} {
			if err := c.Respond(bad.status, bad.ctype, bad.head, []byte(bad.body)); err == nil || errors.Is(err, ErrClosed) {
				saw = append(saw, fmt.Sprintf("Respond(%d, %q, %q, %q): %v", bad.status, bad.ctype, bad.head, bad.body, err))
			}
		}
		if len(saw) == 0 {
			saw = append(saw, "ok")
		}
		if err := c.Respond(http.StatusOK, "", "", []byte(strings.Join(saw, "\n"))); err != nil {
			panic(err)
		}
		h.errs <- c.Respond(http.StatusOK, "", "", nil)
	default:
		_ = c.Respond(http.StatusOK, "text/plain", "X-Mode: now\r\n", hxDescribe(c, r))
	}
}

// hxDescribe says what the handler was given: the method, the route, the
// query's sid, the token's subject, whether it is an upgrade and the body.
func hxDescribe(c *Conn, r *Request) []byte {
	sid, ok := r.Query(nil, "sid")
	if !ok {
		sid = []byte("-")
	}
	subject := "-"
	if id := c.Identity(); id != nil {
		subject = id.Subject
	}
	return fmt.Appendf(nil, "%s %s sid=%s subject=%s upgrade=%v body=%s", r.Method, c.Path(), sid, subject, r.Upgrade, r.Body)
}

// hxWant is hxDescribe's answer to a plain request without a token.
func hxWant(method, sid, body string) string {
	return fmt.Sprintf("%s /poll sid=%s subject=- upgrade=false body=%s", method, sid, body)
}

// hxClient is a raw HTTP/1.1 connection to a test server, over ws:// or
// wss://.
type hxClient struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func hxDial(t *testing.T, addr confAddr) *hxClient {
	t.Helper()
	nc := confConnect(t, addr, 0)
	if err := nc.SetDeadline(time.Now().Add(confWait)); err != nil {
		t.Fatal(err)
	}
	return &hxClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *hxClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// head reads the head of a response to a request with method; its body
// is left to read.
func (c *hxClient) head(method string) *http.Response {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("read response: %v", err)
	}
	return resp
}

// read reads a response to a request with method, and its body.
func (c *hxClient) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp := c.head(method)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("read body: %v", err)
	}
	return resp, string(body)
}

// want reads a response with status and body, which closes the connection
// or not as closing says.
func (c *hxClient) want(method string, status int, body string, closing bool) *http.Response {
	c.t.Helper()
	resp, got := c.read(method)
	if resp.StatusCode != status || got != body {
		c.t.Fatalf("answer %d %q; want %d %q", resp.StatusCode, got, status, body)
	}
	if resp.Close != closing {
		c.t.Fatalf("answer closes the connection: %v; want %v (Connection: %q)", resp.Close, closing, resp.Header.Get("Connection"))
	}
	if resp.Header.Get("Date") == "" {
		c.t.Errorf("answer without Date")
	}
	return resp
}

// flood sends more than a connection may hold while a request is held:
// the most a request head may be and past bytes more, in 4 KiB writes,
// until the server closes the connection.
func (c *hxClient) flood(past int) {
	junk := strings.Repeat("x", 4096)
	for range (DefaultMaxHeaderBytes+past)/len(junk) + 2 {
		if _, err := io.WriteString(c.nc, junk); err != nil {
			return // the server may have closed already
		}
	}
}

// wantEOF checks that the server has closed the connection, and nothing
// came before the end.
func (c *hxClient) wantEOF() {
	c.t.Helper()
	if b, err := c.br.Peek(1); len(b) != 0 || !errors.Is(err, io.EOF) {
		c.t.Fatalf("read after the last answer = %q, %v; want EOF", b, err)
	}
}

// wantGone checks that the server has ended the connection, closed or
// reset: a read ends in an error that is not a timeout.
func (c *hxClient) wantGone() {
	c.t.Helper()
	_, err := c.br.ReadByte()
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("read: %v; want the connection ended", err)
	}
}

// hxGet and hxPost are requests on /poll's target (path and query).
func hxGet(target string, lines ...string) string {
	return httpHead("GET "+target+" HTTP/1.1", append([]string{"Host: wssd.test"}, lines...)...)
}

func hxPost(target, body string, lines ...string) string {
	lines = append([]string{"Host: wssd.test", "Content-Length: " + strconv.Itoa(len(body))}, lines...)
	return httpHead("POST "+target+" HTTP/1.1", lines...) + body
}

// hxUpgrade is an upgrade request for target.
func hxUpgrade(target string, lines ...string) string {
	return httpHead("GET "+target+" HTTP/1.1", httpUpgradeLines(nil, lines...)...)
}

// flushLoops has every loop add what it counted to the server's counts:
// what was counted on a loop before a test saw the answer it counted is
// there when flushLoops returns.
func flushLoops(srv *Server) { srv.onEachLoop((*Loop).flush) }

// hxEach is serveEach with a third run, over wss:// with a TLS 1.2 client,
// whose records crypto/tls keeps on the loop.
func hxEach(t *testing.T, cfg Config, test func(t *testing.T, srv *Server, addr confAddr)) {
	serveEach(t, cfg, test)
	t.Run("wss-tls1.2", func(t *testing.T) {
		srv, addr, ccfg := startTLSServer(t, cfg)
		ccfg = ccfg.Clone()
		ccfg.MinVersion, ccfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		test(t, srv, confAddr{hostport: addr, tls: ccfg})
	})
}

// hxServer is a config with hxRoute on /poll and the echo on /echo.
func hxServer(h *hxRoute, cfg Config) Config {
	cfg.Routes = map[string]Handler{"/poll": h, "/echo": Echo{}}
	return cfg
}

// TestHTTPRouteKeepAlive: requests answered at once and later, with and
// without a body, HEAD among them, are answered in turn on one connection
// kept alive, until one asks for the close. Plain requests open nothing:
// the handler's OnOpen and OnClose are never called.
func TestHTTPRouteKeepAlive(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/poll?sid=a1"))
		if resp := c.want("GET", 200, hxWant("GET", "a1", ""), false); resp.Header.Get("X-Mode") != "now" ||
			resp.Header.Get("Content-Type") != "text/plain" {
			t.Errorf("header %v; want the handler's", resp.Header)
		}
		c.send(hxPost("/poll?sid=a1&mode=later", "hello"))
		if resp := c.want("POST", 200, hxWant("POST", "a1", "hello"), false); resp.Header.Get("X-Mode") != "later" {
			t.Errorf("X-Mode %q; want later", resp.Header.Get("X-Mode"))
		}
		if err := <-h.errs; err != nil {
			t.Errorf("Respond from a task: %v", err)
		}
		c.send(httpHead("HEAD /poll?sid=h HTTP/1.1", "Host: wssd.test"))
		resp := c.want("HEAD", 200, "", false)
		if want := len(hxWant("HEAD", "h", "")); resp.ContentLength != int64(want) {
			t.Errorf("HEAD: Content-Length %d; want %d, that of the body it does not send", resp.ContentLength, want)
		}
		c.send(hxGet("/poll?sid=a2"))
		c.want("GET", 200, hxWant("GET", "a2", ""), false)
		c.send(hxGet("/poll?sid=a3", "Connection: close"))
		c.want("GET", 200, hxWant("GET", "a3", ""), true)
		c.wantEOF()
		c.nc.Close() // the server lingers until the client closes too

		// HTTP/1.0 closes after its answer too.
		c = hxDial(t, addr)
		c.send(httpHead("GET /poll?sid=old HTTP/1.0"))
		c.want("GET", 200, hxWant("GET", "old", ""), true)
		c.wantEOF()
		c.nc.Close()
		onLoops(t, srv, 0)
		if o, cl := h.opened.Load(), h.closed.Load(); o != 0 || cl != 0 {
			t.Errorf("OnOpen called %d times, OnClose %d; want none for plain requests", o, cl)
		}
	})
}

// TestHTTPRoutePipelined: requests sent in one write are answered in
// their order, whether each is answered at once or later; an upgrade
// among them, accepted later, opens the connection, and the frames sent
// behind it are read.
func TestHTTPRoutePipelined(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/poll?sid=1&mode=later") + hxPost("/poll?sid=2", "two") + hxGet("/poll?sid=3&mode=later") + hxPost("/poll?sid=4&mode=later", "four"))
		c.want("GET", 200, hxWant("GET", "1", ""), false)
		c.want("POST", 200, hxWant("POST", "2", "two"), false)
		c.want("GET", 200, hxWant("GET", "3", ""), false)
		c.want("POST", 200, hxWant("POST", "4", "four"), false)
		for range 3 {
			if err := <-h.errs; err != nil {
				t.Errorf("Respond from a task: %v", err)
			}
		}

		c.send(hxGet("/poll?sid=5") + hxUpgrade("/poll?mode=later") + string(httpMasked(codec.OpText, "behind the upgrade")))
		c.want("GET", 200, hxWant("GET", "5", ""), false)
		resp, _ := c.read("GET")
		httpCheck101(t, resp)
		if err := <-h.errs; err != nil {
			t.Fatalf("Accept from a task: %v", err)
		}
		httpWantFrame(t, c.br, codec.OpText, "behind the upgrade")

		// A route that is no HTTPHandler's, after requests on one that
		// is, on the same connection: upgraded as ever.
		c = hxDial(t, addr)
		c.send(hxGet("/poll?sid=6") + hxUpgrade("/echo") + string(httpMasked(codec.OpText, "on /echo")))
		c.want("GET", 200, hxWant("GET", "6", ""), false)
		resp, _ = c.read("GET")
		httpCheck101(t, resp)
		httpWantFrame(t, c.br, codec.OpText, "on /echo")
	})
}

// TestHTTPRouteBody: a POST's body that comes in pieces, down to a byte at
// a time, reaches the handler whole, and so does one of MaxRequestBody.
func TestHTTPRouteBody(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	const limit = 64 << 10
	hxEach(t, hxServer(h, Config{MaxRequestBody: limit}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		req := hxPost("/poll?sid=t", "trickled, head and body")
		for i := range len(req) {
			c.send(req[i : i+1])
		}
		c.want("POST", 200, hxWant("POST", "t", "trickled, head and body"), false)

		big := strings.Repeat("0123456789abcdef", limit/16)
		req = hxPost("/poll?sid=big", big)
		head := len(req) - len(big)
		for _, cut := range [][2]int{{0, head}, {head, head + 1000}, {head + 1000, head + 30000}, {head + 30000, len(req)}} {
			c.send(req[cut[0]:cut[1]])
		}
		c.want("POST", 200, hxWant("POST", "big", big), false)

		// A client that asks is told to send its body (curl does, for
		// bodies over a kilobyte).
		req = hxPost("/poll?sid=e", big, "Expect: 100-continue")
		c.send(req[:head+len("Expect: 100-continue\r\n")])
		if resp, _ := c.read("POST"); resp.StatusCode != http.StatusContinue {
			t.Fatalf("status %d; want 100 before the body", resp.StatusCode)
		}
		c.send(req[head+len("Expect: 100-continue\r\n"):])
		c.want("POST", 200, hxWant("POST", "e", big), false)
	})
}

// TestHTTPRouteRefusals: what an HTTPHandler's route does not take is
// answered and closed by the engine, counted by refusal and by status:
// a body over MaxRequestBody (413, before it is read), a malformed chunked
// one (400; more in TestHTTPRouteChunkedRefusals), a refused Origin (403),
// an upgrade with a body (400, as on any route); another method goes to
// the handler (this one's answer is 405).
func TestHTTPRouteRefusals(t *testing.T) {
	t.Parallel()
	origins, err := security.ParseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHXRoute()
	srv, addr := startServer(t, hxServer(h, Config{MaxRequestBody: 1000, Origins: origins, Metrics: metrics.NewSet()}))
	for _, tc := range []struct {
		name, request, method string
		status                int
		header, value         string
	}{
		{"body over the limit", httpHead("POST /poll HTTP/1.1", "Host: wssd.test", "Content-Length: 1001"), "POST", 413, "", ""},
		{"malformed chunked body", httpHead("POST /poll HTTP/1.1", "Host: wssd.test", "Transfer-Encoding: chunked") + "5\r\nhello\n0\r\n\r\n", "POST", 400, "", ""},
		{"refused origin", hxGet("/poll", "Origin: https://evil.example"), "GET", 403, "", ""},
		{"refused origin, preflight", httpHead("OPTIONS /poll HTTP/1.1", "Host: wssd.test", "Origin: https://evil.example",
			"Access-Control-Request-Method: POST"), "OPTIONS", 403, "", ""},
		{"upgrade with a body", hxUpgrade("/poll", "Content-Length: 5") + "hello", "GET", 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			httpWantAnswer(t, addr, tc.request, tc.method, tc.status, tc.header, tc.value)
		})
	}
	// A body of the limit passes.
	c := hxDial(t, confAddr{hostport: addr})
	body := strings.Repeat("b", 1000)
	c.send(hxPost("/poll?sid=max", body))
	c.want("POST", 200, hxWant("POST", "max", body), false)
	// Another method is the handler's to answer, on a connection kept.
	c.send(httpHead("PUT /poll HTTP/1.1", "Host: wssd.test", "Content-Length: 1") + "x")
	c.want("PUT", 405, "method not allowed\n", false)
	c.send(httpHead("DELETE /poll HTTP/1.1", "Host: wssd.test"))
	c.want("DELETE", 405, "method not allowed\n", false)

	flushLoops(srv)
	got := srv.Refusals()
	for reason, want := range map[string]uint64{"body_too_large": 1, "bad_chunked_body": 1, "origin": 2, "request_flood": 0} {
		if got[reason] != want {
			t.Errorf("refusals[%s] = %d; want %d", reason, got[reason], want)
		}
	}
	srv.FlushMetrics()
	set := srv.cfg.Metrics
	for status, want := range map[string]uint64{"200": 1, "400": 2, "403": 2, "405": 2, "411": 0, "413": 1, "other": 0} {
		if n := set.GetOrCreateCounter(`wssd_http_responses_total{status="` + status + `"}`).Get(); n != want {
			t.Errorf("wssd_http_responses_total{status=%q} = %d; want %d", status, n, want)
		}
	}
	if n := set.GetOrCreateCounter(`wssd_upgrade_responses_total{status="403"}`).Get(); n != 0 {
		t.Errorf("%d answers on the HTTP route counted as upgrade answers", n)
	}
}

// TestHTTPRouteCORS: a preflight from an allowed origin is answered by
// the engine with what the route takes, kept alive; every answer to a
// request from an allowed origin carries the CORS lines that let its page
// read it, and one without an Origin none. With no allowlist every origin
// is echoed.
func TestHTTPRouteCORS(t *testing.T) {
	t.Parallel()
	origins, err := security.ParseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	const origin = "https://app.example.com"
	wantCORS := func(t *testing.T, resp *http.Response, origin string) {
		t.Helper()
		for name, want := range map[string]string{
			"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true", "Vary": "Origin",
		} {
			if origin == "" {
				want = ""
			}
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %q; want %q", name, got, want)
			}
		}
	}
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{Origins: origins}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(httpHead("OPTIONS /poll?sid=p HTTP/1.1", "Host: wssd.test", "Origin: "+origin,
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type, X-Requested-With"))
		resp := c.want("OPTIONS", 204, "", false)
		wantCORS(t, resp, origin)
		for name, want := range map[string]string{
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "content-type, X-Requested-With",
			"Access-Control-Max-Age":       "7200",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("preflight: %s: %q; want %q", name, got, want)
			}
		}
		c.send(hxPost("/poll?sid=p", "cross-origin", "Origin: "+origin, "Content-Type: text/plain"))
		wantCORS(t, c.want("POST", 200, hxWant("POST", "p", "cross-origin"), false), origin)
		c.send(hxGet("/poll?sid=p&mode=later", "Origin: "+origin))
		wantCORS(t, c.want("GET", 200, hxWant("GET", "p", ""), false), origin)
		<-h.errs
		c.send(httpHead("OPTIONS /poll HTTP/1.1", "Host: wssd.test", "Origin: "+origin,
			"Access-Control-Request-Method: POST", "Access-Control-Request-Headers: content-type, x@y"))
		if resp := c.want("OPTIONS", 204, "", false); resp.Header.Get("Access-Control-Allow-Headers") != "" {
			t.Errorf("Access-Control-Allow-Headers %q granted for a list that is not of field names", resp.Header.Get("Access-Control-Allow-Headers"))
		}
		// Without an Origin: no CORS lines; an OPTIONS is no preflight.
		c.send(hxGet("/poll?sid=q"))
		wantCORS(t, c.want("GET", 200, hxWant("GET", "q", ""), false), "")
		c.send(httpHead("OPTIONS /poll HTTP/1.1", "Host: wssd.test"))
		resp = c.want("OPTIONS", 204, "", false)
		wantCORS(t, resp, "")
		if got := resp.Header.Get("Allow"); got != "GET, HEAD, POST, OPTIONS" {
			t.Errorf("Allow %q", got)
		}
		// An engine's refusal on the route tells an allowed page why.
		c.send(httpHead("POST /poll HTTP/1.1", "Host: wssd.test", "Origin: "+origin, "Transfer-Encoding: chunked") + "0\r\n\n")
		wantCORS(t, c.want("POST", 400, "line of a chunked body not ended by CRLF\n", true), origin)
	})
	t.Run("any origin", func(t *testing.T) {
		_, addr := startServer(t, hxServer(h, Config{}))
		c := hxDial(t, confAddr{hostport: addr})
		c.send(hxGet("/poll?sid=o", "Origin: https://anywhere.example"))
		wantCORS(t, c.want("GET", 200, hxWant("GET", "o", ""), false), "https://anywhere.example")
	})
}

// TestHTTPRouteToken: with Config.Auth, a request that carries a token
// must carry a valid one (401 otherwise, counted as the gate counts); the
// handler sees who it names; one without a token passes with no Identity,
// and the protocol can verify a token itself.
func TestHTTPRouteToken(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	srv, addr := startServer(t, hxServer(h, Config{Auth: testAuthenticator(t, time.Second)}))
	good := enginetest.Sign(t, jwt.MapClaims{"sub": "alice", "iss": enginetest.Issuer, "aud": enginetest.Audience,
		"exp": time.Now().Add(time.Hour).Unix()})
	c := hxDial(t, confAddr{hostport: addr})
	c.send(hxGet("/poll?sid=q&token=" + good))
	c.want("GET", 200, "GET /poll sid=q subject=alice upgrade=false body=", false)
	c.send(hxGet("/poll?sid=none"))
	c.want("GET", 200, hxWant("GET", "none", ""), false)
	c.send(hxPost("/poll?sid=h", "x", "Authorization: Bearer "+good))
	c.want("POST", 200, "POST /poll sid=h subject=alice upgrade=false body=x", false)
	c.send(hxGet("/poll?sid=bad&token=not.a.token"))
	resp := c.want("GET", 401, "unauthorized: malformed\n", true)
	if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), `Bearer realm="wssd"`) {
		t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
	}
	c.wantEOF()

	// An upgrade without a token passes too, on this route only.
	ws := enginetest.Dial(t, "ws://"+addr+"/poll", nil, nil)
	if err := ws.WriteMessage(gws.TextMessage, []byte("no token")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := ws.ReadMessage(); err != nil || string(got) != "no token" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	httpWantAnswer(t, addr, hxUpgrade("/echo"), "GET", http.StatusUnauthorized, "", "")

	flushLoops(srv)
	if got := srv.Refusals(); got["auth_malformed"] != 1 || got["auth_missing"] != 1 {
		t.Errorf("refusals %v; want one auth_malformed (/poll) and one auth_missing (/echo)", got)
	}

	id, err := srv.VerifyToken([]byte(good))
	if err != nil || id == nil || id.Subject != "alice" {
		t.Errorf("VerifyToken(good) = %+v, %v", id, err)
	}
	id, err = srv.VerifyToken([]byte("not.a.token"))
	if id != nil || !errors.Is(err, security.ErrTokenMalformed) || AuthRefusal(err).String() != "auth_malformed" {
		t.Errorf("VerifyToken(bad) = %+v, %v (refusal %v)", id, err, AuthRefusal(err))
	}
	noAuth, _ := startServer(t, hxServer(newHXRoute(), Config{}))
	if id, err := noAuth.VerifyToken([]byte(good)); id != nil || err != nil {
		t.Errorf("VerifyToken without Auth = %+v, %v; want nil, nil", id, err)
	}
}

// TestHTTPRouteUpgrade: an HTTPHandler decides on its upgrades: accepted
// at once or from a task later, the connection is a WebSocket for the
// handler (OnOpen, messages, OnClose); refused, the client is told why.
func TestHTTPRouteUpgrade(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		scheme := "ws://"
		if addr.tls != nil {
			scheme = "wss://"
		}
		opened, closed := h.opened.Load(), h.closed.Load()
		for _, mode := range []string{"now", "later"} {
			ws := enginetest.Dial(t, scheme+addr.hostport+"/poll?mode="+mode, nil, addr.tls)
			if mode == "later" {
				if err := <-h.errs; err != nil {
					t.Fatalf("Accept: %v", err)
				}
			}
			if err := ws.WriteMessage(gws.BinaryMessage, []byte(mode)); err != nil {
				t.Fatal(err)
			}
			if _, got, err := ws.ReadMessage(); err != nil || string(got) != mode {
				t.Fatalf("echo: %q, %v", got, err)
			}
			ws.Close()
		}
		onLoops(t, srv, 0)
		if o, cl := h.opened.Load()-opened, h.closed.Load()-closed; o != 2 || cl != 2 {
			t.Errorf("OnOpen %d, OnClose %d; want 2 each", o, cl)
		}
		d := gws.Dialer{HandshakeTimeout: confWait, TLSClientConfig: addr.tls}
		ws, resp, err := d.Dial(scheme+addr.hostport+"/poll?mode=refuse", nil)
		if err == nil {
			ws.Close()
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("refused upgrade: %v, %+v; want 403", err, resp)
		}
	})
}

// TestHTTPRouteLongPoll: a request the handler holds is answered when the
// handler says, from a task on the loop; a request sent behind it waits
// its turn, and Respond with nothing to answer says so.
func TestHTTPRouteLongPoll(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/poll?mode=hold"))
		held := <-h.held
		c.send(hxPost("/poll?sid=behind", "queued"))
		answer := func(body string) error {
			errc := make(chan error, 1)
			if err := held.Post(func() { errc <- held.Respond(http.StatusOK, "application/octet-stream", "", []byte(body)) }); err != nil {
				t.Fatal(err)
			}
			return <-errc
		}
		if err := answer("event"); err != nil {
			t.Fatalf("Respond: %v", err)
		}
		c.want("GET", 200, "event", false)
		c.want("POST", 200, hxWant("POST", "behind", "queued"), false)
		if err := answer("again"); !errors.Is(err, ErrClosed) {
			t.Errorf("second Respond: %v; want ErrClosed", err)
		}
		c.send(hxGet("/poll?mode=misuse"))
		c.want("GET", 200, "ok", false)
		if err := <-h.errs; !errors.Is(err, ErrClosed) {
			t.Errorf("Respond after the answer: %v; want ErrClosed", err)
		}
	})
}

// TestHTTPRouteClientGone: the client of a held request goes away: the
// slot's Closer is told, the handler's OnClose is not (it never opened),
// and the answer it tries then finds the connection closed.
func TestHTTPRouteClientGone(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/poll?mode=hold"))
		held := <-h.held
		c.nc.Close()
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
		errc := make(chan error, 2)
		if err := held.Post(func() {
			errc <- held.Respond(http.StatusOK, "", "", []byte("too late"))
			errc <- held.Accept()
		}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-errc; !errors.Is(err, ErrClosed) {
				t.Errorf("answer after the client went: %v; want ErrClosed", err)
			}
		}
		onLoops(t, srv, 0)
		if n := h.closed.Load(); n != 0 {
			t.Errorf("OnClose called %d times for a connection that never opened", n)
		}
	})
}

// TestHTTPRouteFlood: a client that sends more than a request may hold
// while its request is held is closed, and counted.
func TestHTTPRouteFlood(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{MaxRequestBody: 1024}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/poll?mode=hold"))
		held := <-h.held
		// What fits waits its turn; what does not ends the connection.
		c.flood(1024)
		c.wantGone()
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
		flushLoops(srv)
		if n := srv.Refusals()["request_flood"]; n != 1 {
			t.Errorf("request_flood refusals: %d; want 1", n)
		}
	})
}

// TestHTTPRouteDeadlines: no deadline runs while the handler holds a
// request, however long; after an answer that keeps the connection, the
// next request has HandshakeTimeout to come.
func TestHTTPRouteDeadlines(t *testing.T) {
	t.Parallel()
	const d = 2 * time.Second
	h := newHXRoute()
	cfg, clk := clocked(hxServer(h, Config{HandshakeTimeout: d}))
	hxEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/poll?mode=hold"))
		held := <-h.held
		clk.Advance(3 * d)
		settle(srv)
		checkExpiries(t, srv, Expiries{})
		if err := held.Post(func() { h.errs <- held.Respond(http.StatusOK, "", "", []byte("late but fine")) }); err != nil {
			t.Fatal(err)
		}
		c.want("GET", 200, "late but fine", false)
		if err := <-h.errs; err != nil {
			t.Fatal(err)
		}
		before(t, srv, clk, d, "keep-alive deadline", func(e Expiries) bool { return e.KeepAlive > 0 })
		after(clk)
		waitClosed(t, c.nc)
		checkExpiries(t, srv, Expiries{KeepAlive: 1})
	})
}

// netHTTPClient returns net/http's client for addr, keeping one idle
// connection, and the scheme of its URLs: http:// or https://.
func netHTTPClient(t *testing.T, addr confAddr) (*http.Client, string) {
	scheme := "http://"
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	if addr.tls != nil {
		scheme = "https://"
		tr.TLSClientConfig = addr.tls.Clone()
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: confWait}, scheme
}

// TestHTTPRouteNetHTTP: net/http's client, written by others, keeps its
// connection to the route alive across requests, over http:// and
// https://, and long-polls on it.
func TestHTTPRouteNetHTTP(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, hxServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		client, scheme := netHTTPClient(t, addr)
		reused := 0
		do := func(method, query, body string) (*http.Response, string, error) {
			req, err := http.NewRequest(method, scheme+addr.hostport+"/poll?"+query, strings.NewReader(body))
			if err != nil {
				return nil, "", err
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) {
					if info.Reused {
						reused++
					}
				},
			}))
			resp, err := client.Do(req)
			if err != nil {
				return nil, "", err
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			return resp, string(got), err
		}
		for i := range 4 {
			mode := "now"
			if i%2 == 1 {
				mode = "later"
			}
			sid := strconv.Itoa(i)
			if resp, got, err := do("GET", "sid="+sid+"&mode="+mode, ""); err != nil || resp.StatusCode != 200 || got != hxWant("GET", sid, "") {
				t.Fatalf("GET: %v %q (%v)", resp, got, err)
			}
			if resp, got, err := do("POST", "sid="+sid, "payload "+sid); err != nil || resp.StatusCode != 200 || got != hxWant("POST", sid, "payload "+sid) {
				t.Fatalf("POST: %v %q (%v)", resp, got, err)
			}
		}
		// A long poll: the answer comes when the test says.
		done := make(chan string, 1)
		go func() {
			_, got, err := do("GET", "mode=hold", "")
			if err != nil {
				got = err.Error()
			}
			done <- got
		}()
		held := <-h.held
		_ = held.Post(func() { _ = held.Respond(http.StatusOK, "text/plain", "", []byte("pushed")) })
		if got := <-done; got != "pushed" {
			t.Errorf("long poll: %q", got)
		}
		if reused != 8 {
			t.Errorf("%d of 9 requests reused a connection; want all but the first", reused)
		}
		for range 2 {
			<-h.errs // the "later" answers'
		}
	})
}

// TestHTTPRouteEchoUnchanged: a server with an HTTPHandler's route keeps
// answering requests on its other routes as ever: 405 for a POST, 426 for
// a GET that is no upgrade, each closed.
func TestHTTPRouteEchoUnchanged(t *testing.T) {
	t.Parallel()
	_, addr := startServer(t, hxServer(newHXRoute(), Config{}))
	httpWantAnswer(t, addr, hxPost("/echo", "x"), "POST", http.StatusMethodNotAllowed, "Allow", "GET")
	httpWantAnswer(t, addr, hxGet("/echo"), "GET", http.StatusUpgradeRequired, "Upgrade", "websocket")
	httpWantAnswer(t, addr, hxGet("/nowhere"), "GET", http.StatusNotFound, "", "")
}
