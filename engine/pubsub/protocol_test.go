package pubsub

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

const psWait = enginetest.Wait

// startHub starts a server over ws:// on a loopback port with cfg (two
// loops, /echo, no logs unless cfg says otherwise) and a hub made with ps
// on /ws, and returns them and the server's host:port.
func startHub(t testing.TB, cfg engine.Config, ps Config) (*engine.Server, *Hub, string) {
	t.Helper()
	hub, err := New(ps)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ListenPlain = "127.0.0.1:0"
	cfg.Routes = map[string]engine.Handler{"/echo": engine.Echo{}, DefaultRoute: hub}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = enginetest.Logger()
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, srv)
	return srv, hub, srv.PlainAddr().String()
}

// waitRefusals waits until the server's refusals are exactly want.
func waitRefusals(t *testing.T, srv *engine.Server, want map[string]uint64) {
	t.Helper()
	enginetest.WaitFor(t, fmt.Sprint("refusals ", want), func() bool {
		for reason, n := range srv.Refusals() {
			if n != want[reason] {
				return false
			}
		}
		return true
	})
}

// psDial opens a pub/sub client on addr's /ws.
func psDial(t *testing.T, addr string, h http.Header) *gws.Conn {
	t.Helper()
	d := gws.Dialer{HandshakeTimeout: psWait}
	c, _, err := d.Dial("ws://"+addr+"/ws", h)
	if err != nil {
		t.Fatalf("dial /ws: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func psSend(t *testing.T, c *gws.Conn, req string) {
	t.Helper()
	if err := c.WriteMessage(gws.TextMessage, []byte(req)); err != nil {
		t.Fatalf("send %s: %v", req, err)
	}
}

// psRead reads the next message, which must be JSON, as a map.
func psRead(t *testing.T, c *gws.Conn) map[string]any {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(psWait))
	op, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if op != gws.TextMessage {
		t.Fatalf("a binary message: %q", p)
	}
	var m map[string]any
	if err := json.Unmarshal(p, &m); err != nil {
		t.Fatalf("not JSON: %q", p)
	}
	return m
}

// psExpect reads the next message and checks it is want (JSON, compared
// as values).
func psExpect(t *testing.T, c *gws.Conn, want string) {
	t.Helper()
	got := psRead(t, c)
	var w map[string]any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q", want)
	}
	if fmt.Sprint(got) != fmt.Sprint(w) {
		t.Fatalf("got %v\nwant %v", got, w)
	}
}

func TestPubSubProtocol(t *testing.T) {
	_, hub, addr := startHub(t, engine.Config{}, Config{AnonymousPublish: true, MaxSubscriptions: 2})
	sub := psDial(t, addr, nil)
	pub := psDial(t, addr, nil)

	psSend(t, sub, `{"op":"subscribe","topic":"news.sport","id":1}`)
	psExpect(t, sub, `{"op":"ack","id":1}`)
	psSend(t, sub, `{"op":"subscribe","topic":"news.sport","id":"again"}`) // a no-op that succeeds
	psExpect(t, sub, `{"op":"ack","id":"again"}`)

	psSend(t, pub, `{"op":"publish","topic":"news.sport","data":{"score":[1,2],"s":"a\"b"},"id":7}`)
	psExpect(t, pub, `{"op":"ack","id":7}`)
	psExpect(t, sub, `{"op":"message","topic":"news.sport","data":{"score":[1,2],"s":"a\"b"}}`)

	// Without an id: no ack, the message still goes.
	psSend(t, pub, `{"op":"publish","topic":"news.sport","data":42}`)
	psExpect(t, sub, `{"op":"message","topic":"news.sport","data":42}`)

	// Errors, each answered and the connection kept.
	for _, tc := range []struct{ req, want string }{
		{`{"op":"subscribe","topic":"a..b","id":2}`, `"invalid_topic"`},
		{`{"op":"publish","topic":"news.sport","id":3}`, `"invalid_request"`},
		{`{"op":"subscribe","topic":"x*","id":4}`, `"invalid_topic"`},
	} {
		psSend(t, sub, tc.req)
		m := psRead(t, sub)
		if m["op"] != "error" || fmt.Sprintf("%q", m["code"]) != tc.want || m["message"] == "" {
			t.Errorf("%s: %v; want error %s", tc.req, m, tc.want)
		}
	}
	psSend(t, sub, `{"op":"subscribe","topic":"b","id":5}`)
	psExpect(t, sub, `{"op":"ack","id":5}`)
	psSend(t, sub, `{"op":"subscribe","topic":"c","id":6}`) // a third: past MaxSubscriptions
	if m := psRead(t, sub); m["code"] != "too_many_subscriptions" || m["id"] != 6.0 {
		t.Errorf("third subscription: %v", m)
	}

	// Unsubscribed: nothing more comes. The publisher's next message to
	// another topic it subscribes to shows the order.
	psSend(t, sub, `{"op":"unsubscribe","topic":"news.sport","id":8}`)
	psExpect(t, sub, `{"op":"ack","id":8}`)
	psSend(t, pub, `{"op":"publish","topic":"news.sport","data":"gone"}`)
	psSend(t, pub, `{"op":"publish","topic":"b","data":"here"}`)
	psExpect(t, sub, `{"op":"message","topic":"b","data":"here"}`)

	// A request that is not of the protocol fails the route's validation.
	psSend(t, sub, `{"op":"shout","topic":"b"}`)
	enginetest.WantClose(t, sub, 1008, "schema: /properties/op: enum")
	sub.Close() // the server lingers until the client closes its side
	if waitTopics(t, hub, 0) {
		t.Errorf("%d topics left after the only subscriber closed", hub.Topics())
	}
}

