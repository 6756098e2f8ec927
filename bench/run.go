package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/engine"
)

// Config is one run of a scenario.
type Config struct {
	Scenario    string        // "connect" or "echo"
	Target      *Target       //
	Conns       int           // connections to open
	ConnRate    float64       // connections opened a second; 0: as fast as the dialers go
	Concurrency int           // dials and TLS handshakes at once; 0: 64
	Hold        time.Duration // connect: how long to hold the connections
	Duration    time.Duration // echo: how long to send
	Size        int           // echo: message size in bytes
	Inflight    int           // echo, closed loop: messages in flight per connection; 0: 1
	Rate        float64       // echo: total messages a second, open loop; 0: closed loop
	Loops       int           // event loops; 0: one per CPU
	SourceIPs   []net.IP      // local addresses to dial from, in turn; none: the kernel's choice
	Progress    io.Writer     // a line a second; nil: none
	ServerPID   int           // sample this process from /proc; 0: none
	Params      map[string]string
}

// run is the state of a run.
type run struct {
	cfg      Config
	target   *Target
	payload  []byte
	epoch    time.Time
	cli      *gnet.Client
	stopping atomic.Bool
	openNow  atomic.Int64 // connections upgraded and not closed

	mu        sync.Mutex
	loops     map[gnet.EventLoop]*cloop
	connect   *Histogram
	failedN   uint64
	errs      map[string]uint64
	attempted uint64
}

func (r *run) nanos() int64 { return int64(time.Since(r.epoch)) }

func (r *run) loopOf(el gnet.EventLoop) *cloop {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.loops[el]
	if l == nil {
		l = newCloop(r, el)
		r.loops[el] = l
	}
	return l
}

func (r *run) loopList() []*cloop {
	r.mu.Lock()
	defer r.mu.Unlock()
	ls := make([]*cloop, 0, len(r.loops))
	for _, l := range r.loops {
		ls = append(ls, l)
	}
	return ls
}

// failed counts a connection that did not open. Safe for concurrent use.
func (r *run) failed(reason string) {
	r.mu.Lock()
	r.failedN++
	r.errs[reason]++
	r.mu.Unlock()
}

func (r *run) opened(*conn) { r.openNow.Add(1) }

// events are the gnet callbacks of the client.
type events struct {
	gnet.BuiltinEventEngine
	r *run
}

func (e *events) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	a, _ := gc.Context().(*arrival)
	if a == nil {
		return nil, gnet.Close
	}
	l := e.r.loopOf(gc.EventLoop())
	c := &conn{gc: gc, loop: l, tls: a.tc, tr: a.tr, connected: a.connected}
	if a.tr != nil {
		a.tr.Attach(gc)
	}
	gc.SetContext(c)
	c.open()
	if a.tc != nil {
		// The handshake may have read the server's first bytes.
		_ = gc.Wake(nil)
	}
	return nil, gnet.None
}

func (e *events) OnTraffic(gc gnet.Conn) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil || c.state == cClosed {
		return gnet.Close
	}
	return c.traffic()
}

func (e *events) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, _ := gc.Context().(*conn)
	if c == nil {
		return gnet.None
	}
	switch c.state {
	case cUpgrading:
		reason := "upgrade: connection closed"
		if err != nil {
			reason = "upgrade: " + errText(err)
		}
		c.refused(reason)
	case cOpen:
		reason := "closed by the network"
		if err != nil {
			reason = "network: " + errText(err)
		}
		c.lost(reason)
	default:
		c.end()
	}
	return gnet.None
}

