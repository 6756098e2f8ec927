package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"reflect"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/tlsrec"
	"github.com/wssd/wssd/security"
)

// Server is a WebSocket server on gnet event loops.
type Server struct {
	cfg       Config
	protocols []Protocol // the routes' handlers that are (protocol.go)
	tickers   []Ticker   // the protocols that count on the loops
	bufs      *bufPool   // of partial messages (memory.go)

	// The gates' limits, compiled by New (nil: none), and the refusals
	// counted so far.
	// They may be changed while the server runs (Reload): read once per
	// decision.
	limits              atomic.Pointer[security.ConnLimits]
	msgLimit, byteLimit atomic.Pointer[security.BucketLimit]
	origins             atomic.Pointer[security.Origins]
	reloadMu            sync.Mutex // one Reload at a time
	live                Live       // what is in force, under reloadMu
	refused             [maxRefusals]atomic.Uint64
	metrics             *serverMetrics // nil without Config.Metrics
	deflate             *deflate       // nil without Config.Deflate
	subtrees            []subtree      // the SubtreeHandlers' routes, longest first (subtree.go)

	// The wheels' clock counts ticks of cfg.Clock since epoch, from 1.
	// Deadlines in ticks, computed once by New. start is epoch on the
	// system's monotonic clock, for what is measured in real time (the
	// metrics' durations, the loops' lag).
	epoch, start                              time.Time
	ticks                                     <-chan time.Time // cfg.Clock's, from Start
	stopTicks                                 func()
	hsTicks, closeTicks, pingTicks, pongTicks int64
	idleTicks                                 int64
	expired                                   expiries

	started    atomic.Bool
	ready      atomic.Bool  // accepting: from the end of Start to the start of Shutdown
	cli        *gnet.Client // the event loops; set by Start
	plain      net.Listener // ws://, if configured; set by Start
	secure     net.Listener // wss://, if configured; set by Start
	accepts    sync.WaitGroup
	tlsConfig  *tls.Config      // cfg.TLS, taking each handshake's keys for tlsrec
	tlsQueue   chan *pendingTLS // accepted wss:// sockets for the TLS workers
	tlsShares  *security.Shares // what each client address holds of the workers and queue
	tlsRunning atomic.Int64     // TLS workers running (at most TLSWorkers)
	tlsCtx     context.Context  // cancelled when the server stops
	hsMu       sync.Mutex
	hsWheel    wheel // handshake deadlines of the sockets not on a loop yet
	tlsWorkers sync.WaitGroup
	tlsCancel  context.CancelFunc // aborts the handshakes under way
	stopping   chan struct{}      // closed when Shutdown begins
	done       chan struct{}      // closed when the server has stopped
	runErr     error              // set before done closes

	mu    sync.Mutex
	loops map[gnet.EventLoop]*Loop

	active    atomic.Int64 // connections open (any state)
	draining  atomic.Bool
	drained   chan struct{} // closed when draining and no connection is left
	drainOnce sync.Once
	stopOnce  sync.Once
}

// New validates cfg and returns a server that is not yet listening. Safe
// for concurrent use.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	refusalsClosed.Store(true)
	s := &Server{
		cfg:        cfg,
		epoch:      cfg.Clock.Now(),
		start:      time.Now(),
		hsTicks:    ticks(cfg.HandshakeTimeout),
		closeTicks: ticks(cfg.CloseTimeout),
		stopping:   make(chan struct{}),
		done:       make(chan struct{}),
		drained:    make(chan struct{}),
		loops:      make(map[gnet.EventLoop]*Loop),
		deflate:    newDeflate(cfg.Deflate),
		subtrees:   subtreesOf(cfg.Routes),
	}
	if cfg.PingInterval > 0 {
		s.pingTicks, s.pongTicks = ticks(cfg.PingInterval), ticks(cfg.PongTimeout)
	}
	if cfg.IdleTimeout > 0 {
		s.idleTicks = ticks(cfg.IdleTimeout)
	}
	if err := s.initGates(); err != nil {
		return nil, err
	}
	if cfg.Listen != "" {
		if s.tlsShares, err = security.NewShares(cfg.TLSSlotsPerIP); err != nil {
			return nil, fmt.Errorf("engine: %w", err)
		}
		s.tlsConfig = tlsrec.ServerConfig(cfg.TLS)
	}
	s.bufs = newBufPool(int(cfg.MaxMessageSize))
	if cfg.Metrics != nil {
		s.initMetrics(cfg.Metrics)
	}
	if err := s.attach(); err != nil {
		return nil, err
	}
	return s, nil
}

