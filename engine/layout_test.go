package engine

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestLayout: the import graph keeps the core apart from what is built on
// it. The engine imports no protocol package; pub/sub and its broker import
// the engine, not the other way round; the load generator links neither
// the hub nor NATS nor the Socket.IO server (only its wire formats), and
// the engine not nats.go; the Engine.IO and Socket.IO wire formats import
// nothing of wssd.
func TestLayout(t *testing.T) {
	const module = "github.com/wssd/wssd/"
	// The load generator speaks Socket.IO with the wire formats only, not
	// with the server's package.
	sio := module + "engine/socketio"
	for _, c := range []struct {
		pkg       string
		forbidden []string
		allowed   []string // exceptions to forbidden
	}{
		{"./", []string{module + "engine/pubsub", sio, "github.com/nats-io/"}, nil},
		{"./pubsub", []string{"github.com/nats-io/"}, nil},
		{"./socketio", []string{"github.com/nats-io/"}, nil},
		{"../bench", []string{module + "engine/pubsub", sio, "github.com/nats-io/"}, []string{sio + "/packet"}},
		{"../cmd/wssbench", []string{module + "engine/pubsub", sio, "github.com/nats-io/"}, []string{sio + "/packet"}},
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
			if slices.ContainsFunc(c.allowed, func(a string) bool { return d == a }) {
				continue
			}
			for _, f := range c.forbidden {
				if strings.HasPrefix(d, f) {
					t.Errorf("%s imports %s", c.pkg, d)
				}
			}
		}
	}
	out, err := exec.Command("go", "list", "-deps", "../bench").Output()
	if err != nil || !strings.Contains(string(out), sio+"/packet\n") {
		t.Errorf("bench does not import %s/packet: the test looks in the wrong place (%v)", sio, err)
	}
	// The Engine.IO and Socket.IO wire formats stand alone: the server and
	// the load generator share them, and they share nothing else of wssd.
	out, err = exec.Command("go", "list", "-deps", "./socketio/packet").Output()
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
