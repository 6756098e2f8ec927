package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/socketio/packet"
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
//     intended send time, and each publication's fan-out (see pubsub.go);
//   - SocketIO: open Conns Socket.IO sessions on Transport, each joining
//     Namespace (with Auth), then emit Event with a Size-byte string for
//     Duration, asking for acks, closed loop (Inflight unacknowledged on
//     each) or, with Rate, open loop; measure each ack's latency (see
//     socketio.go).
type Config struct {
	Scenario    Scenario      // Connect, Echo, Handshake, Churn, PubSub or SocketIO
	Target      *Target       //
	Conns       int           // connections to open (handshake: unused)
	ConnRate    float64       // connections opened a second; 0: as fast as the dialers go
	Concurrency int           // dials and TLS handshakes at once; 0: 64
	Hold        time.Duration // connect: how long to hold the connections
	Duration    time.Duration // echo, handshake, churn, pubsub, socketio: how long the measured part lasts
	Size        int           // echo: message size in bytes; pubsub: publish request size; socketio: the event's string argument
	Inflight    int           // echo, socketio, closed loop: messages (events) in flight per connection; 0: 1
	Rate        float64       // echo, socketio: total messages (events) a second, open loop; 0: closed loop; pubsub: publications a second of this run's publishers
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

	// socketio
	Transport string // "websocket" (websocket-only sessions) or "polling" (HTTP long-polling only); "": websocket
	Namespace string // the namespace joined; "": the main one, "/"
	Auth      string // the CONNECT's data, a JSON object (the client's auth); "": none
	Event     string // the event emitted; "": DefaultEvent

	// permessage-deflate (RFC 7692): every connection offers it; echo and
	// pubsub compress what they send, and inflate what comes compressed.
	// Not in socketio.
	Deflate          bool   // offer permessage-deflate; set by a DeflateOffer
	DeflateOffer     string // the offer, sent as it is (one offer, see ParseDeflateOffer); "": DefaultDeflateOffer
	DeflateThreshold int    // messages shorter than this are sent uncompressed; 0: all are compressed

	// Payload is what echo's messages and the pad of pubsub's
	// publications are made of: PayloadJSON ("", the default) or
	// PayloadText (see payload.go). Socket.IO's argument is always text.
	Payload string

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
	padJSON    bool          // pubsub: the pad is a JSON object, not a string of payload

	zOffer codec.DeflateOffer // with Cfg.Deflate, the offer

	// socketio
	sioNsp  []byte // the namespace joined
	sioAuth []byte // the CONNECT's data
	sioArg  []byte // the event's argument, a JSON string
	polling *pollRun

	jobs    chan struct{} // one per connection to dial, taken by the dialers
	dialers sync.WaitGroup
	nextIP  atomic.Uint64
	redial  atomic.Int64  // churn: connections closed and not dialed again yet
	redialC chan struct{} // nudges the redialer

	// The feeders, which hand connections to the dialers: the ramp, the
	// handshake scenario's stream, the churn's redialer.
	feedStop chan struct{} // closed: the feeders return
	feeders  sync.WaitGroup
	feedEnd  sync.Once // stopFeeding's

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
	if a.sio {
		c.sio = &sioSession{}
	}
	if a.tr != nil {
		a.tr.Attach(countingWriter{gc, &l.s.wireOut})
	}
	// Bytes the handshake read past its own came from the socket too.
	if a.rec != nil {
		l.s.wireIn += uint64(a.rec.Kept())
	} else if a.tr != nil {
		l.s.wireIn += uint64(a.tr.Kept())
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
	case cJoining:
		reason := c.joining() + ": connection closed"
		if err != nil {
			reason = c.joining() + ": network: " + errText(err)
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
	cfg, err := cfg.checked()
	if err != nil {
		return nil, err
	}
	r := newRun(cfg)
	srv, err := watchServer(cfg.ServerPIDs)
	if err != nil {
		return nil, err
	}
	if err := r.startClient(); err != nil {
		return nil, err
	}
	defer func() { _ = r.cli.Stop() }()
	if p := r.polling; p != nil {
		// Polling sessions end with the run, or with ctx.
		defer p.shutdown()
		defer context.AfterFunc(ctx, p.cancel)()
	}

	// The dialers, and what feeds them: the ramp, the handshake scenario's
	// stream, the churn's reconnects. Stopped before the client is.
	r.startDialers(ctx)
	defer func() {
		r.stopFeeding()
		if r.polling != nil {
			r.polling.cancel() // a session still opening gives up
		}
		r.dialers.Wait()
	}()

	tl := &timeline{r: r, srv: srv, ticker: time.NewTicker(time.Second)}
	if self, err := NewProcSampler(os.Getpid()); err == nil {
		if first, err := self.Sample(); err == nil {
			tl.self, tl.lastCPU = self, first
		}
	}
	defer tl.ticker.Stop()
	r.openConns(ctx, tl)
	r.passBarrier(ctx, tl)

	m := r.startMeasured(ctx)
	defer m.stop()
	r.measure(ctx, m, tl)
	elapsed := r.endMeasured(ctx, m, tl)

	snap, fanout := r.windDown(ctx)
	rep := r.report(snap, fanout, elapsed, tl.seconds, srv)
	return rep, ctx.Err()
}

// checked is cfg checked, with its defaults filled in.
func (cfg Config) checked() (Config, error) {
	switch cfg.Scenario {
	case Connect, Echo, Churn:
		if cfg.Conns <= 0 {
			return cfg, errors.New("bench: connections are needed")
		}
	case Handshake:
	case SocketIO:
		if err := cfg.checkSocketIO(); err != nil {
			return cfg, err
		}
	case PubSub:
		if cfg.Conns < 0 || cfg.Pubs < 0 || cfg.PubBase < 0 || cfg.Conns+cfg.Pubs == 0 {
			return cfg, errors.New("bench: subscribers or publishers are needed")
		}
		if cfg.Topic == "" {
			cfg.Topic = "bench"
		}
		if !security.ValidTopic(cfg.Topic) {
			return cfg, fmt.Errorf("bench: %q is not a topic: 1 to 16 dot-separated names of letters, digits, '_' and '-'", cfg.Topic)
		}
		cfg.PubsTotal = max(cfg.PubsTotal, cfg.PubBase+cfg.Pubs)
		if cfg.PubsTotal > maxPublisherID {
			return cfg, fmt.Errorf("bench: %d publishers at most", maxPublisherID)
		}
	default:
		return cfg, fmt.Errorf("bench: unknown scenario %q", cfg.Scenario)
	}
	if cfg.Target == nil {
		return cfg, errors.New("bench: a target is needed")
	}
	if cfg.DeflateOffer != "" {
		cfg.Deflate = true
	}
	if cfg.Deflate {
		if cfg.Scenario == SocketIO {
			return cfg, errors.New("bench: socketio: no permessage-deflate")
		}
		if cfg.DeflateOffer == "" {
			cfg.DeflateOffer = DefaultDeflateOffer
		}
		if _, err := ParseDeflateOffer(cfg.DeflateOffer); err != nil {
			return cfg, fmt.Errorf("bench: %w", err)
		}
		if cfg.DeflateThreshold < 0 {
			return cfg, errors.New("bench: a negative deflate threshold")
		}
	}
	if cfg.Payload != "" && cfg.Payload != PayloadJSON && cfg.Payload != PayloadText {
		return cfg, fmt.Errorf("bench: payload %q: json or text", cfg.Payload)
	}
	if cfg.Scenario != SocketIO && !cfg.Target.webSocket() {
		return cfg, fmt.Errorf("bench: %s: the URL's scheme must be ws or wss", cfg.Scenario)
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
	return cfg, nil
}

// newRun is the state of a run of cfg, checked, starting now.
func newRun(cfg Config) *run {
	r := &run{
		cfg: cfg, target: cfg.Target, epoch: time.Now(),
		jobs: make(chan struct{}), feedStop: make(chan struct{}), redialC: make(chan struct{}, 1),
		loops: map[gnet.EventLoop]*cloop{}, connect: NewHistogram(), tlsTime: NewHistogram(), errs: map[string]uint64{},
	}
	r.epochUnix = r.epoch.UnixNano()
	r.payload = appendTextPayload(nil, cfg.Size)
	if cfg.Scenario == Echo && cfg.Payload != PayloadText {
		r.payload = AppendJSONPayload(nil, cfg.Size)
	}
	r.padJSON = cfg.Scenario == PubSub && cfg.Payload != PayloadText
	if cfg.Deflate {
		r.zOffer, _ = ParseDeflateOffer(cfg.DeflateOffer) // checked
	}
	if cfg.Scenario == SocketIO {
		r.target = cfg.Target.socketIO(cfg.Transport)
		r.sioNsp = []byte(cfg.Namespace)
		r.sioAuth = []byte(cfg.Auth)
		r.sioArg = packet.AppendString(nil, string(r.payload))
		if cfg.Transport == "polling" {
			r.polling = newPollRun(r)
		}
	}
	r.fanCap = uint64(fanoutTracked / max(cfg.PubsTotal, 1))
	return r
}

// startClient starts the gnet client whose event loops the connections
// live on; the caller stops it.
func (r *run) startClient() error {
	cli, err := gnet.NewClient(&events{r: r}, gnet.WithMulticore(true), gnet.WithNumEventLoop(r.cfg.Loops),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithLogger(quietLogger{}))
	if err != nil {
		return err
	}
	if err := cli.Start(); err != nil {
		return err
	}
	r.cli = cli
	return nil
}

// startDialers starts Concurrency dialers. They return once stopFeeding
// has ended their jobs and they have dialed what they were handed.
func (r *run) startDialers(ctx context.Context) {
	for range r.cfg.Concurrency {
		r.dialers.Add(1)
		go r.dialer(ctx)
	}
}

// goFeed runs f, which hands connections to the dialers, on a goroutine
// of its own; f returns when stop is closed, if not before.
func (r *run) goFeed(f func(stop <-chan struct{})) {
	r.feeders.Add(1)
	go func() {
		defer r.feeders.Done()
		f(r.feedStop)
	}()
}

// stopFeeding stops the feeders, then ends the dialers' jobs: nothing is
// handed to them any more. Calls after the first wait for nothing.
// Called by Run's goroutine.
func (r *run) stopFeeding() {
	r.feedEnd.Do(func() {
		close(r.feedStop)
		r.feeders.Wait()
		close(r.jobs)
	})
}

// timeline is a run's seconds: at the end of each, its counts are added
// to the timeline, the server is sampled and Progress told. Used by Run's
// goroutine only.
type timeline struct {
	r       *run
	srv     *serverWatch
	ticker  *time.Ticker // once a second
	seconds []Second

	// The counts at the end of the second before.
	lastSent, lastRecv, lastErr, lastOpened uint64
	lastWireOut, lastWireIn                 uint64

	self    *ProcSampler // the load generator's own process; nil off Linux
	lastCPU ProcSample
}

// tick ends a second.
func (t *timeline) tick() {
	r := t.r
	snap := r.snapshot(true)
	us := func(d time.Duration) float64 { return float64(d) / 1e3 }
	sec := Second{At: len(t.seconds) + 1, Established: uint64(max(r.openNow.Load(), 0)),
		Opened: snap.established - t.lastOpened,
		Sent:   snap.sent - t.lastSent, Received: snap.received - t.lastRecv, Errors: snap.errors - t.lastErr,
		P50: us(snap.second.Quantile(0.5)), P99: us(snap.second.Quantile(0.99)), Max: us(snap.second.Max()),
		WireSent: snap.wireOut - t.lastWireOut, WireRecv: snap.wireIn - t.lastWireIn}
	t.lastSent, t.lastRecv, t.lastErr, t.lastOpened = snap.sent, snap.received, snap.errors, snap.established
	t.lastWireOut, t.lastWireIn = snap.wireOut, snap.wireIn
	if t.self != nil {
		if s, err := t.self.Sample(); err == nil {
			if d := s.At.Sub(t.lastCPU.At).Seconds(); d > 0 {
				sec.ClientCPU = (s.CPUSeconds - t.lastCPU.CPUSeconds) / d
			}
			t.lastCPU = s
		}
	}
	t.seconds = append(t.seconds, sec)
	t.srv.second(sec.Established)
	if r.cfg.Progress != nil {
		r.cfg.Progress(sec)
	}
}

// wait returns once done is closed or ctx is done, ticking meanwhile.
func (t *timeline) wait(ctx context.Context, done <-chan struct{}) {
	for {
		select {
		case <-done:
			return
		case <-t.ticker.C:
			t.tick()
		case <-ctx.Done():
			return
		}
	}
}

// serverWatch samples the server's processes from /proc: at the start, at
// the end of each second, keeping the sample of the highest RSS and the
// connections open then, and at the end. Without processes it does
// nothing. Used by Run's goroutine only.
type serverWatch struct {
	sampler     *ProcSampler // nil: no sampling
	first, peak ProcSample
	peakConns   uint64
}

// watchServer takes the first sample of the processes pids.
func watchServer(pids []int) (*serverWatch, error) {
	w := &serverWatch{}
	if len(pids) == 0 {
		return w, nil
	}
	var err error
	if w.sampler, err = NewProcSampler(pids...); err != nil {
		return nil, err
	}
	if w.first, err = w.sampler.Sample(); err != nil {
		return nil, err
	}
	w.peak = w.first
	return w, nil
}

// second samples the server at the end of a second, with established
// connections of the run open.
func (w *serverWatch) second(established uint64) {
	if w.sampler == nil {
		return
	}
	if s, err := w.sampler.Sample(); err == nil && s.RSS >= w.peak.RSS {
		w.peak, w.peakConns = s, established
	}
}

// stats takes the last sample and is the server's figures for a run of
// scenario s that received messages and established connections; nil
// without sampling, or when the last sample failed.
func (w *serverWatch) stats(s Scenario, received, established uint64) *ServerStats {
	if w.sampler == nil {
		return nil
	}
	last, err := w.sampler.Sample()
	if err != nil {
		return nil
	}
	peakConns := w.peakConns
	if !s.KeepsConns() {
		peakConns = 0 // connections do not stay: no memory per connection
	}
	return w.sampler.Stats(w.first, w.peak, last, peakConns, received, established)
}

// openConns opens the connections of a scenario that keeps them, at the
// rate asked, with a bounded number of dials at once, and returns once
// all are settled (or ctx is done): the measured part starts then.
func (r *run) openConns(ctx context.Context, tl *timeline) {
	if !r.cfg.Scenario.KeepsConns() {
		return
	}
	conns := r.cfg.Conns
	if r.cfg.Scenario == PubSub {
		conns += r.cfg.Pubs // the publishers first
	}
	rampDone := make(chan struct{})
	r.goFeed(func(stop <-chan struct{}) {
		defer close(rampDone)
		r.feed(ctx, conns, r.cfg.ConnRate, stop)
	})
	tl.wait(ctx, rampDone)
	r.settle(ctx, tl)
}

// passBarrier returns once Barrier, if any, has, ticking meanwhile.
func (r *run) passBarrier(ctx context.Context, tl *timeline) {
	if r.cfg.Barrier == nil || ctx.Err() != nil {
		return
	}
	passed := make(chan struct{})
	go func() {
		defer close(passed)
		_ = r.cfg.Barrier(ctx) // failed: start anyway, as alone
	}()
	tl.wait(ctx, passed)
}

// measured is the measured part of a run as its scenario drives it. Used
// by Run's goroutine only.
type measured struct {
	start  int64         // run nanos at the start
	length time.Duration // how long it lasts
	end    *time.Timer   // fires at the end

	sendC    <-chan time.Time // open loop (echo, pubsub): send what is due; nil: none
	interval int64            // open loop: nanoseconds between two messages of a connection (pubsub: publications of a publisher)

	churnC    <-chan time.Time // churn: close what is due; nil: none
	churned   int64            // churn: connections closed so far
	churnNext int              // churn: the loop the next closes start from

	tickers []*time.Ticker
}

// startMeasured starts the measured part as the scenario drives it:
// echo's first messages or its open loop, pubsub's publications, the
// handshake scenario's stream of connections, churn's reconnects.
func (r *run) startMeasured(ctx context.Context) *measured {
	cfg := &r.cfg
	m := &measured{start: r.nanos(), length: cfg.Duration}
	switch cfg.Scenario {
	case Connect:
		m.length = cfg.Hold
	case Echo, SocketIO:
		if cfg.Rate == 0 {
			r.each(func(l *cloop) {
				for c := l.head; c != nil; c = c.next {
					for range cfg.Inflight {
						c.send(r.nanos())
					}
				}
			})
			if r.polling != nil {
				r.polling.startClosedLoop()
			}
			break
		}
		m.sendC = m.ticker(time.Millisecond)
		// Each connection's share of the rate: every loop sends, round
		// robin over its connections, one message per interval/(its
		// connections).
		m.interval = int64(float64(time.Second) * float64(max(r.openNow.Load(), 1)) / cfg.Rate)
	case PubSub:
		if cfg.Rate <= 0 || r.publishers.Load() == 0 {
			break
		}
		m.sendC = m.ticker(time.Millisecond)
		// Each publisher's share of the rate, as for echo's open loop.
		m.interval = int64(float64(time.Second) * float64(r.publishers.Load()) / cfg.Rate)
	case Handshake:
		r.goFeed(func(stop <-chan struct{}) { r.feed(ctx, -1, cfg.ConnRate, stop) })
	case Churn:
		r.goFeed(func(stop <-chan struct{}) { r.redialer(ctx, stop) })
		if cfg.ChurnRate > 0 {
			m.churnC = m.ticker(10 * time.Millisecond)
		}
	}
	m.end = time.NewTimer(m.length)
	return m
}

// ticker is a new ticker's channel; the ticker stops with m.
func (m *measured) ticker(d time.Duration) <-chan time.Time {
	t := time.NewTicker(d)
	m.tickers = append(m.tickers, t)
	return t.C
}

// stop stops m's timer and tickers.
func (m *measured) stop() {
	m.end.Stop()
	for _, t := range m.tickers {
		t.Stop()
	}
}

// measure runs the measured part until its end or ctx's.
func (r *run) measure(ctx context.Context, m *measured, tl *timeline) {
	for {
		select {
		case <-m.end.C:
			return
		case <-ctx.Done():
			return
		case <-tl.ticker.C:
			tl.tick()
		case <-m.sendC:
			r.sendDue(m)
		case <-m.churnC:
			r.churnDue(m)
		}
	}
}

// sendDue has every loop send, or publish, the messages due by now.
func (r *run) sendDue(m *measured) {
	now := r.nanos()
	pubsub := r.cfg.Scenario == PubSub
	interval, end := m.interval, m.start+int64(m.length)
	if r.polling != nil {
		r.polling.sendDue(now, interval)
		return
	}
	for _, l := range r.loopList() {
		_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			if pubsub {
				l.publishDue(now, interval/int64(max(len(l.pubs), 1)), end)
			} else {
				l.sendDue(now, interval/int64(max(l.nOpen, 1)))
			}
			return nil
		}))
	}
}

