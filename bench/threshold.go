package bench

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Threshold is one condition a run must meet, on a figure of its summary
// line (see Report.SummaryLine), as --fail-if takes it: "p99<5ms",
// "errors==0", "msgs_per_s>=10000". A latency is named with or without
// its _us suffix and compared with a duration ("5ms") or a number of
// microseconds.
type Threshold struct {
	Key   string  // the summary line's key
	Op    string  // <, <=, >, >=, ==, !=
	Value float64 // in the key's unit (microseconds for the _us keys)
	Text  string  // as written
}

// thresholdOps are the comparisons, longest first so that "<=" is not
// read as "<".
var thresholdOps = []string{"<=", ">=", "==", "!=", "<", ">"}

// ParseThresholds parses a comma-separated list of conditions. Each names
// a key of the summary line (so a misspelt figure is an error, not a
// condition that never holds), an operator and a value.
func ParseThresholds(s string) ([]Threshold, error) {
	keys := lineKeys()
	var ts []Threshold
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		t := Threshold{Text: part}
		i := -1
		for _, op := range thresholdOps {
			if j := strings.Index(part, op); j > 0 && (i < 0 || j < i) {
				i, t.Op = j, op
			}
		}
		if i < 0 {
			return nil, fmt.Errorf("--fail-if %q: no comparison (<, <=, >, >=, ==, !=)", part)
		}
		name, value := strings.TrimSpace(part[:i]), strings.TrimSpace(part[i+len(t.Op):])
		switch {
		case keys[name]:
			t.Key = name
		case keys[name+"_us"]:
			t.Key = name + "_us"
		default:
			return nil, fmt.Errorf("--fail-if %q: %q is not a figure of the summary line", part, name)
		}
		v, err := thresholdValue(t.Key, value)
		if err != nil {
			return nil, fmt.Errorf("--fail-if %q: %v", part, err)
		}
		t.Value = v
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return nil, errors.New("--fail-if: no condition")
	}
	return ts, nil
}

// thresholdValue reads a value for key: a duration or a number of
// microseconds for a latency, a number otherwise.
func thresholdValue(key, v string) (float64, error) {
	if strings.HasSuffix(key, "_us") {
		if d, err := time.ParseDuration(v); err == nil {
			return float64(d) / float64(time.Microsecond), nil
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		if strings.HasSuffix(key, "_us") {
			return 0, fmt.Errorf("%q is not a duration (5ms) or a number of microseconds", v)
		}
		return 0, fmt.Errorf("%q is not a number", v)
	}
	return f, nil
}

// lineKeys is every key a summary line may have.
func lineKeys() map[string]bool {
	r := &Report{Server: &ServerStats{}}
	keys := map[string]bool{}
	for _, kv := range strings.Fields(r.SummaryLine()) {
		k, _, _ := strings.Cut(kv, "=")
		keys[k] = true
	}
	return keys
}

// Missed returns the conditions of ts that r does not meet, each as "p99<5ms
// (was 7.2ms)". A figure the report does not have (the server's, without
// --server-pid) is a condition not met.
func (r *Report) Missed(ts []Threshold) []string {
	got := map[string]float64{}
	for _, kv := range strings.Fields(r.SummaryLine()) {
		k, v, _ := strings.Cut(kv, "=")
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			got[k] = f
		}
	}
	var missed []string
	for _, t := range ts {
		v, ok := got[t.Key]
		if !ok {
			missed = append(missed, t.Text+" (not measured)")
			continue
		}
		if !t.holds(v) {
			shown := strconv.FormatFloat(v, 'f', -1, 64)
			if strings.HasSuffix(t.Key, "_us") {
				shown = time.Duration(v * float64(time.Microsecond)).String()
			}
			missed = append(missed, t.Text+" (was "+shown+")")
		}
	}
	return missed
}

func (t Threshold) holds(v float64) bool {
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">":
		return v > t.Value
	case ">=":
		return v >= t.Value
	case "==":
		return v == t.Value
	default:
		return v != t.Value
	}
}
