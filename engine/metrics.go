package engine

import (
	"io"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/tlsrec"
)

// Metrics follow rule 8 of the house (doc.go). What happens per message
// (messages and bytes each way, close frames) is counted by each loop in
// plain integers and added to the shared counters once per tick, when the
// loop advances its wheel, and before a scrape (FlushMetrics).
// Per-connection events that happen off the loops (accepts, TLS
// handshakes) and per-connection histograms update the shared metrics
// directly: their cost is per connection, not per message.

// listener indexes metrics by listener.
type listener uint8

const (
	listenerWS listener = iota
	listenerWSS
	numListeners
)

var listenerNames = [numListeners]string{"ws", "wss"}

// closeBuckets are the label values of close codes: the codes RFC 6455 and
// IANA define, as themselves; the ranges for applications (3000-3999 and
// 4000-4999, chosen by clients) as one label each, so that clients cannot
// make series at will.
const (
	closeNone  = 16 // a close frame without a code
	close3xxx  = 17
	close4xxx  = 18
	closeOther = 19
	numCloses  = 20
)

func closeBucket(code codec.StatusCode) int {
	switch {
	case code == 0 || code == codec.StatusNoStatus:
		return closeNone
	case code >= 1000 && code <= 1015:
		return int(code - 1000)
	case code >= 3000 && code <= 3999:
		return close3xxx
	case code >= 4000 && code <= 4999:
		return close4xxx
	}
	return closeOther
}

func closeLabel(i int) string {
	switch i {
	case closeNone:
		return "none"
	case close3xxx:
		return "3xxx"
	case close4xxx:
		return "4xxx"
	case closeOther:
		return "other"
	}
	return strconv.Itoa(1000 + i)
}

// upgradeStatuses are the HTTP answers counted by status; others count as
// "other".
var upgradeStatuses = []int{101, 200, 400, 401, 403, 404, 405, 426, 431, 505}

// httpStatuses are the answers to requests on HTTPHandlers' routes counted
// by status; others count as "other" (the last index).
var httpStatuses = [...]int{200, 204, 400, 401, 403, 404, 405, 411, 413, 429, 500, 503}

const numHTTPStatuses = len(httpStatuses) + 1 // and "other"

// httpStatusIndex is the index of an answer's status among httpStatuses'
// counts.
func httpStatusIndex(status int) int {
	for i, st := range httpStatuses {
		if st == status {
			return i
		}
	}
	return len(httpStatuses)
}

// loopCounts are what a loop counts between flushes.
type loopCounts struct {
	msgsIn, msgsOut, bytesIn, bytesOut uint64
	opened, closed                     [numListeners]uint64
	closeSent, closeRecv               [numCloses]uint64
	http                               [numHTTPStatuses]uint64 // answers on HTTPHandlers' routes, by status
}

// serverMetrics are the server's metrics in its Config.Metrics set.
type serverMetrics struct {
	set                                *metrics.Set
	accepted, opened, closed           [numListeners]*metrics.Counter
	msgsIn, msgsOut, bytesIn, bytesOut *metrics.Counter
	closeSent, closeRecv               [numCloses]*metrics.Counter
	refusals                           [maxRefusals]*metrics.Counter
	expiries                           [numExpiryKinds]*metrics.Counter
	tlsResults                         [3]*metrics.Counter // ok, failed, timeout
	tlsPaths                           [2]*metrics.Counter // TLS 1.2 on crypto/tls, TLS 1.3 on tlsrec
	tlsDuration, upgradeDuration       *Histogram
	upgrades                           map[int]*metrics.Counter
	upgradeOther                       *metrics.Counter
	http                               [numHTTPStatuses]*metrics.Counter
	deflate                            *deflateMetrics // nil without Config.Deflate
	outboundAt                         atomic.Int64    // server nanos when the outbound gauges' last sample began; 0: none yet
}

// tlsAlert counts a fatal TLS alert, sent or received, that ended a
// connection. Alerts are few and their names a fixed set, so each is
// registered when first seen. Called on a loop.
func (m *serverMetrics) tlsAlert(a tlsrec.Alert, remote bool, n uint64) {
	by := "server"
	if remote {
		by = "client"
	}
	m.set.GetOrCreateCounter(`wssd_tls_alerts_total{alert="` + a.String() + `",sent_by="` + by + `"}`).Add(int(n))
}

// TLS handshake results.
const (
	tlsOK = iota
	tlsFailed
	tlsTimeout
)

// Bucket bounds, in seconds.
var (
	durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
	lagBuckets      = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}
)

