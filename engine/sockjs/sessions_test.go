package sockjs

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// onHome runs q on the home loop of HTTP session id of s, and returns
// what it says; false for no such session.
func onHome(s *Server, id string, q func(*Session) bool) bool {
	home, ok := s.index.home([]byte(id))
	if !ok {
		return false
	}
	l := s.loops[home].shared.Load()
	res := make(chan bool, 1)
	if l == nil || l.Post(func() { res <- q(s.loops[home].sessions[id]) }) != nil {
		return false
	}
	return <-res
}

// sessionID is the session id in a session URL.
func sessionID(u string) string { return u[strings.LastIndexByte(u, '/')+1:] }

// receiving reports whether the session has a receiving request.
func receiving(s *Server, id string) bool {
	return onHome(s, id, func(ss *Session) bool { return ss != nil && ss.recv != nil })
}

// TestAcrossLoops: a session's requests come on connections of either
// loop (each request on a connection of its own, and the engine gives
// connections to its two loops in turn), and reach it on its home, both
// ways.
func TestAcrossLoops(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	for range 6 {
		u := f.session("/echo")
		want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
		for i := range 3 {
			msg := strings.Repeat("m", i+1)
			want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["`+msg+`"]`), 204, "")
			want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, `a["`+msg+`"]`+"\n")
		}
		// A poll that waits on one loop is answered by a send on the
		// other.
		got := make(chan answer, 1)
		go func() { got <- do(t, newClient(t, false), "POST", u+"/xhr", "") }()
		enginetest.WaitFor(t, "the poll to wait", func() bool { return receiving(f.echo, sessionID(u)) })
		want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["w"]`), 204, "")
		if a := <-got; a.body != "a[\"w\"]\n" {
			t.Fatalf("waiting poll: %q", a.body)
		}
	}
}

