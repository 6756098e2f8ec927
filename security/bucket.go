package security

import (
	"errors"
	"math"
)

// Rate is a token bucket's parameters: PerSecond tokens come in each
// second, and up to Burst are saved for a burst. The zero Rate is no limit.
type Rate struct {
	PerSecond int64
	Burst     int64
}

// Limited reports whether r limits anything.
func (r Rate) Limited() bool { return r.PerSecond > 0 }

// BucketLimit is a Rate compiled for a clock that counts in units of
// 1/unitsPerSecond of a second (the event loops' ticks, say). It is
// immutable and safe for concurrent use; the Buckets it fills are not.
//
// The arithmetic is in integers: a bucket's level is kept in
// 1/unitsPerSecond of a token, each clock unit adds PerSecond of those,
// and a token costs unitsPerSecond of them, so no rate is rounded away
// however small, and nothing allocates.
type BucketLimit struct {
	fill  int64 // level added per clock unit
	cost  int64 // level one token takes
	full  int64 // the level of a full bucket: Burst tokens
	spill int64 // clock units after which any bucket is full again
}

// NewBucketLimit compiles r for a clock of unitsPerSecond units a second.
// The bucket holds at least one token, or nothing would ever pass, and at
// least what one clock unit brings in, or the clock's grain would lower
// the rate (with 10 units a second, a burst under PerSecond/10 is raised
// to it); see Burst.
func NewBucketLimit(r Rate, unitsPerSecond int64) (*BucketLimit, error) {
	if r.PerSecond <= 0 || r.Burst < 0 || unitsPerSecond <= 0 {
		return nil, errors.New("security: a token bucket needs a positive rate and clock, and a burst of 0 or more")
	}
	burst := max(r.Burst, 1, (r.PerSecond+unitsPerSecond-1)/unitsPerSecond)
	if burst > math.MaxInt64/unitsPerSecond/4 {
		return nil, errors.New("security: token bucket burst too large")
	}
	l := &BucketLimit{fill: r.PerSecond, cost: unitsPerSecond, full: burst * unitsPerSecond}
	// A bucket empty by at most one full bucket of debt (see Take) is
	// full again after this many units; capping the elapsed time here
	// keeps elapsed*fill from overflowing after a long silence.
	l.spill = 2*l.full/l.fill + 1
	return l, nil
}

// Bucket is one client's token bucket: 16 bytes, no pointers. Its zero
// value is empty until Fill; keep it in the client's own state and touch
// it from one goroutine (the connection's event loop).
type Bucket struct {
	level int64 // may be negative: debt from a cost larger than the bucket
	last  int64 // clock of the last refill
}

// Burst returns the tokens a full bucket holds.
func (l *BucketLimit) Burst() int64 { return l.full / l.cost }

// Fill makes b a full bucket at now.
func (l *BucketLimit) Fill(b *Bucket, now int64) {
	b.level, b.last = l.full, now
}

// Take decides whether n tokens may be spent at now, and spends them if
// so: the decision method of the rate gate. A cost larger than the bucket
// itself (a message of more bytes than the burst) passes when the bucket
// is full, and leaves the bucket in debt for the difference, so a large
// message is slowed to the rate instead of refused forever. Called by the
// bucket's owner.
func (l *BucketLimit) Take(b *Bucket, now, n int64) bool {
	if elapsed := now - b.last; elapsed > 0 {
		b.level = min(b.level+min(elapsed, l.spill)*l.fill, l.full)
		b.last = now
	}
	need := l.full
	if n <= l.full/l.cost {
		need = n * l.cost
	}
	if b.level < need {
		return false
	}
	if n > l.full/l.cost {
		// The debt is capped at one full bucket, which keeps the
		// level (and spill) bounded whatever n is.
		b.level -= min(n, 2*(l.full/l.cost)) * l.cost
	} else {
		b.level -= need
	}
	return true
}
