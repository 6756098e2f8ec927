package bench

import (
	"bytes"
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestEnvironment: a report says where it ran, in the table, the JSON and
// the page, and a shard's report gives its environment to the merged one.
func TestEnvironment(t *testing.T) {
	e := ReadEnvironment()
	if e.CPUs != runtime.NumCPU() || e.GoVersion != runtime.Version() || e.Host == "" || len(e.Command) == 0 {
		t.Fatalf("%+v", e)
	}
	if !strings.HasPrefix(e.Kernel, "Linux ") {
		t.Errorf("kernel %q", e.Kernel)
	}
	e.Command = []string{"wssbench", "echo", "--conns", "5"}
	r := &Report{Scenario: "echo", Env: e}

	var table bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"host " + e.Host, e.GoVersion, "wssbench echo --conns 5"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	var js bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Env == nil || back.Env.CPUs != e.CPUs || back.Env.Command[3] != "5" {
		t.Fatalf("JSON read back: %+v, %v", back.Env, err)
	}
	var page bytes.Buffer
	if err := r.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(page.String(), "wssbench echo --conns 5") || !strings.Contains(page.String(), e.GoVersion) {
		t.Error("the page does not say where the run ran")
	}
	merged := &Report{}
	merged.Merge(r)
	if merged.Env != e {
		t.Error("Merge dropped the environment")
	}
}

// TestReportFitsScenario: a connect report shows no message tiles or
// charts, an echo report does; a load generator that used the machine
// gets a warning in the table and on the page; each second has its p50,
// max, bytes and the load generator's CPU.
func TestReportFitsScenario(t *testing.T) {
	cores := float64(runtime.NumCPU())
	tl := []Second{
		{At: 1, Established: 10, Sent: 5, Received: 5, P50: 100, P99: 900, Max: 1500, WireSent: 4000, WireRecv: 3000, ClientCPU: 0.2},
		{At: 2, Established: 10, Sent: 5, Received: 5, P50: 120, P99: 950, Max: 1600, WireSent: 4100, WireRecv: 3100, ClientCPU: cores},
	}
	page := func(r *Report) string {
		var b bytes.Buffer
		if err := r.WriteHTML(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	table := func(r *Report) string {
		var b bytes.Buffer
		if err := r.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}

	connect := &Report{Scenario: "connect", Attempted: 10, Established: 10, Server: &ServerStats{PeakConns: 10}}
	for _, s := range []string{"messages received", "Messages per second", "server CPU per million messages"} {
		if strings.Contains(page(connect), s) {
			t.Errorf("connect page shows %q", s)
		}
	}
	if strings.Contains(table(connect), "messages") {
		t.Errorf("connect table shows messages:\n%s", table(connect))
	}

	echo := &Report{Scenario: "echo", Sent: 10, Received: 10, Timeline: tl, Latency: NewHistogram()}
	p := page(echo)
	for _, s := range []string{"messages received", "Messages per second", "Latency per second", "max of the second",
		"Bytes on the wire per second", "Load generator CPU", "Warning:", "1 of 2 seconds"} {
		if !strings.Contains(p, s) {
			t.Errorf("echo page lacks %q", s)
		}
	}
	if tb := table(echo); !strings.Contains(tb, "warning") || !strings.Contains(tb, "1 of 2 s") {
		t.Errorf("echo table lacks the saturation warning:\n%s", tb)
	}
	var js bytes.Buffer
	if err := echo.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"p50_us": 120`, `"max_us": 1600`, `"wire_sent_bytes": 4100`, `"client_cpu": `} {
		if !strings.Contains(js.String(), k) {
			t.Errorf("JSON lacks %s", k)
		}
	}
	quiet := &Report{Scenario: "echo", Timeline: tl[:1]}
	if strings.Contains(page(quiet), "Warning:") || strings.Contains(table(quiet), "warning") {
		t.Error("a warning without saturation")
	}
}
