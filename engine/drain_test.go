package engine

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
)

// drainWait bounds every blocking step of these tests.
const drainWait = 10 * time.Second

// drainWaitShutdown waits for the result of a Shutdown running in another
// goroutine.
func drainWaitShutdown(t *testing.T, shut <-chan error) error {
	t.Helper()
	select {
	case err := <-shut:
		return err
	case <-time.After(drainWait + 5*time.Second):
		t.Fatal("Shutdown did not return")
		return nil
	}
}

// drainCheckStopped checks that a server whose Shutdown returned is
// stopped and refuses connections: a dial fails, or the connection is closed
// at once without a byte.
func drainCheckStopped(t *testing.T, srv *Server, addr string) {
	t.Helper()
	select {
	case <-srv.Done():
	default:
		t.Error("Done is not closed after Shutdown returned")
	}
	if err := srv.Err(); err != nil {
		t.Errorf("Err after a requested stop: %v; want nil", err)
	}
	nc, err := net.DialTimeout("tcp", addr, drainWait)
	if err != nil {
		return // refused: fine
	}
	defer nc.Close()
	if err := nc.SetDeadline(time.Now().Add(drainWait)); err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(nc, httpUpgrade)
	var b [256]byte
	n, err := nc.Read(b[:])
	var ne net.Error
	if n > 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Errorf("connection after Shutdown: read %q, %v; want it refused or closed at once", b[:n], err)
	}
}

// TestDrainShutdown: Shutdown sends every WebSocket client a 1001 close,
// closes a connection still sending its request head, and returns nil once
// the clients have answered; the server is then stopped.
func TestDrainShutdown(t *testing.T) {
	const clients = 8
	srv, addr := startServer(t, Config{})

	// Dialled first, so that it is accepted before the clients below
	// have been served.
	half := httpDial(t, addr)
	if _, err := io.WriteString(half, "GET /ec"); err != nil {
		t.Fatal(err)
	}

	conns := make([]*gws.Conn, clients)
	readErrs := make(chan error, clients)
	for i := range conns {
		c := interopGorilla(t, addr, "/echo")
		conns[i] = c
		if err := c.WriteMessage(gws.TextMessage, []byte("before the drain")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := interopGorillaRead(c); err != nil || string(got) != "before the drain" {
			t.Fatalf("client %d: read = %q, %v; want the echo", i, got, err)
		}
		// Read until the close; gorilla's default close handler answers
		// it with a close frame.
		go func() {
			for {
				if _, _, err := interopGorillaRead(c); err != nil {
					readErrs <- err
					return
				}
			}
		}()
	}

	ctx, cancel := context.WithTimeout(context.Background(), drainWait)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()

	for range clients {
		err := <-readErrs // bounded by the read deadline
		var ce *gws.CloseError
		if !errors.As(err, &ce) || ce.Code != gws.CloseGoingAway || ce.Text != "going away" {
			t.Errorf("client read ended with %v; want close 1001 \"going away\"", err)
		}
	}
	var b [64]byte
	if n, err := half.Read(b[:]); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("half-request connection: read %q, %v; want EOF (closed without an answer)", b[:n], err)
	}
	if err := drainWaitShutdown(t, shut); err != nil {
		t.Errorf("Shutdown = %v; want nil, every client answered the close", err)
	}
	for i, c := range conns {
		nc := c.NetConn()
		if err := nc.SetReadDeadline(time.Now().Add(drainWait)); err != nil {
			t.Fatal(err)
		}
		if n, err := nc.Read(b[:]); n != 0 || !errors.Is(err, io.EOF) {
			t.Errorf("client %d after the drain: read %q, %v; want EOF", i, b[:n], err)
		}
	}
	drainCheckStopped(t, srv, addr)
}

// TestDrainUnresponsiveClient: a client that never answers the close frame
// holds the drain until Shutdown's context expires; Shutdown then returns
// the context's error and the connection is closed anyway.
func TestDrainUnresponsiveClient(t *testing.T) {
	h := newInteropHandler(nil)
	srv, addr := startServer(t, Config{Routes: map[string]Handler{"/echo": h}})
	nc, br := httpRawUpgrade(t, addr)
	if _, err := nc.Write(httpMasked(codec.OpText, "hello")); err != nil {
		t.Fatal(err)
	}
	httpWantFrame(t, br, codec.OpText, "hello")
	h.waitOpen(t)

	// From here the client neither reads nor writes until Shutdown is done.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	if err := drainWaitShutdown(t, shut); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v; want context.DeadlineExceeded", err)
	}

	// The close frame was sent; then the connection was closed.
	httpWantFrame(t, br, codec.OpClose, "\x03\xe9going away")
	httpWantEOF(t, br)
	ev := h.waitClose(t)
	if ev.code != codec.StatusGoingAway {
		t.Errorf("OnClose(%d, %q); want code 1001", ev.code, ev.reason)
	}
	h.checkOnce(t, 1)
	drainCheckStopped(t, srv, addr)
}

// TestDrainIdle: Shutdown of a server with no connection returns nil, and
// so does a second Shutdown.
func TestDrainIdle(t *testing.T) {
	srv, addr := startServer(t, Config{})
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), drainWait)
		shut := make(chan error, 1)
		go func() { shut <- srv.Shutdown(ctx) }()
		if err := drainWaitShutdown(t, shut); err != nil {
			t.Errorf("Shutdown %d = %v; want nil", i+1, err)
		}
		cancel()
	}
	drainCheckStopped(t, srv, addr)
}
