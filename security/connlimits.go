package security

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// ConnLimitsConfig configures ConnLimits. A zero field is no limit.
type ConnLimitsConfig struct {
	// MaxConns bounds the connections held at once, in every state from
	// accept to close.
	MaxConns int64
	// PerIP bounds the connections held at once from one client address:
	// one IPv4 address, or one IPv6 /64 (what one host or one customer of
	// an ISP usually gets, so a client cannot escape the cap by using the
	// other addresses of its own prefix).
	PerIP int
	// HandshakeRate bounds how fast one client address (IPv6: /64) may
	// open connections, as a token bucket: one token per connection.
	HandshakeRate Rate
	// UnitsPerSecond is the clock Admit is given: units per second. The
	// engine passes its wheel ticks (10 a second).
	UnitsPerSecond int64
	// MaxIdle bounds the addresses remembered only for their handshake
	// rate (no connection open): past it the oldest are forgotten, which
	// only makes the limit more lenient for them. 0 means
	// DefaultMaxIdleAddrs. Addresses with connections open are always
	// remembered: they are bounded by MaxConns and the open-file limit.
	MaxIdle int
}

// DefaultMaxIdleAddrs is the default of ConnLimitsConfig.MaxIdle.
const DefaultMaxIdleAddrs = 1 << 16

// Refusal says why ConnLimits refused a connection; 0 is none.
type Refusal uint8

// Reasons for refusing a connection at accept.
const (
	Admitted            Refusal = iota
	RefuseMaxConns              // the server holds MaxConns connections
	RefusePerIP                 // the address holds PerIP connections
	RefuseHandshakeRate         // the address opens connections too fast
)

// String returns the refusal's reason as used in metrics and logs.
func (r Refusal) String() string {
	switch r {
	case Admitted:
		return "admitted"
	case RefuseMaxConns:
		return "max_connections"
	case RefusePerIP:
		return "ip_connections"
	case RefuseHandshakeRate:
		return "handshake_rate"
	}
	return "unknown"
}

// ConnLimits is the gate at accept: the global connection cap, and the
// connection cap and handshake rate of each client address. Safe for
// concurrent use: the acceptors admit and the event loops release. The
// address table is sharded, each shard under its own mutex; it is touched
// once per accept and once per close, never per message.
type ConnLimits struct {
	// The limits, which SetLimits may change while connections come:
	// each decision reads them once.
	maxConns atomic.Int64
	perIP    atomic.Int32
	rate     atomic.Pointer[BucketLimit] // nil: no handshake rate
	conns    atomic.Int64

	unitsPerSecond int64 // of the clock, for a new handshake rate
	shards         [connShards]ipShard
}

const connShards = 32

// ipShard is a part of the address table. Addresses with no connection
// open are kept, for their handshake bucket, on a list in the order they
// became idle; they are forgotten once their bucket is full again (they
// then carry nothing a new entry would not), or when there are too many.
type ipShard struct {
	mu      sync.Mutex
	addrs   map[netip.Addr]*ipEntry
	idle    ipEntry // sentinel of the idle list, oldest first
	nIdle   int
	maxIdle int
	_       [40]byte // keep shards on their own cache lines
}

type ipEntry struct {
	addr       netip.Addr
	conns      int32
	bucket     Bucket
	idleSince  int64
	prev, next *ipEntry // on the idle list while conns == 0
}

// Admission is what Admit counted for a connection, to be given back to
// Release when the connection ends. The zero Admission holds nothing.
type Admission struct {
	e    *ipEntry
	held bool
}

// NewConnLimits returns the gate for cfg.
func NewConnLimits(cfg ConnLimitsConfig) (*ConnLimits, error) {
	if cfg.MaxConns < 0 || cfg.PerIP < 0 || cfg.MaxIdle < 0 || cfg.PerIP > 1<<30 {
		return nil, errors.New("security: negative connection limit")
	}
	l := &ConnLimits{unitsPerSecond: cfg.UnitsPerSecond}
	if err := l.SetLimits(cfg.MaxConns, cfg.PerIP, cfg.HandshakeRate); err != nil {
		return nil, err
	}
	maxIdle := cfg.MaxIdle
	if maxIdle == 0 {
		maxIdle = DefaultMaxIdleAddrs
	}
	for i := range l.shards {
		s := &l.shards[i]
		s.addrs = make(map[netip.Addr]*ipEntry)
		s.idle.prev, s.idle.next = &s.idle, &s.idle
		s.maxIdle = max(maxIdle/connShards, 1)
	}
	return l, nil
}

// SetLimits sets the limits: connections at once (0: none), per address
// (0: none) and the handshake rate per address. Safe for concurrent use,
// while connections come and go: the connections held stay counted, and
// a lower limit refuses new ones until enough have gone.
func (l *ConnLimits) SetLimits(maxConns int64, perIP int, handshakeRate Rate) error {
	if maxConns < 0 || perIP < 0 || perIP > 1<<30 {
		return errors.New("security: negative connection limit")
	}
	var rate *BucketLimit
	if handshakeRate.Limited() {
		var err error
		if rate, err = NewBucketLimit(handshakeRate, l.unitsPerSecond); err != nil {
			return err
		}
	}
	l.maxConns.Store(maxConns)
	l.perIP.Store(int32(perIP))
	l.rate.Store(rate)
	return nil
}

// Conns returns the connections admitted and not yet released.
func (l *ConnLimits) Conns() int64 { return l.conns.Load() }

