package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/engine/tlsrec"
	"github.com/wssd/wssd/security"
)

// Config is one run of a scenario.
//
// The scenarios:
//   - Connect: open Conns connections at ConnRate and hold them for Hold,
//     answering pings;
//   - Echo: open Conns connections, then send Size-byte messages for
//     Duration, closed loop (Inflight in flight on each) or, with Rate,
//     open loop at Rate messages a second in all;
//   - Handshake: for Duration, open connections at ConnRate (0: as fast
//     as Concurrency dialers go) and close each as soon as it is upgraded;
//     the report's handshake rate is the connections opened a second;
//   - Churn: open Conns connections, then for Duration close ChurnRate
//     of them a second, oldest first, each followed by a new connection, so
//     the population stays at Conns;
//   - PubSub: open Pubs publishers and Conns subscribers to Topic on a
//     server speaking wssd's pub/sub protocol, then publish Rate
//     publications a second in all, open loop, for Duration, each of about
//     Size bytes; measure each delivery's latency from its publication's
//     intended send time, and each publication's fan-out (see pubsub.go).
type Config struct {
	Scenario    Scenario      // Connect, Echo, Handshake, Churn or PubSub
	Target      *Target       //
	Conns       int           // connections to open (handshake: unused)
	ConnRate    float64       // connections opened a second; 0: as fast as the dialers go
	Concurrency int           // dials and TLS handshakes at once; 0: 64
	Hold        time.Duration // connect: how long to hold the connections
	Duration    time.Duration // echo, handshake, churn, pubsub: how long the measured part lasts
	Size        int           // echo: message size in bytes; pubsub: publish request size
	Inflight    int           // echo, closed loop: messages in flight per connection; 0: 1
	Rate        float64       // echo: total messages a second, open loop; 0: closed loop; pubsub: publications a second of this run's publishers
	ChurnRate   float64       // churn: connections closed and opened again a second
	Loops       int           // event loops; 0: one per CPU
	SourceIPs   []net.IP      // local addresses to dial from, in turn; none: the kernel's choice
	Progress    func(Second)  // called once a second with the second just ended; nil: none
	ServerPIDs  []int         // sample these processes (one server) from /proc; none: no sampling
	Params      map[string]string

	// pubsub
	Topic     string // the topic; "": "bench"
	Pubs      int    // publisher connections of this run
	PubBase   int    // the id of this run's first publisher (shards: those of the shards before)
	PubsTotal int    // publishers of all the shards of the run; less than PubBase+Pubs: PubBase+Pubs

	// Barrier, when set, is called once the connections are settled, and
	// the measured part starts when it returns: shards of one run use it
	// to start together (pubsub: no publication before every subscriber
	// of every shard is ready). The timeline goes on meanwhile.
	Barrier func(context.Context) error
}

// run is the state of a run.
type run struct {
	cfg      Config
	target   *Target
	payload  []byte
	epoch    time.Time
	cli      *gnet.Client
	stopping atomic.Bool
	openNow  atomic.Int64  // connections upgraded and not closed
	settled  atomic.Uint64 // connections upgraded or failed

	epochUnix  int64         // epoch in Unix nanoseconds
	dialSeq    atomic.Uint64 // pubsub: connections handed to the dialers; the first Pubs are publishers
	publishers atomic.Int64  // pubsub: publishers established
	fanCap     uint64        // pubsub: publications of each publisher whose fan-out is kept

	jobs    chan struct{} // one per connection to dial, taken by the dialers
	dialers sync.WaitGroup
	nextIP  atomic.Uint64
	redial  atomic.Int64  // churn: connections closed and not dialed again yet
	redialC chan struct{} // nudges the redialer

	mu        sync.Mutex
	loops     map[gnet.EventLoop]*cloop
	connect   *Histogram
	tlsTime   *Histogram
	failedN   uint64
	errs      map[string]uint64
	attempted uint64
	resumed   uint64
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
	r.settled.Add(1)
}