// waitTopics waits until the hub has n topics; it reports whether it
// timed out.
func waitTopics(t *testing.T, hub *Hub, n int) bool {
	t.Helper()
	deadline := time.Now().Add(psWait)
	for hub.Topics() != n {
		if time.Now().After(deadline) {
			return true
		}
		time.Sleep(5 * time.Millisecond) // the close is handled on the loop
	}
	return false
}

// TestPubSubAnonymous: without auth, anonymous clients may subscribe, and
// publish only when the configuration says so; refusals are counted.
func TestPubSubAnonymous(t *testing.T) {
	srv, _, addr := startHub(t, engine.Config{}, Config{})
	c := psDial(t, addr, nil)
	psSend(t, c, `{"op":"subscribe","topic":"t","id":1}`)
	psExpect(t, c, `{"op":"ack","id":1}`)
	psSend(t, c, `{"op":"publish","topic":"t","data":1,"id":2}`)
	if m := psRead(t, c); m["code"] != "forbidden" || m["id"] != 2.0 ||
		m["message"] != "publishing needs --anonymous-publish on the server" {
		t.Fatalf("anonymous publish: %v", m)
	}
	waitRefusals(t, srv, map[string]uint64{"topic_forbidden": 1})
}

// TestPubSubTokenTopics: with auth, the token's topics claim decides.
func TestPubSubTokenTopics(t *testing.T) {
	srv, _, addr := startHub(t, engine.Config{Auth: testAuthenticator(t)}, Config{AnonymousPublish: true})
	claims := func(topics any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "u1", "iss": enginetest.Issuer, "aud": enginetest.Audience, "exp": time.Now().Add(time.Hour).Unix()}
		if topics != nil {
			c["topics"] = topics
		}
		return c
	}
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

	c := psDial(t, addr, bearer(enginetest.Sign(t, claims(map[string]any{"subscribe": []string{"news.*"}, "publish": []string{"chat.>"}}))))
	const (
		noSubscribe = "the token's topics claim does not allow subscribing to this topic"
		noPublish   = "the token's topics claim does not allow publishing to this topic"
	)
	for _, tc := range []struct{ req, want, message string }{
		{`{"op":"subscribe","topic":"news.a","id":1}`, "ack", ""},
		{`{"op":"subscribe","topic":"chat.a","id":2}`, "forbidden", noSubscribe},
		{`{"op":"subscribe","topic":"news.a.b","id":3}`, "forbidden", noSubscribe},
		{`{"op":"publish","topic":"chat.a.b","data":1,"id":4}`, "ack", ""},
		{`{"op":"publish","topic":"news.a","data":1,"id":5}`, "forbidden", noPublish},
	} {
		psSend(t, c, tc.req)
		m := psRead(t, c)
		if got := m["op"]; tc.want == "ack" && got != "ack" || tc.want != "ack" && (m["code"] != tc.want || m["message"] != tc.message) {
			t.Errorf("%s: %v; want %s %q", tc.req, m, tc.want, tc.message)
		}
	}
	// No claim: nothing allowed, AnonymousPublish notwithstanding.
	d := psDial(t, addr, bearer(enginetest.Sign(t, claims(nil))))
	psSend(t, d, `{"op":"subscribe","topic":"news.a","id":1}`)
	if m := psRead(t, d); m["code"] != "forbidden" || m["message"] != "the token has no topics claim, which subscribing needs" {
		t.Errorf("no claim: %v", m)
	}
	psSend(t, d, `{"op":"publish","topic":"news.a","data":1,"id":2}`)
	if m := psRead(t, d); m["code"] != "forbidden" || m["message"] != "the token has no topics claim, which publishing needs" {
		t.Errorf("no claim: %v", m)
	}
	waitRefusals(t, srv, map[string]uint64{"topic_forbidden": 5})
}