// Run runs one scenario and returns what it measured.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Target == nil || cfg.Conns <= 0 {
		return nil, errors.New("bench: a target and connections are needed")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 64
	}
	if cfg.Inflight <= 0 {
		cfg.Inflight = 1
	}
	if cfg.Loops <= 0 {
		cfg.Loops = runtime.NumCPU()
	}
	r := &run{
		cfg: cfg, target: cfg.Target, payload: make([]byte, cfg.Size), epoch: time.Now(),
		loops: map[gnet.EventLoop]*cloop{}, connect: NewHistogram(), errs: map[string]uint64{},
	}
	for i := range r.payload {
		r.payload[i] = 'a' + byte(i%26)
	}
	cli, err := gnet.NewClient(&events{r: r}, gnet.WithMulticore(true), gnet.WithNumEventLoop(cfg.Loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	if err := cli.Start(); err != nil {
		return nil, err
	}
	r.cli = cli
	defer func() { _ = cli.Stop() }()

	var sampler *ProcSampler
	var first, peak ProcSample
	var peakConns uint64
	if cfg.ServerPID > 0 {
		if sampler, err = NewProcSampler(cfg.ServerPID); err != nil {
			return nil, err
		}
		if first, err = sampler.Sample(); err != nil {
			return nil, err
		}
		peak = first
	}

	rep := &Report{Scenario: cfg.Scenario, URL: cfg.Target.URL.String(), Params: cfg.Params, Started: r.epoch}
	var timeline []Second
	var lastSent, lastRecv, lastErr uint64
	tick := func() {
		snap := r.snapshot(true)
		sec := Second{At: len(timeline) + 1, Established: uint64(r.openNow.Load()),
			Sent: snap.sent - lastSent, Received: snap.received - lastRecv, Errors: snap.errors - lastErr,
			P99: float64(snap.second.Quantile(0.99)) / 1e3}
		lastSent, lastRecv, lastErr = snap.sent, snap.received, snap.errors
		timeline = append(timeline, sec)
		if sampler != nil {
			if s, err := sampler.Sample(); err == nil && s.RSS >= peak.RSS {
				peak, peakConns = s, sec.Established
			}
		}
		if cfg.Progress != nil {
			fmt.Fprintln(cfg.Progress, ProgressLine(time.Duration(len(timeline))*time.Second, sec.Established,
				float64(sec.Sent), float64(sec.Received), snap.errors, snap.second.Quantile(0.99)))
		}
	}

	// Open the connections, at the rate asked, with a bounded number of
	// dials at once; the measured part starts once all are settled.
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	dialsDone := make(chan struct{})
	go r.dialAll(ctx, dialsDone)
wait:
	for {
		select {
		case <-dialsDone:
			break wait
		case <-ticker.C:
			tick()
		case <-ctx.Done():
			break wait
		}
	}
	// Wait for the upgrades in flight (bounded).
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		snap := r.snapshot(false)
		r.mu.Lock()
		settled := snap.established+r.failedN >= r.attempted
		r.mu.Unlock()
		if settled || ctx.Err() != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	start := r.nanos()
	measure := cfg.Hold
	if cfg.Scenario == "echo" {
		measure = cfg.Duration
		if cfg.Rate == 0 {
			r.each(func(l *cloop) {
				for c := l.head; c != nil; c = c.next {
					for range cfg.Inflight {
						c.send(r.nanos())
					}
				}
			})
		}
	}
	end := time.NewTimer(measure)
	defer end.Stop()
	var sendTick *time.Ticker
	var interval int64
	var sendC <-chan time.Time
	if cfg.Scenario == "echo" && cfg.Rate > 0 {
		sendTick = time.NewTicker(time.Millisecond)
		defer sendTick.Stop()
		sendC = sendTick.C
		// Each connection's share of the rate: every loop sends, round
		// robin over its connections, one message per interval/(its
		// connections).
		interval = int64(float64(time.Second) * float64(max(r.openNow.Load(), 1)) / cfg.Rate)
	}
run:
	for {
		select {
		case <-end.C:
			break run
		case <-ctx.Done():
			break run
		case <-ticker.C:
			tick()
		case <-sendC:
			now := r.nanos()
			for _, l := range r.loopList() {
				_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
					l.sendDue(now, interval/int64(max(l.nOpen, 1)))
					return nil
				}))
			}
		}
	}
	elapsed := time.Duration(r.nanos() - start)
	r.stopping.Store(true)
	// Let the messages in flight come back, briefly.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		snap := r.snapshot(false)
		if snap.received >= snap.sent {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	snap := r.snapshot(false)
	r.each(func(l *cloop) { l.closeAll() })
	for deadline := time.Now().Add(2 * time.Second); r.openNow.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}

	r.mu.Lock()
	rep.Attempted = r.attempted
	rep.Failed = r.failedN
	rep.Errors = map[string]uint64{}
	for k, v := range r.errs {
		rep.Errors[k] += v
	}
	rep.Connect = r.connect
	r.mu.Unlock()
	for k, v := range snap.errs {
		rep.Errors[k] += v
	}
	rep.Established = snap.established
	rep.Dropped = snap.dropped
	rep.Sent, rep.Received = snap.sent, snap.received
	rep.Latency, rep.Handshake = snap.latency, snap.handshake
	rep.Elapsed = elapsed
	rep.Timeline = timeline
	if sampler != nil {
		last, err := sampler.Sample()
		if err == nil {
			rep.Server = sampler.Stats(first, peak, last, peakConns, rep.Received)
		}
	}
	return rep, ctx.Err()
}

