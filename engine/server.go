package engine

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/gobwas/ws"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Server is a WebSocket server on gnet event loops.
type Server struct {
	gnet.BuiltinEventEngine

	cfg      Config
	upgrader ws.Upgrader // read-only after New

	booted  chan struct{} // closed by OnBoot
	done    chan struct{} // closed when the engine has stopped
	runErr  error         // the engine's exit error, set before done closes
	eng     gnet.Engine   // set before booted closes
	addr    net.Addr      // set before booted closes
	started atomic.Bool

	mu    sync.Mutex
	loops map[gnet.EventLoop]*loop

	active    atomic.Int64 // connections open (any state)
	draining  atomic.Bool
	drained   chan struct{} // closed when draining and no connection is left
	drainOnce sync.Once
}

// New validates cfg and returns a server that is not yet listening.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Server{
		cfg:     cfg,
		booted:  make(chan struct{}),
		done:    make(chan struct{}),
		drained: make(chan struct{}),
		loops:   make(map[gnet.EventLoop]*loop),
	}, nil
}

// Start binds the listener and starts the event loops. It returns once the
// server accepts connections, or with the error that stopped it. Start may
// be called once.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("engine: server already started")
	}
	go func() {
		s.runErr = gnet.Run(s, "tcp://"+s.cfg.ListenPlain,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithReuseAddr(true),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLogger{s.cfg.Logger}),
		)
		close(s.done)
	}()
	select {
	case <-s.booted:
		return nil
	case <-s.done:
		if s.runErr == nil {
			return errors.New("engine: stopped before it started")
		}
		return s.runErr
	}
}

// Addr returns the listener's address (with the port the kernel chose when
// the configured one was 0). Valid after Start returned nil.
func (s *Server) Addr() net.Addr { return s.addr }

// Done is closed when the server has stopped; Err then tells why.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the error that stopped the server, or nil after a requested
// stop. Valid once Done is closed.
func (s *Server) Err() error { return s.runErr }

// Active returns the number of connections open, in any state. Safe for
// concurrent use.
func (s *Server) Active() int64 { return s.active.Load() }

// Shutdown drains the server: new connections are refused, every open
// WebSocket connection is sent a 1001 "going away" close, connections still
// in their HTTP handshake are closed, and Shutdown waits until all
// connections are gone or ctx is done. Then it stops the event loops, which
// closes whatever is left, and returns ctx's error if the drain did not
// finish in time. Safe for concurrent use.
func (s *Server) Shutdown(ctx context.Context) error {
	select {
	case <-s.booted:
	case <-s.done:
		return nil
	}
	s.draining.Store(true)
	if s.active.Load() == 0 {
		s.drainOnce.Do(func() { close(s.drained) })
	}
	for _, l := range s.loopList() {
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			l.goAway()
			return nil
		}))
	}
	var drainErr error
	select {
	case <-s.drained:
	case <-ctx.Done():
		drainErr = ctx.Err()
	}
	if err := s.eng.Stop(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
		select {
		case <-s.done: // already stopped
		default:
			return err
		}
	}
	<-s.done
	return drainErr
}

func (s *Server) loopList() []*loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := make([]*loop, 0, len(s.loops))
	for _, l := range s.loops {
		ls = append(ls, l)
	}
	return ls
}

// loopOf returns the state of event loop el, creating it on first use.
// Called on el.
func (s *Server) loopOf(el gnet.EventLoop) *loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = &loop{el: el, srv: s}
		s.loops[el] = l
	}
	return l
}

// OnBoot records the engine and the bound address. Called by gnet.
func (s *Server) OnBoot(eng gnet.Engine) gnet.Action {
	s.eng = eng
	addr, err := boundAddr(eng)
	if err != nil {
		s.cfg.Logger.Error("cannot read listener address", "err", err)
		return gnet.Shutdown
	}
	s.addr = addr
	close(s.booted)
	return gnet.None
}

// boundAddr reads the listener's local address from a duplicate of its
// descriptor.
func boundAddr(eng gnet.Engine) (net.Addr, error) {
	fd, err := eng.Dup()
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil, err
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]).To16(), Port: a.Port}, nil
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}, nil
	}
	return nil, fmt.Errorf("engine: unexpected listener address %T", sa)
}

// OnOpen creates the connection's state. Called on the connection's loop.
func (s *Server) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if s.draining.Load() {
		return nil, gnet.Close
	}
	s.active.Add(1)
	l := s.loopOf(gc.EventLoop())
	c := newConn(l, gc)
	l.add(c)
	gc.SetContext(c)
	return nil, gnet.None
}

// OnTraffic reads what the connection has buffered. Called on the
// connection's loop.
func (s *Server) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		return gnet.Close
	}
	return c.onTraffic()
}

// OnClose ends the connection's state. Called on the connection's loop.
func (s *Server) OnClose(gc gnet.Conn, _ error) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		return gnet.None
	}
	c.onClosed()
	if s.active.Add(-1) == 0 && s.draining.Load() {
		s.drainOnce.Do(func() { close(s.drained) })
	}
	return gnet.None
}