func (r *run) opened(*conn) {
	r.openNow.Add(1)
	r.settled.Add(1)
}

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
	c := &conn{gc: gc, loop: l, rec: a.rec, tls: a.tc, tr: a.tr, connected: a.connected}
	if a.pubsub {
		c.ps = &psConn{publisher: a.publisher, pubID: a.pubID}
	}
	if a.tr != nil {
		a.tr.Attach(gc)
	}
	gc.SetContext(c)
	c.open()
	if a.rec != nil && a.rec.Kept() > 0 || a.tr != nil && a.tr.Kept() > 0 {
		// The handshake read the server's first bytes past its own.
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
	case cSubscribing:
		reason := "subscribe: connection closed"
		if err != nil {
			reason = "subscribe: network: " + errText(err)
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
	switch cfg.Scenario {
	case Connect, Echo, Churn:
		if cfg.Conns <= 0 {
			return nil, errors.New("bench: connections are needed")
		}
	case Handshake:
	case PubSub:
		if cfg.Conns < 0 || cfg.Pubs < 0 || cfg.PubBase < 0 || cfg.Conns+cfg.Pubs == 0 {
			return nil, errors.New("bench: subscribers or publishers are needed")
		}
		if cfg.Topic == "" {
			cfg.Topic = "bench"
		}
		if !security.ValidTopic(cfg.Topic) {
			return nil, fmt.Errorf("bench: %q is not a topic: 1 to 16 dot-separated names of letters, digits, '_' and '-'", cfg.Topic)
		}
		cfg.PubsTotal = max(cfg.PubsTotal, cfg.PubBase+cfg.Pubs)
		if cfg.PubsTotal > maxPublisherID {
			return nil, fmt.Errorf("bench: %d publishers at most", maxPublisherID)
		}
	default:
		return nil, fmt.Errorf("bench: unknown scenario %q", cfg.Scenario)
	}
	if cfg.Target == nil {
		return nil, errors.New("bench: a target is needed")
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
		jobs: make(chan struct{}), redialC: make(chan struct{}, 1),
		loops: map[gnet.EventLoop]*cloop{}, connect: NewHistogram(), tlsTime: NewHistogram(), errs: map[string]uint64{},
	}
	r.epochUnix = r.epoch.UnixNano()
	r.fanCap = uint64(fanoutTracked / max(cfg.PubsTotal, 1))
	for i := range r.payload {
		r.payload[i] = 'a' + byte(i%26)
	}
	var sampler *ProcSampler
	var first, peak ProcSample
	var peakConns uint64
	if len(cfg.ServerPIDs) > 0 {
		var err error
		if sampler, err = NewProcSampler(cfg.ServerPIDs...); err != nil {
			return nil, err
		}
		if first, err = sampler.Sample(); err != nil {
			return nil, err
		}
		peak = first
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

	// The dialers, and what feeds them: the ramp, the handshake scenario's
	// stream, the churn's reconnects. Stopped before the client is.
	for range cfg.Concurrency {
		r.dialers.Add(1)
		go r.dialer(ctx)
	}
	stopFeed := make(chan struct{})
	var feeders sync.WaitGroup
	var stopOnce sync.Once
	stopFeeding := func() {
		stopOnce.Do(func() {
			close(stopFeed)
			feeders.Wait()
			close(r.jobs)
		})
	}
	defer func() {
		stopFeeding()
		r.dialers.Wait()
	}()

	rep := &Report{Scenario: cfg.Scenario.String(), URL: cfg.Target.URL.String(), Params: cfg.Params, Started: r.epoch}
	var timeline []Second
	var lastSent, lastRecv, lastErr, lastOpened uint64
	tick := func() {
		snap := r.snapshot(true)
		sec := Second{At: len(timeline) + 1, Established: uint64(max(r.openNow.Load(), 0)),
			Opened: snap.established - lastOpened,
			Sent:   snap.sent - lastSent, Received: snap.received - lastRecv, Errors: snap.errors - lastErr,
			P99: float64(snap.second.Quantile(0.99)) / 1e3}
		lastSent, lastRecv, lastErr, lastOpened = snap.sent, snap.received, snap.errors, snap.established
		timeline = append(timeline, sec)
		if sampler != nil {
			if s, err := sampler.Sample(); err == nil && s.RSS >= peak.RSS {
				peak, peakConns = s, sec.Established
			}
		}
		if cfg.Progress != nil {
			cfg.Progress(sec)
		}
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()

	// Open the connections, at the rate asked, with a bounded number of
	// dials at once; the measured part starts once all are settled.
	if cfg.Scenario.KeepsConns() {
		conns := cfg.Conns
		if cfg.Scenario == PubSub {
			conns += cfg.Pubs // the publishers first
		}
		rampDone := make(chan struct{})
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			defer close(rampDone)
			r.feed(ctx, conns, cfg.ConnRate, stopFeed)
		}()
	ramp:
		for {
			select {
			case <-rampDone:
				break ramp
			case <-ticker.C:
				tick()
			case <-ctx.Done():
				break ramp
			}
		}
		r.settle(ctx, ticker.C, tick)
	}
	if cfg.Barrier != nil && ctx.Err() == nil {
		passed := make(chan struct{})
		go func() {
			defer close(passed)
			_ = cfg.Barrier(ctx) // failed: start anyway, as alone
		}()
	barrier:
		for {
			select {
			case <-passed:
				break barrier
			case <-ticker.C:
				tick()
			case <-ctx.Done():
				break barrier
			}
		}
	}

	start := r.nanos()
	measure := cfg.Duration
	var sendC, churnC <-chan time.Time
	var interval int64
	switch cfg.Scenario {
	case Connect:
		measure = cfg.Hold
	case Echo:
		if cfg.Rate == 0 {
			r.each(func(l *cloop) {
				for c := l.head; c != nil; c = c.next {
					for range cfg.Inflight {
						c.send(r.nanos())
					}
				}
			})
			break
		}
		sendTick := time.NewTicker(time.Millisecond)
		defer sendTick.Stop()
		sendC = sendTick.C
		// Each connection's share of the rate: every loop sends, round
		// robin over its connections, one message per interval/(its
		// connections).
		interval = int64(float64(time.Second) * float64(max(r.openNow.Load(), 1)) / cfg.Rate)
	case PubSub:
		if cfg.Rate <= 0 || r.publishers.Load() == 0 {
			break
		}
		sendTick := time.NewTicker(time.Millisecond)
		defer sendTick.Stop()
		sendC = sendTick.C
		// Each publisher's share of the rate, as for echo's open loop.
		interval = int64(float64(time.Second) * float64(r.publishers.Load()) / cfg.Rate)
	case Handshake:
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			r.feed(ctx, -1, cfg.ConnRate, stopFeed)
		}()
	case Churn:
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			r.redialer(ctx, stopFeed)
		}()
		if cfg.ChurnRate > 0 {
			churnTick := time.NewTicker(10 * time.Millisecond)
			defer churnTick.Stop()
			churnC = churnTick.C
		}
	}
	end := time.NewTimer(measure)
	defer end.Stop()
	var churned int64
	var churnNext int
measured:
	for {
		select {
		case <-end.C:
			break measured
		case <-ctx.Done():
			break measured
		case <-ticker.C:
			tick()
		case <-sendC:
			now := r.nanos()
			pubsub := cfg.Scenario == PubSub
			for _, l := range r.loopList() {
				_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
					if pubsub {
						l.publishDue(now, interval/int64(max(len(l.pubs), 1)), start+int64(measure))
					} else {
						l.sendDue(now, interval/int64(max(l.nOpen, 1)))
					}
					return nil
				}))
			}
		case <-churnC:
			// What is due since the start, spread over the loops.
			due := int64(cfg.ChurnRate*float64(r.nanos()-start)/1e9) - churned
			loops := r.loopList()
			if due <= 0 || len(loops) == 0 {
				break
			}
			churned += due
			for k := range loops {
				l := loops[(churnNext+k)%len(loops)]
				n := int(due / int64(len(loops)))
				if int64(k) < due%int64(len(loops)) {
					n++
				}
				if n == 0 {
					continue
				}
				_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
					if closed := l.churn(n); closed > 0 {
						r.redial.Add(int64(closed))
						select {
						case r.redialC <- struct{}{}:
						default:
						}
					}
					return nil
				}))
			}
			churnNext++
		}
	}
	elapsed := time.Duration(r.nanos() - start)
	if cfg.Scenario == Churn {
		// The closes posted to the loops are done once a task posted
		// after them has run; dial again all they closed.
		r.each(func(*cloop) {})
		for r.takeRedial() && r.give(ctx, nil) {
		}
	}
	stopFeeding()
	if cfg.Scenario.dialsMeasured() {
		// The connections handed out before the end: opened or failed.
		r.settle(ctx, ticker.C, tick)
		if cfg.Scenario == Handshake {
			elapsed = time.Duration(r.nanos() - start)
		}
	}
	r.stopping.Store(true)
	var fanout FanoutTable
	if cfg.Scenario == PubSub {
		// The publications in flight, until every subscriber has had all
		// it will get.
		r.drainPubSub(ctx)
		fanout = r.fanoutTable()
	} else {
		// Let the messages in flight come back, briefly.
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
			snap := r.snapshot(false)
			if snap.received >= snap.sent {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	snap := r.snapshot(false)
	r.each(func(l *cloop) { l.closeAll() })
	for deadline := time.Now().Add(2 * time.Second); r.openNow.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}

	r.mu.Lock()
	rep.Attempted = r.attempted
	rep.Failed = r.failedN
	rep.Resumed = r.resumed
	rep.Errors = map[string]uint64{}
	for k, v := range r.errs {
		rep.Errors[k] += v
	}
	rep.Connect = r.connect
	if r.target.TLS != nil {
		rep.TLS = r.tlsTime
	}
	r.mu.Unlock()
	for k, v := range snap.errs {
		rep.Errors[k] += v
	}
	rep.Established = snap.established
	rep.Dropped = snap.dropped
	rep.Closed = snap.closed
	rep.Sent, rep.Received = snap.sent, snap.received
	rep.Latency, rep.Handshake = snap.latency, snap.handshake
	if cfg.Scenario == PubSub {
		rep.Publishers, rep.Subscribers = snap.publishers, snap.subscribers
		rep.Published, rep.Duplicates = snap.published, snap.duplicates
		rep.Subscribe = snap.subscribe
		rep.FanoutTable = fanout
		rep.derivePubSub()
	}
	rep.Elapsed = elapsed
	rep.Timeline = timeline
	if sampler != nil {
		last, err := sampler.Sample()
		if err == nil {
			if !cfg.Scenario.KeepsConns() {
				peakConns = 0 // connections do not stay: no memory per connection
			}
			rep.Server = sampler.Stats(first, peak, last, peakConns, rep.Received, rep.Established)
		}
	}
	return rep, ctx.Err()
}

