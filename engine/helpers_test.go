package engine

import (
	"testing"

	"github.com/wssd/wssd/engine/enginetest"
)

// startServer starts a server on a kernel-chosen loopback port with cfg
// (ListenPlain and Routes default to 127.0.0.1:0 and /echo) and returns its
// host:port. The server is drained and stopped when the test ends.
func startServer(t testing.TB, cfg Config) (*Server, string) {
	t.Helper()
	if cfg.ListenPlain == "" {
		cfg.ListenPlain = "127.0.0.1:0"
	}
	srv := launch(t, cfg)
	return srv, srv.PlainAddr().String()
}

// launch starts a server with cfg, with an echo route, two loops and a
// silent logger unless cfg says otherwise. The server is drained and
// stopped when the test ends.
func launch(t testing.TB, cfg Config) *Server {
	t.Helper()
	if cfg.Routes == nil {
		cfg.Routes = map[string]Handler{"/echo": Echo{}}
	}
	if cfg.Loops == 0 {
		cfg.Loops = 2
	}
	if cfg.Logger == nil {
		cfg.Logger = enginetest.Logger()
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	enginetest.Serve(t, srv)
	return srv
}
