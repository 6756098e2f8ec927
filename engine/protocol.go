package engine

import (
	"context"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/security"
)

// What a protocol beside the core (pub/sub, say) builds on: its handler
// serves a route, its state lives in the per-connection slot and on the
// loops, and the core starts, ticks and stops it with the server.

// Protocol is a Handler with state beyond its connections: a hub whose
// topics span loops, a broker to connect. A route's Handler that is also
// a Protocol is attached to the server by New (once, however many routes
// it serves), started by Start before the first connection is accepted,
// and stopped by Shutdown once the event loops have stopped.
type Protocol interface {
	Handler
	// Attach gives the protocol its server; an error fails New. It may
	// register metrics in s.Metrics() and read s.Config().
	Attach(s *Server) error
	// Start starts what the protocol runs of its own (a broker's
	// connection); an error fails Start.
	Start() error
	// Stop stops it. The loops have stopped: no Handler method runs any
	// more.
	Stop()
}

// Ticker is a Protocol that counts on the loops: Tick is called on each
// event loop once per tick of its wheel (every 100 ms) and before each
// metrics scrape, so that what the protocol counts per message in plain
// per-loop integers reaches its metrics (rule 8 of the house, in doc.go).
type Ticker interface {
	Tick(l *Loop)
}

// JSONHandler is a Handler whose route accepts only JSON text messages
// that meet Schema (nil: any JSON), as if Config.JSONRoutes named it,
// unless JSONRoutes names the route itself. OnMessage then finds the
// parsed message in Conn.JSON.
type JSONHandler interface {
	Handler
	Schema() *security.Schema
}

// Closer is a value kept in a connection's slot (Conn.SetSlot) that is
// told when the connection closes: Closed is called once, on the
// connection's loop, before the Handler's OnClose.
type Closer interface {
	Closed(c *Conn)
}

// Index returns the loop's place among the server's loops, from 0 to
// Server.Loops()-1, for per-loop state kept in a slice. Safe for
// concurrent use.
func (l *Loop) Index() int { return l.index }

// Post runs f on the loop, after the tasks posted to it before. This is
// the one way work reaches a loop, and its connections, from elsewhere.
// It returns ErrClosed once the server has stopped (f then never runs).
// Safe for concurrent use.
func (l *Loop) Post(f func()) error {
	if l.el.Execute(context.Background(), task(func() {
		l.wake() // every task but the tick
		f()
	})) != nil {
		return ErrClosed
	}
	return nil
}

// task runs a function on a loop.
type task func()

func (t task) Run(context.Context) error {
	t()
	return nil
}

// Loop returns the event loop the connection lives on. Safe for concurrent
// use.
func (c *Conn) Loop() *Loop { return c.loop }

// Post runs f on the connection's loop (see Loop.Post). f must check that
// the connection is still open if it cares. Safe for concurrent use.
func (c *Conn) Post(f func()) error { return c.loop.Post(f) }

// Open reports whether the connection is open: upgraded, and no close
// frame sent. Called on the loop.
func (c *Conn) Open() bool { return c.state == stateOpen }

// Slot returns the value the protocol running on the connection keeps in
// it, or nil. Called on the loop.
func (c *Conn) Slot() any { return c.slot }

// SetSlot keeps v on the connection for the protocol running on it; if v
// is a Closer, it is told when the connection closes. Called on the loop.
func (c *Conn) SetSlot(v any) { c.slot = v }

// Identity returns what the connection's token says, once it is open:
// nil when the server has no Config.Auth. On an HTTPHandler's route, before
// an upgrade, it is what the token of the request being served says: nil
// for a request without one. Called on the loop.
func (c *Conn) Identity() *security.Identity { return c.id }

// JSON returns the message OnMessage is called with, as the route's
// validation parsed it (see JSONHandler); nil on a route without
// validation. It is valid only until OnMessage returns. Called on the
// loop.
func (c *Conn) JSON() *fastjson.Value {
	if c.validator == nil {
		return nil
	}
	return c.validator.Value()
}

// Refuse counts a refusal of the connection, or of one of its messages,
// by a protocol's gate, and logs it (sampled). It does not close
// anything. Called on the loop.
func (c *Conn) Refuse(r Refusal) { c.refused(r) }

// Prepared is a data message encoded once, to be written to many
// connections (rule 6 of the house, in doc.go): a publication's frame,
// say. Safe for concurrent use; it never changes.
type Prepared struct {
	frame []byte
	n     int // payload bytes
	op    codec.OpCode
	z     preparedZ // its compressed frames, for permessage-deflate (deflate.go)
}

// Prepare encodes data as one frame of a text or binary message. data may
// be reused when Prepare returns. Safe for concurrent use.
func Prepare(op codec.OpCode, data []byte) *Prepared {
	frame := codec.AppendFrame(make([]byte, 0, codec.HeaderLen(len(data))+len(data)), true, op, data)
	return &Prepared{frame: frame, n: len(data), op: op}
}

// WritePrepared writes a prepared message, unless the connection is not
// open (ErrClosed) or the peer is a slow consumer (Config.SlowConsumer:
// the message is dropped and ErrClosed returned). Called on the loop.
func (c *Conn) WritePrepared(p *Prepared) error {
	if c.state != stateOpen {
		return ErrClosed
	}
	if c.pmd != 0 && p.n >= c.loop.srv.deflate.threshold {
		if frame := p.compressedFrame(c); frame != nil {
			if err := c.writeEncoded(frame, p.n); err != nil {
				return err
			}
			c.sentCompressed(p.frame[len(p.frame)-p.n:], len(frame))
			return nil
		}
	}
	return c.writeEncoded(p.frame, p.n)
}
