package engine

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// probe is a timed thing that records when it fired; on is what it does
// then, if anything.
type probe struct {
	t     timer
	name  string
	fired []int64
	log   *[]string
	on    func(now int64)
}

func newProbe(name string, log *[]string) *probe {
	p := &probe{name: name, log: log}
	p.t.owner = p
	return p
}

func (p *probe) expire(now int64) {
	p.fired = append(p.fired, now)
	if p.log != nil {
		*p.log = append(*p.log, p.name)
	}
	if p.on != nil {
		p.on(now)
	}
}

func newTestWheel(now int64) *wheel {
	w := &wheel{}
	w.init(now)
	return w
}

func TestWheelFiresInOrder(t *testing.T) {
	var log []string
	w := newTestWheel(100)
	a, b, c, d := newProbe("a", &log), newProbe("b", &log), newProbe("c", &log), newProbe("d", &log)
	w.schedule(&c.t, 105)
	w.schedule(&a.t, 103)
	w.schedule(&d.t, 105) // same tick as c, scheduled after it
	w.schedule(&b.t, 104)
	w.advance(104)
	if want := []string{"a", "b"}; !slices.Equal(log, want) {
		t.Fatalf("fired %v by tick 104; want %v", log, want)
	}
	w.advance(110)
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(log, want) {
		t.Fatalf("fired %v; want %v (due order, then scheduling order)", log, want)
	}
	for _, p := range []*probe{a, b, c, d} {
		if len(p.fired) != 1 || p.fired[0] != p.t.at {
			t.Errorf("%s fired at %v; want once at %d", p.name, p.fired, p.t.at)
		}
		if p.t.armed() {
			t.Errorf("%s still armed after firing", p.name)
		}
	}
	if w.armed != 0 {
		t.Errorf("wheel counts %d armed; want 0", w.armed)
	}
}

func TestWheelPastIsNextTick(t *testing.T) {
	w := newTestWheel(50)
	p := newProbe("p", nil)
	w.schedule(&p.t, 10) // in the past
	w.advance(50)
	if len(p.fired) != 0 {
		t.Fatal("fired without the clock moving")
	}
	w.advance(51)
	if !slices.Equal(p.fired, []int64{51}) {
		t.Fatalf("fired at %v; want [51]", p.fired)
	}
}

func TestWheelCancel(t *testing.T) {
	w := newTestWheel(0)
	a, b := newProbe("a", nil), newProbe("b", nil)
	w.schedule(&a.t, 5)
	w.schedule(&b.t, 5)
	if !w.cancel(&a.t) {
		t.Fatal("cancel of an armed timer reported false")
	}
	if w.cancel(&a.t) {
		t.Fatal("second cancel reported true")
	}
	w.advance(10)
	if len(a.fired) != 0 || len(b.fired) != 1 {
		t.Fatalf("a fired %v, b fired %v; want only b", a.fired, b.fired)
	}
	if w.cancel(&b.t) {
		t.Fatal("cancel of a fired timer reported true")
	}
}

// TestWheelRefresh: scheduling an armed timer moves it (the lazy refresh
// re-arms from inside expire; an explicit one moves it before).
func TestWheelRefresh(t *testing.T) {
	w := newTestWheel(0)
	p := newProbe("p", nil)
	w.schedule(&p.t, 5)
	w.schedule(&p.t, 8)
	w.advance(7)
	if len(p.fired) != 0 {
		t.Fatalf("fired at %v after being moved to 8", p.fired)
	}
	w.schedule(&p.t, 3) // earlier than now: next tick
	w.advance(8)
	if !slices.Equal(p.fired, []int64{8}) || w.armed != 0 {
		t.Fatalf("fired at %v with %d armed; want [8] and 0", p.fired, w.armed)
	}
	// Lazy refresh: activity moves a stamp; expire re-checks and re-arms.
	stamp := int64(8)
	p.on = func(now int64) {
		if due := stamp + 10; due > now {
			w.schedule(&p.t, due)
		}
	}
	w.schedule(&p.t, stamp+10)
	w.advance(12)
	stamp = 12 // active at tick 12
	w.advance(30)
	if !slices.Equal(p.fired, []int64{8, 18, 22}) {
		t.Fatalf("fired at %v; want [8 18 22]: checked at 18, re-armed for 22", p.fired)
	}
}

