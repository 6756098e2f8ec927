package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
)

// Deadlines run on a clock the tests move (enginetest.Clock): each test
// checks that a deadline has not fired a tick before it is due and has
// fired a few ticks after (its documented bound is two), with no real
// time spent waiting for either. The wheel's own bounds are tested
// against a model in wheel_test.go.

// clocked returns cfg with a clock the test moves, and the clock.
func clocked(cfg Config) (Config, *enginetest.Clock) {
	clk := enginetest.NewClock(time.Now())
	cfg.Clock = clk
	return cfg, clk
}

// settle returns once every loop has run what the clock's ticks so far
// set going.
func settle(srv *Server) { srv.onEachLoop(func(*Loop) {}) }

// before moves the clock to a tick before a deadline that is d away, and
// checks that the deadline has not fired; after moves it a few ticks past
// the deadline.
func before(t *testing.T, srv *Server, clk *enginetest.Clock, d time.Duration, what string, fired func(Expiries) bool) {
	t.Helper()
	clk.Advance(d - tick)
	settle(srv)
	if e := srv.Expiries(); fired(e) {
		t.Fatalf("%s a tick before it was due: %+v", what, e)
	}
}

func after(clk *enginetest.Clock) { clk.Advance(3 * tick) }

// onLoops waits until the server holds n connections on its loops.
func onLoops(t *testing.T, srv *Server, n int64) {
	t.Helper()
	enginetest.WaitFor(t, fmt.Sprintf("%d connections on the loops", n), func() bool { return srv.Active() == n })
}

// waitClosed reads from nc until the server closes it and returns when
// that was seen. Data from the server is an error.
func waitClosed(t *testing.T, nc net.Conn) time.Time {
	t.Helper()
	_ = nc.SetReadDeadline(time.Now().Add(confWait))
	var b [64]byte
	n, err := nc.Read(b[:])
	at := time.Now()
	if n > 0 {
		t.Fatalf("server sent %q; want it to close the connection", b[:n])
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read: %v; want the server to close the connection", err)
	}
	return at
}

func checkExpiries(t *testing.T, srv *Server, want Expiries) {
	t.Helper()
	if got := srv.Expiries(); got != want {
		t.Errorf("expiries %+v; want %+v", got, want)
	}
}

// TestHandshakeDeadline: a client that stops after half a request line is
// closed once HandshakeTimeout has passed since it connected, TLS
// handshake included; so is one that never starts its TLS handshake.
func TestHandshakeDeadline(t *testing.T) {
	t.Parallel()
	const d = 2 * time.Second
	cfg, clk := clocked(Config{HandshakeTimeout: d})
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		nc := confConnect(t, addr, 0)
		if _, err := io.WriteString(nc, "GET /ec"); err != nil {
			t.Fatal(err)
		}
		onLoops(t, srv, 1)
		before(t, srv, clk, d, "handshake deadline", func(e Expiries) bool { return e.Handshake > 0 })
		after(clk)
		waitClosed(t, nc)
		want := Expiries{Handshake: 1}
		if addr.tls != nil {
			nc, err := net.Dial("tcp", addr.hostport)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			enginetest.WaitFor(t, "the silent client's handshake deadline", func() bool {
				srv.hsMu.Lock()
				defer srv.hsMu.Unlock()
				return srv.hsWheel.armed == 1
			})
			before(t, srv, clk, d, "TLS handshake deadline", func(e Expiries) bool { return e.Handshake > 1 })
			after(clk)
			waitClosed(t, nc)
			want.Handshake++
		}
		checkExpiries(t, srv, want)
	})
}

// TestPongTimeout: a client that never answers is pinged after
// PingInterval of silence and closed PongTimeout after the ping.
func TestPongTimeout(t *testing.T) {
	t.Parallel()
	const ping, pong = 30 * time.Second, 15 * time.Second
	cfg, clk := clocked(Config{PingInterval: ping, PongTimeout: pong})
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDial(t, addr)
		before(t, srv, clk, ping, "ping", func(e Expiries) bool { return e.Ping > 0 })
		after(clk)
		m, err := c.next()
		if err != nil || m.op != ws.OpPing {
			t.Fatalf("got %v, %v; want a ping", m, err)
		}
		before(t, srv, clk, pong-2*tick, "pong timeout", func(e Expiries) bool { return e.Pong > 0 })
		after(clk)
		waitClosed(t, c.conn)
		checkExpiries(t, srv, Expiries{Ping: 1, Pong: 1})
	})
}

// answerPings reads frames from c, answering each ping with a pong, until
// a frame that is not a ping comes, which it returns. pinged counts the
// pings.
func answerPings(c *confClient, pinged *int) confMessage {
	c.t.Helper()
	for {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("reading: %v", err)
		}
		if m.op != ws.OpPing {
			return m
		}
		*pinged++
		c.mustSend(confFrame(cfFin|cfPong, m.payload), 0)
	}
}

// pong answers a ping and sends a message after it; the echo says the
// server has read the pong too.
func pong(c *confClient, ping confMessage, msg string) {
	c.t.Helper()
	c.mustSend(confFrame(cfFin|cfPong, ping.payload), 0)
	c.mustSend(confFrame(cfFin|cfText, msg), 0)
	if m, err := c.next(); err != nil || m.op != ws.OpText || string(m.payload) != msg {
		c.t.Fatalf("got %v, %v; want the echo of %q", m, err, msg)
	}
}

