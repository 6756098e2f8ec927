package enginetest

import (
	"testing"

	natsserver "github.com/nats-io/nats-server/v2/server"
)

// StartNATS starts a NATS server in the test's process on a loopback port
// (-1: one the kernel chooses) and returns it; it is shut down when the
// test ends.
func StartNATS(t testing.TB, port int) *natsserver.Server {
	t.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(Wait) {
		t.Fatal("the NATS server did not start")
	}
	t.Cleanup(ns.Shutdown)
	return ns
}
