package engine

import (
	"slices"
	"sync"
)

// What the server holds for its connections' messages is bounded twice:
//
//   - partial messages: a data frame that has not all arrived, and the
//     fragments of a message, are buffered until the message is whole.
//     Together, over all connections, they stay within ReassemblyBudget,
//     which each event loop holds its share of (no lock, no atomic: a
//     loop's connections are touched only on it). A frame that would
//     take the loop past its share fails its connection with 1009, counted
//     as the refusal reassembly_budget.
//   - bytes to write: what the socket does not take at once waits in gnet's
//     queue, at most MaxOutbound (plus one message) per connection; past
//     it SlowConsumer applies, and a pong is owed rather than queued (see
//     answerPing).

// hold takes n bytes of the loop's reassembly budget for the message the
// connection is reading, and reports whether there was room. Called on the
// loop.
func (c *Conn) hold(n int64) bool {
	l := c.loop
	if l.held+n > l.budget {
		return false
	}
	l.held += n
	c.held += n
	return true
}

// messageDone gives back what the connection held of the budget once its
// message has ended: delivered, dropped or failed. payload is the message
// the frame completed, if any: when it was reassembled, its buffer goes
// back to the pool (the handler is done with it). Called on the loop,
// after each frame.
func (c *Conn) messageDone(payload []byte) {
	if c.held == 0 || c.rd.Busy() {
		return
	}
	c.release()
	c.loop.srv.bufs.put(payload)
}

// bufPool recycles the buffers large messages are reassembled in, so that
// a stream of them does not cost an allocation, zeroed pages and a share
// of the collector's work each. Buffers come in size classes a quarter
// apart, from poolMin up, so one holds at most about a quarter more than
// its message; smaller ones are made to measure (Go's allocator serves
// them well). Idle buffers go with the garbage collector (sync.Pool).
// Safe for concurrent use.
type bufPool struct {
	classes []int // capacities, ascending
	pools   []sync.Pool
}

// poolMin is the smallest buffer bufPool recycles.
const poolMin = 32 << 10

// newBufPool returns a pool with classes up to one of at least largest
// bytes.
func newBufPool(largest int) *bufPool {
	p := &bufPool{}
	for c := poolMin; ; c = (c + c/4 + 4095) &^ 4095 {
		p.classes = append(p.classes, c)
		if c >= largest {
			break
		}
	}
	p.pools = make([]sync.Pool, len(p.classes))
	return p
}

// get returns an empty buffer of capacity n or more.
func (p *bufPool) get(n int) []byte {
	i, _ := slices.BinarySearch(p.classes, n)
	if n < poolMin || i == len(p.classes) {
		return make([]byte, 0, n)
	}
	if b, ok := p.pools[i].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, p.classes[i])
}

// put takes back a buffer get gave, once nothing uses it any more; any
// other slice is left to the collector.
func (p *bufPool) put(b []byte) {
	if i, ok := slices.BinarySearch(p.classes, cap(b)); ok {
		p.pools[i].Put(&b)
	}
}

// release drops the connection's partial message, if any, and gives back
// what it held of the budget. Called on the loop.
func (c *Conn) release() {
	c.rd.Reset()
	c.loop.held -= c.held
	c.held = 0
}

// Memory is what the server holds for its connections' messages.
type Memory struct {
	// Reassembly is the bytes of partial messages: data frames that have
	// not all arrived and the fragments of messages, which
	// Config.ReassemblyBudget bounds.
	Reassembly int64
	// Outbound is the bytes waiting to be written to connections whose
	// socket did not take them at once, and OutboundConns how many
	// connections have any.
	Outbound      int64
	OutboundConns int64
}

// Memory returns what the event loops hold now. It asks each loop and
// waits for the answers (a loop that does not answer within a second is
// left out). Safe for concurrent use, but not on an event loop.
func (s *Server) Memory() Memory {
	var m Memory
	s.onEachLoop(func(l *Loop) {
		l.sampleOutbound()
		l.heldNow.Store(l.held)
	})
	for _, l := range s.loopList() {
		m.Reassembly += l.heldNow.Load()
		m.Outbound += l.outBytes.Load()
		m.OutboundConns += l.outConns.Load()
	}
	return m
}
