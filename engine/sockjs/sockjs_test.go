package sockjs

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

// The tests speak the protocol byte for byte, as its specification does,
// with net/http's client for the HTTP transports and gorilla's for
// WebSocket; npm's sockjs-client is run against the binary by cmd/wssd's
// interop test.

const wait = enginetest.Wait

// closer is the application that ends each session as it opens.
type closer struct{}

func (closer) OnOpen(ss *Session)            { ss.Close(3000, "Go away!") }
func (closer) OnMessage(*Session, []byte)    {}
func (closer) OnClose(*Session, int, string) {}

// recorder is Echo that also counts what the application sees.
type recorder struct {
	Echo
	opened, closed atomic.Int64
	mu             sync.Mutex
	reasons        []string
	subjects       []string
}

func (r *recorder) OnOpen(ss *Session) {
	r.opened.Add(1)
	if id := ss.Identity(); id != nil {
		r.mu.Lock()
		r.subjects = append(r.subjects, id.Subject)
		r.mu.Unlock()
	}
}

func (r *recorder) OnClose(_ *Session, code int, reason string) {
	r.mu.Lock()
	r.reasons = append(r.reasons, strconv.Itoa(code)+" "+reason)
	r.mu.Unlock()
	r.closed.Add(1)
}

type fixture struct {
	srv  *engine.Server
	base string // http://host:port
	ws   string // ws://host:port
	rec  *recorder
	clk  *enginetest.Clock
	echo *Server
}

// start serves, over ws:// on two loops, the services the protocol's
// test suite expects (/echo, /close, /disabled_websocket_echo,
// /cookie_needed_echo, with streaming answers ended after 4 KiB), /rec
// (Echo, recorded), /hub (the Hub app) and /ws (the hub's own route).
// mod changes the engine's config; a non-nil clk is its clock.
func start(t *testing.T, clk *enginetest.Clock, mod func(*engine.Config), sjs func(*Config)) *fixture {
	t.Helper()
	hub, err := pubsub.New(pubsub.Config{AnonymousPublish: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	f := &fixture{rec: rec, clk: clk}
	routes := map[string]engine.Handler{pubsub.DefaultRoute: hub}
	for path, cfg := range map[string]Config{
		"/echo":                    {Handler: Echo{}},
		"/close":                   {Handler: closer{}},
		"/disabled_websocket_echo": {Handler: Echo{}, NoWebSocket: true},
		"/cookie_needed_echo":      {Handler: Echo{}, CookieNeeded: true},
		"/rec":                     {Handler: rec},
		"/hub":                     {Handler: NewHub(hub)},
	} {
		cfg.Name = path
		cfg.ResponseLimit = 4096
		if sjs != nil {
			sjs(&cfg)
		}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if path == "/echo" {
			f.echo = s
		}
		routes[path] = s
	}
	origins, err := security.ParseOrigins([]string{"https://app.example", "null"})
	if err != nil {
		t.Fatal(err)
	}
	ecfg := engine.Config{ListenPlain: "127.0.0.1:0", Loops: 2, Logger: enginetest.Logger(), Routes: routes, Origins: origins}
	if clk != nil {
		ecfg.Clock = clk
	}
	if mod != nil {
		mod(&ecfg)
	}
	f.srv, err = engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, f.srv)
	addr := f.srv.PlainAddr().String()
	f.base, f.ws = "http://"+addr, "ws://"+addr
	return f
}

var sessionCount atomic.Int64

// session returns a new session's URL under service.
func (f *fixture) session(service string) string {
	return f.base + service + "/000/s" + strconv.FormatInt(sessionCount.Add(1), 10) + "x" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// newClient returns a client with connections of its own: each new
// connection lands on the other loop than the last one.
func newClient(t *testing.T, keepAlive bool) *http.Client {
	tr := &http.Transport{DisableKeepAlives: !keepAlive}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: wait}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, hc *http.Client, method, u, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == "" {
		req.Body = http.NoBody
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, u, err)
	}
	return answer{resp.StatusCode, resp.Header, string(b)}
}

