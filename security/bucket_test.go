package security

import (
	"math"
	"testing"
)

func mustBucketLimit(t testing.TB, r Rate, units int64) *BucketLimit {
	t.Helper()
	l, err := NewBucketLimit(r, units)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestBucketLimitErrors(t *testing.T) {
	for _, tc := range []struct {
		r     Rate
		units int64
	}{
		{Rate{0, 1}, 10},
		{Rate{-1, 1}, 10},
		{Rate{1, -1}, 10},
		{Rate{1, 1}, 0},
		{Rate{1, math.MaxInt64 / 8}, 10},
	} {
		if _, err := NewBucketLimit(tc.r, tc.units); err == nil {
			t.Errorf("NewBucketLimit(%+v, %d): no error", tc.r, tc.units)
		}
	}
}

// TestBucketTake plays a sequence of (clock, tokens) against a bucket and
// checks each decision.
func TestBucketTake(t *testing.T) {
	type step struct {
		now, n int64
		ok     bool
	}
	for _, tc := range []struct {
		name  string
		r     Rate
		units int64
		steps []step
	}{
		{"burst then refused", Rate{10, 3}, 10, []step{
			{0, 1, true}, {0, 1, true}, {0, 1, true}, {0, 1, false},
		}},
		{"one token a tick at 10/s", Rate{10, 3}, 10, []step{
			{0, 3, true}, {0, 1, false}, {1, 1, true}, {1, 1, false}, {3, 2, true}, {3, 1, false},
		}},
		{"refill stops at the burst", Rate{10, 3}, 10, []step{
			{0, 3, true}, {1000, 3, true}, {1000, 1, false},
		}},
		{"a slow rate is not rounded away", Rate{1, 1}, 10, []step{
			{0, 1, true}, {5, 1, false}, {9, 1, false}, {10, 1, true}, {19, 1, false}, {20, 1, true},
		}},
		{"a burst under one tick's worth is raised to it", Rate{30, 1}, 10, []step{
			{0, 3, true}, {0, 1, false}, {1, 3, true}, {1, 1, false},
		}},
		{"zero burst means one", Rate{5, 0}, 10, []step{
			{0, 1, true}, {0, 1, false}, {2, 1, true},
		}},
		{"a refusal spends nothing", Rate{10, 2}, 10, []step{
			{0, 2, true}, {0, 1, false}, {0, 1, false}, {1, 1, true},
		}},
		{"a cost over the burst passes a full bucket and leaves debt", Rate{100, 10}, 10, []step{
			{0, 25, true},  // full (10), spent 20 (debt capped at one bucket): -10
			{1, 1, false},  // +10: 0
			{2, 1, true},   // +10: 10, spends 1
			{2, 25, false}, // 9 < full
			{3, 25, true},
		}},
		{"a clock that goes back does nothing", Rate{10, 2}, 10, []step{
			{5, 2, true}, {4, 1, false}, {6, 1, true},
		}},
		{"bytes at a high rate", Rate{1 << 24, 1 << 23}, 10, []step{
			{0, 1 << 23, true}, {0, 1, false}, {4, 1 << 23, false}, {5, 1 << 23, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustBucketLimit(t, tc.r, tc.units)
			var b Bucket
			l.Fill(&b, tc.steps[0].now)
			for i, s := range tc.steps {
				if got := l.Take(&b, s.now, s.n); got != s.ok {
					t.Fatalf("step %d: Take(now=%d, n=%d) = %v, want %v (level %d)", i, s.now, s.n, got, s.ok, b.level)
				}
			}
		})
	}
}

// TestBucketLongRun checks that over a long run the tokens taken are the
// rate times the time, plus the burst, whatever the grain of the requests.
func TestBucketLongRun(t *testing.T) {
	const units = 10
	for _, r := range []Rate{{7, 3}, {100, 50}, {1, 1}, {3000, 1}} {
		l := mustBucketLimit(t, r, units)
		var b Bucket
		l.Fill(&b, 0)
		var taken int64
		const end = 10 * 60 * units // ten minutes
		for now := int64(0); now <= end; now++ {
			for l.Take(&b, now, 1) {
				taken++
			}
		}
		want := r.PerSecond*end/units + l.Burst()
		if taken != want {
			t.Errorf("%+v: %d tokens in ten minutes, want %d", r, taken, want)
		}
	}
}

func BenchmarkBucketTake(b *testing.B) {
	l := mustBucketLimit(b, Rate{PerSecond: 1000, Burst: 100}, 10)
	var bk Bucket
	l.Fill(&bk, 0)
	b.ReportAllocs()
	ok := 0
	for i := 0; b.Loop(); i++ {
		if l.Take(&bk, int64(i>>6), 1) {
			ok++
		}
	}
	if ok == 0 {
		b.Fatal("nothing passed")
	}
}
