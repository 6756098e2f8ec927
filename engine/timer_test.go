package engine

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wssd/wssd/engine/enginetest"
)

// TestTimer: a protocol's timer fires on its loop once its delay has
// passed on the server's clock, not a tick before; a cancelled one does
// not fire, and a rescheduled one fires once, at its new time.
func TestTimer(t *testing.T) {
	cfg, clk := clocked(Config{})
	srv, addr := startServer(t, cfg)
	// A loop is known to the server once a connection has reached it.
	// The acceptors hand sockets over concurrently, so two at once may
	// land on one loop; one at a time, each goes to the least loaded.
	for i := int64(1); len(srv.loopList()) < 2; i++ {
		if i > 8 {
			t.Fatalf("%d connections reached %d loops; want 2", i-1, len(srv.loopList()))
		}
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		enginetest.WaitFor(t, "the connection to open", func() bool { return srv.Connections().Sockets == i })
	}
	const d = 2 * time.Second
	var fired, cancelled, moved atomic.Int32
	srv.onEachLoop(func(l *Loop) {
		a := NewTimer(func() { fired.Add(1) })
		b := NewTimer(func() { cancelled.Add(1) })
		c := NewTimer(func() { moved.Add(1) })
		l.Schedule(a, d)
		l.Schedule(b, d)
		l.Schedule(c, d/2)
		l.Schedule(c, 2*d) // moved later
		if !b.Armed() || !l.Cancel(b) || b.Armed() {
			t.Error("a scheduled timer is not armed, or Cancel did not disarm it")
		}
	})
	loops := int32(len(srv.loopList()))
	count := func() (int32, int32, int32) {
		settle(srv)
		return fired.Load(), cancelled.Load(), moved.Load()
	}
	clk.Advance(d - tick)
	if a, b, c := count(); a != 0 || b != 0 || c != 0 {
		t.Fatalf("fired %d, %d, %d a tick before their time; want none", a, b, c)
	}
	after(clk)
	if a, b, c := count(); a != loops || b != 0 || c != 0 {
		t.Fatalf("after %v: fired %d, cancelled %d, moved %d; want %d, 0, 0", d, a, b, c, loops)
	}
	clk.Advance(d)
	if a, b, c := count(); a != loops || b != 0 || c != loops {
		t.Fatalf("after %v: fired %d, cancelled %d, moved %d; want %d, 0, %d", 2*d, a, b, c, loops, loops)
	}
}
