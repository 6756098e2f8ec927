package engine

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/panjf2000/gnet/v2"
)

// smallFrame is the payload size up to which a frame is copied next to its
// header and written with one write; larger payloads go out with writev,
// straight from where they are.
const smallFrame = 1024

// loop is the per-event-loop state: the loop's connections (for drain) and
// its scratch buffers. Everything in it is touched only on its loop.
type loop struct {
	el      gnet.EventLoop
	srv     *Server
	head    *Conn     // connections on this loop, an intrusive list
	timed   []*Conn   // connections with an upgrade or close deadline
	scratch []byte    // frame headers, small frames and HTTP responses
	work    []byte    // plaintext decrypted from wss:// connections
	plain   plainBuf  // the plaintext of the wss:// connection being read
	iov     [2][]byte // header and payload of a large frame
}

func (l *loop) add(c *Conn) {
	c.next = l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
}

func (l *loop) remove(c *Conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if l.head == c {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	}
	c.prev, c.next = nil, nil
}

// expireAt gives c until t to finish its upgrade or its close, unless it
// already has a deadline: a close is bounded once, handshake and flush
// together. Called on the loop.
func (l *loop) expireAt(c *Conn, t time.Time) {
	if !c.deadline.IsZero() {
		return
	}
	c.deadline = t
	if !c.timed {
		c.timed = true
		l.timed = append(l.timed, c)
	}
}

// closeBy is expireAt d from now. Called on the loop.
func (l *loop) closeBy(c *Conn, d time.Duration) { l.expireAt(c, time.Now().Add(d)) }

// sweep closes the connections whose deadline has passed, goes on with the
// end of the flushing ones whose queue has drained, and forgets those that
// no longer have a deadline. Called on the loop, a few times a second.
func (l *loop) sweep(now time.Time) {
	kept := l.timed[:0]
	for _, c := range l.timed {
		switch {
		case c.state == stateClosed || c.deadline.IsZero():
		case now.After(c.deadline):
			c.closeNow()
		case c.state == stateFlushing && c.gc.OutboundBuffered() == 0:
			if c.flushed(); c.state != stateClosed {
				kept = append(kept, c)
			}
			continue
		default:
			kept = append(kept, c)
			continue
		}
		c.timed = false
	}
	clear(l.timed[len(kept):])
	l.timed = kept
}

// goAway starts the close of every connection on the loop, for a drain.
func (l *loop) goAway() {
	for c := l.head; c != nil; {
		next := c.next
		c.goAway()
		c = next
	}
}

// gnetLogger sends gnet's own log lines to the server's logger.
type gnetLogger struct{ l *slog.Logger }

func (g gnetLogger) Debugf(format string, args ...any) {
	g.l.Debug("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Infof(format string, args ...any) {
	g.l.Info("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Warnf(format string, args ...any) {
	g.l.Warn("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Errorf(format string, args ...any) {
	g.l.Error("gnet: " + fmt.Sprintf(format, args...))
}
func (g gnetLogger) Fatalf(format string, args ...any) {
	g.l.Error("gnet: " + fmt.Sprintf(format, args...))
}