// attach attaches the routes' protocols, each once, in the order of their
// routes' paths. Called by New.
func (s *Server) attach() error {
	for _, path := range slices.Sorted(maps.Keys(s.cfg.Routes)) {
		p, ok := s.cfg.Routes[path].(Protocol)
		if !ok || slices.ContainsFunc(s.protocols, func(q Protocol) bool { return sameHandler(p, q) }) {
			continue
		}
		if err := p.Attach(s); err != nil {
			return fmt.Errorf("engine: route %s: %w", path, err)
		}
		s.protocols = append(s.protocols, p)
		if t, ok := p.(Ticker); ok {
			s.tickers = append(s.tickers, t)
		}
	}
	return nil
}

// sameHandler reports whether a and b are the same handler, without
// panicking on handlers of a type == cannot compare.
func sameHandler(a, b Handler) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	return ta == tb && ta.Comparable() && a == b
}

// Config returns the server's configuration, with New's defaults in
// place. Safe for concurrent use; it must not be changed.
func (s *Server) Config() *Config { return &s.cfg }

// Loops returns how many event loops the server runs. Safe for
// concurrent use.
func (s *Server) Loops() int { return s.cfg.Loops }

// initGates compiles the gates' limits. Called by New.
func (s *Server) initGates() error {
	cfg := &s.cfg
	if cfg.MaxConnections > 0 || cfg.MaxConnsPerIP > 0 || cfg.HandshakeRatePerIP.Limited() {
		l, err := security.NewConnLimits(security.ConnLimitsConfig{
			MaxConns:       cfg.MaxConnections,
			PerIP:          cfg.MaxConnsPerIP,
			HandshakeRate:  cfg.HandshakeRatePerIP,
			UnitsPerSecond: ticksPerSecond,
			MaxIdle:        cfg.MaxIdleAddrs,
		})
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		s.limits.Store(l)
	}
	if cfg.MessageRate.Limited() {
		l, err := security.NewBucketLimit(cfg.MessageRate, ticksPerSecond)
		if err != nil {
			return fmt.Errorf("engine: message rate: %w", err)
		}
		s.msgLimit.Store(l)
	}
	if cfg.ByteRate.Limited() {
		l, err := security.NewBucketLimit(cfg.ByteRate, ticksPerSecond)
		if err != nil {
			return fmt.Errorf("engine: byte rate: %w", err)
		}
		s.byteLimit.Store(l)
	}
	s.origins.Store(cfg.Origins)
	s.live = Live{Origins: cfg.Origins, MaxConnections: cfg.MaxConnections, MaxConnsPerIP: cfg.MaxConnsPerIP,
		HandshakeRatePerIP: cfg.HandshakeRatePerIP, MessageRate: cfg.MessageRate, ByteRate: cfg.ByteRate}
	return nil
}

// clock returns the current tick. Safe for concurrent use.
func (s *Server) clock() int64 { return int64(s.cfg.Clock.Now().Sub(s.epoch)/tick) + 1 }

// nanos returns the monotonic nanoseconds since the server was made. Safe
// for concurrent use.
func (s *Server) nanos() int64 { return int64(time.Since(s.start)) }

