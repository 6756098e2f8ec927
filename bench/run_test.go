package bench

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// countingEcho echoes and counts what the server saw.
type countingEcho struct {
	opened, closed, msgs atomic.Int64
	closes               chan struct{} // a nudge on each close; made by waitClosed
	once                 sync.Once
}

func (h *countingEcho) OnOpen(*engine.Conn) { h.opened.Add(1) }
func (h *countingEcho) OnMessage(c *engine.Conn, op codec.OpCode, p []byte) {
	h.msgs.Add(1)
	_ = c.Write(op, p)
}
func (h *countingEcho) OnClose(*engine.Conn, codec.StatusCode, string) {
	h.closed.Add(1)
	select {
	case h.nudges() <- struct{}{}:
	default:
	}
}

func (h *countingEcho) nudges() chan struct{} {
	h.once.Do(func() { h.closes = make(chan struct{}, 1) })
	return h.closes
}

// waitClosed waits until the server has seen n connections close (it sees
// the last closes after a run returns), or 10 s.
func (h *countingEcho) waitClosed(t *testing.T, n int64) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for h.closed.Load() < n {
		select {
		case <-h.nudges():
		case <-timeout:
			t.Fatalf("the server saw %d connections close, want %d", h.closed.Load(), n)
		}
	}
}

// startWssd starts a wssd engine with h on /echo, over ws:// or wss://, and
// returns its URL and the CA file clients must trust.
func startWssd(t *testing.T, cfg engine.Config, h engine.Handler, secure bool) (url, ca string) {
	t.Helper()
	cfg.Routes = map[string]engine.Handler{"/echo": h}
	_, base, ca := launchWssd(t, cfg, secure)
	return base + "/echo", ca
}

// launchWssd starts a wssd engine with cfg (two loops, no logs) over ws://
// or wss:// (a development certificate), stopped when the test ends, and
// returns it, its URL without a path, and the CA file clients must trust.
func launchWssd(t *testing.T, cfg engine.Config, secure bool) (srv *engine.Server, base, ca string) {
	t.Helper()
	cfg.Loops = 2
	cfg.Logger = enginetest.Logger()
	if secure {
		files, _, err := security.DevCertificates(t.TempDir(), []string{"localhost", "127.0.0.1"})
		if err != nil {
			t.Fatal(err)
		}
		cert, err := security.LoadCertificate(files.Cert, files.Key)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Listen, cfg.TLS, ca = "127.0.0.1:0", security.ServerTLS(cert, nil), files.CA
	} else {
		cfg.ListenPlain = "127.0.0.1:0"
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, srv)
	if secure {
		return srv, "wss://localhost:" + port(srv.TLSAddr()), ca
	}
	return srv, "ws://127.0.0.1:" + port(srv.PlainAddr()), ""
}

func port(a net.Addr) string {
	_, p, _ := net.SplitHostPort(a.String())
	return p
}