// TestWheelWrapAndRounds: slots are reused across turns, and a timer more
// than one turn out waits for its own turn.
func TestWheelWrapAndRounds(t *testing.T) {
	start := int64(wheelSlots - 3) // the clock wraps the slot index soon
	w := newTestWheel(start)
	near := newProbe("near", nil)
	far := newProbe("far", nil)
	farther := newProbe("farther", nil)
	w.schedule(&near.t, start+5)                 // past the wrap
	w.schedule(&far.t, start+5+wheelSlots)       // same slot, next turn
	w.schedule(&farther.t, start+5+3*wheelSlots) // same slot, three turns on
	w.advance(start + 5)
	if len(near.fired) != 1 || len(far.fired) != 0 || len(farther.fired) != 0 {
		t.Fatalf("after one turn: near %v, far %v, farther %v", near.fired, far.fired, farther.fired)
	}
	w.advance(start + 5 + wheelSlots - 1)
	if len(far.fired) != 0 {
		t.Fatalf("far fired early at %v", far.fired)
	}
	w.advance(start + 5 + wheelSlots)
	if !slices.Equal(far.fired, []int64{start + 5 + wheelSlots}) {
		t.Fatalf("far fired at %v; want [%d]", far.fired, start+5+wheelSlots)
	}
	w.advance(start + 4*wheelSlots)
	if !slices.Equal(farther.fired, []int64{start + 5 + 3*wheelSlots}) {
		t.Fatalf("farther fired at %v; want [%d]", farther.fired, start+5+3*wheelSlots)
	}
}

// TestWheelScheduleFromExpire: an expire callback may re-arm its own timer
// (even into the slot being fired, a turn later), arm another for the
// current tick, and cancel one that is due in the same tick.
func TestWheelScheduleFromExpire(t *testing.T) {
	var log []string
	w := newTestWheel(0)
	self := newProbe("self", &log)
	other := newProbe("other", &log)
	victim := newProbe("victim", &log)
	late := newProbe("late", &log)
	self.on = func(now int64) {
		if len(self.fired) == 1 {
			w.schedule(&self.t, now+wheelSlots) // same slot, next turn
			w.schedule(&other.t, now)           // not in the future: next tick
			w.cancel(&victim.t)                 // due now, behind self
		}
	}
	w.schedule(&self.t, 4)
	w.schedule(&victim.t, 4)
	w.schedule(&late.t, 5)
	w.advance(4)
	if !slices.Equal(log, []string{"self"}) {
		t.Fatalf("tick 4 fired %v; want [self]", log)
	}
	w.advance(5)
	if !slices.Equal(log, []string{"self", "late", "other"}) {
		t.Fatalf("by tick 5 fired %v; want [self late other]", log)
	}
	w.advance(4 + wheelSlots)
	if !slices.Equal(self.fired, []int64{4, 4 + wheelSlots}) || len(victim.fired) != 0 {
		t.Fatalf("self fired at %v, victim at %v; want [4 %d] and none", self.fired, victim.fired, 4+wheelSlots)
	}
}

// TestWheelRandom checks the wheel against a sorted list of deadlines,
// through random schedules, moves, cancels and advances.
func TestWheelRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	w := newTestWheel(0)
	const n = 2000
	ps := make([]*probe, n)
	want := make(map[*probe]int64) // armed probe → due tick
	for i := range ps {
		ps[i] = newProbe("", nil)
	}
	for step := 0; step < 20000; step++ {
		p := ps[rng.IntN(n)]
		switch r := rng.IntN(11); {
		case r == 10:
			// Catching up fires nothing; what is due still fires in
			// the advances that follow.
			fired := 0
			for q := range want {
				fired += len(q.fired)
			}
			w.catchUp(w.now + rng.Int64N(wheelSlots))
			for q := range want {
				fired -= len(q.fired)
			}
			if fired != 0 {
				t.Fatal("catching up fired timers")
			}
			for _, at := range want {
				if at <= w.now {
					t.Fatalf("caught up to %d, past a timer due at %d", w.now, at)
				}
			}
		case r < 6:
			at := w.now + 1 + rng.Int64N(3*wheelSlots)
			w.schedule(&p.t, at)
			want[p] = at
		case r < 8:
			_, armed := want[p]
			if got := w.cancel(&p.t); got != armed {
				t.Fatalf("cancel reported %v; want %v", got, armed)
			}
			delete(want, p)
		default:
			to := w.now + rng.Int64N(wheelSlots/2)
			before := make(map[*probe]int, len(want))
			for q := range want {
				before[q] = len(q.fired)
			}
			w.advance(to)
			for q, at := range want {
				fired := len(q.fired) - before[q]
				switch {
				case at <= to && (fired != 1 || q.fired[len(q.fired)-1] != at):
					t.Fatalf("timer due at %d: fired %d times, last %v, by %d", at, fired, q.fired, to)
				case at > to && fired != 0:
					t.Fatalf("timer due at %d fired at %v, by %d", at, q.fired, to)
				}
				if at <= to {
					delete(want, q)
				}
			}
		}
		if w.armed != len(want) {
			t.Fatalf("wheel counts %d armed; want %d", w.armed, len(want))
		}
		checkNext(t, w, want)
	}
}

