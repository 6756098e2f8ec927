package bench

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/engine/socketio/packet"
)

// sioServer is a Socket.IO server of the least that the socketio scenario
// needs, on /socket.io/: Engine.IO v4 over WebSocket and over polling
// (no upgrade from one to the other), a ping every pingInterval, the main
// namespace (an auth of {"token":"refuse"} is refused), and an ack of
// "message-with-ack" with its arguments. It answers what it does not
// know with a close. TestSocketIONode runs the scenario against the
// reference server.
type sioServer struct {
	pingInterval time.Duration
	connects     atomic.Int64 // CONNECTs answered
	events       atomic.Int64 // events acknowledged
	pongs        atomic.Int64
	closes       atomic.Int64 // close packets and WebSocket closes

	quit     chan struct{} // closed when the test ends
	mu       sync.Mutex
	sessions map[string]*sioPollSession
	nextSID  int
}

// sioPollSession is a polling session's queue of packets for the next
// poll.
type sioPollSession struct {
	mu    sync.Mutex
	out   []byte
	ready chan struct{} // something in out
	done  chan struct{} // closed: the session is over
	once  sync.Once
}

func (s *sioPollSession) queue(p []byte) {
	s.mu.Lock()
	s.out = packet.AppendPayload(s.out, packet.Packet{Type: packet.Type(p[0]), Data: p[1:]})
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// handshake is the open packet of a new session.
func (s *sioServer) handshake() (sid string, open []byte) {
	s.mu.Lock()
	s.nextSID++
	sid = "s" + strconv.Itoa(s.nextSID)
	s.mu.Unlock()
	open = append(open, byte(packet.Open))
	open = packet.AppendHandshake(open, packet.Handshake{SID: sid, PingInterval: s.pingInterval,
		PingTimeout: 2 * time.Second, MaxPayload: 1e6})
	return sid, open
}

// answer is what the server says to a client's packet: replies, and
// whether the session ends.
func (s *sioServer) answer(p packet.Packet, jp *fastjson.Parser) (replies [][]byte, end bool) {
	switch p.Type {
	case packet.Pong:
		s.pongs.Add(1)
		return nil, false
	case packet.Close:
		s.closes.Add(1)
		return nil, true
	case packet.Message:
	default:
		return nil, true
	}
	sp, v, err := packet.ParseSocket(p.Data, packet.DefaultMaxAttachments, jp)
	if err != nil || string(sp.Namespace) != "/" {
		return nil, true
	}
	switch sp.Type {
	case packet.Connect:
		if v != nil && string(v.GetStringBytes("token")) == "refuse" {
			return [][]byte{[]byte(`44{"message":"Not authorized"}`)}, false
		}
		s.connects.Add(1)
		return [][]byte{[]byte(`40{"sid":"x"}`), []byte(`42["auth",{}]`)}, false
	case packet.Event:
		if string(v.GetArray()[0].GetStringBytes()) != DefaultEvent || sp.ID < 0 {
			return nil, false
		}
		s.events.Add(1)
		return [][]byte{packet.AppendAck([]byte("4"), nil, sp.ID, 0, sp.Args())}, false
	}
	return nil, true
}

func (s *sioServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if r.URL.Path != "/socket.io/" || q.Get("EIO") != "4" {
		http.Error(w, "no", http.StatusBadRequest)
		return
	}
	switch q.Get("transport") {
	case "websocket":
		s.serveWebSocket(w, r)
	case "polling":
		s.servePolling(w, r, q.Get("sid"))
	default:
		http.Error(w, "no", http.StatusBadRequest)
	}
}

func (s *sioServer) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	up := gws.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	var wmu sync.Mutex
	write := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return c.WriteMessage(gws.TextMessage, b)
	}
	_, open := s.handshake()
	if write(open) != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(s.pingInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = write([]byte{byte(packet.Ping)})
			case <-done:
				return
			}
		}
	}()
	var jp fastjson.Parser
	for {
		op, m, err := c.ReadMessage()
		if err != nil {
			s.closes.Add(1)
			return
		}
		p, err := packet.ParseText(m)
		if op != gws.TextMessage || err != nil {
			return
		}
		replies, end := s.answer(p, &jp)
		for _, b := range replies {
			if write(b) != nil {
				return
			}
		}
		if end {
			return
		}
	}
}

