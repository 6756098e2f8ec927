package security

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Shares bounds what one client address holds at once of a pool that all
// clients share, such as the server's TLS handshake slots (its handshake
// workers and their queue): one IPv4 address, or one IPv6 /64 (see
// ClientKey), holds at most Per. A client that opens connections and then
// stalls their handshakes holds its slots until the handshake deadline;
// without a share, one address could hold them all, and every other
// client would be refused meanwhile.
//
// Safe for concurrent use: the acceptors take slots and the handshake
// workers return them. The table is sharded, each shard under its own
// mutex, and holds only addresses that hold a slot, so it is no larger
// than the pool.
type Shares struct {
	per    atomic.Int32
	shards [connShards]shareShard
}

type shareShard struct {
	mu   sync.Mutex
	held map[netip.Addr]int32
	_    [48]byte // keep shards on their own cache lines
}

// NewShares returns the gate that lets each client address hold per slots.
func NewShares(per int) (*Shares, error) {
	if err := checkPer(per); err != nil {
		return nil, err
	}
	s := &Shares{}
	s.per.Store(int32(per))
	for i := range s.shards {
		s.shards[i].held = make(map[netip.Addr]int32)
	}
	return s, nil
}

func checkPer(per int) error {
	if per < 1 || per > MaxShare {
		return errors.New("security: a share must be at least one slot")
	}
	return nil
}

// MaxShare is the most slots a share may be: as good as no bound.
const MaxShare = 1 << 30

// SharePer returns the share of a cap of n per address: n, or, for a cap
// of 0 (none), MaxShare.
func SharePer(n int) int {
	if n <= 0 {
		return MaxShare
	}
	return min(n, MaxShare)
}

// Per returns the slots one address may hold.
func (s *Shares) Per() int { return int(s.per.Load()) }

// SetPer changes the slots one address may hold, from its next Take: an
// address that holds more keeps them, and takes no more until it holds
// fewer than per.
func (s *Shares) SetPer(per int) error {
	if err := checkPer(per); err != nil {
		return err
	}
	s.per.Store(int32(per))
	return nil
}

// Take decides whether addr may hold one more slot, and counts it if so:
// the caller must Return it. Its decision method.
func (s *Shares) Take(addr netip.Addr) bool {
	key := ClientKey(addr)
	sh := &s.shards[shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	n := sh.held[key]
	if n >= s.per.Load() {
		return false
	}
	sh.held[key] = n + 1
	return true
}

// Return gives back a slot Take counted for addr.
func (s *Shares) Return(addr netip.Addr) {
	key := ClientKey(addr)
	sh := &s.shards[shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch n := sh.held[key]; {
	case n > 1:
		sh.held[key] = n - 1
	case n == 1:
		delete(sh.held, key)
	}
}

// Held returns the slots addr holds now.
func (s *Shares) Held(addr netip.Addr) int {
	key := ClientKey(addr)
	sh := &s.shards[shardOf(key)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return int(sh.held[key])
}
