package bench

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSocketIONode runs the socketio scenario against the reference
// server, Node's socket.io (testdata/socketio: the configuration the
// protocol's test suite expects), on both transports. It needs Node and
// the package: WSSD_SOCKETIO_NODE names the node_modules directory that
// holds socket.io (make interop installs it, with the interop clients, in
// cmd/wssd/testdata/interop/node, and
// runs this test); without it the test is skipped.
func TestSocketIONode(t *testing.T) {
	modules := os.Getenv("WSSD_SOCKETIO_NODE")
	if modules == "" {
		t.Skip("set WSSD_SOCKETIO_NODE to a node_modules directory with socket.io to run the reference server (make interop does)")
	}
	if _, err := os.Stat(filepath.Join(modules, "socket.io")); err != nil {
		t.Fatalf("WSSD_SOCKETIO_NODE=%s: no socket.io in it: %v", modules, err)
	}
	url := startNodeSIO(t, modules)
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			const sessions = 20
			rep, err := Run(context.Background(), Config{
				Scenario: SocketIO, Target: mustTarget(t, url, ""), Conns: sessions, Duration: time.Second,
				Size: 64, Inflight: 2, Loops: 2, Transport: transport, Auth: `{"token":"t"}`,
			})
			if err != nil {
				t.Fatal(err)
			}
			// The server pings every 300 ms and waits 200 ms for the pong:
			// a session that did not answer would be dropped.
			if rep.Established != sessions || rep.Failed != 0 || rep.Dropped != 0 || len(rep.Errors) != 0 {
				t.Fatalf("established %d, failed %d, dropped %d, errors %v", rep.Established, rep.Failed, rep.Dropped, rep.Errors)
			}
			if rep.Sent < sessions || rep.Received != rep.Sent || rep.Subscribe.Count() != sessions {
				t.Fatalf("sent %d, acked %d, joins %d", rep.Sent, rep.Received, rep.Subscribe.Count())
			}
			t.Logf("%s: %d acks, %.0f a second, p50 %v, p99 %v", transport, rep.Received, rep.messageRate(),
				rep.Latency.Quantile(0.5), rep.Latency.Quantile(0.99))

			rep, err = Run(context.Background(), Config{
				Scenario: SocketIO, Target: mustTarget(t, url, ""), Conns: 2, Duration: 100 * time.Millisecond,
				Loops: 2, Transport: transport, Auth: `{"token":"refuse"}`,
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed != 2 || rep.Errors["socketio: connect_error: Not authorized"] != 2 {
				t.Fatalf("refused: failed %d, errors %v", rep.Failed, rep.Errors)
			}
			rep, err = Run(context.Background(), Config{
				Scenario: SocketIO, Target: mustTarget(t, url, ""), Conns: 2, Duration: 100 * time.Millisecond,
				Loops: 2, Transport: transport, Namespace: "/nowhere",
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Failed != 2 || rep.Errors["socketio: connect_error: Invalid namespace"] != 2 {
				t.Fatalf("unknown namespace: failed %d, errors %v", rep.Failed, rep.Errors)
			}
		})
	}
}

// startNodeSIO starts testdata/socketio/server.cjs with the packages of
// modules, stopped when the test ends, and is its URL.
func startNodeSIO(t *testing.T, modules string) string {
	t.Helper()
	cmd := exec.Command("node", filepath.Join("testdata", "socketio", "server.cjs"))
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("node: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close() // the server ends with its input
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	port := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if p, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	select {
	case p := <-port:
		return "http://127.0.0.1:" + p + "/socket.io/"
	case <-time.After(10 * time.Second):
		t.Fatal("the Node server did not say it listens")
	}
	return ""
}
