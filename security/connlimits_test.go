package security

import (
	"net"
	"net/netip"
	"sync"
	"testing"
)

func mustConnLimits(t testing.TB, cfg ConnLimitsConfig) *ConnLimits {
	t.Helper()
	if cfg.UnitsPerSecond == 0 {
		cfg.UnitsPerSecond = 10
	}
	l, err := NewConnLimits(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7":                 "192.0.2.7",
		"::ffff:192.0.2.7":          "192.0.2.7",
		"2001:db8:1:2:3:4:5:6":      "2001:db8:1:2::",
		"2001:db8:1:2:ffff:ffff::1": "2001:db8:1:2::",
		"2001:db8:1:3::1":           "2001:db8:1:3::",
		"fe80::1%eth0":              "fe80::",
		"::1":                       "::",
	} {
		if got := ClientKey(netip.MustParseAddr(in)); got != netip.MustParseAddr(want) {
			t.Errorf("ClientKey(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestPeerAddr(t *testing.T) {
	for in, want := range map[net.Addr]netip.Addr{
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.7:443")):        netip.MustParseAddr("192.0.2.7"),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort("[::ffff:192.0.2.7]:1")): netip.MustParseAddr("192.0.2.7"),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort("[2001:db8::1]:2")):      netip.MustParseAddr("2001:db8::1"),
		&net.UnixAddr{Name: "/run/wssd.sock", Net: "unix"}:                       {},
	} {
		if got := PeerAddr(in); got != want {
			t.Errorf("PeerAddr(%v) = %v, want %v", in, got, want)
		}
	}
}

// TestConnLimits plays admits and releases against the gate and checks
// each decision.
func TestConnLimits(t *testing.T) {
	type step struct {
		op      byte // 'a': admit, 'r': release the i-th admission
		addr    string
		now     int64
		i       int
		refusal Refusal
	}
	a := func(addr string, now int64, want Refusal) step {
		return step{op: 'a', addr: addr, now: now, refusal: want}
	}
	r := func(i int, now int64) step { return step{op: 'r', i: i, now: now} }
	for _, tc := range []struct {
		name  string
		cfg   ConnLimitsConfig
		steps []step
	}{
		{"no limits", ConnLimitsConfig{}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted),
		}},
		{"global cap", ConnLimitsConfig{MaxConns: 2}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.2", 0, Admitted), a("192.0.2.3", 0, RefuseMaxConns),
			r(0, 0), a("192.0.2.3", 0, Admitted), a("192.0.2.4", 0, RefuseMaxConns),
		}},
		{"per-address cap", ConnLimitsConfig{PerIP: 2}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, RefusePerIP),
			a("192.0.2.2", 0, Admitted), // another address is not affected
			r(0, 1), a("192.0.2.1", 1, Admitted), a("192.0.2.1", 1, RefusePerIP),
		}},
		{"IPv6 counted by /64", ConnLimitsConfig{PerIP: 2}, []step{
			a("2001:db8:0:1::1", 0, Admitted), a("2001:db8:0:1::2", 0, Admitted),
			a("2001:db8:0:1:ffff::9", 0, RefusePerIP),
			a("2001:db8:0:2::1", 0, Admitted), // the next /64 is another client
		}},
		{"IPv4-mapped is the IPv4 address", ConnLimitsConfig{PerIP: 1}, []step{
			a("192.0.2.1", 0, Admitted), a("::ffff:192.0.2.1", 0, RefusePerIP),
		}},
		{"handshake burst", ConnLimitsConfig{HandshakeRate: Rate{PerSecond: 10, Burst: 3}}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted),
			a("192.0.2.1", 0, RefuseHandshakeRate),
			a("192.0.2.2", 0, Admitted), // another address has its own bucket
			a("192.0.2.1", 1, Admitted), a("192.0.2.1", 1, RefuseHandshakeRate),
		}},
		{"the rate is remembered after the connections close", ConnLimitsConfig{HandshakeRate: Rate{PerSecond: 1, Burst: 2}}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted),
			r(0, 0), r(1, 0),
			a("192.0.2.1", 0, RefuseHandshakeRate), a("192.0.2.1", 9, RefuseHandshakeRate),
			a("192.0.2.1", 10, Admitted),
		}},
		{"a refusal by the global cap takes no handshake token", ConnLimitsConfig{MaxConns: 1, HandshakeRate: Rate{PerSecond: 1, Burst: 1}}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.2", 0, RefuseMaxConns),
			r(0, 0), a("192.0.2.2", 0, Admitted),
		}},
		{"all three", ConnLimitsConfig{MaxConns: 3, PerIP: 2, HandshakeRate: Rate{PerSecond: 10, Burst: 10}}, []step{
			a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, Admitted), a("192.0.2.1", 0, RefusePerIP),
			a("192.0.2.2", 0, Admitted), a("192.0.2.3", 0, RefuseMaxConns),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustConnLimits(t, tc.cfg)
			var held []Admission
			released := 0
			for i, s := range tc.steps {
				switch s.op {
				case 'a':
					adm, got := l.Admit(netip.MustParseAddr(s.addr), s.now)
					if got != s.refusal {
						t.Fatalf("step %d: Admit(%s, %d) = %s, want %s", i, s.addr, s.now, got, s.refusal)
					}
					if got == Admitted {
						held = append(held, adm)
					} else if adm != (Admission{}) {
						t.Fatalf("step %d: a refusal holds %+v", i, adm)
					}
				case 'r':
					l.Release(held[s.i], s.now)
					released++
				}
			}
			if want := int64(len(held) - released); l.Conns() != want {
				t.Errorf("Conns() = %d, want %d", l.Conns(), want)
			}
		})
	}
}

