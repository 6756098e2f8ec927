package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/engine/socketio/packet"
)

// The socketio scenario over HTTP long-polling: each session is a run of
// net/http requests on kept-alive connections, not a connection on a
// loop. A dialer opens it (the open packet, the CONNECT and its answer);
// then a goroutine polls (GET) and handles what comes, and another posts
// (POST) what is queued, all of it in one payload, as the reference
// client does while a POST is in flight. Its counts are the run's
// pollRun's, under its lock.

// maxPollBody bounds what one poll may bring.
const maxPollBody = 16 << 20

// pollRun is the polling sessions of a run.
type pollRun struct {
	r      *run
	client *http.Client
	url    string // the polling URL, without a sid
	ctx    context.Context
	cancel context.CancelFunc // ends every session
	wg     sync.WaitGroup     // the sessions' goroutines

	mu       sync.Mutex
	sessions []*pollSession // established
	stats    loopStats      // the sessions' counts

	// The open loop, on Run's goroutine.
	rr   int
	next int64
}

func newPollRun(r *run) *pollRun {
	p := &pollRun{r: r, url: r.target.URL.String(), stats: newLoopStats()}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	var cfg *tls.Config
	if r.target.TLS != nil {
		cfg = r.target.TLS.Clone()
	}
	p.client = &http.Client{Transport: &http.Transport{
		DialContext:         p.dialTCP,
		TLSClientConfig:     cfg,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 2*r.cfg.Conns + 16, // a poll and a post each
		IdleConnTimeout:     90 * time.Second,
	}}
	return p
}

// dialTCP dials from the run's source addresses, in turn.
func (p *pollRun) dialTCP(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if ips := p.r.cfg.SourceIPs; len(ips) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: ips[(p.r.nextIP.Add(1)-1)%uint64(len(ips))]}
	}
	return d.DialContext(ctx, network, addr)
}

// shutdown ends every session and waits for their goroutines.
func (p *pollRun) shutdown() {
	p.cancel()
	p.wg.Wait()
	p.client.CloseIdleConnections()
}

// addStats adds the sessions' counts to sum.
func (p *pollRun) addStats(sum *loopStats, second bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum.add(&p.stats, second)
}

// count changes the sessions' counts.
func (p *pollRun) count(f func(s *loopStats)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.stats)
}

// list is the established sessions.
func (p *pollRun) list() []*pollSession {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions
}

// startClosedLoop has every session emit Inflight events.
func (p *pollRun) startClosedLoop() {
	for _, s := range p.list() {
		for range p.r.cfg.Inflight {
			s.emit(p.r.nanos())
		}
	}
}

// sendDue emits, in open loop, the events whose time has come, round
// robin over the sessions, each stamped with the time it was meant for;
// interval is a session's time between two. Called by Run's goroutine.
func (p *pollRun) sendDue(now, interval int64) {
	ss := p.list()
	if len(ss) == 0 || interval <= 0 {
		return
	}
	each := max(interval/int64(len(ss)), 1)
	if p.next == 0 {
		p.next = now
	}
	for ; p.next <= now; p.next += each {
		ss[p.rr%len(ss)].emit(p.next)
		p.rr++
	}
}

// closeAll closes every session, at the end of a run.
func (p *pollRun) closeAll() {
	for _, s := range p.list() {
		s.close()
	}
}

// pollSession is one Socket.IO session over polling.
type pollSession struct {
	p      *pollRun
	ctx    context.Context
	cancel context.CancelFunc
	kick   chan struct{} // something to post
	url    string        // the polling URL with the sid; set by the open packet

	// The poller's.
	jp      fastjson.Parser
	scratch []byte
	timeout time.Duration // a poll's: the ping interval and timeout, and some

	mu          sync.Mutex
	sio         sioSession
	out         []byte // the payload of the next post
	established bool
	closing     bool   // the close packet is queued
	stopped     bool   // ended; no more requests
	reason      string // why it stopped
}