func (s *sioServer) servePolling(w http.ResponseWriter, r *http.Request, sid string) {
	if sid == "" && r.Method == http.MethodGet {
		sid, open := s.handshake()
		ps := &sioPollSession{ready: make(chan struct{}, 1), done: make(chan struct{})}
		s.mu.Lock()
		s.sessions[sid] = ps
		s.mu.Unlock()
		go func() {
			t := time.NewTicker(s.pingInterval)
			defer t.Stop()
			for {
				select {
				case <-t.C:
					ps.queue([]byte{byte(packet.Ping)})
				case <-ps.done:
					return
				case <-s.quit:
					return
				}
			}
		}()
		_, _ = w.Write(open)
		return
	}
	s.mu.Lock()
	ps := s.sessions[sid]
	s.mu.Unlock()
	if ps == nil {
		http.Error(w, "unknown sid", http.StatusBadRequest)
		return
	}
	end := func() { ps.once.Do(func() { close(ps.done) }) }
	switch r.Method {
	case http.MethodPost:
		var body []byte
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			body = append(body, buf[:n]...)
			if err != nil {
				break
			}
		}
		var jp fastjson.Parser
		_, err := packet.SplitPayload(body, nil, 1000, func(p packet.Packet) error {
			replies, stop := s.answer(p, &jp)
			for _, b := range replies {
				ps.queue(b)
			}
			if stop {
				end()
			}
			return nil
		})
		if err != nil {
			end()
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("ok"))
	case http.MethodGet:
		for {
			ps.mu.Lock()
			out := ps.out
			ps.out = nil
			ps.mu.Unlock()
			if len(out) > 0 {
				_, _ = w.Write(out)
				return
			}
			select {
			case <-ps.ready:
			case <-ps.done:
				_, _ = w.Write([]byte{byte(packet.Noop)})
				return
			}
		}
	}
}

// startSIO starts s and is its URL.
func startSIO(t *testing.T, s *sioServer) string {
	t.Helper()
	s.sessions = map[string]*sioPollSession{}
	s.quit = make(chan struct{})
	t.Cleanup(func() { close(s.quit) })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/socket.io/"
}

// TestSocketIO: on both transports, sessions open, join, emit events
// whose acks come back, answer the pings (none is dropped), and close;
// the counts are the server's.
func TestSocketIO(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		for _, rate := range []float64{0, 400} {
			t.Run(transport+"/rate "+strconv.Itoa(int(rate)), func(t *testing.T) {
				s := &sioServer{pingInterval: 50 * time.Millisecond}
				url := startSIO(t, s)
				const sessions = 8
				rep, err := Run(context.Background(), Config{
					Scenario: SocketIO, Target: mustTarget(t, url, ""), Conns: sessions, Duration: 400 * time.Millisecond,
					Size: 40, Inflight: 2, Rate: rate, Loops: 2, Transport: transport,
				})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Established != sessions || rep.Failed != 0 || rep.Dropped != 0 || len(rep.Errors) != 0 {
					t.Fatalf("established %d, failed %d, dropped %d, errors %v", rep.Established, rep.Failed, rep.Dropped, rep.Errors)
				}
				if rep.Sent == 0 || rep.Received != rep.Sent || int64(rep.Received) != s.events.Load() || rep.Latency.Count() != rep.Received {
					t.Fatalf("sent %d, acked %d (latency %d); the server acknowledged %d", rep.Sent, rep.Received, rep.Latency.Count(), s.events.Load())
				}
				if rate > 0 && (rep.Sent < 100 || rep.Sent > 200) {
					t.Fatalf("sent %d at 400 a second for 0.4 s", rep.Sent)
				}
				if s.connects.Load() != sessions || rep.Handshake.Count() != sessions || rep.Subscribe.Count() != sessions {
					t.Fatalf("joins: the server answered %d; handshake %d, join %d", s.connects.Load(), rep.Handshake.Count(), rep.Subscribe.Count())
				}
				if s.pongs.Load() < sessions {
					t.Fatalf("%d pongs to pings every 50 ms over 0.4 s", s.pongs.Load())
				}
				deadline := time.Now().Add(5 * time.Second)
				for s.closes.Load() < sessions && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if s.closes.Load() != sessions {
					t.Fatalf("the server saw %d sessions close, want %d", s.closes.Load(), sessions)
				}
			})
		}
	}
}

// TestSocketIORefused: a CONNECT_ERROR fails its session, with its
// message as the reason.
func TestSocketIORefused(t *testing.T) {
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			url := startSIO(t, &sioServer{pingInterval: time.Second})
			rep, err := Run(context.Background(), Config{
				Scenario: SocketIO, Target: mustTarget(t, url, ""), Conns: 3, Duration: 100 * time.Millisecond,
				Loops: 2, Transport: transport, Auth: `{"token":"refuse"}`,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Established != 0 || rep.Failed != 3 || rep.Errors["socketio: connect_error: Not authorized"] != 3 {
				t.Fatalf("established %d, failed %d, errors %v", rep.Established, rep.Failed, rep.Errors)
			}
		})
	}
}