func want(t *testing.T, what string, a answer, status int, body string) {
	t.Helper()
	if a.status != status || a.body != body {
		t.Fatalf("%s: %d %q, want %d %q", what, a.status, a.body, status, body)
	}
}

const noCacheValue = "no-store, no-cache, no-transform, must-revalidate, max-age=0"

func TestGreetingAndNotFound(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, true)
	for _, p := range []string{"/echo", "/echo/"} {
		a := do(t, hc, "GET", f.base+p, "")
		want(t, p, a, 200, "Welcome to SockJS!\n")
		if ct := a.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
			t.Errorf("%s: Content-Type %q", p, ct)
		}
		if a.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: a cookie", p)
		}
	}
	for _, p := range []string{"/a", "/a.html", "//", "///", "/a/a", "/a/a/", "/a/", "/a/a/a/a", "/iframe.htm", "/iframe",
		"/IFRAME.HTML", "/iframe.HTML", "/iframe.xml", "/iframe-/.html", "//xhr", "/a./a/xhr", "/a/a./xhr", "/./xhr", "/./x/xhr",
		"/a/a/nope", "/a/a/xhr/"} {
		if a := do(t, hc, "GET", f.base+"/echo"+p, ""); a.status != 404 {
			t.Errorf("GET /echo%s: %d, want 404", p, a.status)
		}
	}
	// A path beside the route's is not the route's.
	if a := do(t, hc, "GET", f.base+"/echoes", ""); a.status != 404 {
		t.Errorf("GET /echoes: %d, want 404", a.status)
	}
}

func TestIframe(t *testing.T) {
	f := start(t, nil, nil, func(c *Config) { c.ClientURL = "https://cdn.example/sockjs.js" })
	hc := newClient(t, true)
	var etag string
	for _, p := range []string{"/iframe.html", "/iframe-a.html", "/iframe-.html", "/iframe-0.1.2.html",
		"/iframe-0.1.2abc-dirty.2144.html", "/iframe-a.html?t=1234"} {
		a := do(t, hc, "GET", f.base+"/echo"+p, "")
		if a.status != 200 || a.header.Get("Content-Type") != "text/html; charset=UTF-8" {
			t.Fatalf("%s: %d %q", p, a.status, a.header.Get("Content-Type"))
		}
		if !strings.Contains(a.header.Get("Cache-Control"), "public") || !strings.Contains(a.header.Get("Cache-Control"), "max-age=31536000") ||
			a.header.Get("Expires") == "" || a.header.Get("Last-Modified") != "" || a.header.Get("Set-Cookie") != "" {
			t.Errorf("%s: caching headers %v", p, a.header)
		}
		if !strings.Contains(a.body, `<script src="https://cdn.example/sockjs.js"></script>`) ||
			!strings.Contains(a.body, "SockJS.bootstrap_iframe();") || !strings.HasPrefix(a.body, "<!DOCTYPE html>") {
			t.Errorf("%s: body %q", p, a.body)
		}
		if etag == "" {
			etag = a.header.Get("ETag")
		} else if a.header.Get("ETag") != etag {
			t.Errorf("%s: ETag %q, want %q", p, a.header.Get("ETag"), etag)
		}
	}
	if etag == "" {
		t.Fatal("no ETag")
	}
	a := do(t, hc, "GET", f.base+"/echo/iframe.html", "", "If-None-Match", etag)
	if a.status != 304 || a.body != "" || a.header.Get("Content-Type") != "" {
		t.Errorf("If-None-Match: %d %q %q", a.status, a.body, a.header.Get("Content-Type"))
	}
}