// dial opens a session: the open packet, the CONNECT, its answer. Called
// by a dialer goroutine, before shutdown.
func (p *pollRun) dial() {
	r := p.r
	s := &pollSession{p: p, kick: make(chan struct{}, 1), url: p.url, timeout: 10 * time.Second}
	s.ctx, s.cancel = context.WithCancel(p.ctx)
	p.wg.Add(1)
	go s.post()
	t0 := r.nanos()
	joined := false
	for !joined {
		body, err := s.get()
		if err != nil {
			s.stop("polling: " + errText(err))
			break
		}
		var fail string
		if joined, fail = s.take(body); fail != "" {
			s.stop(fail)
			break
		}
	}
	s.mu.Lock()
	failed, reason := s.stopped, s.reason
	s.established = !failed
	openAt := s.sio.openAt
	s.mu.Unlock()
	if failed {
		r.failed(reason)
		return
	}
	now := r.nanos()
	p.mu.Lock()
	p.sessions = append(p.sessions, s)
	p.stats.established++
	p.stats.handshake.Record(time.Duration(openAt - t0))
	p.stats.subscribe.Record(time.Duration(now - openAt))
	p.mu.Unlock()
	r.openNow.Add(1)
	r.settled.Add(1)
	p.wg.Add(1)
	go s.poll()
}

// poll polls until the session ends. Its goroutine.
func (s *pollSession) poll() {
	defer s.p.wg.Done()
	for {
		body, err := s.get()
		if err != nil {
			s.stop("polling: " + errText(err))
			return
		}
		if _, fail := s.take(body); fail != "" {
			s.stop(fail)
			return
		}
	}
}

// post posts what is queued, once kicked, until the session ends. Its
// goroutine.
func (s *pollSession) post() {
	defer s.p.wg.Done()
	for {
		select {
		case <-s.kick:
		case <-s.ctx.Done():
			return
		}
		// A new buffer each time: net/http may read a body until it has
		// closed it, which can be after the answer.
		s.mu.Lock()
		body := s.out
		s.out = nil
		closing := s.closing
		s.mu.Unlock()
		if len(body) == 0 {
			continue
		}
		if err := s.send(body); err != nil {
			s.stop("polling: " + errText(err))
			return
		}
		if closing {
			s.stop("") // the close packet went: the session is over
			return
		}
	}
}

// take handles the packets of a poll's body: whether the session joined
// its namespace with them, and why it must end, if it must.
func (s *pollSession) take(body []byte) (joined bool, fail string) {
	p := s.p
	r := p.r
	var err error
	s.scratch, err = packet.SplitPayload(body, s.scratch, 1<<16, func(pk packet.Packet) error {
		s.mu.Lock()
		a, at, reason := s.sio.handle(pk, r.sioNsp, &s.jp)
		switch a {
		case sioConnect:
			s.sio.openAt = r.nanos()
			s.url = p.url + "&sid=" + url.QueryEscape(s.sio.hs.SID)
			s.timeout = s.sio.hs.PingInterval + s.sio.hs.PingTimeout + 10*time.Second
			s.queueLocked(r.appendSIOConnect)
		case sioPong:
			s.queueLocked(func(dst []byte) []byte {
				return packet.AppendText(dst, packet.Packet{Type: packet.Pong, Data: pk.Data})
			})
		case sioJoined:
			joined = true
		}
		s.mu.Unlock()
		switch a {
		case sioAcked:
			now := r.nanos()
			d := time.Duration(now - at)
			p.count(func(st *loopStats) {
				st.received++
				st.latency.Record(d)
				st.second.Record(d)
			})
			if r.cfg.Rate == 0 && !r.stopping.Load() {
				s.emit(now) // closed loop: the next one
			}
		case sioStray:
			p.count(func(st *loopStats) { st.errors++; st.errs[reason]++ })
		case sioRefused, sioEnded, sioBroken:
			fail = reason
			return errStop
		}
		return nil
	})
	if err != nil && fail == "" {
		fail = "socketio: " + err.Error()
	}
	return joined, fail
}

