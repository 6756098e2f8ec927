package socketio

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

// The tests speak the protocols byte for byte, as the specifications'
// examples do, with net/http's client for polling and gorilla's for
// WebSocket; the npm client is run against the binary by cmd/wssd's
// interop test.

const wait = enginetest.Wait

// testApp is the reference behaviour (as cmd/wssd's conformance app): on
// connection "auth" with the auth object, "message" answered with
// "message-back", "message-with-ack" acknowledged with its arguments.
func testApp(s *Server) {
	main := s.Of("/")
	main.OnConnection(func(so *Socket) {
		auth := json.RawMessage("{}")
		if a := so.Auth(); a != nil {
			auth = a
		}
		_ = so.Emit("auth", auth)
	})
	main.On("message", func(so *Socket, _ string, args Args, _ Ack) { _ = so.Emit("message-back", args) })
	main.On("message-with-ack", func(_ *Socket, _ string, args Args, ack Ack) {
		if ack != nil {
			_ = ack(args)
		}
	})
	s.Of("/custom")
}

type fixture struct {
	srv  *engine.Server
	sio  *Server
	hub  *pubsub.Hub
	base string // http://host:port/socket.io/?EIO=4
	ws   string // ws://host:port/socket.io/?EIO=4&transport=websocket
	clk  *enginetest.Clock
}

// start serves a Socket.IO server made with cfg (and the test app) on
// DefaultPath, and a hub on /ws, over ws:// with two loops. ecfg is the
// engine's config; a non-nil clk is its clock.
func start(t *testing.T, ecfg engine.Config, cfg Config, clk *enginetest.Clock) *fixture {
	t.Helper()
	hub, err := pubsub.New(pubsub.Config{AnonymousPublish: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hub = hub
	sio, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testApp(sio)
	sio.ServeHub()
	ecfg.ListenPlain = "127.0.0.1:0"
	ecfg.Loops = 2
	ecfg.Logger = enginetest.Logger()
	ecfg.Routes = map[string]engine.Handler{DefaultPath: sio, pubsub.DefaultRoute: hub}
	if clk != nil {
		ecfg.Clock = clk
	}
	srv, err := engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, srv)
	addr := srv.PlainAddr().String()
	return &fixture{srv: srv, sio: sio, hub: hub, clk: clk,
		base: "http://" + addr + DefaultPath + "?EIO=4",
		ws:   "ws://" + addr + DefaultPath + "?EIO=4&transport=websocket"}
}

// client is a polling client: a net/http client of its own, so that each
// has its own connections (and they land on either loop).
type client struct {
	t   *testing.T
	f   *fixture
	hc  *http.Client
	sid string
}

func (f *fixture) poller(t *testing.T) *client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, f: f, hc: &http.Client{Transport: tr, Timeout: wait}}
}

func (c *client) do(method, query, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.f.base+query, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, query, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t *testing.T, body string) openPacket {
	t.Helper()
	var o openPacket
	if !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &o) != nil || len(o.SID) != sidLen {
		t.Fatalf("open packet %q", body)
	}
	return o
}

// handshake opens a polling session.
func (c *client) handshake() openPacket {
	c.t.Helper()
	code, body := c.do("GET", "&transport=polling", "")
	if code != 200 {
		c.t.Fatalf("handshake: %d %s", code, body)
	}
	o := parseOpen(c.t, body)
	c.sid = o.SID
	return o
}

func (c *client) get() (int, string) {
	c.t.Helper()
	return c.do("GET", "&transport=polling&sid="+c.sid, "")
}

func (c *client) post(body string) {
	c.t.Helper()
	if code, got := c.do("POST", "&transport=polling&sid="+c.sid, body); code != 200 || got != "ok" {
		c.t.Fatalf("POST %q: %d %q; want 200 ok", body, code, got)
	}
}

// expect polls until the packets in want have come, in order.
func (c *client) expect(want ...string) {
	c.t.Helper()
	var got []string
	for len(got) < len(want) {
		code, body := c.get()
		if code != 200 {
			c.t.Fatalf("GET: %d %q; got %q so far, want %q", code, body, got, want)
		}
		got = append(got, strings.Split(body, "\x1e")...)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		c.t.Fatalf("polled %q; want %q", got, want)
	}
}

