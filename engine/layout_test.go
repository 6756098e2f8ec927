package engine

import (
	"os/exec"
	"strings"
	"testing"
	"unsafe"
)

// TestLayout: the import graph keeps the core apart from what is built on
// it. The engine imports no protocol package; pub/sub and its broker import
// the engine, not the other way round; the load generator links neither
// the hub nor NATS, and the engine not nats.go; the Engine.IO and
// Socket.IO wire formats import nothing of wssd.
func TestLayout(t *testing.T) {
	const module = "github.com/wssd/wssd/"
	for _, c := range []struct {
		pkg       string
		forbidden []string
	}{
		{"./", []string{module + "engine/pubsub", "github.com/nats-io/"}},
		{"./pubsub", []string{"github.com/nats-io/"}},
		{"../bench", []string{module + "engine/pubsub", "github.com/nats-io/"}},
		{"../cmd/wssbench", []string{module + "engine/pubsub", "github.com/nats-io/"}},
	} {
		out, err := exec.Command("go", "list", "-deps", c.pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", c.pkg, err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed %d packages", c.pkg, len(deps))
		}
		for _, d := range deps {
			for _, f := range c.forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s imports %s", c.pkg, d)
				}
			}
		}
	}
	// The Engine.IO and Socket.IO wire formats stand alone: the server and
	// the load generator share them, and they share nothing else of wssd.
	out, err := exec.Command("go", "list", "-deps", "./socketio/packet").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range strings.Fields(string(out)) {
		if strings.HasPrefix(d, module) && d != module+"engine/socketio/packet" {
			t.Errorf("engine/socketio/packet imports %s", d)
		}
	}
	out, err = exec.Command("go", "list", "-deps", "./pubsub/natsbroker").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "github.com/nats-io/nats.go\n") {
		t.Error("the broker does not import nats.go: the test looks in the wrong place")
	}
}

// TestConnSize: a Conn stays in the 512-byte size class. Every connection
// has one, so the next class (576 bytes) would cost 64 bytes more for each
// of a million connections; a field that does not fit belongs in a struct
// of its own, pointed to, made only for the connections that need it (as
// the exchange of an HTTPHandler's route is).
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 512 {
		t.Errorf("Conn is %d bytes; keep it within 512", n)
	}
}