// TestConnLimitsForget checks that the address table forgets what it no
// longer needs: an address with no connection at once when there is no
// handshake rate, once its bucket is full again otherwise, and the oldest
// idle addresses past MaxIdle.
func TestConnLimitsForget(t *testing.T) {
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }

	l := mustConnLimits(t, ConnLimitsConfig{PerIP: 5})
	var held []Admission
	for i := range 100 {
		adm, r := l.Admit(addr(i), 0)
		if r != Admitted {
			t.Fatal(r)
		}
		held = append(held, adm)
	}
	if n := l.Addrs(); n != 100 {
		t.Fatalf("%d addresses with a connection each, want 100", n)
	}
	for _, adm := range held {
		l.Release(adm, 0)
	}
	l.Release(Admission{}, 0) // nothing
	if n, c := l.Addrs(), l.Conns(); n != 0 || c != 0 {
		t.Fatalf("after the releases: %d addresses, %d connections; want none", n, c)
	}

	// With a rate, an idle address is kept until its bucket is full.
	l = mustConnLimits(t, ConnLimitsConfig{HandshakeRate: Rate{PerSecond: 1, Burst: 1}})
	for i := range 100 {
		adm, _ := l.Admit(addr(i), 0)
		l.Release(adm, 0)
	}
	if n := l.Addrs(); n != 100 {
		t.Fatalf("%d idle addresses remembered, want 100", n)
	}
	// An admit in any shard at a late enough clock forgets that shard's
	// full buckets; one admit per address forgets them all.
	for i := 100; i < 200; i++ {
		adm, _ := l.Admit(addr(i), 1000)
		l.Release(adm, 1000)
	}
	if n := l.Addrs(); n > 100 {
		t.Fatalf("%d addresses after every old bucket filled up, want at most the 100 new ones", n)
	}

	// Past MaxIdle the oldest idle addresses go, even with an empty bucket.
	const maxIdle = 4 * connShards
	l = mustConnLimits(t, ConnLimitsConfig{HandshakeRate: Rate{PerSecond: 1, Burst: 1}, MaxIdle: maxIdle})
	for i := range 10000 {
		adm, _ := l.Admit(addr(i), 0)
		l.Release(adm, 0)
	}
	if n := l.Addrs(); n > maxIdle {
		t.Fatalf("%d idle addresses, want at most MaxIdle %d", n, maxIdle)
	}
}