// Start binds the listener, starts the event loops and the acceptors, and
// returns once connections are being accepted. Start may be called once,
// from any goroutine; the server's other methods may be used once it has
// returned nil.
func (s *Server) Start() error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("engine: server already started")
	}
	var lns []net.Listener
	listen := func(addr string) (net.Listener, error) {
		if addr == "" {
			return nil, nil
		}
		lc := net.ListenConfig{}
		if s.cfg.ReusePort {
			lc.Control = reusePort
		}
		ln, err := lc.Listen(context.Background(), "tcp", addr)
		if err == nil {
			lns = append(lns, ln)
		}
		return ln, err
	}
	plain, err := listen(s.cfg.ListenPlain)
	var secure net.Listener
	if err == nil {
		secure, err = listen(s.cfg.Listen)
	}
	var cli *gnet.Client
	if err == nil {
		cli, err = gnet.NewClient(&events{s: s},
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.cfg.Loops),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(gnetLogger{s.cfg.Logger}),
		)
	}
	if err == nil {
		err = cli.Start()
	}
	for i, p := range s.protocols {
		if err != nil {
			break
		}
		if err = p.Start(); err != nil {
			for _, q := range s.protocols[:i] {
				q.Stop()
			}
			_ = cli.Stop()
		}
	}
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return err
	}
	s.cli, s.plain, s.secure = cli, plain, secure
	if secure != nil {
		s.hsWheel.init(s.clock())
		s.tlsQueue = make(chan *pendingTLS, s.cfg.TLSQueue)
		s.tlsCtx, s.tlsCancel = context.WithCancel(context.Background())
	}
	s.ticks, s.stopTicks = s.cfg.Clock.Tick(tick)
	go s.ticker()
	for range s.cfg.Loops {
		for _, ln := range lns {
			s.accepts.Add(1)
			go s.accept(ln, ln == secure)
		}
	}
	s.ready.Store(true)
	return nil
}

// reusePort sets SO_REUSEPORT on a listening socket before it binds.
func reusePort(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// PlainAddr returns the ws:// listener's address (with the port the kernel
// chose when the configured one was 0), or nil when there is none. Safe for
// concurrent use after Start returned nil.
func (s *Server) PlainAddr() net.Addr { return addrOf(s.plain) }

// TLSAddr returns the wss:// listener's address, or nil when there is none.
// Safe for concurrent use after Start returned nil.
func (s *Server) TLSAddr() net.Addr { return addrOf(s.secure) }

func addrOf(ln net.Listener) net.Addr {
	if ln == nil {
		return nil
	}
	return ln.Addr()
}

// Done is closed when the server has stopped; Err then tells why. Safe for
// concurrent use.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err returns the error the event loops stopped with, if any. Safe for
// concurrent use once Done is closed.
func (s *Server) Err() error { return s.runErr }

// Active returns the number of connections open, in any state. Safe for
// concurrent use.
func (s *Server) Active() int64 { return s.active.Load() }

// Shutdown drains the server: the listener is closed, every open WebSocket
// connection is sent a 1001 "going away" close, a streamed HTTP answer is
// ended (Conn.EndStream) and its connection closed after it, other
// connections still in their HTTP handshake (a request waiting for its
// answer included) are closed, and Shutdown waits until all connections are
// gone or ctx is done. Then it stops the event loops, which closes whatever
// is left, and returns ctx's error if the drain did not finish in time.
// Safe for concurrent use once Start has returned nil; calls after the
// first wait for the first.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.cli == nil {
		return errors.New("engine: server not running")
	}
	var drainErr error
	s.stopOnce.Do(func() {
		s.ready.Store(false)
		s.draining.Store(true)
		close(s.stopping)
		for _, ln := range []net.Listener{s.plain, s.secure} {
			if ln != nil {
				ln.Close()
			}
		}
		s.accepts.Wait()
		if s.tlsQueue != nil {
			// Handshakes under way are abandoned; the queue's sockets
			// are closed by the workers, which then stop.
			s.tlsCancel()
			close(s.tlsQueue)
			// One more worker, in case sockets wait with none left
			// to close them.
			s.tlsRunning.Add(1)
			s.tlsWorkers.Add(1)
			go s.handshakes(s.tlsCtx)
			s.tlsWorkers.Wait()
		}
		if s.active.Load() == 0 {
			s.drainOnce.Do(func() { close(s.drained) })
		}
		for _, l := range s.loopList() {
			_ = l.Post(l.goAway)
		}
		select {
		case <-s.drained:
		case <-ctx.Done():
			drainErr = ctx.Err()
		}
		s.runErr = s.cli.Stop()
		for _, p := range s.protocols {
			p.Stop()
		}
		close(s.done)
	})
	<-s.done
	return drainErr
}

