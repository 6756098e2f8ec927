package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The names are the command line's and the JSON reports': they do not
// change with the values behind them.
var scenarioCases = []struct {
	s    Scenario
	name string
}{
	{Connect, "connect"},
	{Echo, "echo"},
	{Handshake, "handshake"},
	{Churn, "churn"},
	{PubSub, "pubsub"},
	{SocketIO, "socketio"},
}

func TestScenarioNames(t *testing.T) {
	for _, tc := range scenarioCases {
		if got := tc.s.String(); got != tc.name {
			t.Errorf("%d.String() = %q, want %q", uint8(tc.s), got, tc.name)
		}
		if got := fmt.Sprintf("%v %s", tc.s, tc.s); got != tc.name+" "+tc.name {
			t.Errorf("printed as %q, want %q twice", got, tc.name)
		}
		if got, err := ParseScenario(tc.name); err != nil || got != tc.s {
			t.Errorf("ParseScenario(%q) = %v, %v; want %v", tc.name, got, err, tc.s)
		}
	}
	for _, bad := range []string{"", "Echo", "echo ", "run", "pub/sub", "Scenario(9)"} {
		s, err := ParseScenario(bad)
		if err == nil || s != 0 {
			t.Errorf("ParseScenario(%q) = %v, %v; want an error", bad, s, err)
			continue
		}
		// The error names the scenarios there are, for the command line.
		if want := "connect, echo, handshake, churn, pubsub or socketio"; !strings.Contains(err.Error(), want) {
			t.Errorf("ParseScenario(%q): %v; want it to list %q", bad, err, want)
		}
	}
	if got := Scenario(0).String(); got != "" {
		t.Errorf("the zero Scenario is %q, want \"\"", got)
	}
	if got := Scenario(9).String(); got != "Scenario(9)" {
		t.Errorf("Scenario(9) is %q", got)
	}
}

func TestScenarioJSON(t *testing.T) {
	type doc struct {
		S Scenario `json:"s"`
	}
	for _, tc := range scenarioCases {
		b, err := json.Marshal(doc{tc.s})
		if want := `{"s":"` + tc.name + `"}`; err != nil || string(b) != want {
			t.Errorf("%v: %s, %v; want %s", tc.s, b, err, want)
		}
		var d doc
		if err := json.Unmarshal(b, &d); err != nil || d.S != tc.s {
			t.Errorf("%s read back as %v, %v", b, d.S, err)
		}
	}
	if b, err := json.Marshal(doc{}); err != nil || string(b) != `{"s":""}` {
		t.Errorf("the zero Scenario: %s, %v", b, err)
	}
	var d doc
	if err := json.Unmarshal([]byte(`{"s":""}`), &d); err != nil || d.S != 0 {
		t.Errorf(`"" read as %v, %v`, d.S, err)
	}
	if err := json.Unmarshal([]byte(`{"s":"flood"}`), &d); err == nil {
		t.Errorf(`"flood" read as %v`, d.S)
	}
	if b, err := json.Marshal(doc{Scenario(9)}); err == nil {
		t.Errorf("Scenario(9) written as %s", b)
	}
}

// TestReportScenario: a report names its scenario as it was written, and
// what depends on the scenario follows the name.
func TestReportScenario(t *testing.T) {
	for _, tc := range scenarioCases {
		if got := (&Report{Scenario: tc.name}).scenario(); got != tc.s {
			t.Errorf("report of %q: %v", tc.name, got)
		}
	}
	if got := (&Report{Scenario: "echo <b>"}).scenario(); got != 0 {
		t.Errorf("report of an unknown scenario: %v", got)
	}
}

func TestScenarioKinds(t *testing.T) {
	for _, tc := range []struct {
		s             Scenario
		keeps, redial bool
	}{
		{0, false, false},
		{Connect, true, false},
		{Echo, true, false},
		{Handshake, false, true},
		{Churn, true, true},
		{PubSub, true, false},
		{Scenario(9), false, false},
	} {
		if got := tc.s.KeepsConns(); got != tc.keeps {
			t.Errorf("%v.KeepsConns() = %v", tc.s, got)
		}
		if got := tc.s.dialsMeasured(); got != tc.redial {
			t.Errorf("%v.dialsMeasured() = %v", tc.s, got)
		}
	}
}

// TestRunReportScenario: the report of a run names its scenario in JSON
// as before the Scenario type, and Run refuses what is no scenario.
func TestRunReportScenario(t *testing.T) {
	tg := mustTarget(t, "ws://127.0.0.1:1/echo", "")
	for _, tc := range scenarioCases {
		cfg, err := Config{Scenario: tc.s, Target: tg, Conns: 1}.checked()
		if err != nil {
			t.Fatalf("%v: %v", tc.s, err)
		}
		rep := newRun(cfg).report(loopStats{}, nil, time.Second, nil, &serverWatch{})
		var b bytes.Buffer
		if err := rep.WriteJSON(&b); err != nil {
			t.Fatal(err)
		}
		if want := "\n  \"scenario\": \"" + tc.name + "\",\n"; !strings.Contains(b.String(), want) {
			t.Errorf("%v: the report lacks %q:\n%.200s", tc.s, want, b.String())
		}
	}
	for _, s := range []Scenario{0, Scenario(9)} {
		_, err := Config{Scenario: s, Target: tg, Conns: 1}.checked()
		if want := fmt.Sprintf("bench: unknown scenario %q", s.String()); err == nil || err.Error() != want {
			t.Errorf("Scenario(%d): %v, want %q", uint8(s), err, want)
		}
	}
}
