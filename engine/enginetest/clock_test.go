package enginetest

import (
	"testing"
	"time"
)

// TestClock: Advance delivers each due tick in order, at its time, then
// the end time once the receiver has taken the last; a stopped ticker
// gets nothing, and Advance does not wait for it.
func TestClock(t *testing.T) {
	start := time.Unix(1000, 0)
	clk := NewClock(start)
	ticks, stop := clk.Tick(100 * time.Millisecond)
	got := make(chan []time.Time)
	go func() {
		var seen []time.Time
		for at := range ticks {
			seen = append(seen, at)
			if len(seen) == 4 {
				got <- seen
				return
			}
		}
	}()
	clk.Advance(350 * time.Millisecond)
	seen := <-got
	want := []time.Time{start.Add(100 * time.Millisecond), start.Add(200 * time.Millisecond), start.Add(300 * time.Millisecond), start.Add(350 * time.Millisecond)}
	for i := range want {
		if !seen[i].Equal(want[i]) {
			t.Fatalf("tick %d at %v; want %v", i, seen[i].Sub(start), want[i].Sub(start))
		}
	}
	if now := clk.Now(); !now.Equal(start.Add(350 * time.Millisecond)) {
		t.Fatalf("Now() = %v after the advance", now.Sub(start))
	}
	stop()
	done := make(chan struct{})
	go func() { clk.Advance(time.Second); close(done) }()
	select {
	case <-done:
	case <-time.After(Wait):
		t.Fatal("Advance waited for a stopped ticker")
	}
}