// settle waits until every connection handed to the dialers has opened or
// failed, ticking the timeline meanwhile. It gives up after 10 s without
// progress (a server that never answers an upgrade).
func (r *run) settle(ctx context.Context, ticker <-chan time.Time, tick func()) {
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	last, since := r.settled.Load(), time.Now()
	for {
		r.mu.Lock()
		attempted := r.attempted
		r.mu.Unlock()
		n := r.settled.Load()
		if n >= attempted || ctx.Err() != nil {
			return
		}
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) > 10*time.Second {
			return
		}
		select {
		case <-ticker:
			tick()
		case <-poll.C:
		case <-ctx.Done():
			return
		}
	}
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
	sum := loopStats{errs: map[string]uint64{}, latency: NewHistogram(), handshake: NewHistogram(), second: NewHistogram(),
		subscribe: NewHistogram()}
	r.each(func(l *cloop) {
		mu.Lock()
		defer mu.Unlock()
		s := &l.s
		sum.established += s.established
		sum.dropped += s.dropped
		sum.closed += s.closed
		sum.sent += s.sent
		sum.received += s.received
		sum.errors += s.errors
		for k, v := range s.errs {
			sum.errs[k] += v
		}
		sum.publishers += s.publishers
		sum.subscribers += s.subscribers
		sum.published += s.published
		sum.duplicates += s.duplicates
		sum.latency.Merge(s.latency)
		sum.handshake.Merge(s.handshake)
		sum.second.Merge(s.second)
		sum.subscribe.Merge(s.subscribe)
		if second {
			s.second.Reset()
		}
	})
	r.mu.Lock()
	sum.errors += r.failedN
	r.mu.Unlock()
	return sum
}