func TestInfo(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, true)
	type info struct {
		WebSocket    bool     `json:"websocket"`
		CookieNeeded bool     `json:"cookie_needed"`
		Origins      []string `json:"origins"`
		Entropy      *uint32  `json:"entropy"`
	}
	read := func(service string) (info, answer) {
		a := do(t, hc, "GET", f.base+service+"/info", "", "Origin", "https://app.example")
		var i info
		if err := json.Unmarshal([]byte(a.body), &i); err != nil || i.Entropy == nil {
			t.Fatalf("%s/info: %q: %v", service, a.body, err)
		}
		return i, a
	}
	i1, a := read("/echo")
	if a.header.Get("Content-Type") != "application/json; charset=UTF-8" || a.header.Get("Cache-Control") != noCacheValue ||
		a.header.Get("Access-Control-Allow-Origin") != "https://app.example" || a.header.Get("Access-Control-Allow-Credentials") != "true" ||
		a.header.Get("Set-Cookie") != "" {
		t.Errorf("/info headers: %v", a.header)
	}
	if !i1.WebSocket || i1.CookieNeeded || len(i1.Origins) != 1 || i1.Origins[0] != "*:*" {
		t.Errorf("/info: %+v", i1)
	}
	i2, _ := read("/echo")
	i3, _ := read("/echo")
	if *i1.Entropy == *i2.Entropy && *i2.Entropy == *i3.Entropy {
		t.Errorf("entropy %d three times", *i1.Entropy)
	}
	if i, _ := read("/disabled_websocket_echo"); i.WebSocket {
		t.Error("websocket true with NoWebSocket")
	}
	if i, _ := read("/cookie_needed_echo"); !i.CookieNeeded {
		t.Error("cookie_needed false with CookieNeeded")
	}
	// A CORS preflight from an allowed origin, "null" (a page from a
	// file) included, is granted.
	for _, origin := range []string{"https://app.example", "null"} {
		a := do(t, hc, "OPTIONS", f.base+"/echo/info", "", "Origin", origin, "Access-Control-Request-Method", "GET")
		if a.status != 204 || a.header.Get("Access-Control-Allow-Origin") != origin ||
			!strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "GET") {
			t.Errorf("preflight from %s: %d %v", origin, a.status, a.header)
		}
	}
}

func TestXHRPolling(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false) // each request on a new connection: the loops alternate
	u := f.session("/echo")
	a := do(t, hc, "POST", u+"/xhr", "", "Origin", "https://app.example")
	want(t, "open", a, 200, "o\n")
	if a.header.Get("Content-Type") != "application/javascript; charset=UTF-8" || a.header.Get("Cache-Control") != noCacheValue ||
		a.header.Get("Access-Control-Allow-Origin") != "https://app.example" || a.header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("xhr headers: %v", a.header)
	}
	a = do(t, hc, "POST", u+"/xhr_send", `["x"]`, "Origin", "https://app.example")
	want(t, "xhr_send", a, 204, "")
	if a.header.Get("Content-Type") != "text/plain; charset=UTF-8" || a.header.Get("Cache-Control") != noCacheValue {
		t.Errorf("xhr_send headers: %v", a.header)
	}
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "a[\"x\"]\n")

	// Whatever the server id, the session id names the session.
	u2 := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u2+"/xhr", ""), 200, "o\n")
	want(t, "send", do(t, hc, "POST", strings.Replace(u2, "/000/", "/999/", 1)+"/xhr_send", `["a","b"]`), 204, "")
	want(t, "poll", do(t, hc, "POST", strings.Replace(u2, "/000/", "/abc/", 1)+"/xhr", ""), 200, "a[\"a\",\"b\"]\n")

	// Sending to no session.
	want(t, "no session", do(t, hc, "POST", f.session("/echo")+"/xhr_send", `["x"]`), 404, "Not found\n")

	// What a send must be, and what it may be.
	want(t, "broken JSON", do(t, hc, "POST", u+"/xhr_send", `["x`), 500, "Broken JSON encoding.")
	want(t, "not strings", do(t, hc, "POST", u+"/xhr_send", `[1]`), 500, "Broken JSON encoding.")
	want(t, "one string", do(t, hc, "POST", u+"/xhr_send", `"x"`), 500, "Broken JSON encoding.")
	want(t, "empty", do(t, hc, "POST", u+"/xhr_send", ``), 500, "Payload expected.")
	want(t, "no messages", do(t, hc, "POST", u+"/xhr_send", `[]`), 204, "")
	for _, ct := range []string{"text/plain", "T", "application/json", "application/xml", "", "application/json; charset=utf-8", "text/xml"} {
		want(t, "content type "+ct, do(t, hc, "POST", u+"/xhr_send", `["a"]`, "Content-Type", ct), 204, "")
	}
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "a[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]\n")

	// A body in chunks, as Node's clients send it.
	pu, _ := url.Parse(u)
	_, r := rawRequest(t, pu.Host, "POST "+pu.Path+"/xhr_send HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\n[\"chu\r\n5\r\nnked\"\r\n1\r\n]\r\n0\r\n\r\n")
	if resp, err := http.ReadResponse(r, nil); err != nil || resp.StatusCode != 204 {
		t.Fatalf("chunked xhr_send: %v, %v; want 204", resp, err)
	}
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "a[\"chunked\"]\n")

	// Methods.
	if a := do(t, hc, "GET", u+"/xhr", ""); a.status != 405 || a.header.Get("Allow") != "POST" {
		t.Errorf("GET xhr: %d %v", a.status, a.header)
	}
}

