package sockjs

import (
	"net"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/engine"
)

// Refusals of sessions and their messages, counted in
// wssd_sockjs_refusals_total{reason}.
const (
	refUnauthorized = iota // no valid token
	refRate                // past the rate limits
	refSlowConsumer        // too much waiting for an HTTP transport's client
	refInvalid             // a frame that is not one, or not text
	refForbidden           // a topic the token's permissions refuse
	refPerIP               // an HTTP session past the per-IP cap
	refTokenExpired        // a session whose token expired
	numRefusals
)

var refusalNames = [numRefusals]string{"unauthorized", "rate_limit", "slow_consumer", "invalid_frame", "topic_forbidden", "per_ip", "token_expired"}

// loopCounts are what a loop counts between ticks.
type loopCounts struct {
	opened   [numTransports]uint64 // sessions, by transport
	closed   uint64
	in, out  uint64 // messages
	requests [len(receiverNames)]uint64
	refused  [numRefusals]uint64
}

// serverMetrics are the server's series, labelled with its Config.Name.
// What happens per message is counted by each loop (loopCounts) and added
// here once per tick.
type serverMetrics struct {
	opened   [numTransports]*metrics.Counter
	closed   *metrics.Counter
	in, out  *metrics.Counter
	requests [len(receiverNames)]*metrics.Counter
	refused  [numRefusals]*metrics.Counter
	open     atomic.Int64
}

func newServerMetrics(s *Server, set *metrics.Set) *serverMetrics {
	svc := `service="` + s.cfg.Name + `"`
	m := &serverMetrics{
		closed: set.NewCounter(`wssd_sockjs_sessions_closed_total{` + svc + `}`),
		in:     set.NewCounter(`wssd_sockjs_messages_total{` + svc + `,direction="in"}`),
		out:    set.NewCounter(`wssd_sockjs_messages_total{` + svc + `,direction="out"}`),
	}
	for i, tr := range [numTransports]string{"websocket", "websocket-raw", "http"} {
		m.opened[i] = set.NewCounter(`wssd_sockjs_sessions_opened_total{` + svc + `,transport="` + tr + `"}`)
	}
	for i, name := range receiverNames {
		m.requests[i] = set.NewCounter(`wssd_sockjs_receive_requests_total{` + svc + `,transport="` + name + `"}`)
	}
	for i, name := range refusalNames {
		m.refused[i] = set.NewCounter(`wssd_sockjs_refusals_total{` + svc + `,reason="` + name + `"}`)
	}
	set.NewGauge(`wssd_sockjs_sessions{`+svc+`}`, func() float64 { return float64(m.open.Load()) })
	return m
}

// add adds a loop's counts. Called on the loop, each tick.
func (m *serverMetrics) add(c *loopCounts) {
	var opened uint64
	for i, n := range c.opened {
		addTo(m.opened[i], n)
		opened += n
	}
	m.open.Add(int64(opened) - int64(c.closed))
	addTo(m.closed, c.closed)
	addTo(m.in, c.in)
	addTo(m.out, c.out)
	for i, n := range c.requests {
		addTo(m.requests[i], n)
	}
	for i, n := range c.refused {
		addTo(m.refused[i], n)
	}
}

func addTo(c *metrics.Counter, n uint64) {
	if n != 0 {
		c.Add(int(n))
	}
}

// refused counts a refusal, and logs it at most once a second per reason
// and loop. Called on the loop.
func (ls *loopState) refused(r int, remote net.Addr) {
	ls.counts.refused[r]++
	now := ls.loop.Ticks()
	if last := ls.logged[r]; last != 0 && now-last < engine.TicksPerSecond {
		return
	}
	ls.logged[r] = now
	remoteStr := ""
	if remote != nil {
		remoteStr = remote.String()
	}
	ls.s.srv.Config().Logger.Warn("refused", "reason", refusalNames[r], "protocol", "sockjs", "service", ls.s.cfg.Name, "remote", remoteStr)
}