// TestHeartbeatAndDisconnectDelay: on the server's clock, a waiting poll
// is answered with a heartbeat after HeartbeatDelay, a WebSocket session
// gets one every HeartbeatDelay, and an HTTP session without a receiving
// request for DisconnectDelay ends.
func TestHeartbeatAndDisconnectDelay(t *testing.T) {
	clk := enginetest.NewClock(time.Now())
	f := start(t, clk, func(c *engine.Config) { c.PingInterval = -1 }, func(c *Config) {
		c.HeartbeatDelay = 25 * time.Second
		c.DisconnectDelay = 5 * time.Second
	})
	hc := newClient(t, false)
	u := f.session("/rec")
	id := sessionID(u)
	rec := f.routes("/rec")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	got := make(chan answer, 1)
	go func() { got <- do(t, hc, "POST", u+"/xhr", "") }()
	enginetest.WaitFor(t, "the poll to wait", func() bool { return receiving(rec, id) })
	clk.Advance(25*time.Second + 300*time.Millisecond)
	if a := <-got; a.body != "h\n" {
		t.Fatalf("poll: %q, want a heartbeat", a.body)
	}
	// The disconnect delay runs from the answer: 4 s on, the session is
	// there; past 5 s it has ended, and is forgotten.
	clk.Advance(4 * time.Second)
	if !onHome(rec, id, func(ss *Session) bool { return ss != nil && ss.Open() }) {
		t.Fatal("the session ended within the disconnect delay")
	}
	clk.Advance(1500 * time.Millisecond)
	enginetest.WaitFor(t, "the session to end", func() bool { return f.rec.closed.Load() == 1 })
	want(t, "send after", do(t, hc, "POST", u+"/xhr_send", `["x"]`), 404, "Not found\n")
	want(t, "a new one", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")

	c := dialWS(t, strings.Replace(f.session("/echo"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c, "o")
	sendWS(t, c, `["x"]`)
	readWS(t, c, `a["x"]`) // the session is open: its heartbeat is armed
	for range 2 {
		clk.Advance(25*time.Second + 300*time.Millisecond)
		readWS(t, c, "h")
	}
}

// routes returns the Server on path.
func (f *fixture) routes(path string) *Server {
	return f.srv.Config().Routes[path].(*Server)
}

// TestGatesPerIP: an HTTP session takes a share of the per-IP cap while
// it lives; past the cap a new one gets 429.
func TestGatesPerIP(t *testing.T) {
	f := start(t, nil, func(c *engine.Config) { c.MaxConnsPerIP = 3 }, nil)
	hc := newClient(t, false)
	for range 3 {
		want(t, "open", do(t, hc, "POST", f.session("/echo")+"/xhr", ""), 200, "o\n")
	}
	a := do(t, hc, "POST", f.session("/echo")+"/xhr", "")
	if a.status != 429 {
		t.Fatalf("a fourth session: %d %q, want 429", a.status, a.body)
	}
	if n := f.routes("/echo").counted(refPerIP); n != 1 {
		t.Errorf("per_ip refusals: %d", n)
	}
}

// counted returns the refusals of a reason the loops have counted so
// far (their counts reach Refusals each tick; this asks each loop).
func (s *Server) counted(r int) uint64 {
	var n uint64
	for i := range s.loops {
		l := s.loops[i].shared.Load()
		if l == nil {
			continue
		}
		res := make(chan uint64, 1)
		if l.Post(func() { res <- s.loops[i].counts.refused[r] }) != nil {
			continue
		}
		n += <-res
	}
	return n + s.refused[r].Load()
}

// TestOtherAddress: a session's requests come from the address that
// opened it; another address finds no session.
func TestOtherAddress(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	other := &http.Client{Timeout: wait, Transport: &http.Transport{DisableKeepAlives: true,
		DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	want(t, "send from another address", do(t, other, "POST", u+"/xhr_send", `["x"]`), 404, "Not found\n")
	want(t, "poll from another address", do(t, other, "POST", u+"/xhr", ""), 404, "Not found\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["y"]`), 204, "")
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "a[\"y\"]\n")
}

// TestRateLimit: a session's messages pass the engine's rate limits, on
// every transport; past them it ends with 1008.
func TestRateLimit(t *testing.T) {
	f := start(t, nil, func(c *engine.Config) {
		c.MessageRate = security.Rate{PerSecond: 1, Burst: 3}
	}, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["1","2","3","4","5"]`), 204, "")
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "c[1008,\"rate limit exceeded\"]\n")

	c := dialWS(t, strings.Replace(f.session("/echo"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c, "o")
	sendWS(t, c, `["1","2","3","4","5"]`)
	readWS(t, c, `a["1"]`)
	readWS(t, c, `a["2"]`)
	readWS(t, c, `a["3"]`)
	readWS(t, c, `c[1008,"rate limit exceeded"]`)
	if n := f.routes("/echo").counted(refRate); n != 2 {
		t.Errorf("rate refusals: %d, want 2", n)
	}
}

// TestReload: the engine's Reload reaches the sessions: a new per-IP cap
// applies to the next session opened, new rates to the next message of
// every session, those opened before included.
func TestReload(t *testing.T) {
	f := start(t, nil, func(c *engine.Config) { c.MaxConnsPerIP = 1 }, nil)
	hc := newClient(t, false)
	// The cap counts connections too: each request waits until the last
	// one's connection has closed on the server.
	post := func(u, body string) answer {
		t.Helper()
		enginetest.WaitFor(t, "the last connection to close", func() bool { return f.srv.Active() == 0 })
		return do(t, hc, "POST", u, body)
	}
	u := f.session("/echo")
	want(t, "open", post(u+"/xhr", ""), 200, "o\n")
	if a := post(f.session("/echo")+"/xhr", ""); a.status != 429 {
		t.Fatalf("a second session under a cap of 1: %d, want 429", a.status)
	}
	live := f.srv.Live()
	live.MaxConnsPerIP = 2
	live.MessageRate = security.Rate{PerSecond: 1, Burst: 3}
	if err := f.srv.Reload(live); err != nil {
		t.Fatal(err)
	}
	want(t, "open under the new cap", post(f.session("/echo")+"/xhr", ""), 200, "o\n")
	if a := post(f.session("/echo")+"/xhr", ""); a.status != 429 {
		t.Fatalf("a third session under a cap of 2: %d, want 429", a.status)
	}
	want(t, "send", post(u+"/xhr_send", `["1","2","3","4","5"]`), 204, "")
	want(t, "poll", post(u+"/xhr", ""), 200, "c[1008,\"rate limit exceeded\"]\n")
}

// TestSizes: a body past the engine's MaxRequestBody is refused before
// it reaches the session; a WebSocket frame past MaxMessageSize closes
// the connection with 1009.
func TestSizes(t *testing.T) {
	f := start(t, nil, func(c *engine.Config) { c.MaxRequestBody = 1000; c.MaxMessageSize = 1000 }, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	if a := do(t, hc, "POST", u+"/xhr_send", `["`+strings.Repeat("x", 1000)+`"]`); a.status != 413 {
		t.Errorf("a large send: %d", a.status)
	}
	c := dialWS(t, strings.Replace(f.session("/echo"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c, "o")
	sendWS(t, c, `["`+strings.Repeat("x", 1000)+`"]`)
	if code, _ := wantClosed(t, c); code != 1009 {
		t.Errorf("a large frame: close %d, want 1009", code)
	}
}

// TestSlowConsumer: what waits for an HTTP client is bounded by
// MaxQueued; past it the session ends.
func TestSlowConsumer(t *testing.T) {
	f := start(t, nil, nil, func(c *Config) { c.MaxQueued = 100 })
	hc := newClient(t, false)
	u := f.session("/echo")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["`+strings.Repeat("x", 60)+`"]`), 204, "")
	// The send is taken; its echo does not fit, and ends the session.
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["`+strings.Repeat("y", 60)+`"]`), 204, "")
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "c[1008,\"slow consumer\"]\n")
	want(t, "send after", do(t, hc, "POST", u+"/xhr_send", `["z"]`), 404, "Not found\n")
}

// TestOrigin: the origin gate applies to every request under the route.
func TestOrigin(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	if a := do(t, hc, "POST", f.session("/echo")+"/xhr", "", "Origin", "https://evil.example"); a.status != 403 {
		t.Errorf("xhr from another origin: %d", a.status)
	}
	d := gws.Dialer{HandshakeTimeout: wait}
	_, resp, err := d.Dial(strings.Replace(f.session("/echo"), "http:", "ws:", 1)+"/websocket",
		http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("websocket from another origin: %v", err)
	}
}

func newAuth(t *testing.T) *security.Authenticator {
	a, err := security.NewAuthenticator(security.AuthConfig{
		Secret: enginetest.Secret, Issuer: enginetest.Issuer, Audience: enginetest.Audience, Leeway: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func token(t *testing.T, sub string, exp time.Time) string {
	return enginetest.Sign(t, jwt.MapClaims{"sub": sub, "iss": enginetest.Issuer, "aud": enginetest.Audience, "exp": exp.Unix()})
}

// TestAuth: with the engine's auth, a token in the query string opens the
// session to the application at once; without one, the first message
// must be one; a bad one ends the session; and a session ends when its
// token expires.
func TestAuth(t *testing.T) {
	start0 := time.Now()
	clk := enginetest.NewClock(start0)
	f := start(t, clk, func(c *engine.Config) { c.Auth = newAuth(t); c.PingInterval = -1 }, nil)
	hc := newClient(t, false)
	tok := token(t, "alice", start0.Add(time.Hour))

	// In the query string, on every request.
	u := f.session("/rec")
	want(t, "open", do(t, hc, "POST", u+"/xhr?token="+tok, ""), 200, "o\n")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send?token="+tok, `["a"]`), 204, "")
	want(t, "poll", do(t, hc, "POST", u+"/xhr?token="+tok, ""), 200, "a[\"a\"]\n")
	// A bad one is refused by the gate.
	if a := do(t, hc, "POST", f.session("/rec")+"/xhr?token=nope", ""); a.status != 401 {
		t.Errorf("a bad token in the query: %d", a.status)
	}

	// As the first message, over WebSocket.
	c := dialWS(t, strings.Replace(f.session("/rec"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c, "o")
	sendWS(t, c, `["`+token(t, "bob", start0.Add(time.Minute))+`","b"]`)
	readWS(t, c, `a["b"]`)
	// And over the HTTP transports.
	u = f.session("/rec")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	want(t, "token", do(t, hc, "POST", u+"/xhr_send", `["`+token(t, "carol", start0.Add(time.Hour))+`"]`), 204, "")
	want(t, "send", do(t, hc, "POST", u+"/xhr_send", `["c"]`), 204, "")
	want(t, "poll", do(t, hc, "POST", u+"/xhr", ""), 200, "a[\"c\"]\n")
	// A first message that is not a token ends the session.
	c2 := dialWS(t, strings.Replace(f.session("/rec"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c2, "o")
	sendWS(t, c2, `["hello"]`)
	readWS(t, c2, `c[1008,"unauthorized: malformed"]`)

	f.rec.mu.Lock()
	subjects := strings.Join(f.rec.subjects, ",")
	f.rec.mu.Unlock()
	if subjects != "alice,bob,carol" {
		t.Errorf("the application saw %q", subjects)
	}

	// bob's token expires in a minute (and a second of leeway).
	clk.Advance(55 * time.Second)
	sendWS(t, c, `["d"]`)
	readBeyondHeartbeats(t, c, `a["d"]`)
	clk.Advance(10 * time.Second)
	readBeyondHeartbeats(t, c, `c[1008,"token expired"]`)

	// A session that sends no token within the handshake timeout ends.
	c3 := dialWS(t, strings.Replace(f.session("/rec"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c3, "o")
	clk.Advance(f.srv.Config().HandshakeTimeout + time.Second)
	readBeyondHeartbeats(t, c3, `c[1008,"unauthorized: no token"]`)
}

// readBeyondHeartbeats reads past heartbeat frames to the next other
// one, which must be want.
func readBeyondHeartbeats(t *testing.T, c *gws.Conn, want string) {
	t.Helper()
	for {
		op, b, err := c.ReadMessage()
		if err == nil && op == gws.TextMessage && string(b) == "h" {
			continue
		}
		if err != nil || string(b) != want {
			t.Fatalf("read %q (%v), want %q", b, err, want)
		}
		return
	}
}

// TestHub: the Hub application speaks /ws's protocol in messages, on
// every transport, and a publication reaches /ws subscribers and SockJS
// ones alike.
func TestHub(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	// A SockJS subscriber over xhr, one over WebSocket, and a /ws one.
	u := f.session("/hub")
	want(t, "open", do(t, hc, "POST", u+"/xhr", ""), 200, "o\n")
	want(t, "subscribe", do(t, hc, "POST", u+"/xhr_send", `["{\"op\":\"subscribe\",\"topic\":\"news\",\"id\":1}"]`), 204, "")
	want(t, "ack", do(t, hc, "POST", u+"/xhr", ""), 200, `a["{\"op\":\"ack\",\"id\":1}"]`+"\n")

	c := dialWS(t, strings.Replace(f.session("/hub"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c, "o")
	sendWS(t, c, `["{\"op\":\"subscribe\",\"topic\":\"news\",\"id\":\"s\"}"]`)
	readWS(t, c, `a["{\"op\":\"ack\",\"id\":\"s\"}"]`)

	w := dialWS(t, f.ws+"/ws")
	if err := w.WriteMessage(gws.TextMessage, []byte(`{"op":"subscribe","topic":"news","id":2}`)); err != nil {
		t.Fatal(err)
	}
	readWS(t, w, `{"op":"ack","id":2}`)

	// A publication from SockJS.
	sendWS(t, c, `["{\"op\":\"publish\",\"topic\":\"news\",\"data\":{\"n\":\"é\\u2028\"},\"id\":3}"]`)
	readWS(t, c, `a["{\"op\":\"ack\",\"id\":3}"]`)
	msg := `{"op":"message","topic":"news","data":{"n":"é\u2028"}}`
	readWS(t, w, msg)
	readWS(t, c, `a["{\"op\":\"message\",\"topic\":\"news\",\"data\":{\"n\":\"é\\u2028\"}}"]`)
	want(t, "delivery", do(t, hc, "POST", u+"/xhr", ""), 200, `a["{\"op\":\"message\",\"topic\":\"news\",\"data\":{\"n\":\"é\\u2028\"}}"]`+"\n")

	// Errors as /ws answers them; the session stays.
	sendWS(t, c, `["not json","{\"op\":\"publish\",\"topic\":\"news\"}"]`)
	readWS(t, c, `a["{\"op\":\"error\",\"code\":\"invalid_json\",\"message\":\"invalid JSON\"}"]`)
	readWS(t, c, `a["{\"op\":\"error\",\"code\":\"invalid_request\",\"message\":\"a publish needs data\"}"]`)
	// Unsubscribed, a session gets nothing more; closed, it has left.
	sendWS(t, c, `["{\"op\":\"unsubscribe\",\"topic\":\"news\",\"id\":4}"]`)
	readWS(t, c, `a["{\"op\":\"ack\",\"id\":4}"]`)
	if err := w.WriteMessage(gws.TextMessage, []byte(`{"op":"publish","topic":"news","data":1}`)); err != nil {
		t.Fatal(err)
	}
	readWS(t, w, `{"op":"message","topic":"news","data":1}`)
	sendWS(t, c, `["{\"op\":\"publish\",\"topic\":\"other\",\"data\":2,\"id\":5}"]`)
	readWS(t, c, `a["{\"op\":\"ack\",\"id\":5}"]`) // nothing of news came before it
}

// TestShutdown: a server that shuts down ends its streams (whole
// answers), and its WebSocket sessions with 1001.
func TestShutdown(t *testing.T) {
	f := start(t, nil, nil, nil)
	hc := newClient(t, false)
	u := f.session("/echo")
	s := openStream(t, hc, "POST", u+"/xhr_streaming")
	s.read(strings.Repeat("h", 2048) + "\n" + "o\n")
	c := dialWS(t, strings.Replace(f.session("/echo"), "http:", "ws:", 1)+"/websocket")
	readWS(t, c, "o")
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	go func() { _ = f.srv.Shutdown(ctx) }()
	if code, _ := wantClosed(t, c); code != 1001 {
		t.Errorf("WebSocket at shutdown: %d", code)
	}
	// The stream is ended as a whole answer: its last chunk, then EOF.
	if _, err := io.ReadAll(s.r); err != nil {
		t.Errorf("stream at shutdown: %v", err)
	}
}

// TestSessionSize: what a WebSocket session costs beside its connection
// stays within the allocator's size class of 176 bytes (one timer for its
// heartbeat and its token; the HTTP transports' state in a struct of its
// own), its connection's slot within 16.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(Session{}); n > 176 {
		t.Errorf("Session is %d bytes; keep it within 176", n)
	}
	if n := unsafe.Sizeof(wsConn{}); n > 16 {
		t.Errorf("wsConn is %d bytes; keep it within 16", n)
	}
}