func TestAnotherConnectionStillOpen(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	first := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("POST", u+"/xhr", http.NoBody)
		resp, err := hc.Do(req)
		if err != nil {
			first <- answer{}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		first <- answer{status: resp.StatusCode, body: string(b)}
	}()
	enginetest.WaitFor(t, "the first poll to wait", func() bool { return receiving(f.echo, sessionID(u)) })
	want(t, "second poll", do(t, hc, "POST", u+"/xhr", ""), 200, "c[2010,\"Another connection still open\"]\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["z"]`), 204, "")
	if a := <-first; a.body != "a[\"z\"]\n" {
		t.Fatalf("the waiting poll got %q", a.body)
	}
}

func TestServerClose(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, true)
	u := f.session("/close")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	for range 3 {
		want(t, "closed", do(t, hc, "POST", u+"/xhr", ""), 200, "c[3000,\"Go away!\"]\n")
	}
	// jsonp too.
	u = f.session("/close")
	want(t, "open", do(t, hc, "GET", u+"/jsonp?c=x", ""), 200, "/**/x(\"o\");\r\n")
	want(t, "closed", do(t, hc, "GET", u+"/jsonp?c=x", ""), 200, "/**/x(\"c[3000,\\\"Go away!\\\"]\");\r\n")
	// A closed session takes no messages.
	want(t, "send", do(t, hc, "POST", u+"/jsonp_send", `["x"]`), 404, "Not found\n")
}

// stream is a streaming answer being read.
type stream struct {
	t    *testing.T
	resp *http.Response
	r    *bufio.Reader
}

func openStream(t *testing.T, hc *http.Client, method, u string) *stream {
	t.Helper()
	req, err := http.NewRequest(method, u, http.NoBody)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &stream{t: t, resp: resp, r: bufio.NewReader(resp.Body)}
}

// read reads n bytes, which must be want.
func (s *stream) read(want string) {
	s.t.Helper()
	b := make([]byte, len(want))
	if _, err := io.ReadFull(s.r, b); err != nil || string(b) != want {
		s.t.Fatalf("read %q (%v), want %q", b, err, want)
	}
}

// end checks that the answer ends here.
func (s *stream) end() {
	s.t.Helper()
	if b, err := io.ReadAll(s.r); err != nil || len(b) != 0 {
		s.t.Fatalf("after the end: %q, %v", b, err)
	}
}

