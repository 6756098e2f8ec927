// Package enginetest is what the tests of wssd's packages start servers,
// brokers and clients with, as net/http/httptest is for net/http: one set
// of helpers for engine and its subpackages, bench and cmd.
//
// It imports no wssd package, so that the engine's own tests (and those of
// the packages under it) can use it too. A server is anything with Start
// and Shutdown; each package keeps a few lines that fill in its Config.
package enginetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// Wait bounds what a test waits for: a server to answer, a message to
// arrive. It is generous, so that a loaded machine does not fail a test
// that is right; a test that is wrong fails within it all the same.
const Wait = 10 * time.Second

// Server is what Serve starts: an engine.Server, say.
type Server interface {
	Start() error
	Shutdown(ctx context.Context) error
}

// Serve starts s, failing the test if it does not start, and drains it
// when the test ends (5 s at most).
func Serve(t testing.TB, s Server) {
	t.Helper()
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
}

// Logger returns a logger that writes nothing.
func Logger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// WaitFor waits until cond holds, looking every few milliseconds, and
// fails the test after Wait. It is for what happens on other goroutines
// (a broker's, a hub's) with no event a test could wait on.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