// initMetrics registers the server's metrics in set. Called by New.
func (s *Server) initMetrics(set *metrics.Set) {
	m := &serverMetrics{set: set, upgrades: make(map[int]*metrics.Counter)}
	for i, name := range listenerNames {
		m.accepted[i] = set.NewCounter(`wssd_connections_accepted_total{listener="` + name + `"}`)
		m.opened[i] = set.NewCounter(`wssd_connections_opened_total{listener="` + name + `"}`)
		m.closed[i] = set.NewCounter(`wssd_connections_closed_total{listener="` + name + `"}`)
		opened, closed := m.opened[i], m.closed[i]
		set.NewGauge(`wssd_connections_active{listener="`+name+`"}`, func() float64 {
			return float64(opened.Get()) - float64(closed.Get())
		})
	}
	if s.deflate != nil {
		m.deflate = newDeflateMetrics(set)
	}
	m.msgsIn = set.NewCounter("wssd_messages_received_total")
	m.msgsOut = set.NewCounter("wssd_messages_sent_total")
	m.bytesIn = set.NewCounter("wssd_messages_received_bytes_total")
	m.bytesOut = set.NewCounter("wssd_messages_sent_bytes_total")
	for i := range numCloses {
		m.closeSent[i] = set.NewCounter(`wssd_close_frames_sent_total{code="` + closeLabel(i) + `"}`)
		m.closeRecv[i] = set.NewCounter(`wssd_close_frames_received_total{code="` + closeLabel(i) + `"}`)
	}
	for r := range Refusal(numRefusals()) {
		m.refusals[r] = set.NewCounter(`wssd_refusals_total{reason="` + r.String() + `"}`)
	}
	for k, name := range expiryKinds {
		m.expiries[k] = set.NewCounter(`wssd_deadline_expiries_total{kind="` + name + `"}`)
	}
	for i, name := range []string{"ok", "failed", "timeout"} {
		m.tlsResults[i] = set.NewCounter(`wssd_tls_handshakes_total{result="` + name + `"}`)
	}
	m.tlsPaths[0] = set.NewCounter(`wssd_tls_sessions_total{version="1.2",records="crypto/tls"}`)
	m.tlsPaths[1] = set.NewCounter(`wssd_tls_sessions_total{version="1.3",records="wssd"}`)
	for _, a := range []tlsrec.Alert{tlsrec.AlertBadRecordMAC, tlsrec.AlertRecordOverflow,
		tlsrec.AlertUnexpectedMessage, tlsrec.AlertDecodeError, tlsrec.AlertIllegalParameter} {
		m.tlsAlert(a, false, 0) // the alerts the server sends are there from the start
	}
	for _, st := range upgradeStatuses {
		m.upgrades[st] = set.NewCounter(`wssd_upgrade_responses_total{status="` + strconv.Itoa(st) + `"}`)
	}
	m.upgradeOther = set.NewCounter(`wssd_upgrade_responses_total{status="other"}`)
	for i := range numHTTPStatuses {
		status := "other"
		if i < len(httpStatuses) {
			status = strconv.Itoa(httpStatuses[i])
		}
		m.http[i] = set.NewCounter(`wssd_http_responses_total{status="` + status + `"}`)
	}
	set.NewGauge("wssd_tls_queue_depth", func() float64 { return float64(len(s.tlsQueue)) })
	set.NewGauge("wssd_outbound_queued_bytes", func() float64 {
		bytes, _ := s.outbound()
		return float64(bytes)
	})
	set.NewGauge("wssd_reassembly_bytes", func() float64 {
		var n int64
		for _, l := range s.loopList() {
			n += l.heldNow.Load()
		}
		return float64(n)
	})
	set.NewGauge("wssd_outbound_queued_connections", func() float64 {
		_, conns := s.outbound()
		return float64(conns)
	})
	m.tlsDuration = NewHistogram("wssd_tls_handshake_duration_seconds", "", durationBuckets)
	m.upgradeDuration = NewHistogram("wssd_upgrade_duration_seconds", "", durationBuckets)
	set.RegisterMetricsWriter(func(w io.Writer) {
		m.tlsDuration.WritePrometheus(w, true)
		m.upgradeDuration.WritePrometheus(w, true)
		for i, l := range s.loopList() {
			l.lag.WritePrometheus(w, i == 0)
		}
	})
	s.metrics = m
}

// FlushMetrics brings the metrics up to date: each loop adds what it has
// counted since its last tick and samples what waits to be written to its
// connections, and the gates' counts are copied. A scrape calls it before
// writing the metrics, so what it reads is exact; a loop that does not run
// the flush within a second (a stuck loop) is reported as it was. Safe for
// concurrent use, but not on an event loop.
func (s *Server) FlushMetrics() {
	if s.metrics == nil {
		return
	}
	start := s.nanos()
	s.onEachLoop(func(l *Loop) {
		l.flush()
		l.sampleOutbound()
	})
	s.metrics.outboundAt.Store(max(start, 1))
	s.syncCounts()
}