// ticker advances the timing wheels every tick, until the server has
// stopped: the handshake wheel here, each loop's wheel on its loop.
func (s *Server) ticker() {
	defer s.stopTicks()
	for {
		select {
		case <-s.done:
			return
		case <-s.ticks:
		}
		now := s.clock()
		if s.tlsQueue != nil {
			s.hsMu.Lock()
			s.hsWheel.advance(now)
			s.hsMu.Unlock()
		}
		if s.metrics != nil {
			s.syncCounts()
		}
		for _, l := range s.loopList() {
			l.target.Store(now)
			if l.idle(now) {
				// It would have run the tick at once, with nothing
				// to do: on time.
				if s.metrics != nil {
					l.lag.Observe(0)
				}
				continue
			}
			// A loop that is behind keeps the time of the first tick
			// it has not run, so its lag counts the whole delay.
			l.posted.CompareAndSwap(0, s.nanos())
			_ = l.el.Execute(context.Background(), l.advance) // no allocation per tick
		}
	}
}

// accept takes connections from ln and hands each to the least loaded
// event loop (through the TLS workers, for a wss:// listener), until ln is
// closed. When the process is out of file
// descriptors (or the kernel out of memory for sockets) it backs off and
// tries again, so a connection flood delays new clients instead of
// stopping the server; the connections are queued in the listen backlog
// meanwhile.
func (s *Server) accept(ln net.Listener, secure bool) {
	defer s.accepts.Done()
	var delay time.Duration
	log := &sampledLog{l: s.cfg.Logger}
	rlog := &refusalLog{l: s.cfg.Logger}
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			log.warn("accept failed; backing off", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.stopping:
				return
			}
			continue
		}
		delay = 0
		if m := s.metrics; m != nil {
			m.accepted[b2l(secure)].Inc()
		}
		proxy := s.proxyFor(nc)
		if !secure && proxy != proxyExpect && s.trustedProxy(remoteAddr(nc)) {
			proxy = proxyForwarded
		}
		adm, ok := s.admit(nc, proxy == proxyExpect || proxy == proxyForwarded, rlog)
		if !ok {
			continue
		}
		if secure {
			s.queueTLS(nc, adm, proxy, rlog)
			continue
		}
		s.enroll(nc, &arrival{adm: adm, proxy: proxy}, log)
	}
}

// admit passes a new socket through the connection caps and handshake
// rate. A refused socket is closed at once, with a reset: no byte has been
// read from it, no TLS handshake is spent on it, and the server keeps no
// TIME_WAIT for it. A socket from a trusted load balancer (proxied) is
// counted against the total cap only: its address's are applied once its
// PROXY header has named it (proxy.go). Called by an acceptor.
func (s *Server) admit(nc net.Conn, proxied bool, rlog *refusalLog) (security.Admission, bool) {
	limits := s.limits.Load()
	if limits == nil {
		return security.Admission{}, true
	}
	now := s.clock()
	var adm security.Admission
	var why security.Refusal
	if proxied {
		adm, why = limits.Hold()
	} else {
		adm, why = limits.Admit(remoteAddr(nc), now)
	}
	if why == security.Admitted {
		return adm, true
	}
	s.refuseAtAccept(nc, nc.RemoteAddr(), acceptRefusal(why), now, rlog)
	return adm, false
}

