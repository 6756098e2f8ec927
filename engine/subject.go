package engine

import (
	"context"
	"errors"

	"github.com/wssd/wssd/codec"
)

// ErrCloseCode is what CloseSubject returns for a code that may not be
// sent in a close frame.
var ErrCloseCode = errors.New("engine: not a close code that may be sent")

// CloseSubject starts the closing handshake, with code and reason, of
// every open WebSocket connection, on any route, whose token's subject is
// subject (Conn.Subject), and returns how many it started. Connections
// still in their upgrade, and HTTP requests on an HTTPHandler's route, are
// left alone; an empty subject matches none (connections without a token
// have it). A reason longer than a close frame carries is cut, as
// Conn.Close cuts it.
//
// It posts one task to each event loop, which walks the loop's own
// connections, and waits for their counts. If ctx ends first, it returns
// the count so far and ctx's error; the tasks not yet run still close
// what they find. Safe for concurrent use, but not on an event loop.
func (s *Server) CloseSubject(ctx context.Context, subject string, code codec.StatusCode, reason string) (int, error) {
	if !codec.ValidCloseCode(code) {
		return 0, ErrCloseCode
	}
	if subject == "" {
		return 0, nil
	}
	loops := s.loopList()
	counts := make(chan int, len(loops))
	posted := 0
	for _, l := range loops {
		if l.Post(func() { counts <- l.closeSubject(subject, code, reason) }) == nil {
			posted++
		}
	}
	n := 0
	for ; posted > 0; posted-- {
		select {
		case k := <-counts:
			n += k
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
	return n, nil
}

// closeSubject starts the close of the loop's open connections whose
// subject is subject, and returns how many. Called on the loop.
func (l *Loop) closeSubject(subject string, code codec.StatusCode, reason string) int {
	n := 0
	for c := l.head; c != nil; {
		next := c.next // a close may take c off the list
		if c.state == stateOpen && c.id != nil && c.id.Subject == subject {
			c.startClose(code, reason)
			n++
		}
		c = next
	}
	return n
}

// Connections are the connections a server holds.
type Connections struct {
	// Sockets is every connection on the event loops, in any state:
	// upgrading, open, closing, and the HTTP connections of an
	// HTTPHandler's route (Active).
	Sockets int64
	// WS and WSS are the upgraded connections not yet ended, by listener,
	// as the metric wssd_connections_active counts them: 0 without
	// Config.Metrics.
	WS, WSS int64
}

// Connections counts the server's connections, with the metrics brought
// up to date first (FlushMetrics). Safe for concurrent use, but not on an
// event loop.
func (s *Server) Connections() Connections {
	c := Connections{Sockets: s.Active()}
	if m := s.metrics; m != nil {
		s.FlushMetrics()
		open := func(l listener) int64 { return int64(m.opened[l].Get()) - int64(m.closed[l].Get()) }
		c.WS, c.WSS = open(listenerWS), open(listenerWSS)
	}
	return c
}