// outboundAge is how old a sample of the outbound gauges may be when they
// are read. Sampling walks every connection, so it is done when the gauges
// are read, not on a timer: an idle server with many connections does not
// walk them while nobody looks.
const outboundAge = time.Second

// outbound returns the bytes waiting to be written to the connections and
// how many connections have any, from a sample at most outboundAge old
// (FlushMetrics takes one before a scrape writes the gauges; a reader that
// did not flush gets one here). Safe for concurrent use, but not on an
// event loop.
func (s *Server) outbound() (bytes, conns int64) {
	m := s.metrics
	if at := m.outboundAt.Load(); at == 0 || s.nanos()-at > int64(outboundAge) {
		start := s.nanos()
		s.onEachLoop((*Loop).sampleOutbound)
		m.outboundAt.Store(max(start, 1))
	}
	for _, l := range s.loopList() {
		bytes += l.outBytes.Load()
		conns += l.outConns.Load()
	}
	return bytes, conns
}

// onEachLoop runs f on every event loop and waits until each has run it,
// or a second has passed (a stuck loop is not waited for). Safe for
// concurrent use, but not on an event loop.
func (s *Server) onEachLoop(f func(l *Loop)) {
	loops := s.loopList()
	done := make(chan struct{}, len(loops))
	posted := 0
	for _, l := range loops {
		err := l.Post(func() {
			f(l)
			done <- struct{}{}
		})
		if err == nil {
			posted++
		}
	}
	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for ; posted > 0; posted-- {
		select {
		case <-done:
		case <-timeout.C:
			return
		}
	}
}

// syncCounts copies the gates' and the wheels' counts, which are atomics
// of their own, into their metrics. Called by the ticker and by
// FlushMetrics.
func (s *Server) syncCounts() {
	m := s.metrics
	for r := range Refusal(numRefusals()) {
		m.refusals[r].Set(s.refused[r].Load())
	}
	e := s.expired.counts()
	for k := range numExpiryKinds {
		m.expiries[k].Set(e[k])
	}
}

// flush adds the loop's counts to the server's metrics. Called on the loop.
func (l *Loop) flush() {
	l.refused.flush(&l.srv.refused)
	for _, t := range l.srv.tickers {
		t.Tick(l)
	}
	m := l.srv.metrics
	if m == nil {
		l.counts = loopCounts{}
		l.dcounts = deflateCounts{}
		return
	}
	c := &l.counts
	addCount(m.msgsIn, &c.msgsIn)
	addCount(m.msgsOut, &c.msgsOut)
	addCount(m.bytesIn, &c.bytesIn)
	addCount(m.bytesOut, &c.bytesOut)
	for i := range numListeners {
		addCount(m.opened[i], &c.opened[i])
		addCount(m.closed[i], &c.closed[i])
	}
	for i := range numCloses {
		addCount(m.closeSent[i], &c.closeSent[i])
		addCount(m.closeRecv[i], &c.closeRecv[i])
	}
	for i := range numHTTPStatuses {
		addCount(m.http[i], &c.http[i])
	}
	if d := m.deflate; d != nil {
		d.flush(&l.dcounts)
	}
}

func addCount(c *metrics.Counter, n *uint64) {
	if *n != 0 {
		c.Add(int(*n))
		*n = 0
	}
}

// sampleOutbound sums the bytes gnet holds for the loop's connections.
// It walks every connection, so it runs only when asked: for a scrape
// (FlushMetrics, outbound) or Memory. Called on the loop.
func (l *Loop) sampleOutbound() {
	var bytes, conns int64
	for c := l.head; c != nil; c = c.next {
		if c.state == stateClosed {
			continue
		}
		if n := c.gc.OutboundBuffered(); n > 0 {
			bytes += int64(n)
			conns++
		}
	}
	l.outBytes.Store(bytes)
	l.outConns.Store(conns)
}

// countAnswer counts an HTTP answer other than a 101: one to a request on
// an HTTPHandler's route in the loop's counts, as the transport's messages
// are (wssd_http_responses_total), any other as observeUpgrade does.
// Called on the loop.
func (c *Conn) countAnswer(status int) {
	if hx := c.hx; hx != nil && hx.route {
		c.loop.counts.http[httpStatusIndex(status)]++
		return
	}
	c.observeUpgrade(status)
}

// observeUpgrade counts an HTTP answer on the loop and, for a 101, how long
// the request took since the socket reached the loop. Called on the loop.
func (c *Conn) observeUpgrade(status int) {
	m := c.loop.srv.metrics
	if m == nil {
		return
	}
	if ctr := m.upgrades[status]; ctr != nil {
		ctr.Inc()
	} else {
		m.upgradeOther.Inc()
	}
	if status == 101 {
		m.upgradeDuration.Observe(time.Duration(c.loop.srv.nanos() - c.born).Seconds())
	}
}
