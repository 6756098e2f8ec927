package engine

import (
	"fmt"

	"github.com/wssd/wssd/security"
)

// Live is what Reload changes on a running server: the gates whose
// settings an operator tunes without a restart. The rest of Config is
// fixed for the server's life.
type Live struct {
	Origins            *security.Origins // as Config.Origins
	MaxConnections     int64             // as Config.MaxConnections
	MaxConnsPerIP      int               // as Config.MaxConnsPerIP
	HandshakeRatePerIP security.Rate     // as Config.HandshakeRatePerIP
	MessageRate        security.Rate     // as Config.MessageRate
	ByteRate           security.Rate     // as Config.ByteRate
}

// Live returns the gates' settings in force. Safe for concurrent use.
func (s *Server) Live() Live {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	return s.live
}

// Reload puts l in force, or returns why it cannot and changes nothing.
// New connections meet the new origins and connection caps. Open
// connections stay open whatever the new gates would say of them: they
// count towards the new caps, and the new message and byte rates apply to
// their next frames; a Protocol's sessions alike, where it reads the rates
// with Rates and its caps follow Reload (Reloader). Safe for concurrent
// use.
func (s *Server) Reload(l Live) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if l.MaxConnections < 0 || l.MaxConnsPerIP < 0 {
		return fmt.Errorf("engine: negative connection limit")
	}
	var msg, bytes *security.BucketLimit
	var err error
	if l.MessageRate.Limited() {
		if msg, err = security.NewBucketLimit(l.MessageRate, ticksPerSecond); err != nil {
			return fmt.Errorf("engine: message rate: %w", err)
		}
	}
	if l.ByteRate.Limited() {
		if bytes, err = security.NewBucketLimit(l.ByteRate, ticksPerSecond); err != nil {
			return fmt.Errorf("engine: byte rate: %w", err)
		}
	}
	limits := s.limits.Load()
	capped := l.MaxConnections > 0 || l.MaxConnsPerIP > 0 || l.HandshakeRatePerIP.Limited()
	switch {
	case limits != nil:
		// Kept even when nothing is capped any more: the connections it
		// admitted are released to it.
		if err := limits.SetLimits(l.MaxConnections, l.MaxConnsPerIP, l.HandshakeRatePerIP); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	case capped:
		// The connections open now were admitted by no gate: they hold
		// nothing in this one, and release nothing to it.
		limits, err = security.NewConnLimits(security.ConnLimitsConfig{
			MaxConns:       l.MaxConnections,
			PerIP:          l.MaxConnsPerIP,
			HandshakeRate:  l.HandshakeRatePerIP,
			UnitsPerSecond: ticksPerSecond,
			MaxIdle:        s.cfg.MaxIdleAddrs,
		})
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		s.limits.Store(limits)
	}
	s.msgLimit.Store(msg)
	s.byteLimit.Store(bytes)
	s.origins.Store(l.Origins)
	s.live = l
	for _, p := range s.protocols {
		if r, ok := p.(Reloader); ok {
			r.Reload(l)
		}
	}
	return nil
}

// Reloader is a Protocol with gates of its own that Reload changes too
// (the per-address cap of sessions that outlive their connections, say):
// Reload is called with what Server.Reload has just put in force, under
// its lock, and must not fail. Rates, read where they are used, need no
// Reloader.
type Reloader interface {
	Reload(l Live)
}

// Rates returns the message and byte rates in force (Config.MessageRate
// and ByteRate, or what Reload last put in force), nil for no limit: a
// protocol whose sessions outlive their connections fills their buckets
// with them. Safe for concurrent use.
func (s *Server) Rates() (msg, bytes *security.BucketLimit) {
	return s.msgLimit.Load(), s.byteLimit.Load()
}