// give hands one connection to the dialers and counts it as attempted;
// false when stop or ctx came first.
func (r *run) give(ctx context.Context, stop <-chan struct{}) bool {
	r.mu.Lock()
	r.attempted++
	r.mu.Unlock()
	select {
	case r.jobs <- struct{}{}:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	r.mu.Lock()
	r.attempted--
	r.mu.Unlock()
	return false
}

// feed hands n connections (n < 0: until stop) to the dialers, rate a
// second (0: as fast as they take them). Paced, each tick hands out what
// is due since the start, so the rate holds whatever the timer's
// granularity, and a stretch where the dialers were all busy is made up
// after.
func (r *run) feed(ctx context.Context, n int, rate float64, stop <-chan struct{}) {
	if rate <= 0 {
		for i := 0; n < 0 || i < n; i++ {
			if !r.give(ctx, stop) {
				return
			}
		}
		return
	}
	t := time.NewTicker(max(time.Duration(float64(time.Second)/rate), time.Millisecond))
	defer t.Stop()
	t0 := time.Now()
	given := 0
	for n < 0 || given < n {
		due := int(rate*time.Since(t0).Seconds()) + 1
		for ; given < due && (n < 0 || given < n); given++ {
			if !r.give(ctx, stop) {
				return
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		case <-stop:
			return
		}
	}
}

// redialer dials again, for the churn, the connections the loops closed.
func (r *run) redialer(ctx context.Context, stop <-chan struct{}) {
	for {
		select {
		case <-r.redialC:
		case <-ctx.Done():
			return
		case <-stop:
			return
		}
		for r.takeRedial() {
			if !r.give(ctx, stop) {
				return
			}
		}
	}
}

// takeRedial takes one connection to dial again, if there is one.
func (r *run) takeRedial() bool {
	for {
		n := r.redial.Load()
		if n <= 0 {
			return false
		}
		if r.redial.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// dialer dials the connections handed to it until the jobs are closed.
func (r *run) dialer(ctx context.Context) {
	defer r.dialers.Done()
	for range r.jobs {
		r.dial(ctx)
	}
}

// dial opens a connection: TCP, then TLS for wss://, then hands it to a
// loop for the upgrade. Called by a dialer goroutine.
func (r *run) dial(ctx context.Context) {
	a := &arrival{}
	if r.cfg.Scenario == PubSub {
		a.pubsub = true
		if i := r.dialSeq.Add(1) - 1; i < uint64(r.cfg.Pubs) {
			a.publisher, a.pubID = true, uint64(r.cfg.PubBase)+i
		}
	}
	d := net.Dialer{Timeout: 10 * time.Second}
	if ips := r.cfg.SourceIPs; len(ips) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: ips[(r.nextIP.Add(1)-1)%uint64(len(ips))]}
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
	a.connected = connected
	if r.target.TLS != nil {
		a.tr = tlsrec.NewTransport(nc, true)
		a.tc = tls.Client(a.tr, a.tr.ClientConfig(r.target.TLS))
		_ = a.tr.SetDeadline(time.Now().Add(10 * time.Second))
		err := a.tc.HandshakeContext(ctx)
		if err == nil {
			// With --resume the tls.Conn stays, for the session
			// tickets that come after the handshake.
			a.rec, err = a.tr.Finish(a.tc, r.target.TLS.ClientSessionCache != nil)
		}
		if err != nil {
			a.tr.Abandon()
			nc.Close()
			r.failed("tls: " + errText(err))
			return
		}
		_ = a.tr.SetDeadline(time.Time{})
		done := r.nanos()
		resumed := a.tc.ConnectionState().DidResume
		if a.rec != nil {
			a.tc, a.tr = nil, nil
		}
		r.mu.Lock()
		r.tlsTime.Record(time.Duration(done - connected))
		if resumed {
			r.resumed++
		}
		r.mu.Unlock()
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