// PeerAddr returns the IP address of a TCP peer (a connection's
// RemoteAddr), an IPv4-mapped one as IPv4; the zero Addr for another
// kind of address.
func PeerAddr(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		return t.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// ClientKey is the address the per-address limits count by: an IPv4
// address as is (also when it arrives as an IPv4-mapped IPv6 address), an
// IPv6 address's /64.
func ClientKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.Addr()
	}
	return a.WithZone("")
}

// Admit decides whether a connection from addr may be accepted at now (in
// the configured clock's units) and, if so, counts it: the caller must
// Release the Admission when the connection ends. A refused connection is
// not counted and takes no handshake token.
func (l *ConnLimits) Admit(addr netip.Addr, now int64) (Admission, Refusal) {
	return l.admit(addr, now, true)
}

// Hold counts a connection whose client address is not known yet (a
// load balancer's, before its PROXY protocol header is read) against
// MaxConns only: AdmitHeld counts it for its address once that is known.
// The caller must Release the Admission when the connection ends.
func (l *ConnLimits) Hold() (Admission, Refusal) {
	if !l.take() {
		return Admission{}, RefuseMaxConns
	}
	return Admission{held: true}, Admitted
}

// AdmitHeld decides, as Admit does, whether a connection Hold counted
// may go on now that its client address addr is known, and if so counts
// it for addr too: the Admission it returns replaces a. Refused, a is
// returned unchanged, still held, for the caller to Release. An
// Admission that holds nothing (the gate was off when the connection
// came) or that counts an address already is returned as it is.
func (l *ConnLimits) AdmitHeld(a Admission, addr netip.Addr, now int64) (Admission, Refusal) {
	if !a.held || a.e != nil {
		return a, Admitted
	}
	b, r := l.admit(addr, now, false)
	if r != Admitted {
		return a, r
	}
	return b, Admitted
}

// admit is Admit, and with count false, AdmitHeld for a connection
// MaxConns counts already.
func (l *ConnLimits) admit(addr netip.Addr, now int64, count bool) (Admission, Refusal) {
	perIP, rate := l.perIP.Load(), l.rate.Load()
	if perIP == 0 && rate == nil {
		if count && !l.take() {
			return Admission{}, RefuseMaxConns
		}
		return Admission{held: true}, Admitted
	}
	key := ClientKey(addr)
	s := &l.shards[shardOf(key)]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget(l, now)
	e := s.addrs[key]
	fresh := e == nil
	if fresh {
		e = &ipEntry{addr: key}
		if rate != nil {
			rate.Fill(&e.bucket, now)
		}
	}
	if perIP > 0 && e.conns >= perIP {
		return Admission{}, RefusePerIP
	}
	// A refusal below leaves an entry's bucket refilled to now, which
	// the next Take would do anyway; a fresh entry is not kept.
	if rate != nil && !rate.Take(&e.bucket, now, 1) {
		return Admission{}, RefuseHandshakeRate
	}
	if count && !l.take() {
		return Admission{}, RefuseMaxConns
	}
	switch {
	case fresh:
		s.addrs[key] = e
	case e.conns == 0:
		s.unlink(e)
	}
	e.conns++
	return Admission{e: e, held: true}, Admitted
}

// take counts one connection against MaxConns, if there is room.
func (l *ConnLimits) take() bool {
	n := l.conns.Add(1)
	if m := l.maxConns.Load(); m > 0 && n > m {
		l.conns.Add(-1)
		return false
	}
	return true
}

// Release gives back what Admit counted for a connection that has ended,
// at now. Releasing the zero Admission does nothing; releasing one twice
// is a bug.
func (l *ConnLimits) Release(a Admission, now int64) {
	if !a.held {
		return
	}
	l.conns.Add(-1)
	e := a.e
	if e == nil {
		return
	}
	s := &l.shards[shardOf(e.addr)]
	s.mu.Lock()
	defer s.mu.Unlock()
	e.conns--
	if e.conns > 0 {
		return
	}
	if l.rate.Load() == nil {
		delete(s.addrs, e.addr)
		return
	}
	e.idleSince = now
	s.link(e)
	s.forget(l, now)
}

// Addrs returns how many client addresses the table holds.
func (l *ConnLimits) Addrs() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.addrs)
		s.mu.Unlock()
	}
	return n
}

// forget drops, oldest first, the idle addresses whose handshake bucket is
// full again, and any beyond maxIdle. Called under s.mu.
func (s *ipShard) forget(l *ConnLimits, now int64) {
	rate := l.rate.Load()
	for e := s.idle.next; e != &s.idle; e = s.idle.next {
		if s.nIdle <= s.maxIdle && rate != nil && now-e.idleSince < rate.spill {
			return
		}
		s.unlink(e)
		delete(s.addrs, e.addr)
	}
}

func (s *ipShard) link(e *ipEntry) {
	e.prev, e.next = s.idle.prev, &s.idle
	s.idle.prev.next = e
	s.idle.prev = e
	s.nIdle++
}

func (s *ipShard) unlink(e *ipEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	s.nIdle--
}

// shardOf spreads addresses over the shards: a multiplicative hash of
// the address's bytes.
func shardOf(a netip.Addr) int {
	b := a.As16()
	var h uint64
	for i := 0; i < 16; i += 8 {
		h ^= uint64(b[i]) | uint64(b[i+1])<<8 | uint64(b[i+2])<<16 | uint64(b[i+3])<<24 |
			uint64(b[i+4])<<32 | uint64(b[i+5])<<40 | uint64(b[i+6])<<48 | uint64(b[i+7])<<56
		h *= 0x9e3779b97f4a7c15
	}
	return int(h >> 59) // connShards == 32
}