// TestPubSubFanOut: subscribers spread over the loops each get every
// message of several concurrent publishers exactly once, each publisher's
// in order; the library's Publish, from other goroutines, reaches them too.
func TestPubSubFanOut(t *testing.T) {
	_, hub, addr := startHub(t, engine.Config{Loops: 3}, Config{AnonymousPublish: true})
	const subscribers, publishers, each = 30, 4, 150
	subs := make([]*gws.Conn, subscribers)
	for i := range subs {
		subs[i] = psDial(t, addr, nil)
		psSend(t, subs[i], `{"op":"subscribe","topic":"room.1","id":1}`)
		psExpect(t, subs[i], `{"op":"ack","id":1}`)
	}
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Add(1)
		pc := psDial(t, addr, nil)
		go func() {
			defer wg.Done()
			for n := range each {
				if err := pc.WriteMessage(gws.TextMessage, fmt.Appendf(nil, `{"op":"publish","topic":"room.1","data":{"p":%d,"n":%d}}`, p, n)); err != nil {
					t.Errorf("publisher %d: %v", p, err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the library, from a goroutine of its own
		defer wg.Done()
		for n := range each {
			if err := hub.Publish("room.1", fmt.Appendf(nil, `{"p":%d,"n":%d}`, publishers, n)); err != nil {
				t.Errorf("Hub.Publish: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	readInOrder(t, subs, "room.1", publishers+1, each)
}

// readInOrder has each subscriber read sources × each messages on topic,
// whose data is {"p":source,"n":sequence}, and checks that each source's
// come in order and once; then, that nothing more came: the ack of an
// unsubscribe is the next thing each reads.
func readInOrder(t *testing.T, subs []*gws.Conn, topic string, sources, each int) {
	t.Helper()
	var rg sync.WaitGroup
	for i, c := range subs {
		rg.Add(1)
		go func() {
			defer rg.Done()
			next := make([]int, sources)
			for range sources * each {
				_ = c.SetReadDeadline(time.Now().Add(psWait))
				_, p, err := c.ReadMessage()
				if err != nil {
					t.Errorf("subscriber %d: %v after %v", i, err, next)
					return
				}
				var m struct {
					Op, Topic string
					Data      struct{ P, N int }
				}
				if err := json.Unmarshal(p, &m); err != nil || m.Op != "message" || m.Topic != topic || m.Data.P < 0 || m.Data.P >= sources {
					t.Errorf("subscriber %d: %q", i, p)
					return
				}
				if m.Data.N != next[m.Data.P] {
					t.Errorf("subscriber %d: source %d's message %d, want %d", i, m.Data.P, m.Data.N, next[m.Data.P])
					return
				}
				next[m.Data.P]++
			}
		}()
	}
	rg.Wait()
	if t.Failed() {
		return
	}
	for i, c := range subs {
		psSend(t, c, `{"op":"unsubscribe","topic":"`+topic+`","id":"end"}`)
		if m := psRead(t, c); m["op"] != "ack" {
			t.Fatalf("subscriber %d: %v after all the messages; want the ack", i, m)
		}
	}
}

// TestSlowSubscriber: a subscriber that stops reading holds at most
// MaxOutbound (and a message) of the server's memory; the others keep
// receiving; the policy fires and is counted.
func TestSlowSubscriber(t *testing.T) {
	for _, policy := range []engine.SlowPolicy{engine.SlowDrop, engine.SlowClose} {
		t.Run(map[engine.SlowPolicy]string{engine.SlowDrop: "drop", engine.SlowClose: "close"}[policy], func(t *testing.T) {
			const maxOut = 64 << 10
			srv, hub, addr := startHub(t, engine.Config{Loops: 1, MaxOutbound: maxOut, SlowConsumer: policy}, Config{})
			fast := psDial(t, addr, nil)
			// The slow one: a small receive buffer, and it stops reading
			// after its ack.
			d := gws.Dialer{HandshakeTimeout: psWait, NetDial: func(network, a string) (net.Conn, error) {
				nd := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
				}}
				return nd.Dial(network, a)
			}}
			slow, _, err := d.Dial("ws://"+addr+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer slow.Close()
			for _, c := range []*gws.Conn{fast, slow} {
				psSend(t, c, `{"op":"subscribe","topic":"feed","id":1}`)
				psExpect(t, c, `{"op":"ack","id":1}`)
			}
			data := fmt.Appendf(nil, `"%01000d"`, 0) // 1 KB strings
			const n = 8000                           // 8 MB in all, past the kernel's buffers (4 MB at most for a socket's sends here)
			// The fast one reads all; the publisher keeps at most 16
			// messages ahead of it, so that it never has much queued.
			read := make(chan struct{}, n)
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range n {
					_ = fast.SetReadDeadline(time.Now().Add(psWait))
					if _, _, err := fast.ReadMessage(); err != nil {
						t.Errorf("the fast subscriber: %v", err)
						return
					}
					read <- struct{}{}
				}
			}()
			for i := range n {
				if i >= 16 {
					select {
					case <-read:
					case <-done:
						t.Fatalf("the fast subscriber stopped after %d messages", i-16)
					}
				}
				if err := hub.Publish("feed", data); err != nil {
					t.Fatal(err)
				}
			}
			<-done
			// What the server holds for the slow one, after every message
			// was handed to it (the fast one has read all of its own).
			queued := srv.Memory().Outbound
			if queued > maxOut+int64(len(data))+64 {
				t.Errorf("%d bytes queued for the slow subscriber; the limit is %d and a message", queued, maxOut)
			}
			switch policy {
			case engine.SlowDrop:
				waitRefusalsAtLeast(t, srv, "slow_consumer_drop", 1)
				if r := srv.Refusals(); r["slow_consumer"] != 0 {
					t.Error("the slow subscriber was closed under the drop policy")
				}
			case engine.SlowClose:
				waitRefusalsAtLeast(t, srv, "slow_consumer", 1)
				if r := srv.Refusals(); r["slow_consumer"] != 1 {
					t.Errorf("%d slow consumers closed, want 1", r["slow_consumer"])
				}
			}
		})
	}
}

// waitRefusalsAtLeast waits until the server has counted at least n
// refusals for reason.
func waitRefusalsAtLeast(t *testing.T, srv *engine.Server, reason string, n uint64) {
	t.Helper()
	deadline := time.Now().Add(psWait)
	for srv.Refusals()[reason] < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d %s refusals, want at least %d", srv.Refusals()[reason], reason, n)
		}
		time.Sleep(10 * time.Millisecond) // loops add theirs each tick
	}
}

// TestPubSubMetrics: a publication from a client and one from the library
// move the pub/sub series by exactly what they did.
func TestPubSubMetrics(t *testing.T) {
	srv, hub, addr := startHub(t, engine.Config{Metrics: metrics.NewSet()}, Config{AnonymousPublish: true})
	admin := httptest.NewServer(srv.AdminHandler(engine.AdminOptions{}))
	defer admin.Close()
	before := enginetest.Scrape(t, admin.URL)
	const subscribers = 3
	for range subscribers {
		c := psDial(t, addr, nil)
		psSend(t, c, `{"op":"subscribe","topic":"t","id":1}`)
		psExpect(t, c, `{"op":"ack","id":1}`)
		defer func() {
			psExpect(t, c, `{"op":"message","topic":"t","data":1}`)
			psExpect(t, c, `{"op":"message","topic":"t","data":2}`)
		}()
	}
	pub := psDial(t, addr, nil)
	psSend(t, pub, `{"op":"publish","topic":"t","data":1,"id":1}`)
	psExpect(t, pub, `{"op":"ack","id":1}`)
	if err := hub.Publish("t", []byte("2")); err != nil {
		t.Fatal(err)
	}
	hub.mu.RLock()
	loops := len(hub.topics["t"].loops)
	hub.mu.RUnlock()
	// Both publications have been written once every loop with
	// subscribers has run a task posted after them: the scrape posts one
	// to each loop (Server.FlushMetrics) and waits for it.
	after := enginetest.Scrape(t, admin.URL)
	for name, want := range map[string]float64{
		"wssd_pubsub_published_total": 2,
		"wssd_pubsub_delivered_total": 2 * subscribers,
		"wssd_pubsub_fanout_seconds":  float64(2 * loops),
	} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
	if after["wssd_pubsub_topics"] != 1 {
		t.Errorf("wssd_pubsub_topics = %v, want 1", after["wssd_pubsub_topics"])
	}
}

// testAuthenticator verifies the tests' tokens (enginetest.Sign).
func testAuthenticator(t *testing.T) *security.Authenticator {
	t.Helper()
	a, err := security.NewAuthenticator(security.AuthConfig{
		Secret: enginetest.Secret, Issuer: enginetest.Issuer, Audience: enginetest.Audience, Leeway: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}
