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
