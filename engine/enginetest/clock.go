package enginetest

import (
	"sync"
	"time"
)

// Clock is a clock a test moves by hand, for engine.Config.Clock: the
// server's deadlines then pass when the test says, not when real time
// has. Safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*ticker
}

// ticker is one of the clock's tickers.
type ticker struct {
	c       chan time.Time
	period  time.Duration
	next    time.Time
	stopped chan struct{}
	once    sync.Once
}

// NewClock returns a clock that reads start until moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Tick returns a ticker that ticks every d of the clock's time, as
// Advance moves it.
func (c *Clock) Tick(d time.Duration) (<-chan time.Time, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &ticker{c: make(chan time.Time), period: d, next: c.now.Add(d), stopped: make(chan struct{})}
	c.tickers = append(c.tickers, t)
	return t.c, func() { t.once.Do(func() { close(t.stopped) }) }
}

// Advance moves the clock by d. Each tick that falls due on the way is
// delivered in order, each once its receiver has taken the one before:
// when Advance returns, every receiver has taken its last tick and gone
// back for the next (it is sent that tick's time again, which a server
// takes as a tick that changes nothing). So whatever a server does on a
// tick has been set going by then; what it posts to its event loops may
// still be queued there.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var due *ticker
		for _, t := range c.tickers {
			if !t.next.After(end) && (due == nil || t.next.Before(due.next)) {
				due = t
			}
		}
		if due == nil {
			break
		}
		c.now = due.next
		due.next = due.next.Add(due.period)
		now := c.now
		c.mu.Unlock()
		due.send(now)
		c.mu.Lock()
	}
	c.now = end
	ts := append([]*ticker(nil), c.tickers...)
	c.mu.Unlock()
	for _, t := range ts {
		t.send(end) // the receiver is done with the last tick
	}
}

// send hands the receiver a tick, unless the ticker is stopped.
func (t *ticker) send(at time.Time) {
	select {
	case t.c <- at:
	case <-t.stopped:
	}
}