// TestPingsAnswered: a client that answers pings stays connected, and is
// pinged again each time it has been silent for PingInterval since its
// pong, even when PongTimeout is longer; its messages are still echoed.
func TestPingsAnswered(t *testing.T) {
	t.Parallel()
	const ping, pongTimeout = 2 * time.Second, time.Minute
	cfg, clk := clocked(Config{PingInterval: ping, PongTimeout: pongTimeout})
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDial(t, addr)
		for i := range 4 {
			before(t, srv, clk, ping, fmt.Sprintf("ping %d", i+1), func(e Expiries) bool { return e.Ping > uint64(i) })
			after(clk)
			m, err := c.next()
			if err != nil || m.op != ws.OpPing {
				t.Fatalf("ping %d: got %v, %v", i+1, m, err)
			}
			pong(c, m, "still here")
		}
		c.closeNormally()
		checkExpiries(t, srv, Expiries{Ping: 4})
	})
}

// TestPingsAnsweredGorilla: a real client library answers the server's
// pings by itself, and stays connected past several pong timeouts.
func TestPingsAnsweredGorilla(t *testing.T) {
	t.Parallel()
	const ping, pong = 2 * time.Second, 2 * time.Second
	cfg, clk := clocked(Config{PingInterval: ping, PongTimeout: pong})
	srv, addr, ccfg := startTLSServer(t, cfg)
	d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: confWait}
	c, _, err := d.Dial("wss://"+addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pings := make(chan struct{}, 16)
	answer := c.PingHandler()
	c.SetPingHandler(func(data string) error {
		err := answer(data)
		pings <- struct{}{}
		return err
	})
	echoes := make(chan error, 16)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(confWait))
		for {
			op, p, err := c.ReadMessage()
			if err == nil && (op != gws.TextMessage || string(p) != "after a ping") {
				err = errors.New("unexpected message " + string(p))
			}
			echoes <- err
			if err != nil {
				return
			}
		}
	}()
	for i := range 3 {
		clk.Advance(ping + 3*tick)
		select {
		case <-pings:
		case err := <-echoes:
			t.Fatalf("before ping %d: %v", i+1, err)
		}
		// The echo says the server has read the pong before it: the
		// clock moves on only then.
		if err := c.WriteMessage(gws.TextMessage, []byte("after a ping")); err != nil {
			t.Fatal(err)
		}
		if err := <-echoes; err != nil {
			t.Fatalf("echo after ping %d: %v", i+1, err)
		}
	}
	checkExpiries(t, srv, Expiries{Ping: 3})
}

// TestIdleTimeout: data messages keep a connection open past IdleTimeout;
// answering pings alone does not, and the server closes it with 1001
// "idle timeout" once IdleTimeout has passed since the last data message.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const ping, idle = 3 * time.Second, 10 * time.Second
	cfg, clk := clocked(Config{PingInterval: ping, PongTimeout: time.Minute, IdleTimeout: idle})
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDial(t, addr)
		// Phase one: a message after each ping, for longer than the idle
		// timeout.
		for elapsed := time.Duration(0); elapsed < 3*idle/2; elapsed += ping + 3*tick {
			clk.Advance(ping + 3*tick)
			m, err := c.next()
			if err != nil || m.op != ws.OpPing {
				t.Fatalf("got %v, %v; want a ping", m, err)
			}
			pong(c, m, "data")
		}
		// Phase two: pongs only, each answering the pings the server has
		// sent by then.
		pinged := srv.Expiries().Ping
		answer := func() {
			settle(srv)
			for sent := srv.Expiries().Ping; pinged < sent; pinged++ {
				if m, err := c.next(); err != nil || m.op != ws.OpPing {
					t.Fatalf("got %v, %v; want a ping", m, err)
				}
				c.mustSend(confFrame(cfFin|cfPong, ""), 0)
			}
		}
		var quiet time.Duration // since the last data message
		for ; quiet+ping < idle; quiet += ping {
			clk.Advance(ping)
			answer()
		}
		before(t, srv, clk, idle-quiet, "idle timeout", func(e Expiries) bool { return e.Idle > 0 })
		answer()
		after(clk)
		m := answerPings(c, new(int))
		if m.op != ws.OpClose {
			t.Fatalf("got %v; want a close frame", m)
		}
		if code, reason := confCloseFields(m.payload); code != ws.StatusGoingAway || reason != "idle timeout" {
			t.Errorf("closed with %d %q; want 1001 \"idle timeout\"", code, reason)
		}
		c.mustSend(confFrame(cfFin|cfClose, confClosePayload(1001, "")), 0)
		c.expectEOF()
		if e := srv.Expiries(); e.Idle != 1 || e.Pong != 0 || e.Close != 0 {
			t.Errorf("expiries %+v; want one idle timeout and no pong or close timeout", e)
		}
	})
}

// TestQuietLoopClock: a loop with nothing due is not sent the ticks, so its
// clock stops; activity after such a spell is stamped with the time it
// came, not the time the loop went quiet. Here the idle deadline counts
// from the second message, which came after a quiet spell.
func TestQuietLoopClock(t *testing.T) {
	t.Parallel()
	const idle = 10 * time.Second
	cfg, clk := clocked(Config{IdleTimeout: idle, PingInterval: -1})
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDial(t, addr)
		c.mustSend(confFrame(cfFin|cfText, "one"), 0)
		c.expect(confMsg(ws.OpText, "one"))
		clk.Advance(idle / 2) // nothing is due on the loop meanwhile
		c.mustSend(confFrame(cfFin|cfText, "two"), 0)
		c.expect(confMsg(ws.OpText, "two"))
		before(t, srv, clk, idle, "idle timeout", func(e Expiries) bool { return e.Idle > 0 })
		after(clk)
		m, err := c.next()
		if err != nil || m.op != ws.OpClose {
			t.Fatalf("got %v, %v; want a close frame", m, err)
		}
		checkExpiries(t, srv, Expiries{Idle: 1})
	})
}