// refuseAtAccept closes a socket refused before it reached a loop, and
// counts it; remote is the client's address, as logged. Called by an
// acceptor or a TLS worker.
func (s *Server) refuseAtAccept(nc net.Conn, remote net.Addr, r Refusal, now int64, rlog *refusalLog) {
	s.refused[r].Add(1)
	if rlog.due(now, r) {
		rlog.write(r, "remote", remote.String())
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	nc.Close()
}

// release gives back what the accept gate counted for a socket that ends
// before it reaches a loop. Safe for concurrent use.
func (s *Server) release(adm security.Admission) {
	if l := s.limits.Load(); l != nil {
		l.Release(adm, s.clock())
	}
}

// arrival is what an acceptor or a TLS worker hands to the loop with a
// socket, for OnOpen.
type arrival struct {
	adm    security.Admission
	sess   *session   // nil for ws://
	proxy  proxyState // for ws://: whether a PROXY header is to be read first
	remote net.Addr   // for wss://: the client's, when a PROXY header named it
}

// enroll hands a socket to the least loaded event loop, with what OnOpen
// needs. EnrollContext closes nc in every case: the loop owns a duplicate
// of its descriptor. Out of descriptors, the duplicate fails and the
// connection is closed at once.
func (s *Server) enroll(nc net.Conn, a *arrival, log *sampledLog) {
	if _, err := s.cli.EnrollContext(nc, a); err != nil {
		s.release(a.adm)
		log.warn("connection refused: cannot hand it to an event loop", "err", err)
	}
}

// sampledLog writes one warning a second at most, so that a flood does not
// flood the log too. Each goroutine that warns has its own.
type sampledLog struct {
	l    *slog.Logger
	last time.Time
}

func (s *sampledLog) warn(msg string, args ...any) {
	if now := time.Now(); now.Sub(s.last) >= time.Second {
		s.last = now
		s.l.Warn(msg, args...)
	}
}

func (s *Server) loopList() []*Loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls := make([]*Loop, len(s.loops))
	for _, l := range s.loops {
		ls[l.index] = l
	}
	return ls
}

// loopOf returns the state of event loop el, creating it on first use.
// Called on el.
func (s *Server) loopOf(el gnet.EventLoop) *Loop {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.loops[el]
	if l == nil {
		l = newLoop(s, el, len(s.loops))
		s.loops[el] = l
	}
	return l
}

// events receives gnet's callbacks for the server; they are kept off
// Server's own API.
type events struct {
	gnet.BuiltinEventEngine
	s *Server
}

// OnOpen creates the connection's state. Called on the connection's loop.
func (e *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	s := e.s
	a, _ := gc.Context().(*arrival)
	if a == nil || s.draining.Load() {
		return nil, gnet.Close // OnClose releases what was admitted
	}
	l := s.loopOf(gc.EventLoop())
	l.wake()
	sess := a.sess
	c := newConn(l, gc, sess, a.adm)
	c.proxy = a.proxy
	if a.remote != nil {
		c.remote = a.remote
	}
	c.born = s.nanos()
	l.add(c)
	gc.SetContext(c)
	c.deadline = s.clock() + s.hsTicks
	if sess != nil {
		c.deadline = sess.deadline
		if sess.kept() {
			// The TLS handshake read the client's first records (the
			// upgrade request, often) past its own; no new byte may
			// come to trigger a read, so ask for one now.
			_ = gc.Wake(nil)
		}
	}
	l.wheel.schedule(&c.timer, c.deadline)
	// Counted last: whoever sees the count (Active) sees the connection
	// with its deadline armed, from the clock as it was before then.
	s.active.Add(1)
	return nil, gnet.None
}

// OnTraffic reads what the connection has buffered. Called on the
// connection's loop.
func (e *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*Conn)
	if c == nil {
		return gnet.Close
	}
	c.loop.wake()
	defer e.s.recoverHandler(c)
	return c.onTraffic()
}

// recoverHandler turns a panic in a handler into the end of that one
// connection (close 1011), logged with its stack, instead of the end of the
// process and every connection in it. Called on the loop, deferred.
func (s *Server) recoverHandler(c *Conn) {
	r := recover()
	if r == nil {
		return
	}
	s.cfg.Logger.Error("handler panic; connection closed", "panic", r, "path", c.path,
		"remote", c.remote.String(), "stack", string(debug.Stack()))
	if c.state != stateClosed {
		c.fail(codec.StatusInternalError, "internal error")
	}
}

// OnClose ends the connection's state. Called on the connection's loop.
func (e *events) OnClose(gc gnet.Conn, _ error) gnet.Action {
	s := e.s
	c, _ := gc.Context().(*Conn)
	if c == nil {
		if a, _ := gc.Context().(*arrival); a != nil {
			s.release(a.adm) // refused by OnOpen
		}
		return gnet.None
	}
	c.loop.wake()
	func() {
		defer s.recoverHandler(c)
		c.onClosed()
	}()
	if s.active.Add(-1) == 0 && s.draining.Load() {
		s.drainOnce.Do(func() { close(s.drained) })
	}
	return gnet.None
}