// checkNext checks w.next against the due ticks of the armed timers: never
// after the first, at a slot that holds a timer, and the first itself when
// all are within a turn.
func checkNext(t *testing.T, w *wheel, want map[*probe]int64) {
	t.Helper()
	got := w.next()
	if len(want) == 0 {
		if got != math.MaxInt64 {
			t.Fatalf("next %d with no timer armed; want none", got)
		}
		return
	}
	first, last := int64(math.MaxInt64), int64(0)
	for _, at := range want {
		first, last = min(first, at), max(last, at)
	}
	if got <= w.now || got > first {
		t.Fatalf("next %d at %d; want in (%d, %d]", got, w.now, w.now, first)
	}
	if s := &w.slots[got&(wheelSlots-1)]; s.next == s {
		t.Fatalf("next %d is an empty slot", got)
	}
	if last-w.now <= wheelSlots && got != first {
		t.Fatalf("next %d; want %d, all timers being within a turn", got, first)
	}
}

// TestWheelCatchUp: catching up moves the clock without firing anything,
// never past the tick before the next timer's, and timers scheduled after
// it count from the later clock; with nothing armed it goes all the way.
func TestWheelCatchUp(t *testing.T) {
	w := newTestWheel(100)
	a, far := newProbe("a", nil), newProbe("far", nil)
	w.schedule(&a.t, 110)
	w.schedule(&far.t, 104+wheelSlots) // in the slot of tick 104, a turn on
	w.catchUp(90)
	if w.now != 100 {
		t.Fatalf("clock %d after catching up to the past; want 100", w.now)
	}
	w.catchUp(103)
	if w.now != 103 {
		t.Fatalf("clock %d; want 103", w.now)
	}
	w.catchUp(200)
	if w.now != 103 {
		t.Fatalf("clock %d; want 103: the slot of 104 holds a timer, maybe due", w.now)
	}
	w.advance(104)
	w.catchUp(200)
	if w.now != 109 || len(a.fired)+len(far.fired) != 0 {
		t.Fatalf("clock %d, fired %v and %v; want 109 and nothing", w.now, a.fired, far.fired)
	}
	b := newProbe("b", nil)
	w.schedule(&b.t, w.now+1)
	w.advance(110)
	if !slices.Equal(a.fired, []int64{110}) || !slices.Equal(b.fired, []int64{110}) {
		t.Fatalf("a fired at %v, b at %v; want both at 110", a.fired, b.fired)
	}
	w.catchUp(200 + wheelSlots)
	if w.now != 103+wheelSlots {
		t.Fatalf("clock %d; want %d, before far", w.now, 103+wheelSlots)
	}
	w.advance(104 + wheelSlots)
	if !slices.Equal(far.fired, []int64{104 + wheelSlots}) {
		t.Fatalf("far fired at %v; want %d", far.fired, 104+wheelSlots)
	}
	w.catchUp(1 << 40)
	if w.now != 1<<40 {
		t.Fatalf("clock %d with nothing armed; want %d", w.now, int64(1)<<40)
	}
}

