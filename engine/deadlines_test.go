package engine

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	gws "github.com/gorilla/websocket"
)

// Deadlines run on the real clock here: each test checks that a deadline
// never fires early and that it fires within its documented bound (two
// ticks) plus deadlineSlack, a generous allowance for a loaded machine
// and the race detector. The wheel's own logic is tested with an injected
// clock in wheel_test.go.
const deadlineSlack = 2 * time.Second

// checkElapsed checks that what happened between after and before the
// bound (d plus lateTicks ticks plus deadlineSlack) after start.
func checkElapsed(t *testing.T, what string, start, at time.Time, d time.Duration, lateTicks int) {
	t.Helper()
	got := at.Sub(start)
	if got < d {
		t.Errorf("%s after %v; want no sooner than %v", what, got, d)
	}
	if limit := d + time.Duration(lateTicks)*tick + deadlineSlack; got > limit {
		t.Errorf("%s after %v; want by %v", what, got, limit)
	}
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
	const d = 300 * time.Millisecond
	serveEach(t, Config{HandshakeTimeout: d}, func(t *testing.T, srv *Server, addr confAddr) {
		start := time.Now()
		nc := confConnect(t, addr, 0)
		if _, err := io.WriteString(nc, "GET /ec"); err != nil {
			t.Fatal(err)
		}
		checkElapsed(t, "closed", start, waitClosed(t, nc), d, 2)
		want := Expiries{Handshake: 1}
		if addr.tls != nil {
			start := time.Now()
			nc, err := net.Dial("tcp", addr.hostport)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			checkElapsed(t, "silent TLS client closed", start, waitClosed(t, nc), d, 2)
			want.Handshake++
		}
		checkExpiries(t, srv, want)
	})
}

// TestPongTimeout: a client that never answers is pinged after
// PingInterval of silence and closed PongTimeout after the ping.
func TestPongTimeout(t *testing.T) {
	t.Parallel()
	const ping, pong = 300 * time.Millisecond, 300 * time.Millisecond
	serveEach(t, Config{PingInterval: ping, PongTimeout: pong}, func(t *testing.T, srv *Server, addr confAddr) {
		start := time.Now() // before the upgrade, so never after the server's clock starts
		c := confDial(t, addr)
		m, err := c.next()
		if err != nil || m.op != ws.OpPing {
			t.Fatalf("got %v, %v; want a ping", m, err)
		}
		checkElapsed(t, "ping", start, time.Now(), ping, 2)
		checkElapsed(t, "closed", start, waitClosed(t, c.conn), ping+pong, 4)
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

// TestPingsAnswered: a client that answers pings stays connected, and is
// pinged again each time it has been silent for PingInterval since its
// pong, even when PongTimeout is longer; its messages are still echoed.
func TestPingsAnswered(t *testing.T) {
	t.Parallel()
	const ping, pong = 200 * time.Millisecond, 5 * time.Second
	serveEach(t, Config{PingInterval: ping, PongTimeout: pong}, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDial(t, addr)
		var answered time.Time
		for i := range 4 {
			m, err := c.next()
			if err != nil || m.op != ws.OpPing {
				t.Fatalf("ping %d: got %v, %v", i+1, m, err)
			}
			if i > 0 {
				checkElapsed(t, "next ping", answered, time.Now(), ping, 2)
			}
			answered = time.Now()
			c.mustSend(confFrame(cfFin|cfPong, m.payload), 0)
		}
		c.mustSend(confFrame(cfFin|cfText, "still here"), 0)
		pinged := 4
		if m := answerPings(c, &pinged); m.op != ws.OpText || string(m.payload) != "still here" {
			t.Fatalf("got %v; want the echo", m)
		}
		c.closeNormally()
		e := srv.Expiries()
		if e.Pong != 0 || e.Ping < 4 {
			t.Errorf("expiries %+v; want at least 4 pings and no pong timeout", e)
		}
	})
}

// TestPingsAnsweredGorilla: a real client library answers the server's
// pings by itself, and stays connected.
func TestPingsAnsweredGorilla(t *testing.T) {
	t.Parallel()
	const ping, pong = 200 * time.Millisecond, 200 * time.Millisecond
	srv, addr, ccfg := startTLSServer(t, Config{PingInterval: ping, PongTimeout: pong})
	d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: confWait}
	c, _, err := d.Dial("wss://"+addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pings := make(chan struct{}, 16)
	answer := c.PingHandler()
	c.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return answer(data)
	})
	read := make(chan error, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(confWait))
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				read <- err
				return
			}
			if op != gws.TextMessage || string(p) != "after pings" {
				read <- errors.New("unexpected message " + string(p))
				return
			}
			read <- nil
		}
	}()
	for i := range 3 {
		select {
		case <-pings:
		case err := <-read:
			t.Fatalf("before ping %d: %v", i+1, err)
		}
	}
	if err := c.WriteMessage(gws.TextMessage, []byte("after pings")); err != nil {
		t.Fatal(err)
	}
	if err := <-read; err != nil {
		t.Fatalf("echo after the pings: %v", err)
	}
	if e := srv.Expiries(); e.Pong != 0 || e.Ping < 3 {
		t.Errorf("expiries %+v; want at least 3 pings and no pong timeout", e)
	}
}

// TestIdleTimeout: data messages keep a connection open past IdleTimeout;
// answering pings alone does not, and the server closes it with 1001
// "idle timeout" once IdleTimeout has passed since the last data message.
func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	const ping, idle = 150 * time.Millisecond, 800 * time.Millisecond
	serveEach(t, Config{PingInterval: ping, PongTimeout: time.Second, IdleTimeout: idle}, func(t *testing.T, srv *Server, addr confAddr) {
		start := time.Now()
		c := confDial(t, addr)
		// Phase one: a message after each ping, for longer than the idle
		// timeout.
		pinged := 0
		for time.Since(start) < 3*idle/2 {
			m, err := c.next()
			if err != nil || m.op != ws.OpPing {
				t.Fatalf("got %v, %v; want a ping", m, err)
			}
			pinged++
			c.mustSend(confFrame(cfFin|cfPong, m.payload), 0)
			c.mustSend(confFrame(cfFin|cfBinary, "data"), 0)
			if m := answerPings(c, &pinged); m.op != ws.OpBinary {
				t.Fatalf("got %v; want the echo", m)
			}
		}
		// Phase two: pongs only.
		lastData := time.Now()
		m := answerPings(c, &pinged)
		at := time.Now()
		if m.op != ws.OpClose {
			t.Fatalf("got %v; want a close frame", m)
		}
		if code, reason := confCloseFields(m.payload); code != ws.StatusGoingAway || reason != "idle timeout" {
			t.Errorf("closed with %d %q; want 1001 \"idle timeout\"", code, reason)
		}
		checkElapsed(t, "idle close", lastData, at, idle-time.Millisecond, 2)
		c.mustSend(confFrame(cfFin|cfClose, confClosePayload(1001, "")), 0)
		c.expectEOF()
		if e := srv.Expiries(); e.Idle != 1 || e.Pong != 0 || e.Close != 0 {
			t.Errorf("expiries %+v; want one idle timeout and no pong or close timeout", e)
		}
	})
}
