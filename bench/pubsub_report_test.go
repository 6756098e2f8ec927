package bench

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// pubsubShards are the reports of two shards of a pubsub run. Shard A has
// publisher 0 (4 publications) and 3 subscribers, one of which missed
// publication 1/1 and got 0/2 twice; shard B has publisher 1 (2
// publications) and 2 subscribers, which got everything.
func pubsubShards() (a, b *Report) {
	ms := time.Millisecond
	a = &Report{Scenario: "pubsub", Attempted: 4, Established: 4, Publishers: 1, Subscribers: 3, Sent: 4, Published: 4,
		Received: 6*3 - 1 + 1, Duplicates: 1, Latency: NewHistogram(), Subscribe: NewHistogram(),
		FanoutTable: FanoutTable{
			{0, 0, 3, 2 * ms}, {0, 1, 3, 3 * ms}, {0, 2, 3, 1 * ms}, {0, 3, 3, 9 * ms},
			{1, 0, 3, 4 * ms}, {1, 1, 2, 5 * ms},
		},
		Timeline: []Second{{At: 1, Established: 4, Sent: 4, Received: 18}}}
	b = &Report{Scenario: "pubsub", Attempted: 3, Established: 3, Publishers: 1, Subscribers: 2, Sent: 2, Published: 2,
		Received: 6 * 2, Latency: NewHistogram(), Subscribe: NewHistogram(),
		FanoutTable: FanoutTable{
			{0, 0, 2, 7 * ms}, {0, 1, 2, 1 * ms}, {0, 2, 2, 1 * ms}, {0, 3, 2, 1 * ms},
			{1, 0, 2, 1 * ms}, {1, 1, 2, 8 * ms},
		},
		Timeline: []Second{{At: 1, Established: 3, Sent: 2, Received: 12}, {At: 2, Established: 3}}}
	for i := range a.Received {
		a.Latency.Record(time.Duration(i+1) * 100 * time.Microsecond)
	}
	for i := range b.Received {
		b.Latency.Record(time.Duration(i+1) * 150 * time.Microsecond)
	}
	for range 3 {
		a.Subscribe.Record(300 * time.Microsecond)
	}
	for range 2 {
		b.Subscribe.Record(400 * time.Microsecond)
	}
	a.derivePubSub()
	b.derivePubSub()
	return a, b
}

// TestPubSubMerge: shards' pubsub reports merge exactly: the fan-out
// tables publication by publication, and the figures that follow from the
// sums are computed again, whatever the order.
func TestPubSubMerge(t *testing.T) {
	a, b := pubsubShards()
	if a.Expected != 12 || a.Missing != 0 || a.FanoutComplete != 5 {
		t.Fatalf("shard A alone: expected %d, missing %d, complete %d", a.Expected, a.Missing, a.FanoutComplete)
	}
	ms := time.Millisecond
	want := FanoutTable{
		{0, 0, 5, 7 * ms}, {0, 1, 5, 3 * ms}, {0, 2, 5, 1 * ms}, {0, 3, 5, 9 * ms},
		{1, 0, 5, 4 * ms}, {1, 1, 4, 8 * ms},
	}
	check := func(name string, m *Report) {
		t.Helper()
		if !reflect.DeepEqual(m.FanoutTable, want) {
			t.Errorf("%s: table %v, want %v", name, m.FanoutTable, want)
		}
		if m.Publishers != 2 || m.Subscribers != 5 || m.Published != 6 || m.Expected != 30 || m.Received != 30 ||
			m.Duplicates != 1 || m.Missing != 1 || m.FanoutComplete != 5 {
			t.Errorf("%s: publishers %d, subscribers %d, published %d, expected %d, received %d, duplicates %d, missing %d, complete %d",
				name, m.Publishers, m.Subscribers, m.Published, m.Expected, m.Received, m.Duplicates, m.Missing, m.FanoutComplete)
		}
		if m.Fanout.Count() != 6 || m.Fanout.Max() != 9*ms || m.Fanout.Min() != 1*ms || m.Subscribe.Count() != 5 || m.Latency.Count() != 30 {
			t.Errorf("%s: fan-out %d samples (%v to %v), subscribe %d, latency %d", name,
				m.Fanout.Count(), m.Fanout.Min(), m.Fanout.Max(), m.Subscribe.Count(), m.Latency.Count())
		}
	}
	m := &Report{}
	m.Merge(a)
	m.Merge(b)
	check("empty+a+b", m)
	a2, b2 := pubsubShards()
	b2.Merge(a2)
	check("b+a", b2)
	// The shards' tables are not shared, nor changed.
	m.FanoutTable[0].Deliveries = 99
	if a.FanoutTable[0].Deliveries != 3 || b.FanoutTable[0].Deliveries != 2 {
		t.Error("the merged table shares a shard's rows")
	}

	// Through JSON, as the shards send their reports: the same.
	m = &Report{}
	for _, r := range []*Report{a, b} {
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(buf.String(), "\n  \"fanout_table\": [[0,0,") || !strings.Contains(buf.String(), "\n  \"subscribe\": {\"count\":") {
			t.Errorf("the table or a histogram is not on one line:\n%s", buf.String())
		}
		var back Report
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.FanoutTable, r.FanoutTable) || back.Expected != r.Expected || back.FanoutComplete != r.FanoutComplete {
			t.Errorf("through JSON: table %v, expected %d, complete %d", back.FanoutTable, back.Expected, back.FanoutComplete)
		}
		m.Merge(&back)
	}
	check("json", m)
}