// TestPollingHandshake: the open packet, with the server's settings, and
// session ids that differ.
func TestPollingHandshake(t *testing.T) {
	f := start(t, engine.Config{}, Config{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1000}, nil)
	a, b := f.poller(t), f.poller(t)
	oa, ob := a.handshake(), b.handshake()
	if oa.SID == ob.SID {
		t.Errorf("two sessions share the id %q", oa.SID)
	}
	if strings.Join(oa.Upgrades, ",") != "websocket" || oa.PingInterval != 300 || oa.PingTimeout != 200 || oa.MaxPayload != 1000 {
		t.Errorf("open packet %+v", oa)
	}
}

// TestBadRequests: what the protocol says a server refuses, refused with
// the reference server's codes.
func TestBadRequests(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	c := f.poller(t)
	c.handshake()
	for _, tc := range []struct {
		method, query string
		code          int
		body          string
	}{
		{"GET", "&transport=carrier-pigeon", 400, errTransportUnknown},
		{"GET", "&transport=websocket", 400, errBadRequest},
		{"GET", "&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA", 400, errSessionUnknown},
		{"GET", "&transport=polling&sid=nope", 400, errSessionUnknown},
		{"POST", "&transport=polling", 400, errBadMethod},
		{"PUT", "&transport=polling", 400, errBadMethod},
		{"DELETE", "&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA", 400, errBadMethod},
	} {
		code, body := c.do(tc.method, tc.query, "")
		if code != tc.code || body != tc.body {
			t.Errorf("%s %s: %d %q; want %d %q", tc.method, tc.query, code, body, tc.code, tc.body)
		}
	}
	resp, err := http.Get(strings.Replace(f.base, "EIO=4", "EIO=3", 1) + "&transport=polling")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || string(b) != errVersion {
		t.Errorf("EIO=3: %d %q; want 400 %q", resp.StatusCode, b, errVersion)
	}
}

// TestPollingSession: CONNECT, events and acks over polling, on requests
// that come on new connections (so on either loop) each time.
func TestPollingSession(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	c := f.poller(t)
	c.handshake()
	c.post(`40{"token":"abc"}`)
	var connected string
	for connected == "" {
		_, body := c.get()
		for _, p := range strings.Split(body, "\x1e") {
			if strings.HasPrefix(p, `40{"sid":"`) {
				connected = p
			} else if p != `42["auth",{"token":"abc"}]` {
				t.Fatalf("unexpected packet %q", p)
			}
		}
	}
	c.post("42[\"message\",\"hi\",1]\x1e421[\"message-with-ack\",{\"a\":[1,2]}]")
	c.expect(`42["message-back","hi",1]`, `431[{"a":[1,2]}]`)
	// A binary event: its attachment in base64.
	c.post("451-[\"message\",{\"_placeholder\":true,\"num\":0}]\x1ebAQID")
	c.expect(`451-["message-back",{"_placeholder":true,"num":0}]`, "bAQID")
	// The client closes: a later poll finds no session.
	c.post("1")
	if code, body := c.get(); code != 400 || body != errSessionUnknown {
		t.Fatalf("GET after close: %d %q; want 400 %q", code, body, errSessionUnknown)
	}
}

// wsClient is a WebSocket transport client.
type wsClient struct {
	t *testing.T
	c *gws.Conn
}

