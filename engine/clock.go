package engine

import "time"

// Clock is the time the server's deadlines go by: the ticks of its timing
// wheels, and so every timeout of Config, the handshake rates and token
// expiry. Config.Clock nil means the system's clock; tests give one they
// move by hand (enginetest.Clock), so that a deadline test takes no real
// time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// Tick returns a channel that receives the time every d from now on,
	// and a function that stops it. The server calls it once, in Start.
	Tick(d time.Duration) (ticks <-chan time.Time, stop func())
}

// systemClock is the system's.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Tick(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
