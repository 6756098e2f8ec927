package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/bench"
	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub"
)

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
	}{
		{nil, false},
		{[]string{"--conns", "5"}, false},
		{[]string{"flood"}, false},
		{[]string{"echo"}, true},
		{[]string{"connect", "--conns", "0"}, false},
		{[]string{"echo", "--source-ips", "127.0.0.2-127.0.0.4"}, true},
		{[]string{"echo", "--source-ips", "127.0.0.4-127.0.0.2"}, false},
		{[]string{"echo", "--source-ips", "nope"}, false},
		{[]string{"echo", "extra"}, false},
		{[]string{"handshake", "--resume", "--rate", "500"}, true},
		{[]string{"churn", "--churn-rate", "-1"}, false},
		{[]string{"churn", "--churn-rate", "50", "--server-pid", "12,13"}, true},
		{[]string{"connect", "--server-pid", "12,x"}, false},
		{[]string{"connect", "--server-pid", "0"}, false},
		{[]string{"pubsub"}, true},
		{[]string{"pubsub", "--pubs", "0", "--topic", "a.b-c"}, true},
		{[]string{"pubsub", "--pubs", "-1"}, false},
		{[]string{"pubsub", "--topic", "a..b"}, false},
		{[]string{"pubsub", "--topic", "a b"}, false},
		{[]string{"socketio"}, true},
		{[]string{"socketio", "--transport", "polling", "--url", "https://h/socket.io/", "--auth", `{"token":"x"}`}, true},
		{[]string{"socketio", "--transport", "sse"}, false},
	} {
		_, err := parseArgs(tc.args, io.Discard)
		if (err == nil) != tc.ok {
			t.Errorf("parseArgs(%q): %v; want ok %v", tc.args, err, tc.ok)
		}
	}
	o, err := parseArgs([]string{"echo", "--source-ips", "127.0.0.2-127.0.0.4,10.0.0.1", "--header", "A: b", "--header", "C: d"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.sourceIPs) != 4 || o.sourceIPs[2].String() != "127.0.0.4" || o.sourceIPs[3].String() != "10.0.0.1" || len(o.headers) != 2 {
		t.Errorf("source IPs %v, headers %v", o.sourceIPs, o.headers)
	}
	if o, err := parseArgs([]string{"churn", "--server-pid", "12, 13"}, io.Discard); err != nil || len(o.serverPIDs) != 2 || o.serverPIDs[1] != 13 {
		t.Errorf("server pids %v, %v", o.serverPIDs, err)
	}
	// socketio's own URL, unless given.
	if o, err := parseArgs([]string{"socketio"}, io.Discard); err != nil || o.url != "wss://localhost:8443/socket.io/" ||
		o.transport != "websocket" || o.namespace != "/" || o.event != "message-with-ack" {
		t.Errorf("socketio defaults: url %q, transport %q, namespace %q, event %q (%v)", o.url, o.transport, o.namespace, o.event, err)
	}
	// pubsub's own defaults, unless given.
	if o, err := parseArgs([]string{"pubsub"}, io.Discard); err != nil || o.size != 128 || o.msgRate != 1 || o.pubs != 1 ||
		o.topic != "bench" || o.url != "wss://localhost:8443/ws" {
		t.Errorf("pubsub defaults: size %d, msg-rate %v, pubs %d, topic %q, url %q (%v)", o.size, o.msgRate, o.pubs, o.topic, o.url, err)
	}
	if o, err := parseArgs([]string{"pubsub", "--size", "64", "--msg-rate", "0", "--url", "ws://h/ws"}, io.Discard); err != nil ||
		o.size != 64 || o.msgRate != 0 || o.url != "ws://h/ws" {
		t.Errorf("pubsub: size %d, msg-rate %v, url %q (%v)", o.size, o.msgRate, o.url, err)
	}
	if o, err := parseArgs([]string{"echo"}, io.Discard); err != nil || o.size != 32 || o.msgRate != 0 {
		t.Errorf("echo defaults: size %d, msg-rate %v (%v)", o.size, o.msgRate, err)
	}
	total := 0
	for k := range 3 {
		total += share(10, k, 3)
	}
	if total != 10 || share(10, 0, 3) != 4 || share(10, 2, 3) != 3 {
		t.Errorf("shares of 10 over 3 do not add up")
	}
}

type counting struct{ msgs, opened atomic.Int64 }