// each runs f on every loop and waits for all.
func (r *run) each(f func(l *cloop)) {
	var wg sync.WaitGroup
	for _, l := range r.loopList() {
		wg.Add(1)
		err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			defer wg.Done()
			f(l)
			return nil
		}))
		if err != nil {
			wg.Done()
		}
	}
	wg.Wait()
}

// snapshot adds up the loops' counts (on the loops). With second, the
// per-second histograms are taken and restarted.
func (r *run) snapshot(second bool) loopStats {
	var mu sync.Mutex
	sum := loopStats{errs: map[string]uint64{}, latency: NewHistogram(), handshake: NewHistogram(), second: NewHistogram()}
	r.each(func(l *cloop) {
		mu.Lock()
		defer mu.Unlock()
		s := &l.s
		sum.established += s.established
		sum.dropped += s.dropped
		sum.sent += s.sent
		sum.received += s.received
		sum.errors += s.errors
		for k, v := range s.errs {
			sum.errs[k] += v
		}
		sum.latency.Merge(s.latency)
		sum.handshake.Merge(s.handshake)
		sum.second.Merge(s.second)
		if second {
			s.second.Reset()
		}
	})
	r.mu.Lock()
	sum.errors += r.failedN
	r.mu.Unlock()
	return sum
}

// dialAll opens cfg.Conns connections at cfg.ConnRate with
// cfg.Concurrency dials at once, then closes done.
func (r *run) dialAll(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	cfg := r.cfg
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(cfg.Concurrency, cfg.Conns) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r.dial(ctx, i)
			}
		}()
	}
	var pace *time.Ticker
	if cfg.ConnRate > 0 {
		pace = time.NewTicker(max(time.Duration(float64(time.Second)/cfg.ConnRate), time.Microsecond))
		defer pace.Stop()
	}
	for i := range cfg.Conns {
		if pace != nil {
			select {
			case <-pace.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// dial opens connection i: TCP, then TLS for wss://, then hands it to a
// loop for the upgrade. Called by a dialer goroutine.
func (r *run) dial(ctx context.Context, i int) {
	r.mu.Lock()
	r.attempted++
	r.mu.Unlock()
	d := net.Dialer{Timeout: 10 * time.Second}
	if ips := r.cfg.SourceIPs; len(ips) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: ips[i%len(ips)]}
	}
	t0 := r.nanos()
	nc, err := d.DialContext(ctx, "tcp", r.target.Addr)
	if err != nil {
		r.failed("connect: " + errText(err))
		return
	}
	connected := r.nanos()
	r.mu.Lock()
	r.connect.Record(time.Duration(connected - t0))
	r.mu.Unlock()
	a := &arrival{connected: connected}
	if r.target.TLS != nil {
		a.tr = engine.NewTLSTransport(nc)
		a.tc = tls.Client(a.tr, r.target.TLS)
		_ = a.tr.SetDeadline(time.Now().Add(10 * time.Second))
		if err := a.tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			r.failed("tls: " + errText(err))
			return
		}
		_ = a.tr.SetDeadline(time.Time{})
	}
	if _, err := r.cli.EnrollContext(nc, a); err != nil {
		r.failed("enroll: " + errText(err))
	}
}

// quietLogger drops gnet's own log lines.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
