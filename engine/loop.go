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
	closing []*Conn   // connections with a close deadline
	scratch []byte    // frame headers, small frames and HTTP responses
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

// closeBy gives c until d from now to finish closing, unless it already
// has a deadline: the whole close, handshake and flush, is bounded once.
// Called on the loop.
func (l *loop) closeBy(c *Conn, d time.Duration) {
	if c.deadline.IsZero() {
		c.deadline = time.Now().Add(d)
		l.closing = append(l.closing, c)
	}
}

// sweepClosing goes on with the end of the flushing connections whose queue
// has drained, and closes the closing ones whose deadline has passed.
// Called on the loop, a few times a second.
func (l *loop) sweepClosing(now time.Time) {
	kept := l.closing[:0]
	for _, c := range l.closing {
		switch {
		case c.state == stateClosed:
			continue
		case now.After(c.deadline):
			c.closeNow()
			continue
		case c.state == stateFlushing && c.gc.OutboundBuffered() == 0:
			if c.flushed(); c.state == stateClosed {
				continue
			}
		}
		kept = append(kept, c)
	}
	clear(l.closing[len(kept):])
	l.closing = kept
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