// churnDue has the loops close the connections due by now, and the
// redialer dial them again.
func (r *run) churnDue(m *measured) {
	// What is due since the start, spread over the loops.
	due := int64(r.cfg.ChurnRate*float64(r.nanos()-m.start)/1e9) - m.churned
	loops := r.loopList()
	if due <= 0 || len(loops) == 0 {
		return
	}
	m.churned += due
	for k := range loops {
		l := loops[(m.churnNext+k)%len(loops)]
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
	m.churnNext++
}

// endMeasured ends the measured part, and is how long it lasted: nothing
// more is handed to the dialers, and what was is waited for. The
// handshake scenario's part lasts until then.
func (r *run) endMeasured(ctx context.Context, m *measured, tl *timeline) time.Duration {
	elapsed := time.Duration(r.nanos() - m.start)
	if r.cfg.Scenario == Churn {
		// The closes posted to the loops are done once a task posted
		// after them has run; dial again all they closed.
		r.each(func(*cloop) {})
		for r.takeRedial() && r.give(ctx, nil) {
		}
	}
	r.stopFeeding()
	if r.cfg.Scenario.dialsMeasured() {
		// The connections handed out before the end: opened or failed.
		r.settle(ctx, tl)
		if r.cfg.Scenario == Handshake {
			elapsed = time.Duration(r.nanos() - m.start)
		}
	}
	return elapsed
}

// windDown lets what is in flight arrive, closes every connection, and is
// the loops' counts before the closes, and in pubsub the fan-out table.
func (r *run) windDown(ctx context.Context) (loopStats, FanoutTable) {
	r.stopping.Store(true)
	var fanout FanoutTable
	if r.cfg.Scenario == PubSub {
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
	if r.polling != nil {
		r.polling.closeAll()
	}
	for deadline := time.Now().Add(2 * time.Second); r.openNow.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	return snap, fanout
}

// report is the run's report: its own counts, the loops' snap, the
// fan-out table (pubsub), the measured part's elapsed time, the timeline
// and the server's figures, sampled a last time.
func (r *run) report(snap loopStats, fanout FanoutTable, elapsed time.Duration, timeline []Second, srv *serverWatch) *Report {
	cfg := &r.cfg
	rep := &Report{Scenario: cfg.Scenario.String(), URL: cfg.Target.URL.String(), Params: cfg.Params, Started: r.epoch, Env: ReadEnvironment()}
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
	if cfg.Scenario == SocketIO {
		rep.Subscribe = snap.subscribe
	}
	rep.Wire = Wire{
		SentBytes: snap.wireOut, ReceivedBytes: snap.wireIn, MessagesSent: snap.msgsOut, MessagesReceived: snap.msgsIn,
		PlainSentBytes: snap.plainOut, PlainReceivedBytes: snap.plainIn, CompressedSent: snap.zOut, CompressedReceived: snap.zIn,
	}
	if cfg.Deflate {
		rep.Deflate = &DeflateReport{Offer: r.extensions(), Threshold: cfg.DeflateThreshold,
			Negotiated: snap.zNegotiated, Declined: snap.zDeclined, Answers: snap.zAnswers}
	}
	rep.Elapsed = elapsed
	rep.Timeline = timeline
	rep.Server = srv.stats(cfg.Scenario, rep.Received, rep.Established)
	return rep
}

// settle waits until every connection handed to the dialers has opened or
// failed, ticking the timeline meanwhile. It gives up after 10 s without
// progress (a server that never answers an upgrade).
func (r *run) settle(ctx context.Context, tl *timeline) {
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
		case <-tl.ticker.C:
			tl.tick()
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
	sum := newLoopStats()
	r.each(func(l *cloop) {
		mu.Lock()
		defer mu.Unlock()
		sum.add(&l.s, second)
	})
	if r.polling != nil {
		r.polling.addStats(&sum, second)
	}
	r.mu.Lock()
	sum.errors += r.failedN
	r.mu.Unlock()
	return sum
}

// add adds the counts of s to sum; with second, s's per-second histogram
// is restarted.
func (sum *loopStats) add(s *loopStats, second bool) {
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
	sum.wireOut += s.wireOut
	sum.wireIn += s.wireIn
	sum.msgsOut += s.msgsOut
	sum.msgsIn += s.msgsIn
	sum.plainOut += s.plainOut
	sum.plainIn += s.plainIn
	sum.zOut += s.zOut
	sum.zIn += s.zIn
	sum.zNegotiated += s.zNegotiated
	sum.zDeclined += s.zDeclined
	for k, v := range s.zAnswers {
		sum.zAnswers[k] += v
	}
	if second {
		s.second.Reset()
	}
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
	if r.polling != nil {
		r.polling.dial()
		return
	}
	a := &arrival{sio: r.cfg.Scenario == SocketIO}
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

// countingWriter writes to a connection on its loop, counting the bytes.
type countingWriter struct {
	gc gnet.Conn
	n  *uint64 // the loop's
}

func (w countingWriter) Write(p []byte) (int, error) {
	*w.n += uint64(len(p))
	return w.gc.Write(p)
}

// quietLogger drops gnet's own log lines.
type quietLogger struct{}

func (quietLogger) Debugf(string, ...any) {}
func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Warnf(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(string, ...any) {}
