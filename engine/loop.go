package engine

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/tlsrec"
	"github.com/wssd/wssd/security"
)

// smallFrame is the payload size up to which a frame is copied next to its
// header and written with one write; larger payloads go out with writev,
// straight from where they are.
const smallFrame = 1024

// loop is the per-event-loop state: the loop's connections (for drain), its
// timing wheel and its scratch buffers. Everything in it is touched only on
// its loop, but for the atomics.
type Loop struct {
	el      gnet.EventLoop
	srv     *Server
	head    *Conn        // connections on this loop, an intrusive list
	wheel   wheel        // the connections' deadlines; wheel.now is the loop's clock
	target  atomic.Int64 // the tick the wheel is to advance to
	advance task         // advances the wheel to target, on the loop

	// Whether the ticker need post the tick (see idle): something ran on
	// the loop since the ticker last looked, or a tick at which the loop
	// may have work (a deadline, cool), as of its last tick.
	active atomic.Bool
	due    atomic.Int64

	scratch []byte           // frame headers, small frames and HTTP responses
	work    []byte           // plaintext decrypted from wss:// connections
	plain   plainBuf         // the plaintext of the wss:// connection being read
	sealed  []byte           // records being written to a wss:// connection
	hot     []*tlsrec.Stream // record layers holding ciphers (tls.go, cool)
	iov     [2][]byte        // header and payload of a large frame
	chunk   [3][]byte        // size line, data and CRLF of a large chunk (stream.go)

	// permessage-deflate (deflate.go): the loop's DEFLATE state, made
	// when first needed, and its buffers.
	z           *codec.Compressor
	unz         *codec.Decompressor
	inflated    []byte
	deflatedBuf []byte
	dcounts     deflateCounts

	// The loop's share of the reassembly budget (memory.go): what its
	// connections' partial messages may hold, and hold now (heldNow is
	// held as of the last tick, for other goroutines).
	budget, held int64
	heldNow      atomic.Int64
	alloc        func(n int) []byte // srv.bufs.get, for the connections' Readers

	req        request                        // the request being read
	served     Request                        // the request an HTTPHandler's ServeHTTP is given
	body       []byte                         // the decoded body of a chunked request that came whole (chunked.go)
	validators map[string]*security.Validator // by JSON route
	reply      []byte                         // error replies to invalid messages
	refused    refusalCounts                  // added to the server's each tick
	rlog       refusalLog
	notFound   sampler // the 404 lines (logs.go)

	// Metrics (metrics.go).
	index              int          // in the order loops were created
	counts             loopCounts   // added to the server's metrics each tick
	posted             atomic.Int64 // server nanos of the oldest advance not run yet; 0: none
	lag                *Histogram   // how late advance ran
	outBytes, outConns atomic.Int64 // sampled when read (Server.outbound, Server.Memory)
}

func newLoop(s *Server, el gnet.EventLoop, index int) *Loop {
	l := &Loop{el: el, srv: s, rlog: refusalLog{l: s.cfg.Logger}, index: index}
	l.budget = s.cfg.ReassemblyBudget / int64(s.cfg.Loops)
	l.alloc = s.bufs.get
	l.lag = NewHistogram("wssd_loop_lag_seconds", `loop="`+strconv.Itoa(index)+`"`, lagBuckets)
	l.wheel.init(s.clock())
	l.advance = func() {
		target := l.target.Load()
		l.wheel.advance(target)
		l.flush()
		l.heldNow.Store(l.held)
		if posted := l.posted.Swap(0); s.metrics != nil && posted != 0 {
			l.lag.Observe(float64(s.nanos()-posted) / 1e9)
		}
		if target%(coolSeconds*ticksPerSecond) == 0 {
			l.cool()
		}
		l.due.Store(l.nextDue())
	}
	if len(s.cfg.JSONRoutes) > 0 {
		l.validators = make(map[string]*security.Validator, len(s.cfg.JSONRoutes))
		for path, schema := range s.cfg.JSONRoutes {
			l.validators[path] = security.NewValidator(schema, s.cfg.MaxJSONDepth)
		}
	}
	return l
}

// now is the loop's clock, in ticks: the tick it last advanced to.
func (l *Loop) now() int64 { return l.wheel.now }

// A loop with nothing to do is not sent the tick. Waking it ten times a
// second for nothing is what an idle server would spend most of its CPU
// on: each wake takes the loop out of epoll_wait, and the Go runtime's
// sysmon, seeing a thread come back from a blocking system call, polls
// every 20 µs or so for the next 10 ms to take its P back.
//
// The ticker skips a loop (idle) when the loop has run its last tick,
// nothing else has run on it since the ticker last looked, and nothing is
// due at this tick: no deadline on its wheel (wheel.next) and no cool.
// Whatever runs on the loop other than the tick (gnet's callbacks, tasks
// posted with Post) calls wake first, which gets it the next tick; what
// the tick itself arms is in due, which it sets last. So a deadline is
// never later than it would be with every tick sent, and counts and
// gauges are flushed by the tick after they change, as before.

// idle reports whether the ticker can leave the loop alone at tick now.
// Called by the ticker.
func (l *Loop) idle(now int64) bool {
	return l.posted.Load() == 0 && !l.active.Swap(false) && now < l.due.Load()
}

// wake notes that something other than the tick runs on the loop, so that
// the next tick is sent. Coming out of a quiet spell, it first brings the
// loop's clock (which stamps activity and starts deadlines) up to date:
// the ticks the loop was not sent had nothing due, so the clock moves on
// without visiting them. Called on the loop, before anything else in each
// callback and task.
func (l *Loop) wake() {
	if l.active.Load() {
		return
	}
	l.active.Store(true)
	l.wheel.catchUp(l.srv.clock())
}

// nextDue is the first tick after now at which the loop may have work:
// the next deadline, or the next cool while record layers hold ciphers.
// Called on the loop.
func (l *Loop) nextDue() int64 {
	next := l.wheel.next()
	if len(l.hot) > 0 {
		const every = coolSeconds * ticksPerSecond
		next = min(next, (l.now()/every+1)*every)
	}
	return next
}

func (l *Loop) add(c *Conn) {
	c.next = l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
}

func (l *Loop) remove(c *Conn) {
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

// goAway starts the close of every connection on the loop, for a drain.
func (l *Loop) goAway() {
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
