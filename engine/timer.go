package engine

import "time"

// Timer is a protocol's deadline on a loop's timing wheel (Loop.Schedule):
// a session's next ping, say. It is embedded in what it times, so arming
// it allocates nothing, and it fires on its loop, between reads, like the
// connections' own deadlines: never early, and at most two ticks (200 ms)
// late. Make one with NewTimer, or set it up with Init.
type Timer struct {
	t timer
	f func()
}

// NewTimer returns a timer that calls f when it fires.
func NewTimer(f func()) *Timer {
	t := &Timer{}
	t.Init(f)
	return t
}

// Init sets up a Timer embedded in another value to call f when it fires.
// It must not be armed.
func (t *Timer) Init(f func()) {
	t.f = f
	t.t.owner = t
}

func (t *Timer) expire(int64) { t.f() }

// Armed reports whether t is scheduled. Called on the loop it was
// scheduled on.
func (t *Timer) Armed() bool { return t.t.armed() }

// Schedule arms t to fire on the loop d from now; an armed t is moved
// (to this loop's wheel only if it was armed on this loop: a timer is
// armed on one loop at a time, and moved to another only once cancelled
// there). Called on the loop.
func (l *Loop) Schedule(t *Timer, d time.Duration) {
	l.wheel.schedule(&t.t, l.now()+ticks(d))
}

// Cancel disarms t and reports whether it was armed. Called on the loop
// it was scheduled on.
func (l *Loop) Cancel(t *Timer) bool { return l.wheel.cancel(&t.t) }

// TicksPerSecond is the rate of the loops' clocks (Loop.Ticks).
const TicksPerSecond = ticksPerSecond

// Ticks returns the loop's clock, in ticks (TicksPerSecond): the tick it
// last advanced to, or caught up with when it woke. Rate limits kept per
// session (security.BucketLimit) run on it. Called on the loop.
func (l *Loop) Ticks() int64 { return l.now() }
