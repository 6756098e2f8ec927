package socketio

import (
	"net"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/engine"
)

// Refusals of sessions and their packets, counted in
// wssd_socketio_refusals_total{reason}.
const (
	refUnauthorized = iota // CONNECT without a valid token
	refRate                // past the rate limits (polling: the session's own)
	refSlowConsumer        // too much waiting for a polling client
	refInvalid             // a packet or payload that does not parse
	refForbidden           // a room the token's permissions refuse
	refPerIP               // a polling session past the per-IP cap
	refTokenExpired        // a session whose token expired
	numRefusals
)

var refusalNames = [numRefusals]string{"unauthorized", "rate_limit", "slow_consumer", "invalid_packet", "topic_forbidden", "per_ip", "token_expired"}

// serverMetrics are the server's series. What happens per message is
// counted by each loop (loopCounts) and added here once per tick.
type serverMetrics struct {
	openedPolling, openedWS, closed, upgraded *metrics.Counter
	eventsIn, eventsOut, polls                *metrics.Counter
	refused                                   [numRefusals]*metrics.Counter
	open                                      atomic.Int64
}

func newServerMetrics(s *Server, set *metrics.Set) *serverMetrics {
	m := &serverMetrics{
		openedPolling: set.NewCounter(`wssd_socketio_sessions_opened_total{transport="polling"}`),
		openedWS:      set.NewCounter(`wssd_socketio_sessions_opened_total{transport="websocket"}`),
		closed:        set.NewCounter("wssd_socketio_sessions_closed_total"),
		upgraded:      set.NewCounter("wssd_socketio_upgrades_total"),
		eventsIn:      set.NewCounter(`wssd_socketio_events_total{direction="in"}`),
		eventsOut:     set.NewCounter(`wssd_socketio_events_total{direction="out"}`),
		polls:         set.NewCounter("wssd_socketio_polls_total"),
	}
	for i, name := range refusalNames {
		m.refused[i] = set.NewCounter(`wssd_socketio_refusals_total{reason="` + name + `"}`)
	}
	set.NewGauge("wssd_socketio_sessions", func() float64 { return float64(m.open.Load()) })
	return m
}

// add adds a loop's counts. Called on the loop, each tick.
func (m *serverMetrics) add(c *loopCounts) {
	addTo(m.openedPolling, c.opened[0])
	addTo(m.openedWS, c.opened[1])
	addTo(m.closed, c.closed)
	addTo(m.upgraded, c.upgraded)
	addTo(m.eventsIn, c.eventsIn)
	addTo(m.eventsOut, c.eventsOut)
	addTo(m.polls, c.polls)
	for i, n := range c.refused {
		addTo(m.refused[i], n)
	}
	m.open.Add(int64(c.opened[0]+c.opened[1]) - int64(c.closed))
}

func addTo(c *metrics.Counter, n uint64) {
	if n != 0 {
		c.Add(int(n))
	}
}

// refused counts a refusal on the loop and logs it, one line per reason
// and loop a second at most (the metric counts them all), with the
// client's address. Called on the loop.
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
	ls.s.srv.Config().Logger.Warn("refused", "reason", refusalNames[r], "protocol", "socketio", "remote", remoteStr)
}