func TestTicksNeverEarly(t *testing.T) {
	for _, d := range []time.Duration{0, time.Millisecond, tick - 1, tick, tick + 1, 5 * time.Second} {
		n := ticks(d)
		// The event happened somewhere in its stamp's tick: at worst at
		// its very end; the deadline fires at the start of stamp+n.
		if earliest := time.Duration(n-1) * tick; earliest < d {
			t.Errorf("ticks(%v) = %d fires %v after an event at the end of its tick; want >= %v", d, n, earliest, d)
		}
		if latest := time.Duration(n) * tick; latest >= d+2*tick {
			t.Errorf("ticks(%v) = %d fires up to %v after the event; want < %v", d, n, latest, d+2*tick)
		}
	}
}

// benchEntries is the number of timers per wheel in the benchmarks: a
// loop holding a million connections.
const benchEntries = 1 << 20

// benchTimed is a connection as the wheel sees it: a stamp of its last
// activity and a deadline interval from it.
type benchTimed struct {
	t     timer
	w     *wheel
	stamp int64
	every int64
}

// expire is the lazy refresh: re-arm from the stamp if there was activity
// since the timer was armed.
func (b *benchTimed) expire(now int64) {
	if due := b.stamp + b.every; due > now {
		b.w.schedule(&b.t, due)
	}
}

func newBenchTimed(w *wheel, n int) []benchTimed {
	ts := make([]benchTimed, n)
	for i := range ts {
		ts[i].t.owner = &ts[i]
		ts[i].w = w
	}
	return ts
}

// BenchmarkWheelSchedule: arming (or moving) one of a million timers to a
// tick within the next turn.
func BenchmarkWheelSchedule(b *testing.B) {
	w := newTestWheel(0)
	ts := newBenchTimed(w, benchEntries)
	rng := rand.New(rand.NewPCG(3, 4))
	ats := make([]int64, 1<<16)
	for i := range ats {
		ats[i] = 1 + rng.Int64N(wheelSlots-1)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.schedule(&ts[i&(benchEntries-1)].t, ats[i&(len(ats)-1)])
	}
}

// BenchmarkWheelExpire: firing a million timers spread over 1,000 ticks;
// ns per timer fired.
func BenchmarkWheelExpire(b *testing.B) {
	w := newTestWheel(0)
	ts := newBenchTimed(w, benchEntries)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(b.N-done, benchEntries)
		for i := range n {
			w.schedule(&ts[i].t, w.now+1+int64(i%1000))
		}
		b.StartTimer()
		w.advance(w.now + 1000)
		done += n
	}
}

// BenchmarkWheelRefresh: the lazy refresh of a million active timers. Each
// is stamped with activity (the per-message store) and, when its deadline
// comes, re-checked and re-armed from the stamp; ns per re-arm.
func BenchmarkWheelRefresh(b *testing.B) {
	w := newTestWheel(0)
	ts := newBenchTimed(w, benchEntries)
	const every = 300 // 30 s at 100 ms a tick
	for i := range ts {
		ts[i].every = every
		w.schedule(&ts[i].t, 1+int64(i%every))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		// Every timer was active just now (the stores are not timed);
		// one tick fires 1/300 of them.
		b.StopTimer()
		for i := range ts {
			ts[i].stamp = w.now
		}
		b.StartTimer()
		before := w.armed
		w.advance(w.now + 1)
		if w.armed != before {
			b.Fatalf("armed %d -> %d: a refreshed timer was dropped", before, w.armed)
		}
		done += benchEntries / every
	}
}

// BenchmarkRuntimeTimerReset is the baseline for BenchmarkWheelSchedule:
// moving one of a million runtime timers (a timer per connection, which
// the wheel replaces).
func BenchmarkRuntimeTimerReset(b *testing.B) {
	ts := make([]*time.Timer, benchEntries)
	for i := range ts {
		ts[i] = time.AfterFunc(time.Hour, func() {})
	}
	defer func() {
		for _, t := range ts {
			t.Stop()
		}
	}()
	rng := rand.New(rand.NewPCG(3, 4))
	ds := make([]time.Duration, 1<<16)
	for i := range ds {
		ds[i] = time.Duration(30+rng.Int64N(wheelSlots-1)) * tick
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ts[i&(benchEntries-1)].Reset(ds[i&(len(ds)-1)])
	}
}
