package security

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// TestShares plays takes and returns against the gate and checks each
// decision: an address, or an IPv6 /64, holds at most its share; others
// are not affected; a returned slot can be taken again.
func TestShares(t *testing.T) {
	s, err := NewShares(2)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.1")
	mapped := netip.MustParseAddr("::ffff:192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	v6a := netip.MustParseAddr("2001:db8:1:2::1")
	v6b := netip.MustParseAddr("2001:db8:1:2:ffff::9") // the same /64
	v6c := netip.MustParseAddr("2001:db8:1:3::1")
	steps := []struct {
		take bool // else return
		addr netip.Addr
		want bool
	}{
		{true, a, true},
		{true, mapped, true}, // the same address
		{true, a, false},
		{true, b, true},
		{true, b, true},
		{true, b, false},
		{false, a, true},
		{true, mapped, true},
		{true, a, false},
		{true, v6a, true},
		{true, v6b, true},
		{true, v6a, false},
		{true, v6c, true},
	}
	for i, st := range steps {
		if !st.take {
			s.Return(st.addr)
			continue
		}
		if got := s.Take(st.addr); got != st.want {
			t.Fatalf("step %d: Take(%s) = %v, want %v", i, st.addr, got, st.want)
		}
	}
	for addr, want := range map[netip.Addr]int{a: 2, b: 2, v6b: 2, v6c: 1, netip.MustParseAddr("198.51.100.1"): 0} {
		if got := s.Held(addr); got != want {
			t.Errorf("Held(%s) = %d, want %d", addr, got, want)
		}
	}
	for _, addr := range []netip.Addr{a, a, b, b, v6a, v6b, v6c, v6c} { // one too many for v6c: ignored
		s.Return(addr)
	}
	n := 0
	for i := range s.shards {
		n += len(s.shards[i].held)
	}
	if n != 0 {
		t.Errorf("%d addresses left in the table after every slot was returned", n)
	}
	if _, err := NewShares(0); err == nil {
		t.Error("NewShares(0) accepted")
	}
}

// TestSharesSetPer: a new share applies from the next Take; an address
// over it keeps what it holds and takes nothing until it is under.
func TestSharesSetPer(t *testing.T) {
	s, err := NewShares(3)
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.1")
	for range 3 {
		s.Take(a)
	}
	if err := s.SetPer(1); err != nil || s.Per() != 1 {
		t.Fatalf("SetPer(1): %v, Per() = %d", err, s.Per())
	}
	if s.Take(a) || s.Held(a) != 3 {
		t.Fatalf("over the new share: Take passed, or Held = %d; want refused, 3", s.Held(a))
	}
	s.Return(a)
	s.Return(a)
	if s.Take(a) {
		t.Fatal("Take passed at the new share")
	}
	s.Return(a)
	if !s.Take(a) {
		t.Fatal("Take refused under the new share")
	}
	if err := s.SetPer(2); err != nil || !s.Take(a) || s.Take(a) {
		t.Fatalf("SetPer(2): %v, or the second slot refused, or a third allowed", err)
	}
	for _, bad := range []int{0, -1, MaxShare + 1} {
		if err := s.SetPer(bad); err == nil || s.Per() != 2 {
			t.Errorf("SetPer(%d) = nil, or changed Per to %d", bad, s.Per())
		}
	}
}

// TestSharesConcurrent: goroutines taking and returning the slots of a few
// addresses at once never see one hold more than its share (run with
// -race).
func TestSharesConcurrent(t *testing.T) {
	const per = 3
	s, err := NewShares(per)
	if err != nil {
		t.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("192.0.2.3")}
	var held [3]atomic.Int32
	var over atomic.Bool
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				k := (g + i) % len(addrs)
				if !s.Take(addrs[k]) {
					continue
				}
				if held[k].Add(1) > per {
					over.Store(true)
				}
				held[k].Add(-1)
				s.Return(addrs[k])
			}
		}()
	}
	wg.Wait()
	if over.Load() {
		t.Fatal("an address held more than its share")
	}
	for _, a := range addrs {
		if n := s.Held(a); n != 0 {
			t.Errorf("Held(%s) = %d after every slot was returned", a, n)
		}
	}
}