// TestConnLimitsConcurrent admits and releases from many goroutines, as
// acceptors and event loops do, and checks the counts come back to zero
// and never pass the caps. Run with -race.
func TestConnLimitsConcurrent(t *testing.T) {
	const perIP, maxConns = 3, 40
	l := mustConnLimits(t, ConnLimitsConfig{MaxConns: maxConns, PerIP: perIP, HandshakeRate: Rate{PerSecond: 1000, Burst: 1000}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	open := map[netip.Addr]int{}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			type held struct {
				a   netip.Addr
				adm Admission
			}
			var ring []held
			release := func(h held, now int64) {
				mu.Lock()
				open[h.a]--
				mu.Unlock()
				l.Release(h.adm, now)
			}
			for i := range 2000 {
				now := int64(i / 100)
				if len(ring) == 4 {
					release(ring[0], now)
					ring = ring[1:]
				}
				a := netip.AddrFrom4([4]byte{10, 0, 0, byte((g + i) % 16)})
				adm, r := l.Admit(a, now)
				if r != Admitted {
					continue
				}
				mu.Lock()
				open[a]++
				if open[a] > perIP {
					t.Errorf("%s holds %d connections, cap %d", a, open[a], perIP)
				}
				if c := l.Conns(); c > maxConns {
					t.Errorf("%d connections, cap %d", c, maxConns)
				}
				mu.Unlock()
				ring = append(ring, held{a, adm})
			}
			for _, h := range ring {
				release(h, 20)
			}
		}()
	}
	wg.Wait()
	if c := l.Conns(); c != 0 {
		t.Fatalf("%d connections left after every release", c)
	}
}

func BenchmarkConnLimitsAdmitRelease(b *testing.B) {
	l := mustConnLimits(b, ConnLimitsConfig{MaxConns: 1 << 20, PerIP: 100, HandshakeRate: Rate{PerSecond: 1 << 30, Burst: 1 << 30}})
	a := netip.MustParseAddr("192.0.2.1")
	b.ReportAllocs()
	for b.Loop() {
		adm, r := l.Admit(a, 0)
		if r != Admitted {
			b.Fatal(r)
		}
		l.Release(adm, 0)
	}
}

// TestConnLimitsHold: a connection behind a proxy is counted against the
// total at once, and for its address once the address is known; each is
// released once, whether its address was admitted or refused.
func TestConnLimitsHold(t *testing.T) {
	l, err := NewConnLimits(ConnLimitsConfig{MaxConns: 3, PerIP: 1, UnitsPerSecond: 10})
	if err != nil {
		t.Fatal(err)
	}
	a := netip.MustParseAddr("192.0.2.1")
	h1, r := l.Hold()
	if r != Admitted || l.Conns() != 1 {
		t.Fatalf("Hold: %v, %d conns", r, l.Conns())
	}
	h1, r = l.AdmitHeld(h1, a, 0)
	if r != Admitted || l.Conns() != 1 || l.Addrs() != 1 {
		t.Fatalf("AdmitHeld: %v, %d conns, %d addrs", r, l.Conns(), l.Addrs())
	}
	if again, r := l.AdmitHeld(h1, a, 0); r != Admitted || again != h1 || l.Conns() != 1 {
		t.Fatalf("AdmitHeld twice: %v, %d conns", r, l.Conns())
	}
	h2, _ := l.Hold()
	h2b, r := l.AdmitHeld(h2, a, 0)
	if r != RefusePerIP || h2b != h2 || l.Conns() != 2 {
		t.Fatalf("second for the address: %v, %d conns", r, l.Conns())
	}
	l.Release(h2b, 0)
	if _, r := l.Admit(a, 0); r != RefusePerIP {
		t.Fatalf("Admit while the address holds one: %v", r)
	}
	h3, _ := l.Hold()
	h4, _ := l.Hold()
	if _, r := l.Hold(); r != RefuseMaxConns {
		t.Fatalf("Hold past MaxConns: %v", r)
	}
	l.Release(h1, 0)
	l.Release(h3, 0)
	l.Release(h4, 0)
	if l.Conns() != 0 || l.Addrs() != 0 {
		t.Fatalf("after release: %d conns, %d addrs", l.Conns(), l.Addrs())
	}
	if z, r := l.AdmitHeld(Admission{}, a, 0); r != Admitted || z != (Admission{}) || l.Conns() != 0 {
		t.Fatalf("AdmitHeld of the zero Admission: %v, %d conns", r, l.Conns())
	}
}
