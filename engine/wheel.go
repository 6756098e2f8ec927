package engine

import (
	"math"
	"math/bits"
	"time"
)

// tick is the resolution of the timing wheels: their clock counts ticks,
// and activity is stamped with the tick it happened in.
//
// A deadline of d after an event is due at the event's tick plus
// ticks(d), so it never fires early, and it fires at most two ticks late:
// one because the event's stamp is rounded down to its tick, one because
// d is rounded up to whole ticks. On top of that comes however late the
// event loop runs the tick (it runs between reads, like everything else
// on the loop).
const tick = 100 * time.Millisecond

// wheelSlots is the number of slots in a timing wheel, a power of two.
// One turn is wheelSlots ticks (6 min 49.6 s): deadlines up to that far
// out sit in their slot until due; one further out is looked at once per
// turn on its way (a hashed wheel keeps no round counter: each timer
// knows its tick). Slots are sentinels of 40 bytes: 160 KiB per wheel.
const wheelSlots = 4096

// ticks converts a duration after an event to the number of ticks to add
// to the event's stamp for a deadline that is never early.
func ticks(d time.Duration) int64 {
	n := int64(d / tick)
	if d%tick != 0 {
		n++
	}
	return n + 1
}

// expirer is what a timer calls when it is due.
type expirer interface {
	// expire is called by the wheel's advance with the current tick, once
	// the timer is due and no longer armed. It may arm this timer or
	// others again, or cancel any.
	expire(now int64)
}

// timer is an entry of a timing wheel, embedded in what it times (no
// allocation per schedule). It is armed while linked into a slot. The
// zero value is an unarmed timer; owner must be set before it is armed.
type timer struct {
	next, prev *timer
	at         int64 // the tick it is due at
	owner      expirer
}

// armed reports whether t is scheduled.
func (t *timer) armed() bool { return t.next != nil }

func (t *timer) unlink() {
	t.prev.next = t.next
	t.next.prev = t.prev
	t.next, t.prev = nil, nil
}

// linkBefore puts t at the tail of the circular list whose sentinel is
// head.
func (t *timer) linkBefore(head *timer) {
	t.prev = head.prev
	t.next = head
	head.prev.next = t
	head.prev = t
}

// wheel is a hashed timing wheel: a timer due at tick k waits in slot
// k mod wheelSlots. Schedule and cancel are O(1); advancing one tick
// visits the timers of one slot. A bitmap of the slots that hold timers
// tells when the next one may be due (next), so that a loop with nothing
// due need not be woken every tick. It is not safe for concurrent use: a
// loop's wheel is touched only on its loop, the server's handshake wheel
// under its mutex.
type wheel struct {
	slots []timer                 // sentinels of the slots' circular lists
	used  [wheelSlots / 64]uint64 // a bit per slot: set while it holds timers
	due   timer                   // sentinel of the timers being fired
	now   int64                   // the last tick advanced to
	armed int                     // timers scheduled
}

// init makes w ready, with its clock at now.
func (w *wheel) init(now int64) {
	w.slots = make([]timer, wheelSlots)
	for i := range w.slots {
		s := &w.slots[i]
		s.next, s.prev = s, s
	}
	w.due.next, w.due.prev = &w.due, &w.due
	w.now = now
}

// schedule arms t to fire at tick at, or at the next tick if at is not
// in the future; an armed t is moved.
func (w *wheel) schedule(t *timer, at int64) {
	if t.next != nil {
		t.unlink()
		w.vacated(t.at)
	} else {
		w.armed++
	}
	if at <= w.now {
		at = w.now + 1
	}
	t.at = at
	i := at & (wheelSlots - 1)
	t.linkBefore(&w.slots[i])
	w.used[i>>6] |= 1 << (i & 63)
}

// cancel disarms t and reports whether it was armed.
func (w *wheel) cancel(t *timer) bool {
	if t.next == nil {
		return false
	}
	t.unlink()
	w.vacated(t.at)
	w.armed--
	return true
}

// vacated clears the bit of the slot of tick at if a timer leaving it was
// its last. (A timer being fired is already out of its slot: then the bit
// is right as it is.)
func (w *wheel) vacated(at int64) {
	i := at & (wheelSlots - 1)
	if s := &w.slots[i]; s.next == s {
		w.used[i>>6] &^= 1 << (i & 63)
	}
}

// next returns the first tick after now at which a timer may be due: that
// of the first slot after now's that holds any (a timer there may be due a
// turn or more later, at worst: the bound is low, never high), or
// math.MaxInt64 with none armed.
func (w *wheel) next() int64 {
	if w.armed == 0 {
		return math.MaxInt64
	}
	from := (w.now + 1) & (wheelSlots - 1)
	for d := int64(0); d < wheelSlots; {
		i := (from + d) & (wheelSlots - 1)
		if word := w.used[i>>6] >> (i & 63); word != 0 {
			return w.now + 1 + d + int64(bits.TrailingZeros64(word))
		}
		d += 64 - (i & 63)
	}
	return math.MaxInt64 // not reached: armed timers are in the slots
}

// catchUp moves the clock towards tick to without visiting the slots on
// the way, as far as nothing is due: to the tick before next, at most.
// Timers scheduled from then on count from the later clock. Nothing fires.
func (w *wheel) catchUp(to int64) {
	w.now = max(w.now, min(to, w.next()-1))
}

// advance moves the clock to tick to, one tick at a time, and fires the
// timers due at each: in the order they were scheduled, within a tick.
// What a timer's expire does to the wheel (schedule, cancel, even of a
// timer due in the same tick) takes effect at once.
func (w *wheel) advance(to int64) {
	for w.now < to {
		if w.armed == 0 {
			w.now = to
			return
		}
		w.now++
		head := &w.slots[w.now&(wheelSlots-1)]
		// Take the due timers out of the slot first, so that expire
		// callbacks cannot disturb the walk.
		for t := head.next; t != head; {
			next := t.next
			if t.at <= w.now {
				t.unlink()
				t.linkBefore(&w.due)
			}
			t = next
		}
		w.vacated(w.now)
		for w.due.next != &w.due {
			t := w.due.next
			t.unlink()
			w.armed--
			t.owner.expire(w.now)
		}
	}
}