// TestSIOHandle: what a session makes of the server's packets.
func TestSIOHandle(t *testing.T) {
	open := `0{"sid":"a","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}`
	type step struct {
		wire   string
		action sioAction
		reason string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"join and ack", []step{{open, sioConnect, ""}, {"2", sioPong, ""}, {`42["auth",{}]`, sioNothing, ""},
			{`40{"sid":"x"}`, sioJoined, ""}, {`430["x"]`, sioAcked, ""}, {`430["x"]`, sioStray, "socketio: an ack of no event"},
			{`40{"sid":"x"}`, sioStray, "socketio: a CONNECT answered twice"}, {"6", sioNothing, ""}, {"3", sioNothing, ""},
			{"41", sioEnded, "socketio: disconnected by the server"}}},
		{"message first", []step{{`40{"sid":"x"}`, sioBroken, "socketio: a message before the open packet"}}},
		{"bad open", []step{{`0{"sid":""}`, sioBroken, "socketio: packet: bad handshake data"}}},
		{"two opens", []step{{open, sioConnect, ""}, {open, sioBroken, "socketio: a second open packet"}}},
		{"refused", []step{{open, sioConnect, ""}, {`44{"message":"Not authorized"}`, sioRefused, "socketio: connect_error: Not authorized"}}},
		{"refused, long", []step{{open, sioConnect, ""}, {`44{"message":"` + strings.Repeat("a", 65) + `"}`, sioRefused, "socketio: connect_error: ?"}}},
		{"refused, no message", []step{{open, sioConnect, ""}, {`44{}`, sioRefused, "socketio: connect_error: ?"}}},
		{"another namespace", []step{{open, sioConnect, ""}, {`40/other,{"sid":"x"}`, sioNothing, ""}, {`44/other,{"message":"m"}`, sioNothing, ""}}},
		{"bad packet", []step{{open, sioConnect, ""}, {`49`, sioBroken, "socketio: packet: unknown packet type"}}},
		{"closed", []step{{open, sioConnect, ""}, {"1", sioEnded, "socketio: closed by the server"}}},
	} {
		var s sioSession
		var jp fastjson.Parser
		for _, st := range tc.steps {
			if st.wire == `430["x"]` && len(s.pending) == 0 && st.action == sioAcked {
				s.emit(7)
			}
			p, err := packet.ParseText([]byte(st.wire))
			if err != nil {
				t.Fatal(err)
			}
			a, at, reason := s.handle(p, []byte("/"), &jp)
			if a != st.action || reason != st.reason || a == sioAcked && at != 7 {
				t.Errorf("%s: %s: %v %d %q; want %v %q", tc.name, st.wire, a, at, reason, st.action, st.reason)
			}
		}
	}
	var s sioSession
	s.phase = sioReady
	if a, _, _ := s.handle(packet.Packet{Type: packet.Message, Data: []byte{1, 2}, Binary: true}, []byte("/"), nil); a != sioNothing {
		t.Errorf("a binary message: %v", a)
	}
}

// TestSocketIOConfig: what Run refuses of a socketio run, and the
// defaults it fills in.
func TestSocketIOConfig(t *testing.T) {
	tg := mustTarget(t, "https://localhost/socket.io/", "")
	for _, c := range []Config{
		{Transport: "sse"},
		{Namespace: "admin"},
		{Namespace: "/a,b"},
		{Event: "disconnect"},
		{Auth: `"token"`},
		{Auth: `{"token":}`},
		{Auth: `{} {}`},
	} {
		c.Scenario, c.Target, c.Conns = SocketIO, tg, 1
		if _, err := c.checked(); err == nil {
			t.Errorf("%+v is taken", c)
		}
	}
	c, err := Config{Scenario: SocketIO, Target: tg, Conns: 1, Auth: ` {"token":"t"} `}.checked()
	if err != nil || c.Transport != "websocket" || c.Namespace != "/" || c.Event != DefaultEvent || c.Auth != `{"token":"t"}` {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	if _, err := (Config{Scenario: Echo, Target: tg, Conns: 1}).checked(); err == nil {
		t.Error("an echo run on an https:// URL is taken")
	}
	for _, c := range []struct{ url, transport, want string }{
		{"https://h:8443/socket.io/", "websocket", "wss://h:8443/socket.io/?EIO=4&transport=websocket"},
		{"wss://h", "polling", "https://h/socket.io/?EIO=4&transport=polling"},
		{"ws://h/", "websocket", "ws://h/socket.io/?EIO=4&transport=websocket"},
		{"http://h/custom/path/?x=1", "polling", "http://h/custom/path/?EIO=4&transport=polling&x=1"},
	} {
		if got := mustTarget(t, c.url, "").socketIO(c.transport).URL.String(); got != c.want {
			t.Errorf("%s over %s: %s; want %s", c.url, c.transport, got, c.want)
		}
	}
}
