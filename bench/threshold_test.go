package bench

import (
	"strings"
	"testing"
	"time"
)

func TestThresholds(t *testing.T) {
	lat := NewHistogram()
	for range 99 {
		lat.Record(time.Millisecond)
	}
	lat.Record(7 * time.Millisecond)
	r := &Report{Scenario: "echo", Latency: lat, Received: 10000, Elapsed: time.Second,
		Errors: map[string]uint64{"upgrade: 401": 2}}

	for _, tc := range []struct {
		cond   string
		missed []string
	}{
		{"p50<5ms", nil},
		{"p50_us<5000", nil},
		{"max<5ms", []string{"max<5ms (was 7"}},
		{"errors==0", []string{"errors==0 (was 2)"}},
		{"errors<=2, msgs_per_s>=10000", nil},
		{"msgs_per_s>10000", []string{"msgs_per_s>10000 (was 10000)"}},
		{"failed!=0", []string{"failed!=0 (was 0)"}},
		{"server_rss_per_conn<2000", nil}, // a key of the line with --server-pid
	} {
		ts, err := ParseThresholds(tc.cond)
		if err != nil {
			t.Fatalf("%q: %v", tc.cond, err)
		}
		missed := r.Missed(ts)
		if tc.cond == "server_rss_per_conn<2000" {
			// Without --server-pid the figure is not there: not met.
			if len(missed) != 1 || !strings.Contains(missed[0], "not measured") {
				t.Errorf("%q: %q", tc.cond, missed)
			}
			continue
		}
		if len(missed) != len(tc.missed) {
			t.Fatalf("%q: missed %q, want %q", tc.cond, missed, tc.missed)
		}
		for i, m := range missed {
			if !strings.HasPrefix(m, tc.missed[i]) {
				t.Errorf("%q: %q, want it to start with %q", tc.cond, m, tc.missed[i])
			}
		}
	}

	for _, bad := range []string{"", "p99", "p98<5ms", "p99<fast", "errors<few", "<5", "p99=5ms"} {
		if _, err := ParseThresholds(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