// errStop ends the packets of a body.
var errStop = errors.New("stop")

// queueLocked adds the packet that add appends to the next post, and
// kicks the poster. Called with mu held.
func (s *pollSession) queueLocked(add func([]byte) []byte) {
	if len(s.out) > 0 {
		s.out = append(s.out, packet.Separator)
	}
	s.out = add(s.out)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// emit emits one event, meant to go at run nanos at, if the session is
// established and not ending.
func (s *pollSession) emit(at int64) {
	r := s.p.r
	s.mu.Lock()
	if !s.established || s.stopped || s.closing {
		s.mu.Unlock()
		return
	}
	id := s.sio.emit(at)
	s.queueLocked(func(dst []byte) []byte { return r.appendSIOEvent(dst, id) })
	s.mu.Unlock()
	s.p.count(func(st *loopStats) { st.sent++ })
}

// close queues the close packet: the session ends once it is posted.
func (s *pollSession) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.closing {
		return
	}
	s.closing = true
	s.queueLocked(func(dst []byte) []byte { return packet.AppendText(dst, packet.Packet{Type: packet.Close}) })
}

// stop ends the session, for reason ("": closed by the tool). An
// established session that ends for a reason before the tool closes it
// is dropped; one that was opening has failed, and its dialer counts it.
func (s *pollSession) stop(reason string) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped, s.reason = true, reason
	established, closing := s.established, s.closing
	s.mu.Unlock()
	s.cancel()
	if !established {
		return
	}
	r := s.p.r
	r.openNow.Add(-1)
	if reason != "" && !closing && !r.stopping.Load() {
		s.p.count(func(st *loopStats) { st.dropped++; st.errors++; st.errs[reason]++ })
	}
}

// statusError is an HTTP status other than 200.
type statusError int

func (e statusError) Error() string { return "status " + strconv.Itoa(int(e)) }

// get polls once: the body of a GET.
func (s *pollSession) get() ([]byte, error) {
	s.mu.Lock()
	u, timeout := s.url, s.timeout
	s.mu.Unlock()
	return s.request(http.MethodGet, u, nil, timeout, maxPollBody)
}

// send posts body, a payload, and checks the answer, "ok".
func (s *pollSession) send(body []byte) error {
	s.mu.Lock()
	u, timeout := s.url, s.timeout
	s.mu.Unlock()
	ok, err := s.request(http.MethodPost, u, body, timeout, 16)
	if err == nil && string(ok) != "ok" {
		err = errors.New("a POST not answered ok")
	}
	return err
}

// request makes one request and returns the answer's body, of at most
// most bytes. The connections it opens are timed as the run's others.
func (s *pollSession) request(method, u string, body []byte, timeout time.Duration, most int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	r := s.p.r
	var connectAt, tlsAt int64
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		ConnectStart: func(string, string) { connectAt = r.nanos() },
		ConnectDone: func(_, _ string, err error) {
			if err == nil {
				r.mu.Lock()
				r.connect.Record(time.Duration(r.nanos() - connectAt))
				r.mu.Unlock()
			}
		},
		TLSHandshakeStart: func() { tlsAt = r.nanos() },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			if err == nil {
				r.mu.Lock()
				r.tlsTime.Record(time.Duration(r.nanos() - tlsAt))
				if cs.DidResume {
					r.resumed++
				}
				r.mu.Unlock()
			}
		},
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	for _, h := range r.target.headers {
		req.Header.Add(h[0], h[1])
	}
	resp, err := s.p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, most+1))
	switch {
	case err != nil:
		return nil, err
	case resp.StatusCode != http.StatusOK:
		return nil, statusError(resp.StatusCode)
	case int64(len(b)) > most:
		return nil, errors.New("an answer too large")
	}
	return b, nil
}