func TestXHRStreaming(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	s := openStream(t, hc, "POST", u+"/xhr_streaming")
	if s.resp.StatusCode != 200 || s.resp.Header.Get("Content-Type") != "application/javascript; charset=UTF-8" ||
		s.resp.Header.Get("Cache-Control") != noCacheValue || len(s.resp.TransferEncoding) != 1 || s.resp.ContentLength != -1 {
		t.Fatalf("xhr_streaming: %d %v %v", s.resp.StatusCode, s.resp.Header, s.resp.TransferEncoding)
	}
	s.read(strings.Repeat("h", 2048) + "\n")
	s.read("o\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["x"]`), 204, "")
	s.read("a[\"x\"]\n")
	// The answer ends once it has carried ResponseLimit (4 KiB here).
	msg := `"` + strings.Repeat("x", 128) + `"`
	for range 31 {
		want(t, "send", do(t, hc, "POST", u+"/xhr_send", "["+msg+"]"), 204, "")
		s.read("a[" + msg + "]\n")
	}
	s.end()
	// The session lives on: the next request receives.
	s = openStream(t, hc, "POST", u+"/xhr_streaming")
	s.read(strings.Repeat("h", 2048) + "\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["y"]`), 204, "")
	s.read("a[\"y\"]\n")
}

func TestEventSource(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	s := openStream(t, hc, "GET", u+"/eventsource")
	if s.resp.Header.Get("Content-Type") != "text/event-stream" || s.resp.Header.Get("Cache-Control") != noCacheValue {
		t.Fatalf("eventsource: %v", s.resp.Header)
	}
	s.read("\r\n")
	s.read("data: o\r\n\r\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["x"]`), 204, "")
	s.read("data: a[\"x\"]\r\n\r\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["  \u0000\n\r "]`), 204, "")
	s.read("data: a[\"  \\u0000\\n\\r \"]\r\n\r\n")
	// The client reads each event as a URI: '%' comes as %25.
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["100% %41"]`), 204, "")
	s.read("data: a[\"100%25 %2541\"]\r\n\r\n")
	msg := `"` + strings.Repeat("x", 4096) + `"`
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", "["+msg+"]"), 204, "")
	s.read("data: a[" + msg + "]\r\n\r\n")
	s.end()
}

func TestHTMLFile(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	s := openStream(t, hc, "GET", u+"/htmlfile?c=%63allback")
	if s.resp.Header.Get("Content-Type") != "text/html; charset=UTF-8" || s.resp.Header.Get("Cache-Control") != noCacheValue {
		t.Fatalf("htmlfile: %v", s.resp.Header)
	}
	head, err := s.r.ReadString('\n')
	for err == nil && !strings.HasSuffix(head, "\r\n\r\n") {
		var more string
		more, err = s.r.ReadString('\n')
		head += more
	}
	if err != nil || len(head) <= 1024 || !strings.Contains(head, "var c = parent.callback;") ||
		!strings.HasPrefix(head, "<!doctype html>") || !strings.Contains(head, "function p(d) {c.message(d);};") {
		t.Fatalf("htmlfile prelude (%d bytes, %v): %q", len(head), err, head)
	}
	s.read("<script>\np(\"o\");\n</script>\r\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["x</script>"]`), 204, "")
	s.read("<script>\np(\"a[\\\"x\\u003c/script>\\\"]\");\n</script>\r\n")

	for _, q := range []string{"", "?c=", "?d=x"} {
		want(t, "no callback", do(t, hc, "GET", f.session("/echo")+"/htmlfile"+q, ""), 500, `"callback" parameter required`)
	}
	for _, cb := range []string{"%20", "*", "abc(", "abc%28", "a%3Cb"} {
		want(t, "callback "+cb, do(t, hc, "GET", f.session("/echo")+"/htmlfile?c="+cb, ""), 500, `invalid "callback" parameter`)
	}
}

func TestJSONP(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	a := do(t, hc, "GET", u+"/jsonp?c=%63allback", "")
	want(t, "open", a, 200, "/**/callback(\"o\");\r\n")
	if a.header.Get("Content-Type") != "application/javascript; charset=UTF-8" || a.header.Get("Cache-Control") != noCacheValue {
		t.Errorf("jsonp headers: %v", a.header)
	}
	form := "application/x-www-form-urlencoded"
	a = do(t, hc, "POST", u+"/jsonp_send", "d=%5B%22x%22%5D", "Content-Type", form)
	want(t, "send", a, 200, "ok")
	if a.header.Get("Content-Type") != "text/plain; charset=UTF-8" || a.header.Get("Cache-Control") != noCacheValue {
		t.Errorf("jsonp_send headers: %v", a.header)
	}
	want(t, "send raw", do(t, hc, "POST", u+"/jsonp_send", `["%61bc"]`, "Content-Type", "text/plain"), 200, "ok")
	want(t, "poll", do(t, hc, "GET", u+"/jsonp?c=%63allback", ""), 200, "/**/callback(\"a[\\\"x\\\",\\\"%61bc\\\"]\");\r\n")
	want(t, "broken", do(t, hc, "POST", u+"/jsonp_send", "d=%5B%22x", "Content-Type", form), 500, "Broken JSON encoding.")
	for _, body := range []string{"", "d=", "p=p"} {
		want(t, "payload "+body, do(t, hc, "POST", u+"/jsonp_send", body, "Content-Type", form), 500, "Payload expected.")
	}
	want(t, "no messages", do(t, hc, "POST", u+"/jsonp_send", "d=%5B%5D", "Content-Type", form), 200, "ok")
	want(t, "no callback", do(t, hc, "GET", f.session("/echo")+"/jsonp", ""), 500, `"callback" parameter required`)
	want(t, "bad callback", do(t, hc, "GET", f.session("/echo")+"/jsonp?c=a(b", ""), 500, `invalid "callback" parameter`)
}

func TestCookie(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, true)
	a := do(t, hc, "POST", f.session("/cookie_needed_echo")+"/xhr", "")
	if a.header.Get("Set-Cookie") != "JSESSIONID=dummy; path=/" {
		t.Errorf("Set-Cookie %q", a.header.Get("Set-Cookie"))
	}
	a = do(t, hc, "POST", f.session("/cookie_needed_echo")+"/xhr", "", "Cookie", "a=b; JSESSIONID=abcdef")
	if a.header.Get("Set-Cookie") != "JSESSIONID=abcdef; path=/" {
		t.Errorf("Set-Cookie %q", a.header.Get("Set-Cookie"))
	}
	// A value that cannot be echoed is not.
	a = do(t, hc, "POST", f.session("/cookie_needed_echo")+"/xhr", "", "Cookie", `JSESSIONID="a b"`)
	if a.header.Get("Set-Cookie") != "JSESSIONID=dummy; path=/" {
		t.Errorf("Set-Cookie %q", a.header.Get("Set-Cookie"))
	}
	u := f.session("/cookie_needed_echo")
	s := openStream(t, hc, "GET", u+"/eventsource")
	if s.resp.Header.Get("Set-Cookie") != "JSESSIONID=dummy; path=/" {
		t.Errorf("eventsource Set-Cookie %q", s.resp.Header.Get("Set-Cookie"))
	}
	if a := do(t, hc, "GET", f.base+"/cookie_needed_echo/info", ""); a.header.Get("Set-Cookie") != "" {
		t.Errorf("/info sets a cookie")
	}
	if a := do(t, hc, "POST", f.session("/echo")+"/xhr", ""); a.header.Get("Set-Cookie") != "" {
		t.Errorf("a cookie without CookieNeeded")
	}
}

func dialWS(t *testing.T, u string) *gws.Conn {
	t.Helper()
	d := gws.Dialer{HandshakeTimeout: wait}
	c, resp, err := d.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (%d)", u, err, status)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(wait))
	return c
}

func readWS(t *testing.T, c *gws.Conn, want string) {
	t.Helper()
	op, b, err := c.ReadMessage()
	if err != nil || op != gws.TextMessage || string(b) != want {
		t.Fatalf("read %d %q (%v), want %q", op, b, err, want)
	}
}

func sendWS(t *testing.T, c *gws.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(gws.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

// wantClosed reads until the connection closes, and returns the close
// code and text (-1 for a connection that ended without a close frame).
func wantClosed(t *testing.T, c *gws.Conn) (int, string) {
	t.Helper()
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if ce, ok := err.(*gws.CloseError); ok {
			return ce.Code, ce.Text
		}
		return -1, err.Error()
	}
}

func TestWebSocket(t *testing.T) {
	f := start(t, nil, nil, nil)
	u := strings.Replace(f.session("/echo"), "http:", "ws:", 1) + "/websocket"
	c := dialWS(t, u)
	readWS(t, c, "o")
	sendWS(t, c, `["a"]`)
	readWS(t, c, `a["a"]`)
	// Empty frames and frames without messages are ignored; one string
	// will do.
	sendWS(t, c, ``)
	sendWS(t, c, `[]`)
	sendWS(t, c, `"b"`)
	readWS(t, c, `a["b"]`)
	sendWS(t, c, `["c","d"]`)
	readWS(t, c, `a["c"]`)
	readWS(t, c, `a["d"]`)
	// The same session id on two connections: two sessions.
	c2 := dialWS(t, u)
	readWS(t, c2, "o")
	sendWS(t, c2, `["e"]`)
	readWS(t, c2, `a["e"]`)
	sendWS(t, c, `["f"]`)
	readWS(t, c, `a["f"]`)
	// Broken JSON ends the session.
	sendWS(t, c, `["a`)
	readWS(t, c, `c[1002,"Broken framing."]`)
	if code, _ := wantClosed(t, c); code != 1000 {
		t.Errorf("after broken framing: close %d", code)
	}
	// Binary is not a SockJS message.
	if err := c2.WriteMessage(gws.BinaryMessage, []byte(`["x"]`)); err != nil {
		t.Fatal(err)
	}
	readWS(t, c2, `c[1003,"SockJS messages are text"]`)

	// The application's close.
	c3 := dialWS(t, strings.Replace(f.session("/close"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c3, "o")
	readWS(t, c3, `c[3000,"Go away!"]`)
	if code, _ := wantClosed(t, c3); code != 1000 {
		t.Errorf("after the close frame: close %d", code)
	}

	// Not an upgrade, and not GET.
	hc := newClient(t, true)
	want(t, "GET", do(t, hc, "GET", f.session("/echo")+"/websocket", ""), 400, `Can "Upgrade" only to "WebSocket".`)
	if a := do(t, hc, "POST", f.session("/echo")+"/websocket", ""); a.status != 405 || a.header.Get("Allow") != "GET" || a.body != "" {
		t.Errorf("POST websocket: %d %v %q", a.status, a.header, a.body)
	}
	// Off.
	d := gws.Dialer{HandshakeTimeout: wait}
	if _, resp, err := d.Dial(strings.Replace(f.session("/disabled_websocket_echo"), "http:", "ws:", 1)+"/websocket", nil); err == nil || resp == nil || resp.StatusCode != 404 {
		t.Errorf("websocket with NoWebSocket: %v", err)
	}
}

func TestRawWebSocket(t *testing.T) {
	f := start(t, nil, nil, nil)
	c := dialWS(t, f.ws+"/echo/websocket")
	sendWS(t, c, "Hello world!\uffff")
	readWS(t, c, "Hello world!\uffff")
	c2 := dialWS(t, f.ws+"/close/websocket")
	if code, text := wantClosed(t, c2); code != 3000 || text != "Go away!" {
		t.Errorf("raw close: %d %q", code, text)
	}
}

func TestEncoding(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, true)
	// What the server must escape, it escapes.
	var sent strings.Builder
	var escaped strings.Builder
	for r := rune(0x100); r <= 0xffff; r++ {
		if r >= 0xd800 && r <= 0xdfff {
			continue
		}
		if mangled(r) {
			sent.WriteRune(r)
			fmt.Fprintf(&escaped, `\u%04x`, r)
		}
	}
	u := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	body, _ := json.Marshal([]string{sent.String()})
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", string(body)), 204, "")
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, `a["`+escaped.String()+`"]`+"\n")

	// What clients escape, the server reads.
	var all strings.Builder
	for r := rune(0); r <= 0xffff; r++ {
		if r < 0xd800 || r > 0xdfff {
			fmt.Fprintf(&all, `\u%04x`, r)
		}
	}
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["`+all.String()+`"]`), 204, "")
	a := do(t, hc, "POST", u+"/xhr", "")
	var got []string
	if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(a.body, "a"), "\n")), &got); err != nil || len(got) != 1 {
		t.Fatalf("poll: %v", err)
	}
	var wantStr string
	_ = json.Unmarshal([]byte(`"`+all.String()+`"`), &wantStr)
	if got[0] != wantStr {
		t.Error("the echo of every BMP character differs")
	}
	// A lone surrogate is not UTF-8: refused.
	want(t, "surrogate", do(t, hc, "POST", u+"/xhr_send", `["\ud800"]`), 500, "Broken JSON encoding.")
}

// rawRequest sends a request on a TCP connection of its own and returns
// a reader of what comes back.
func rawRequest(t *testing.T, addr, req string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c, bufio.NewReader(c)
}

func TestStreamingHTTP10(t *testing.T) {
	f := start(t, nil, nil, nil)
	u, _ := url.Parse(f.session("/close"))
	_, r := rawRequest(t, u.Host, "POST "+u.Path+"/xhr_streaming HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(resp.TransferEncoding) != 0 || resp.Header.Get("Content-Length") != "" {
		t.Fatalf("HTTP/1.0 streaming: %d %v %v", resp.StatusCode, resp.TransferEncoding, resp.Header)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil || string(b) != strings.Repeat("h", 2048)+"\no\nc[3000,\"Go away!\"]\n" {
		t.Fatalf("HTTP/1.0 streaming body %q (%v)", b, err)
	}
}

func TestClosingStreams(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	prelude := strings.Repeat("h", 2048) + "\n"
	// The close frame ends the stream, and a later one gets it too.
	u := f.session("/close")
	s1 := openStream(t, hc, "POST", u+"/xhr_streaming")
	s1.read(prelude + "o\n" + "c[3000,\"Go away!\"]\n")
	s1.end()
	s2 := openStream(t, hc, "POST", u+"/xhr_streaming")
	s2.read(prelude + "c[3000,\"Go away!\"]\n")
	s2.end()

	// A second receiver is refused and ended; when the first's connection
	// is cut, the session ends as interrupted.
	u = f.session("/rec")
	s1 = openStream(t, hc, "POST", u+"/xhr_streaming")
	s1.read(prelude + "o\n")
	s2 = openStream(t, hc, "POST", u+"/xhr_streaming")
	s2.read(prelude + "c[2010,\"Another connection still open\"]\n")
	s2.end()
	s1.resp.Body.Close()
	hc.Transport.(*http.Transport).CloseIdleConnections()
	enginetest.WaitFor(t, "the session to end", func() bool { return f.rec.closed.Load() == 1 })
	s3 := openStream(t, hc, "POST", u+"/xhr_streaming")
	s3.read(prelude + "c[1002,\"Connection interrupted\"]\n")
	s3.end()
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	if len(f.rec.reasons) != 1 || f.rec.reasons[0] != "1002 Connection interrupted" {
		t.Errorf("OnClose: %q", f.rec.reasons)
	}
}