func mustTarget(t *testing.T, url, ca string) *Target {
	t.Helper()
	tg, err := NewTarget(url, TargetOptions{CAFile: ca})
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// TestEchoCountsMatchServer: over ws:// and wss://, the connections and
// messages the tool reports are the ones the server saw.
func TestEchoCountsMatchServer(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[secure], func(t *testing.T) {
			h := &countingEcho{}
			url, ca := startWssd(t, engine.Config{}, h, secure)
			rep, err := Run(context.Background(), Config{
				Scenario: Echo, Target: mustTarget(t, url, ca), Conns: 20, Duration: 500 * time.Millisecond,
				Size: 64, Inflight: 2, Loops: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Established != 20 || rep.Failed != 0 || h.opened.Load() != 20 {
				t.Fatalf("established %d, failed %d (errors %v); the server saw %d", rep.Established, rep.Failed, rep.Errors, h.opened.Load())
			}
			if rep.Sent == 0 || rep.Sent != rep.Received || int64(rep.Received) != h.msgs.Load() {
				t.Fatalf("sent %d, received %d; the server echoed %d", rep.Sent, rep.Received, h.msgs.Load())
			}
			if rep.Latency.Count() != rep.Received || rep.Handshake.Count() != 20 || rep.Connect.Count() != 20 {
				t.Fatalf("histograms: latency %d, handshake %d, connect %d samples", rep.Latency.Count(), rep.Handshake.Count(), rep.Connect.Count())
			}
			h.waitClosed(t, 20)
			if h.closed.Load() != 20 {
				t.Errorf("the server saw %d connections close, want 20", h.closed.Load())
			}
		})
	}
}

// TestHandshakeScenario: the handshake scenario opens and closes
// connections for its duration; every one it counts the server saw open
// and close, each TLS handshake is timed, and with resumption the
// reconnects resume their session (the first ones, made before any
// session ticket came, cannot).
func TestHandshakeScenario(t *testing.T) {
	for _, resume := range []bool{false, true} {
		t.Run(map[bool]string{false: "full", true: "resume"}[resume], func(t *testing.T) {
			h := &countingEcho{}
			url, ca := startWssd(t, engine.Config{}, h, true)
			tg, err := NewTarget(url, TargetOptions{CAFile: ca, Resume: resume})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Run(context.Background(), Config{
				Scenario: Handshake, Target: tg, Duration: 700 * time.Millisecond, Concurrency: 4, Loops: 2,
			})
			if err != nil {
				t.Fatal(err)
			}
			n := rep.Established
			if n < 5 || rep.Failed != 0 || rep.Attempted != n || rep.Dropped != 0 {
				t.Fatalf("attempted %d, established %d, failed %d (%v), dropped %d", rep.Attempted, n, rep.Failed, rep.Errors, rep.Dropped)
			}
			if rep.Closed != n || rep.TLS.Count() != n || rep.Handshake.Count() != n || rep.Connect.Count() != n {
				t.Fatalf("closed %d, tls %d, handshake %d, connect %d; want %d each",
					rep.Closed, rep.TLS.Count(), rep.Handshake.Count(), rep.Connect.Count(), n)
			}
			h.waitClosed(t, int64(n))
			if h.opened.Load() != int64(n) || h.closed.Load() != int64(n) {
				t.Fatalf("the server saw %d open and %d close; the tool counted %d", h.opened.Load(), h.closed.Load(), n)
			}
			if resume && (rep.Resumed == 0 || rep.Resumed >= n) {
				t.Fatalf("%d of %d handshakes resumed; want all but the first few", rep.Resumed, n)
			}
			if !resume && rep.Resumed != 0 {
				t.Fatalf("%d handshakes resumed without a session cache", rep.Resumed)
			}
			if got := rep.handshakeRate(); got != float64(n)/rep.Elapsed.Seconds() || got <= 0 {
				t.Fatalf("handshake rate %v", got)
			}
		})
	}
}

// TestChurnScenario: connections leave at the churn rate and each is
// replaced, so every connection the tool closed was opened again and the
// server saw exactly the connections counted.
func TestChurnScenario(t *testing.T) {
	h := &countingEcho{}
	url, _ := startWssd(t, engine.Config{}, h, false)
	const conns = 20
	rep, err := Run(context.Background(), Config{
		Scenario: Churn, Target: mustTarget(t, url, ""), Conns: conns, ChurnRate: 100,
		Duration: 600 * time.Millisecond, Loops: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Closed < 10 || rep.Failed != 0 || rep.Dropped != 0 {
		t.Fatalf("closed %d, failed %d (%v), dropped %d; want about 60 closed at 100/s for 0.6 s",
			rep.Closed, rep.Failed, rep.Errors, rep.Dropped)
	}
	if rep.Established != conns+rep.Closed || rep.Attempted != rep.Established {
		t.Fatalf("established %d of %d attempted; want the %d and one per close (%d)", rep.Established, rep.Attempted, conns, rep.Closed)
	}
	h.waitClosed(t, int64(rep.Established))
	if h.opened.Load() != int64(rep.Established) || h.closed.Load() != int64(rep.Established) {
		t.Fatalf("the server saw %d open and %d close; the tool counted %d", h.opened.Load(), h.closed.Load(), rep.Established)
	}
}

// TestConnectRefused: connections the server refuses are counted as failed,
// by reason, and the others as established.
func TestConnectRefused(t *testing.T) {
	h := &countingEcho{}
	url, _ := startWssd(t, engine.Config{Origins: mustOrigins(t, "https://ok.example")}, h, false)
	tg, err := NewTarget(url, TargetOptions{Origin: "https://evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), Config{Scenario: Connect, Target: tg, Conns: 7, Hold: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 0 || rep.Failed != 7 || rep.Errors["upgrade: status 403"] != 7 {
		t.Fatalf("established %d, failed %d, errors %v; want 7 refused with 403", rep.Established, rep.Failed, rep.Errors)
	}
	rep, err = Run(context.Background(), Config{Scenario: Connect, Target: mustTarget(t, url, ""), Conns: 7, Hold: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 7 || rep.Failed != 0 {
		t.Fatalf("established %d, failed %d (%v); want 7", rep.Established, rep.Failed, rep.Errors)
	}
}

func mustOrigins(t *testing.T, o ...string) *security.Origins {
	t.Helper()
	origins, err := security.ParseOrigins(o)
	if err != nil {
		t.Fatal(err)
	}
	return origins
}

// gorillaEcho is an echo server of another make: a goroutine per
// connection on net/http. It stalls every message for stall while stalled
// is set.
type gorillaEcho struct {
	stalled atomic.Bool
	stall   time.Duration
	msgs    atomic.Int64
}

func (g *gorillaEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := gws.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if g.stalled.Load() {
			time.Sleep(g.stall) // the server pausing: what open loop must see
		}
		g.msgs.Add(1)
		if c.WriteMessage(op, p) != nil {
			return
		}
	}
}

func startGorilla(t *testing.T, g *gorillaEcho) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: g}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return "ws://" + ln.Addr().String() + "/echo"
}

// TestOtherServer: the scenarios run against a gorilla/websocket server as
// they do against wssd.
func TestOtherServer(t *testing.T) {
	g := &gorillaEcho{}
	url := startGorilla(t, g)
	rep, err := Run(context.Background(), Config{Scenario: Echo, Target: mustTarget(t, url, ""), Conns: 10, Duration: 300 * time.Millisecond, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 10 || rep.Received == 0 || int64(rep.Received) != g.msgs.Load() {
		t.Fatalf("established %d, received %d; the server echoed %d", rep.Established, rep.Received, g.msgs.Load())
	}
	rep, err = Run(context.Background(), Config{Scenario: Connect, Target: mustTarget(t, url, ""), Conns: 10, Hold: 100 * time.Millisecond})
	if err != nil || rep.Established != 10 {
		t.Fatalf("connect: %d established, %v", rep.Established, err)
	}
}

// TestOpenLoopSeesStall: in open loop, a server that stalls shows in the
// latency of every message meant to be sent during the stall, not only in
// the few that were in flight.
func TestOpenLoopSeesStall(t *testing.T) {
	const stall = 300 * time.Millisecond
	g := &gorillaEcho{stall: stall}
	url := startGorilla(t, g)
	var once sync.Once
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		// Stall the server for a while once the run is under way.
		time.Sleep(400 * time.Millisecond)
		once.Do(func() { g.stalled.Store(true) })
		time.Sleep(stall)
		g.stalled.Store(false)
	}()
	rep, err := Run(ctx, Config{Scenario: Echo, Target: mustTarget(t, url, ""), Conns: 1, Duration: 1500 * time.Millisecond, Size: 16, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	slow := uint64(0)
	rep.Latency.Buckets(func(upper time.Duration, n uint64) {
		if upper >= stall/3 {
			slow += n
		}
	})
	// At 200 messages a second, the messages meant for the first third of
	// the stall and more wait a third of it or longer.
	if slow < 15 {
		t.Fatalf("%d messages with latency over %v in open loop (max %v, p99 %v); want the stall recorded",
			slow, stall/3, rep.Latency.Max(), rep.Latency.Quantile(0.99))
	}
	if rep.Latency.Max() < stall/2 {
		t.Fatalf("max latency %v, want the stall (%v) in it", rep.Latency.Max(), stall)
	}
	if !strings.Contains(rep.SummaryLine(), "p99_us=") {
		t.Fatalf("summary %q", rep.SummaryLine())
	}
}