func (f *fixture) dialWS(t *testing.T, query string) *wsClient {
	t.Helper()
	d := gws.Dialer{HandshakeTimeout: wait}
	c, resp, err := d.Dial(f.ws+query, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (%d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return &wsClient{t: t, c: c}
}

func (w *wsClient) send(op int, p string) {
	w.t.Helper()
	if err := w.c.WriteMessage(op, []byte(p)); err != nil {
		w.t.Fatal(err)
	}
}

func (w *wsClient) read() (int, string) {
	w.t.Helper()
	_ = w.c.SetReadDeadline(time.Now().Add(wait))
	op, b, err := w.c.ReadMessage()
	if err != nil {
		w.t.Fatalf("read: %v", err)
	}
	return op, string(b)
}

func (w *wsClient) expect(want string) {
	w.t.Helper()
	if _, got := w.read(); got != want {
		w.t.Fatalf("got %q; want %q", got, want)
	}
}

// TestWebSocketSession: a session on the WebSocket transport from the
// start: the open packet without upgrades, CONNECT to a namespace and an
// unknown one, acks, and binary frames both ways.
func TestWebSocketSession(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	w := f.dialWS(t, "")
	_, open := w.read()
	if o := parseOpen(t, open); len(o.Upgrades) != 0 {
		t.Fatalf("open packet %q offers upgrades", open)
	}
	w.send(gws.TextMessage, "40")
	if _, p := w.read(); !strings.HasPrefix(p, `40{"sid":"`) {
		t.Fatalf("got %q; want the CONNECT answer", p)
	}
	w.expect(`42["auth",{}]`)
	w.send(gws.TextMessage, "40/nope,")
	w.expect(`44/nope,{"message":"Invalid namespace"}`)
	w.send(gws.TextMessage, `40/custom,{"x":1}`)
	if _, p := w.read(); !strings.HasPrefix(p, `40/custom,{"sid":"`) {
		t.Fatalf("got %q; want the CONNECT answer of /custom", p)
	}
	w.send(gws.TextMessage, `4212["message-with-ack","a",{"b":null}]`)
	w.expect(`4312["a",{"b":null}]`)
	w.send(gws.TextMessage, `452-["message",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]`)
	w.send(gws.BinaryMessage, "\x00\x01")
	w.send(gws.BinaryMessage, "")
	w.expect(`452-["message-back",{"_placeholder":true,"num":0},{"x":{"_placeholder":true,"num":1}}]`)
	if op, p := w.read(); op != gws.BinaryMessage || p != "\x00\x01" {
		t.Fatalf("first attachment: %d %q", op, p)
	}
	if op, p := w.read(); op != gws.BinaryMessage || p != "" {
		t.Fatalf("second attachment: %d %q", op, p)
	}
	// An invalid packet ends the session.
	w.send(gws.TextMessage, `42{"not":"an array"}`)
	_ = w.c.SetReadDeadline(time.Now().Add(wait))
	if _, _, err := w.c.ReadMessage(); err == nil {
		t.Fatal("the session went on after an invalid packet")
	}
}

// TestUpgrade: a polling session upgrades; the waiting poll gets a noop,
// and the session goes on over WebSocket; later polls and a second
// upgrade are refused.
func TestUpgrade(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	c := f.poller(t)
	c.handshake()
	c.connect()
	type result struct {
		code int
		body string
	}
	polled := make(chan result, 1)
	go func() { code, body := c.get(); polled <- result{code, body} }()
	enginetest.WaitFor(t, "the poll waiting", func() bool { return f.waiting(c.sid) })
	w := f.dialWS(t, "&sid="+c.sid)
	w.send(gws.TextMessage, "2probe")
	w.expect("3probe")
	w.send(gws.TextMessage, "5")
	w.send(gws.TextMessage, `421["message-with-ack","over ws"]`)
	select {
	case r := <-polled:
		if r.code != 200 || r.body != "6" {
			t.Fatalf("the waiting poll got %d %q; want 200 6", r.code, r.body)
		}
	case <-time.After(wait):
		t.Fatal("the waiting poll was not released")
	}
	w.expect(`431["over ws"]`)
	// The session lives on its WebSocket's loop now: rooms and their
	// acks follow it there.
	w.send(gws.TextMessage, `422["subscribe",{"topic":"after.upgrade"}]`)
	w.expect(`432[null]`)
	if err := f.hub.Publish("after.upgrade", []byte(`true`)); err != nil {
		t.Fatal(err)
	}
	w.expect(`42["message",{"topic":"after.upgrade","data":true}]`)
	if code, body := c.get(); code != 400 || body != errSessionUnknown {
		t.Fatalf("poll after the upgrade: %d %q; want 400", code, body)
	}
	d := gws.Dialer{HandshakeTimeout: wait}
	if _, resp, err := d.Dial(f.ws+"&sid="+c.sid, nil); err == nil || resp == nil || resp.StatusCode != 400 {
		t.Fatalf("a second upgrade: %v; want 400", err)
	}
}

// TestPingTimeout: the server pings a polling session every PingInterval
// on its clock, and ends it PingTimeout after an unanswered ping.
func TestPingTimeout(t *testing.T) {
	clk := enginetest.NewClock(time.Now())
	const ping, pong = 25 * time.Second, 20 * time.Second
	f := start(t, engine.Config{}, Config{PingInterval: ping, PingTimeout: pong, ConnectTimeout: time.Hour}, clk)
	c := f.poller(t)
	c.handshake()
	for round := range 2 {
		polled := make(chan string, 1)
		go func() { _, body := c.get(); polled <- body }()
		enginetest.WaitFor(t, "the poll waiting", func() bool { return f.waiting(c.sid) })
		clk.Advance(ping + 300*time.Millisecond)
		select {
		case body := <-polled:
			if body != "2" {
				t.Fatalf("round %d: polled %q; want a ping", round, body)
			}
		case <-time.After(wait):
			t.Fatalf("round %d: no ping after %v", round, ping)
		}
		if round == 0 {
			c.post("3")
		}
	}
	clk.Advance(pong + 300*time.Millisecond)
	enginetest.WaitFor(t, "the session to end", func() bool { return !f.alive(c.sid) })
	if code, body := c.get(); code != 400 || body != errSessionUnknown {
		t.Fatalf("poll after the ping timeout: %d %q; want 400", code, body)
	}
}

// TestConnectTimeout: a session that connects to no namespace ends after
// ConnectTimeout.
func TestConnectTimeout(t *testing.T) {
	clk := enginetest.NewClock(time.Now())
	f := start(t, engine.Config{}, Config{ConnectTimeout: time.Second}, clk)
	c := f.poller(t)
	c.handshake()
	clk.Advance(time.Second + 300*time.Millisecond)
	enginetest.WaitFor(t, "the session to end", func() bool { return !f.alive(c.sid) })
	if code, body := c.get(); code != 400 || body != errSessionUnknown {
		t.Fatalf("poll after the connect timeout: %d %q; want 400", code, body)
	}
}

// alive reports whether the polling session sid is at its home. It reads
// the home loop's table on that loop.
func (f *fixture) alive(sid string) bool {
	return f.onHome(sid, func(ss *session) bool { return ss != nil })
}

// waiting reports whether the session has a GET waiting.
func (f *fixture) waiting(sid string) bool {
	return f.onHome(sid, func(ss *session) bool { return ss != nil && ss.polling != nil && ss.poll != nil })
}

func (f *fixture) onHome(sid string, q func(*session) bool) bool {
	home, ok := f.sio.homeOf([]byte(sid))
	if !ok {
		return false
	}
	hl := f.sio.loops[home]
	res := make(chan bool, 1)
	if l := f.sio.loopAt(home); l == nil || l.Post(func() { res <- q(hl.sessions[sid]) }) != nil {
		return false
	}
	return <-res
}

// connect connects a polling session to "/" and takes the answer and the
// auth event.
func (c *client) connect() {
	c.t.Helper()
	c.post("40")
	var got []string
	for len(got) < 2 {
		_, body := c.get()
		got = append(got, strings.Split(body, "\x1e")...)
	}
	if !strings.HasPrefix(got[0], `40{"sid":"`) || got[1] != `42["auth",{}]` {
		c.t.Fatalf("after CONNECT: %q", got)
	}
}

// TestRooms: Socket.IO sockets on either transport subscribe to a topic
// with the hub's events, and get what a /ws client publishes, as the /ws
// subscriber does; a publish from Socket.IO reaches /ws.
func TestRooms(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	w := f.dialWS(t, "")
	w.read()
	w.send(gws.TextMessage, "40")
	w.read()
	w.expect(`42["auth",{}]`)
	w.send(gws.TextMessage, `421["subscribe",{"topic":"news"}]`)
	w.expect(`431[null]`)
	w.send(gws.TextMessage, `422["subscribe",{"topic":"not a topic"}]`)
	if _, p := w.read(); !strings.HasPrefix(p, `432[{"code":"invalid_topic"`) {
		t.Fatalf("got %q; want invalid_topic", p)
	}
	c := f.poller(t)
	c.handshake()
	c.connect()
	c.post(`423["subscribe",{"topic":"news"}]`)
	c.expect(`433[null]`)

	ws := enginetest.Dial(t, "ws://"+f.srv.PlainAddr().String()+pubsub.DefaultRoute, nil, nil)
	if err := ws.WriteMessage(gws.TextMessage, []byte(`{"op":"subscribe","topic":"news","id":1}`)); err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(wait))
	if _, b, err := ws.ReadMessage(); err != nil || string(b) != `{"op":"ack","id":1}` {
		t.Fatalf("/ws subscribe: %q %v", b, err)
	}
	if err := ws.WriteMessage(gws.TextMessage, []byte(`{"op":"publish","topic":"news","data":{"n":1}}`)); err != nil {
		t.Fatal(err)
	}
	want := `42["message",{"topic":"news","data":{"n":1}}]`
	w.expect(want)
	c.expect(want)
	w.send(gws.TextMessage, `424["publish",{"topic":"news","data":"from sio"}]`)
	w.expect(`434[null]`)
	w.expect(`42["message",{"topic":"news","data":"from sio"}]`)
	c.expect(`42["message",{"topic":"news","data":"from sio"}]`)
	if _, b, err := ws.ReadMessage(); err != nil || string(b) != `{"op":"message","topic":"news","data":{"n":1}}` {
		t.Fatalf("/ws: %q %v", b, err)
	}
	if _, b, err := ws.ReadMessage(); err != nil || string(b) != `{"op":"message","topic":"news","data":"from sio"}` {
		t.Fatalf("/ws: %q %v", b, err)
	}
}

// TestAuth: with the engine's auth, a CONNECT needs a token: refused
// without one (CONNECT_ERROR), accepted with one in the auth object.
func TestAuth(t *testing.T) {
	a, err := security.NewAuthenticator(security.AuthConfig{
		Secret: enginetest.Secret, Issuer: enginetest.Issuer, Audience: enginetest.Audience, Leeway: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, engine.Config{Auth: a}, Config{}, nil)
	w := f.dialWS(t, "")
	w.read()
	w.send(gws.TextMessage, "40")
	if _, p := w.read(); !strings.HasPrefix(p, `44{"message":"unauthorized: `) {
		t.Fatalf("got %q; want a CONNECT_ERROR", p)
	}
	tok := enginetest.Sign(t, jwt.MapClaims{"sub": "alice", "iss": enginetest.Issuer, "aud": enginetest.Audience, "exp": time.Now().Add(time.Hour).Unix()})
	w.send(gws.TextMessage, `40{"token":"`+tok+`"}`)
	if _, p := w.read(); !strings.HasPrefix(p, `40{"sid":"`) {
		t.Fatalf("got %q; want the CONNECT answer", p)
	}
}

// refusals returns the server's count of a refusal, once every loop has
// added what it counted (Tick, on the loop).
func (f *fixture) refusals(r int) uint64 {
	var wg sync.WaitGroup
	for i := range f.sio.loops {
		l := f.sio.loopAt(i)
		if l == nil {
			continue
		}
		wg.Add(1)
		if l.Post(func() { f.sio.Tick(l); wg.Done() }) != nil {
			wg.Done()
		}
	}
	wg.Wait()
	return f.sio.Refusals()[refusalNames[r]]
}

// TestSlowPollingConsumer: a polling client that lets more packets wait
// than MaxPackets loses its session, as a slow consumer; the others are
// not held up.
func TestSlowPollingConsumer(t *testing.T) {
	f := start(t, engine.Config{}, Config{MaxPackets: 8}, nil)
	slow, ok := f.poller(t), f.poller(t)
	for _, c := range []*client{slow, ok} {
		c.handshake()
		c.connect()
		c.post(`421["subscribe",{"topic":"t"}]`)
		c.expect(`431[null]`)
	}
	for i := range 9 {
		if err := f.hub.Publish("t", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
		ok.expect(`42["message",{"topic":"t","data":` + strconv.Itoa(i) + `}]`)
	}
	enginetest.WaitFor(t, "the slow session to end", func() bool { return !f.alive(slow.sid) })
	if n := f.refusals(refSlowConsumer); n != 1 {
		t.Errorf("slow consumers counted: %d; want 1", n)
	}
	if code, _ := slow.get(); code != 400 {
		t.Errorf("the slow client's poll: %d; want 400", code)
	}
}

// TestSessionsPerIP: with the engine's per-IP cap, an address holds as
// many polling sessions as it may hold connections: past that, a
// handshake gets 429; an ended session frees its place.
func TestSessionsPerIP(t *testing.T) {
	f := start(t, engine.Config{MaxConnsPerIP: 4}, Config{}, nil)
	c := f.poller(t)
	var sids []string
	for range 5 {
		code, body := c.do("GET", "&transport=polling", "")
		if code == 429 {
			break
		}
		sids = append(sids, parseOpen(t, body).SID)
	}
	if len(sids) != 4 {
		t.Fatalf("%d sessions before 429; want 4", len(sids))
	}
	if n := f.refusals(refPerIP); n != 1 {
		t.Errorf("per_ip refusals: %d; want 1", n)
	}
	c.sid = sids[0]
	c.post("1")
	if code, body := c.do("GET", "&transport=polling", ""); code != 200 {
		t.Fatalf("after a session ended: %d %q; want 200", code, body)
	}
}

// TestReload: the engine's Reload reaches the polling sessions: a new
// per-IP cap applies to the next handshake, new rates to the next packet
// of every session, those opened before included.
func TestReload(t *testing.T) {
	f := start(t, engine.Config{MaxConnsPerIP: 2}, Config{}, nil)
	c := f.poller(t)
	open := func() int {
		code, _ := c.do("GET", "&transport=polling", "")
		return code
	}
	first := c.handshake()
	c.post("40")
	if code := open(); code != 200 {
		t.Fatalf("a second session under a cap of 2: %d, want 200", code)
	}
	if code := open(); code != 429 {
		t.Fatalf("a third session under a cap of 2: %d, want 429", code)
	}
	live := f.srv.Live()
	live.MaxConnsPerIP = 3
	live.MessageRate = security.Rate{PerSecond: 1, Burst: 3}
	if err := f.srv.Reload(live); err != nil {
		t.Fatal(err)
	}
	if code := open(); code != 200 {
		t.Fatalf("a third session under a cap of 3: %d, want 200", code)
	}
	if code := open(); code != 429 {
		t.Fatalf("a fourth session under a cap of 3: %d, want 429", code)
	}
	c.sid = first.SID
	c.post(strings.Repeat("42[\"message\",\"x\"]\x1e", 4) + "42[\"message\",\"x\"]")
	if n := f.refusals(refRate); n != 1 {
		t.Errorf("rate refusals: %d; want 1", n)
	}
}

// TestSecondPoll: a second GET while one waits is refused, and ends the
// session; the waiting one gets a noop.
func TestSecondPoll(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	a := f.poller(t)
	a.handshake()
	a.connect()
	first := make(chan string, 1)
	go func() { _, body := a.get(); first <- body }()
	enginetest.WaitFor(t, "the poll waiting", func() bool { return f.waiting(a.sid) })
	b := f.poller(t)
	b.sid = a.sid
	if code, body := b.get(); code != 400 || body != errBadRequest {
		t.Fatalf("second GET: %d %q; want 400 %q", code, body, errBadRequest)
	}
	if body := <-first; body != "6" {
		t.Fatalf("the waiting GET got %q; want a noop", body)
	}
	if f.alive(a.sid) {
		t.Fatal("the session went on")
	}
}

// TestMaxPayload: a packet over MaxPayload ends a WebSocket session with
// 1009, and a polling body over it gets 413.
func TestMaxPayload(t *testing.T) {
	f := start(t, engine.Config{}, Config{MaxPayload: 100}, nil)
	w := f.dialWS(t, "")
	w.read()
	w.send(gws.TextMessage, `42["message","`+strings.Repeat("x", 100)+`"]`)
	_ = w.c.SetReadDeadline(time.Now().Add(wait))
	_, _, err := w.c.ReadMessage()
	if !gws.IsCloseError(err, gws.CloseMessageTooBig) {
		t.Fatalf("read after a large packet: %v; want close 1009", err)
	}
	c := f.poller(t)
	c.handshake()
	if code, _ := c.do("POST", "&transport=polling&sid="+c.sid, `42["message","`+strings.Repeat("x", 100)+`"]`); code != 413 {
		t.Fatalf("large POST: %d; want 413", code)
	}
}

// TestUpgradeAbandoned: a WebSocket that is accepted for an upgrade and
// goes before the upgrade is done leaves the session polling, and free to
// upgrade again.
func TestUpgradeAbandoned(t *testing.T) {
	f := start(t, engine.Config{}, Config{}, nil)
	c := f.poller(t)
	c.handshake()
	c.connect()
	w := f.dialWS(t, "&sid="+c.sid)
	w.send(gws.TextMessage, "2probe")
	w.expect("3probe")
	w.c.Close()
	enginetest.WaitFor(t, "the session polling again", func() bool {
		return f.onHome(c.sid, func(ss *session) bool { return ss != nil && ss.state == tPolling })
	})
	c.post(`421["message-with-ack","still polling"]`)
	c.expect(`431["still polling"]`)
	w2 := f.dialWS(t, "&sid="+c.sid)
	w2.send(gws.TextMessage, "2probe")
	w2.expect("3probe")
}

// TestTokenExpiry: a session whose token (from the CONNECT's auth object)
// expires is ended then, on the server's clock, and counted.
func TestTokenExpiry(t *testing.T) {
	a, err := security.NewAuthenticator(security.AuthConfig{
		Secret: enginetest.Secret, Issuer: enginetest.Issuer, Audience: enginetest.Audience, Leeway: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	start0 := time.Now()
	clk := enginetest.NewClock(start0)
	// No WebSocket pings: the client reads only when the test says.
	f := start(t, engine.Config{Auth: a, PingInterval: -1}, Config{PingInterval: time.Hour, PingTimeout: time.Hour}, clk)
	w := f.dialWS(t, "")
	w.read()
	tok := enginetest.Sign(t, jwt.MapClaims{"sub": "bob", "iss": enginetest.Issuer, "aud": enginetest.Audience, "exp": start0.Add(time.Minute).Unix()})
	w.send(gws.TextMessage, `40{"token":"`+tok+`"}`)
	if _, p := w.read(); !strings.HasPrefix(p, `40{"sid":"`) {
		t.Fatalf("got %q; want the CONNECT answer", p)
	}
	w.expect(`42["auth",{"token":"` + tok + `"}]`)
	clk.Advance(55 * time.Second)
	w.send(gws.TextMessage, `421["message-with-ack",1]`)
	w.expect(`431[1]`)            // still in force
	clk.Advance(10 * time.Second) // past exp and the leeway
	_ = w.c.SetReadDeadline(time.Now().Add(wait))
	if _, _, err := w.c.ReadMessage(); err == nil {
		t.Fatal("the session went on past its token's expiry")
	}
	if n := f.refusals(refTokenExpired); n != 1 {
		t.Errorf("token_expired refusals: %d; want 1", n)
	}
}

// TestSessionSize: what a WebSocket session costs beside its connection
// stays within its size classes: the session 256 bytes (polling sessions
// have the rest in a struct of their own), its connection's slot 32.
func TestSessionSize(t *testing.T) {
	if n := unsafe.Sizeof(session{}); n > 256 {
		t.Errorf("session is %d bytes; keep it within 256", n)
	}
	if n := unsafe.Sizeof(wsConn{}); n > 32 {
		t.Errorf("wsConn is %d bytes; keep it within 32", n)
	}
}
