package engine

import (
	"math"
	"sync/atomic"

	"github.com/wssd/wssd/codec"
)

// A connection has one timer on its loop's wheel, armed for the earliest of
// its deadlines:
//
//   - upgrading: the handshake deadline (TLS and HTTP upgrade, from accept);
//     on an HTTPHandler's route, none while the handler has a request to
//     answer or streams its answer, and the keep-alive deadline
//     (HandshakeTimeout again, from the answer's end) for the next request
//     of a connection kept open;
//   - open: the next ping (PingInterval after bytes last came in), the
//     pong deadline (PongTimeout after an unanswered ping), the idle
//     deadline (IdleTimeout after the last data message either way), and
//     the token's expiry;
//   - closing, flushing, lingering: the close deadline (CloseTimeout after
//     the server's close frame or the end of the connection, unless the
//     handshake deadline still runs).
//
// Activity only stamps the loop's clock into heard or lastData. When the
// timer fires, expire looks at the stamps, acts on what is due and arms
// the timer for what is next (the lazy refresh): a busy connection costs
// one store per read and per data message, and one timer visit per
// PingInterval.

// expiryKind is a kind of deadline.
type expiryKind uint8

const (
	expHandshake expiryKind = iota
	expPing
	expPong
	expIdle
	expClose
	expToken
	expKeepAlive
	numExpiryKinds
)

// expiryKinds are the kinds as metrics labels.
var expiryKinds = [numExpiryKinds]string{"handshake", "ping", "pong", "idle", "close", "token", "keepalive"}

// expiries counts the deadlines that fired, by kind. They are rare (a ping
// is once per PingInterval per connection at most), so atomics are fine.
type expiries [numExpiryKinds]atomic.Uint64

func (e *expiries) add(k expiryKind) { e[k].Add(1) }

func (e *expiries) counts() (n [numExpiryKinds]uint64) {
	for k := range e {
		n[k] = e[k].Load()
	}
	return n
}

// Expiries counts the deadlines that have fired since the server started.
type Expiries struct {
	Handshake uint64 // not upgraded within HandshakeTimeout: closed
	Ping      uint64 // silent for PingInterval: pinged
	Pong      uint64 // no answer within PongTimeout of a ping: closed
	Idle      uint64 // no data message for IdleTimeout: close 1001 sent
	Close     uint64 // close not finished within CloseTimeout: closed
	Token     uint64 // the token expired: close 1008 sent
	KeepAlive uint64 // no next request within HandshakeTimeout of an answer that kept the connection: closed
}

// Expiries returns the deadlines that have fired so far. Safe for
// concurrent use.
func (s *Server) Expiries() Expiries {
	n := s.expired.counts()
	return Expiries{
		Handshake: n[expHandshake],
		Ping:      n[expPing],
		Pong:      n[expPong],
		Idle:      n[expIdle],
		Close:     n[expClose],
		Token:     n[expToken],
		KeepAlive: n[expKeepAlive],
	}
}

// expire is called by the wheel when the connection's timer is due.
// Called on the loop.
func (c *Conn) expire(now int64) {
	switch c.state {
	case stateOpen:
		c.checkOpen(now)
		return
	case stateClosed:
		return
	}
	if now >= c.deadline {
		switch {
		case c.state != stateUpgrade:
			c.loop.srv.expired.add(expClose)
		case c.hx != nil && c.hx.kept:
			c.loop.srv.expired.add(expKeepAlive)
		default:
			c.loop.srv.expired.add(expHandshake)
		}
		c.closeNow()
		return
	}
	if c.state == stateFlushing {
		// gnet does not say when it has written its queue: look again
		// each tick.
		if c.gc.OutboundBuffered() == 0 {
			c.flushed()
			return
		}
		c.loop.wheel.schedule(&c.timer, now+1)
		return
	}
	c.loop.wheel.schedule(&c.timer, c.deadline)
}

// opened starts the open connection's deadlines, once it has upgraded.
// Called on the loop.
func (c *Conn) opened() {
	now := c.loop.now()
	c.deadline = 0
	c.heard, c.lastData = now, now
	c.checkOpen(now)
}

// checkOpen acts on the open connection's deadlines that are due, and arms
// its timer for the next one (or disarms it when there is none). Called on
// the loop.
func (c *Conn) checkOpen(now int64) {
	s := c.loop.srv
	next := int64(math.MaxInt64)
	if c.expires != 0 {
		if now >= c.expires {
			s.expired.add(expToken)
			c.refused(refTokenExpired)
			c.startClose(codec.StatusPolicyViolation, "token expired")
			return
		}
		next = c.expires
	}
	if s.idleTicks > 0 {
		due := c.lastData + s.idleTicks
		if now >= due {
			s.expired.add(expIdle)
			c.startClose(codec.StatusGoingAway, "idle timeout")
			return
		}
		next = min(next, due)
	}
	if s.pingTicks > 0 {
		if c.pingAt != 0 && c.heard >= c.pingAt {
			c.pingAt = 0 // something came in since the ping: alive
		}
		if c.pingAt != 0 {
			due := c.pingAt + s.pongTicks
			if now >= due {
				// The peer is gone or stuck: a close frame would
				// not be read either.
				s.expired.add(expPong)
				c.closeCode, c.closeReason, c.closer = codec.StatusAbnormal, "pong timeout", closerServer
				c.closeNow()
				return
			}
			next = min(next, due)
		} else {
			due := c.heard + s.pingTicks
			if now >= due {
				s.expired.add(expPing)
				_ = c.writeFrame(codec.OpPing, nil)
				c.pingAt = now
				// Look again at the pong deadline or, if that is
				// later, when the next ping is due after a quick
				// pong.
				due = now + min(s.pongTicks, s.pingTicks)
			}
			next = min(next, due)
		}
	}
	if c.pong != nil {
		if c.gc.OutboundBuffered() == 0 {
			c.flushPong()
		} else {
			next = min(next, now+1) // gnet does not say when its queue empties
		}
	}
	if next == math.MaxInt64 {
		c.loop.wheel.cancel(&c.timer)
		return
	}
	c.loop.wheel.schedule(&c.timer, next)
}

// closeBy bounds the end of the connection: CloseTimeout from now, unless
// a deadline runs already (a refused request's flush and linger stay within
// the handshake deadline). Called on the loop.
func (c *Conn) closeBy() {
	l := c.loop
	if c.deadline == 0 {
		c.deadline = l.now() + l.srv.closeTicks
	}
	at := c.deadline
	if c.state == stateFlushing {
		at = l.now() + 1
	}
	l.wheel.schedule(&c.timer, at)
}