func TestFanoutTableJSON(t *testing.T) {
	var ft FanoutTable
	if err := json.Unmarshal([]byte(`[[1,0,2,5],[0,3,1,-4],[1,0,3,9]]`), &ft); err != nil {
		t.Fatal(err)
	}
	want := FanoutTable{{0, 3, 1, -4}, {1, 0, 5, 9}}
	if !reflect.DeepEqual(ft, want) {
		t.Errorf("got %v, want %v: sorted, one row per publication", ft, want)
	}
	for _, bad := range []string{`[[1,2,3]]`, `[[-1,0,1,1]]`, `[[0,0,1.5,1]]`, `{"a":1}`, `[[0,0,1,"x"]]`} {
		if err := json.Unmarshal([]byte(bad), &ft); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	var none FanoutTable
	if b, _ := json.Marshal(none); string(b) != "null" {
		t.Errorf("nil table: %s", b)
	}
	if b, _ := json.Marshal(FanoutTable{}); string(b) != "[]" {
		t.Errorf("empty table: %s", b)
	}
}

// TestPubSubOutput: the summary, the table and the page say the pubsub
// figures.
func TestPubSubOutput(t *testing.T) {
	a, b := pubsubShards()
	a.Merge(b)
	a.Elapsed = 2 * time.Second
	m := parseSummary(t, a.SummaryLine(), summaryKeys)
	for k, v := range map[string]string{
		"scenario": "pubsub", "sent": "6", "received": "30", "msgs_per_s": "15.0", "publishers": "2", "subscribers": "5",
		"published": "6", "expected": "30", "missing": "1", "duplicates": "1", "fanout_count": "6", "fanout_complete": "5",
		"fanout_max_us": "9000", "subscribe_p99_us": "400",
	} {
		if m[k] != v {
			t.Errorf("%s=%s, want %s", k, m[k], v)
		}
	}
	var buf bytes.Buffer
	if err := a.WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"pub/sub", "deliveries/s", "fan-out", "5 (83.3%)", "delivery", "subscribe", "9.00ms"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, buf.String())
		}
	}
	buf.Reset()
	if err := a.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	svgs, text := htmlCheck(t, buf.Bytes())
	// Spectrum and distribution of delivery, fan-out and subscribe;
	// messages and connections over time.
	if svgs != 8 {
		t.Errorf("%d charts, want 8", svgs)
	}
	for _, s := range []string{"Distribution: fan-out", "Latency by percentile: delivery", "Distribution: subscribe",
		"published", "delivered", "reached every subscriber", "of 6 publications tracked", "of 30 expected"} {
		if !strings.Contains(text, s) {
			t.Errorf("page text lacks %q", s)
		}
	}
}