func (h *counting) OnOpen(*engine.Conn) { h.opened.Add(1) }
func (h *counting) OnMessage(c *engine.Conn, op codec.OpCode, p []byte) {
	h.msgs.Add(1)
	_ = c.Write(op, p)
}
func (h *counting) OnClose(*engine.Conn, codec.StatusCode, string) {}

// buildWssbench builds the command, for the tests that run it.
func buildWssbench(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wssbench")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// countingServer starts a ws:// engine whose /echo counts, and returns its
// URL.
func countingServer(t *testing.T, h *counting) string {
	t.Helper()
	srv, err := engine.New(engine.Config{ListenPlain: "127.0.0.1:0", Routes: map[string]engine.Handler{"/echo": h},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	_, port, _ := net.SplitHostPort(srv.PlainAddr().String())
	return "ws://127.0.0.1:" + port + "/echo"
}

// summaryOf is the summary (the last line) of a run's output, as a map.
func summaryOf(t *testing.T, out string) map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	m := map[string]string{}
	for _, kv := range strings.Fields(lines[len(lines)-1]) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("last line %q is not the summary", lines[len(lines)-1])
		}
		m[k] = v
	}
	return m
}

// TestShardedRun runs the built wssbench with --procs 2 and two source
// addresses against a server that counts: the merged report's counts are
// the server's, its histogram holds every sample, and the last line is
// the summary.
func TestShardedRun(t *testing.T) {
	bin := buildWssbench(t)
	h := &counting{}
	url := countingServer(t, h)
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	// The server is this process: --server-pid samples it.
	cmd := exec.Command(bin, "echo", "--url", url, "--conns", "11", "--procs", "2",
		"--source-ips", "127.0.0.2,127.0.0.3", "--duration", "1500ms", "--size", "20", "--json", jsonFile,
		"--server-pid", strconv.Itoa(os.Getpid()))
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("wssbench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "scenario=echo ") || !strings.Contains(last, " established=11 ") {
		t.Fatalf("last line %q; want the summary with 11 established", last)
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for int64(rep.Received) != h.msgs.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if rep.Established != 11 || h.opened.Load() != 11 || rep.Received == 0 || int64(rep.Received) != h.msgs.Load() ||
		rep.Latency.Count() != rep.Received || rep.Handshake.Count() != 11 {
		t.Fatalf("report: established %d, received %d, latency samples %d, handshakes %d; server: opened %d, echoed %d",
			rep.Established, rep.Received, rep.Latency.Count(), rep.Handshake.Count(), h.opened.Load(), h.msgs.Load())
	}
	// One progress line a second for the whole run: both shards' seconds
	// added up (each holds 5 or 6 of the connections).
	if !strings.Contains(errOut.String(), "s] conns=11 ") {
		t.Errorf("no progress line with the 11 connections of both shards:\n%s", errOut.String())
	}
	// The server was sampled by the parent, with the connections of both
	// shards when its memory peaked (or none, if it never grew).
	if rep.Server == nil || len(rep.Server.PIDs) != 1 || rep.Server.PIDs[0] != os.Getpid() ||
		(rep.Server.PeakConns != 11 && rep.Server.PeakConns != 0) {
		t.Errorf("server stats %+v", rep.Server)
	}
}

// TestShardedHandshake runs the handshake scenario over two processes:
// every connection the merged report counts was opened on the server, and
// the summary has the rate.
func TestShardedHandshake(t *testing.T) {
	bin := buildWssbench(t)
	h := &counting{}
	url := countingServer(t, h)
	cmd := exec.Command(bin, "handshake", "--url", url, "--procs", "2", "--concurrency", "4", "--duration", "500ms", "--quiet")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("wssbench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	m := summaryOf(t, out.String())
	est, _ := strconv.ParseInt(m["established"], 10, 64)
	rate, _ := strconv.ParseFloat(m["handshakes_per_s"], 64)
	if m["scenario"] != "handshake" || est == 0 || est != h.opened.Load() || m["closed"] != m["established"] || m["failed"] != "0" || rate <= 0 {
		t.Fatalf("summary %v; the server saw %d connections", m, h.opened.Load())
	}
}

// TestShardedPubSub runs the built wssbench's pubsub scenario over three
// processes, with subscribers and publishers split over them, against an
// engine that counts: the merged report has every publication of every
// publisher delivered to every subscriber of every shard exactly once,
// and the publications the server counted.
func TestShardedPubSub(t *testing.T) {
	bin := buildWssbench(t)
	set := metrics.NewSet()
	hub, err := pubsub.New(pubsub.Config{AnonymousPublish: true})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.New(engine.Config{ListenPlain: "127.0.0.1:0",
		Routes: map[string]engine.Handler{"/echo": engine.Echo{}, pubsub.DefaultRoute: hub},
		Loops:  2, Metrics: set, Logger: enginetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, srv)
	_, port, _ := net.SplitHostPort(srv.PlainAddr().String())
	jsonFile := filepath.Join(t.TempDir(), "r.json")
	const subs, pubs = 10, 2
	cmd := exec.Command(bin, "pubsub", "--url", "ws://127.0.0.1:"+port+"/ws", "--conns", strconv.Itoa(subs), "--pubs", strconv.Itoa(pubs),
		"--procs", "3", "--msg-rate", "100", "--duration", "1s", "--size", "100", "--topic", "room.7", "--json", jsonFile, "--loops", "2")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("wssbench: %v\n%s\n%s", err, out.String(), errOut.String())
	}
	m := summaryOf(t, out.String())
	if m["scenario"] != "pubsub" || m["subscribers"] != "10" || m["publishers"] != "2" || m["missing"] != "0" || m["duplicates"] != "0" ||
		m["published"] != m["sent"] || m["received"] != m["expected"] || m["fanout_complete"] != m["published"] {
		t.Fatalf("summary %v", m)
	}
	data, err := os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	var rep bench.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Sent == 0 || rep.Published != rep.Sent || rep.Received != rep.Published*subs || rep.Latency.Count() != rep.Received ||
		rep.Established != subs+pubs || rep.Failed != 0 || len(rep.Errors) != 0 {
		t.Fatalf("report: sent %d, published %d, received %d, latency samples %d, established %d, failed %d, errors %v",
			rep.Sent, rep.Published, rep.Received, rep.Latency.Count(), rep.Established, rep.Failed, rep.Errors)
	}
	// Both publishers, whichever shard they were on, with all their
	// publications, each reaching all the subscribers.
	perPub := map[uint64]uint64{}
	for _, row := range rep.FanoutTable {
		if row.Deliveries != subs || row.Seq != perPub[row.Publisher] {
			t.Fatalf("publication %d/%d: %d deliveries", row.Publisher, row.Seq, row.Deliveries)
		}
		perPub[row.Publisher]++
	}
	if len(perPub) != pubs || perPub[0]+perPub[1] != rep.Published || rep.Fanout.Count() != rep.Published {
		t.Fatalf("fan-out of publishers %v; %d published, %d fan-out samples", perPub, rep.Published, rep.Fanout.Count())
	}
	// The server counted the publications, and one end marker a publisher.
	srv.FlushMetrics()
	if got := set.GetOrCreateCounter("wssd_pubsub_published_total").Get(); got != rep.Published+pubs {
		t.Errorf("the server counted %d publications; the report %d, and %d end markers", got, rep.Published, pubs)
	}
	if rep.Params["topic"] != "room.7" || rep.Params["pubs"] != "2" || rep.Params["msg_rate"] != "100" || rep.Params["procs"] != "3" {
		t.Errorf("params %v", rep.Params)
	}
}

// TestFailIf: the built wssbench exits 1 and names the condition when a
// run misses one of --fail-if's, and 0 when it meets them all; a
// condition on a figure the summary line does not have is a flag error.
func TestFailIf(t *testing.T) {
	bin := buildWssbench(t)
	url := countingServer(t, &counting{})
	for _, tc := range []struct {
		cond string
		code int
		says string
	}{
		{"errors==0,established==3,msgs_per_s>0", 0, ""},
		{"established==4", 1, "--fail-if: missed established==4 (was 3)"},
		{"p99<1ns", 1, "--fail-if: missed p99<1ns"},
		{"p98<5ms", 2, "not a figure of the summary line"},
	} {
		cmd := exec.Command(bin, "echo", "--url", url, "--conns", "3", "--duration", "500ms", "--quiet", "--fail-if", tc.cond)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code || !strings.Contains(errOut.String(), tc.says) {
			t.Errorf("--fail-if %q: exit %d, want %d; stderr:\n%s", tc.cond, code, tc.code, errOut.String())
		}
	}
}
