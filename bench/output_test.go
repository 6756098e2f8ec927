package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shardSamples is the samples of one shard of a test run.
type shardSamples struct {
	latency, connect, tls, handshake []time.Duration
	errors                           map[string]uint64
	timeline                         []Second
	started                          time.Time
	elapsed                          time.Duration
	server                           *ServerStats
}

// makeShards makes n shards of random samples, with overlapping and
// disjoint seconds, and errors of shared and own reasons.
func makeShards(n int) []shardSamples {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	shards := make([]shardSamples, n)
	for i := range shards {
		s := &shards[i]
		for range 2000 + 500*i {
			// Log-normal-ish: most around 200µs, a tail to tens of ms.
			s.latency = append(s.latency, time.Duration(math.Exp(rng.NormFloat64()*0.8+12.2)))
		}
		for range 100 + 10*i {
			s.connect = append(s.connect, time.Duration(50_000+rng.IntN(400_000)))
			s.tls = append(s.tls, time.Duration(150_000+rng.IntN(1_000_000)))
			s.handshake = append(s.handshake, time.Duration(200_000+rng.IntN(2_000_000)))
		}
		s.errors = map[string]uint64{
			"connect: connection refused": uint64(3 + i),
			"upgrade: 401":                1,
		}
		if i == 1 {
			s.errors["network: reset by peer"] = 7
		}
		for at := 1 + i; at <= 6+i; at++ {
			s.timeline = append(s.timeline, Second{
				At: at, Established: uint64(100 + i), Opened: uint64(at + i), Sent: uint64(1000 + 10*at + i),
				Received: uint64(990 + 10*at + i), Errors: uint64(at % 2), P99: float64(1000*(i+1) + at),
			})
		}
		s.started = base.Add(time.Duration(n-i) * time.Millisecond) // the last shard starts first
		s.elapsed = time.Duration(6000+i*7) * time.Millisecond
		if i == n-1 {
			s.server = &ServerStats{PIDs: []int{42}, RSSStart: 1 << 20, RSSPeak: 5 << 20, RSSEnd: 2 << 20,
				CPUSeconds: 1.5, Threads: 8, PeakConns: 300, RSSPerConn: 13981.0, CPUPerMillion: 41.2}
		}
	}
	return shards
}

// shardReport builds the report of shards (all, merged as one sample set).
func shardReport(shards ...shardSamples) *Report {
	r := &Report{Scenario: "echo", URL: "ws://127.0.0.1:8080/echo", Params: map[string]string{"conns": "100"}}
	r.Latency, r.Connect, r.TLS, r.Handshake = NewHistogram(), NewHistogram(), NewHistogram(), NewHistogram()
	r.Errors = map[string]uint64{}
	at := map[int]int{}
	for _, s := range shards {
		for _, d := range s.latency {
			r.Latency.Record(d)
		}
		for _, d := range s.connect {
			r.Connect.Record(d)
		}
		for _, d := range s.tls {
			r.TLS.Record(d)
		}
		for _, d := range s.handshake {
			r.Handshake.Record(d)
		}
		r.Attempted += uint64(len(s.connect)) + 2
		r.Established += uint64(len(s.connect))
		r.Failed += 2
		r.Dropped++
		r.Closed += 3
		r.Resumed += uint64(len(s.tls)) / 2
		for k, v := range s.errors {
			r.Errors[k] += v
		}
		r.Sent += uint64(len(s.latency)) + 5
		r.Received += uint64(len(s.latency))
		for _, sec := range s.timeline {
			i, ok := at[sec.At]
			if !ok {
				at[sec.At] = len(r.Timeline)
				r.Timeline = append(r.Timeline, sec)
				continue
			}
			t := &r.Timeline[i]
			t.Established += sec.Established
			t.Opened += sec.Opened
			t.Sent += sec.Sent
			t.Received += sec.Received
			t.Errors += sec.Errors
			t.P99 = math.Max(t.P99, sec.P99)
		}
		if r.Started.IsZero() || s.started.Before(r.Started) {
			r.Started = s.started
		}
		r.Elapsed = max(r.Elapsed, s.elapsed)
		if s.server != nil {
			srv := *s.server
			r.Server = &srv
		}
	}
	return r
}

func sameHistogram(t *testing.T, name string, got, want *Histogram) {
	t.Helper()
	if got.Count() != want.Count() || got.Min() != want.Min() || got.Max() != want.Max() || got.Mean() != want.Mean() {
		t.Errorf("%s: count %d min %v max %v mean %v, want %d %v %v %v", name,
			got.Count(), got.Min(), got.Max(), got.Mean(), want.Count(), want.Min(), want.Max(), want.Mean())
	}
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1} {
		if g, w := got.Quantile(q), want.Quantile(q); g != w {
			t.Errorf("%s: quantile %v = %v, want %v", name, q, g, w)
		}
	}
}

func sameReport(t *testing.T, got, want *Report) {
	t.Helper()
	if got.Scenario != want.Scenario || got.URL != want.URL || !reflect.DeepEqual(got.Params, want.Params) {
		t.Errorf("run: %q %q %v, want %q %q %v", got.Scenario, got.URL, got.Params, want.Scenario, want.URL, want.Params)
	}
	if !got.Started.Equal(want.Started) || got.Elapsed != want.Elapsed {
		t.Errorf("started %v elapsed %v, want %v %v", got.Started, got.Elapsed, want.Started, want.Elapsed)
	}
	type counts struct{ Attempted, Established, Failed, Dropped, Closed, Resumed, Sent, Received uint64 }
	g := counts{got.Attempted, got.Established, got.Failed, got.Dropped, got.Closed, got.Resumed, got.Sent, got.Received}
	w := counts{want.Attempted, want.Established, want.Failed, want.Dropped, want.Closed, want.Resumed, want.Sent, want.Received}
	if g != w {
		t.Errorf("counts %+v, want %+v", g, w)
	}
	if !reflect.DeepEqual(got.Errors, want.Errors) {
		t.Errorf("errors %v, want %v", got.Errors, want.Errors)
	}
	sameHistogram(t, "latency", got.Latency, want.Latency)
	sameHistogram(t, "connect", got.Connect, want.Connect)
	sameHistogram(t, "tls", got.TLS, want.TLS)
	sameHistogram(t, "handshake", got.Handshake, want.Handshake)
	if !reflect.DeepEqual(got.Timeline, want.Timeline) {
		t.Errorf("timeline\n%+v\nwant\n%+v", got.Timeline, want.Timeline)
	}
	if !reflect.DeepEqual(got.Server, want.Server) {
		t.Errorf("server %+v, want %+v", got.Server, want.Server)
	}
}

func TestMergeShards(t *testing.T) {
	for _, n := range []int{2, 3} {
		shards := makeShards(n)
		want := shardReport(shards...)

		// Into an empty report: every histogram is made.
		got := &Report{}
		for _, s := range shards {
			got.Merge(shardReport(s))
		}
		sameReport(t, got, want)

		// Into the first shard's report, in another order.
		got = shardReport(shards[n-1])
		for i := n - 2; i >= 0; i-- {
			got.Merge(shardReport(shards[i]))
		}
		sameReport(t, got, want)
	}

	// The timeline is sorted by second, whatever the order of the shards.
	shards := makeShards(3)
	got := &Report{}
	for i := 2; i >= 0; i-- {
		got.Merge(shardReport(shards[i]))
	}
	for i := 1; i < len(got.Timeline); i++ {
		if got.Timeline[i-1].At >= got.Timeline[i].At {
			t.Fatalf("timeline not sorted: %+v", got.Timeline)
		}
	}
	if len(got.Timeline) != 8 { // seconds 1 to 8
		t.Errorf("%d seconds, want 8", len(got.Timeline))
	}
}

func TestMergeOwnsItsData(t *testing.T) {
	o := shardReport(makeShards(1)...)
	r := &Report{}
	r.Merge(o)
	count := r.Latency.Count()
	o.Latency.Record(time.Second)
	o.Errors["new"] = 1
	o.Server.PIDs[0] = 7
	if r.Latency.Count() != count || r.Errors["new"] != 0 || r.Server.PIDs[0] != 42 {
		t.Error("the merged report shares the shard's histograms, errors or server stats")
	}

	// Nil parts on either side, and a nil report, are fine.
	r = &Report{Latency: NewHistogram()}
	r.Latency.Record(time.Millisecond)
	r.Merge(&Report{Connect: NewHistogram()})
	r.Merge(nil)
	r.Merge(r)
	if r.Latency.Count() != 1 || r.Connect == nil || r.Connect.Count() != 0 || r.Handshake != nil {
		t.Errorf("latency %d, connect %v, handshake %v", r.Latency.Count(), r.Connect, r.Handshake)
	}

	// Server: the one there is; r's if both have one.
	r = &Report{Server: &ServerStats{PIDs: []int{1}}}
	r.Merge(&Report{Server: &ServerStats{PIDs: []int{2}}})
	if r.Server.PIDs[0] != 1 {
		t.Errorf("server pids %v, want [1]", r.Server.PIDs)
	}
}

// baseSummaryKeys are the first keys of a summary line, in order; the
// server's keys come next when it was sampled, then pubsubSummaryKeys.
var baseSummaryKeys = []string{
	"scenario", "attempted", "established", "failed", "dropped", "closed", "resumed", "errors",
	"sent", "received", "msgs_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "mean_us",
	"connect_p99_us", "tls_p99_us", "handshake_p99_us", "handshakes_per_s", "elapsed_s",
}

var (
	serverSummaryKeys = []string{"server_rss_per_conn", "server_cpu_s_per_million", "server_cpu_ms_per_conn"}
	pubsubSummaryKeys = []string{
		"publishers", "subscribers", "published", "expected", "missing", "duplicates",
		"fanout_count", "fanout_complete", "fanout_p50_us", "fanout_p99_us", "fanout_max_us", "subscribe_p99_us",
	}
	wireSummaryKeys = []string{
		"wire_sent_bytes", "wire_received_bytes", "wire_sent_per_msg", "wire_received_per_msg",
		"plain_sent_per_msg", "plain_received_per_msg", "compressed_sent", "compressed_received",
		"deflate_negotiated", "deflate_declined",
	}
	// summaryKeys are the keys of a summary line without the server's.
	summaryKeys = slices.Concat(baseSummaryKeys, pubsubSummaryKeys, wireSummaryKeys)
	// serverKeys are the keys of a summary line with the server's.
	serverKeys = slices.Concat(baseSummaryKeys, serverSummaryKeys, pubsubSummaryKeys, wireSummaryKeys)
)

// parseSummary splits a summary line into its pairs, checking their form
// and the keys' order.
func parseSummary(t *testing.T, line string, keys []string) map[string]string {
	t.Helper()
	if strings.ContainsAny(line, "\n\r\t") {
		t.Fatalf("summary line %q is not one line of spaces", line)
	}
	tokens := strings.Split(line, " ")
	if len(tokens) != len(keys) {
		t.Fatalf("%d pairs, want %d: %q", len(tokens), len(keys), line)
	}
	m := map[string]string{}
	for i, tok := range tokens {
		k, v, ok := strings.Cut(tok, "=")
		if !ok || k != keys[i] {
			t.Fatalf("pair %d is %q, want %s=...", i, tok, keys[i])
		}
		m[k] = v
	}
	for _, k := range keys[1:] {
		v := m[k]
		var err error
		switch {
		case strings.HasSuffix(k, "_us") || k == "attempted" || k == "established" || k == "failed" ||
			k == "dropped" || k == "errors" || k == "sent" || k == "received" ||
			slices.Contains(pubsubSummaryKeys, k) || slices.Contains(wireSummaryKeys, k) && !strings.HasSuffix(k, "_per_msg"):
			_, err = strconv.ParseUint(v, 10, 64)
		default:
			_, err = strconv.ParseFloat(v, 64)
		}
		if err != nil {
			t.Errorf("%s=%q is not a number of its kind: %v", k, v, err)
		}
	}
	return m
}

func TestSummaryLine(t *testing.T) {
	r := &Report{
		Scenario: "echo", Attempted: 102, Established: 100, Failed: 2, Dropped: 1, Closed: 4, Resumed: 90,
		Errors: map[string]uint64{"a": 2, "b": 3},
		Sent:   12005, Received: 11991, Elapsed: 6 * time.Second,
		Latency: NewHistogram(), Connect: NewHistogram(),
	}
	for i := 1; i <= 1000; i++ {
		r.Latency.Record(time.Duration(i) * time.Microsecond)
	}
	r.Connect.Record(300 * time.Microsecond)
	m := parseSummary(t, r.SummaryLine(), summaryKeys)
	want := map[string]string{
		"scenario": "echo", "attempted": "102", "established": "100", "failed": "2", "dropped": "1",
		"errors": "5", "sent": "12005", "received": "11991", "msgs_per_s": "1998.5",
		"max_us": "1000", "mean_us": "501", "connect_p99_us": "300", "handshake_p99_us": "0", "elapsed_s": "6.00",
		"closed": "4", "resumed": "90", "tls_p99_us": "0", "handshakes_per_s": "0.0",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s=%s, want %s", k, m[k], v)
		}
	}
	// Quantiles within the histogram's precision, never below.
	for k, q := range map[string]float64{"p50_us": 500, "p90_us": 900, "p99_us": 990, "p999_us": 999} {
		v, _ := strconv.ParseFloat(m[k], 64)
		if v < q || v > q*1.008 {
			t.Errorf("%s=%v, want %v (+0.8%%)", k, v, q)
		}
	}

	// With the server: three more keys.
	r.Server = &ServerStats{RSSPerConn: 10240.25, CPUPerMillion: 0.3456, CPUPerConn: 0.5}
	r.Scenario = "echo with\tspaces"
	m = parseSummary(t, r.SummaryLine(), serverKeys)
	if m["server_cpu_ms_per_conn"] != "0.500" {
		t.Errorf("server_cpu_ms_per_conn=%s", m["server_cpu_ms_per_conn"])
	}
	if m["server_rss_per_conn"] != "10240.2" && m["server_rss_per_conn"] != "10240.3" {
		t.Errorf("server_rss_per_conn=%s", m["server_rss_per_conn"])
	}
	if m["server_cpu_s_per_million"] != "0.346" {
		t.Errorf("server_cpu_s_per_million=%s", m["server_cpu_s_per_million"])
	}
	if m["scenario"] != "echo_with_spaces" {
		t.Errorf("scenario=%s", m["scenario"])
	}

	// The handshake scenario has a handshake rate: connections opened a
	// second of the run.
	r = &Report{Scenario: "handshake", Established: 4501, Elapsed: 2 * time.Second, TLS: NewHistogram()}
	r.TLS.Record(2 * time.Millisecond)
	m = parseSummary(t, r.SummaryLine(), summaryKeys)
	if m["handshakes_per_s"] != "2250.5" || m["tls_p99_us"] != "2000" {
		t.Errorf("handshakes_per_s=%s tls_p99_us=%s", m["handshakes_per_s"], m["tls_p99_us"])
	}
}

func TestProgressLine(t *testing.T) {
	cores := runtime.NumCPU()
	got := ProgressLine(Second{At: 12, Established: 40000, Opened: 17, Sent: 19987, Received: 19990, Errors: 1,
		P50: 456, P99: 1234, Max: 20000, WireSent: 3 << 20, WireRecv: 1500, ClientCPU: 0.5}, 3)
	want := fmt.Sprintf("[  12s] conns=40000 opened/s=17 sent/s=19987 recv/s=19990 errors=3 p50=456µs p99=1.23ms max=20.0ms out=3.0 MiB/s in=1.5 KiB/s cpu=0.50/%d", cores)
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got = ProgressLine(Second{}, 0)
	if want := fmt.Sprintf("[   0s] conns=0 opened/s=0 sent/s=0 recv/s=0 errors=0 p50=- p99=- max=- out=0 B/s in=0 B/s cpu=0.00/%d", cores); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	// A load generator that uses the machine says so.
	if got := ProgressLine(Second{ClientCPU: float64(cores)}, 0); !strings.Contains(got, "load generator saturated") {
		t.Errorf("saturated: %q", got)
	}
	if got := ProgressLine(Second{ClientCPU: 0.5 * float64(cores)}, 0); strings.Contains(got, "saturated") {
		t.Errorf("not saturated: %q", got)
	}
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 850: "850ns", 12345: "12.3µs", 999_999: "1.00ms", 999_499: "999µs", 9_996: "10.0µs", 1_234_567: "1.23ms",
		123_456_789: "123ms", 2_500_000_000: "2.50s", -1500: "-1.50µs",
	} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%d) = %q, want %q", d, got, want)
		}
	}
}

func TestTickDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0", 500: "500ns", 50_000: "50µs", 1_000_000: "1ms", 2_500_000: "2.5ms", 12_300_000: "12.3ms", 2 * time.Second: "2s",
	} {
		if got := tickDuration(d); got != want {
			t.Errorf("tickDuration(%d) = %q, want %q", d, got, want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	r := shardReport(makeShards(2)...)
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{
		"scenario", "echo", "ws://127.0.0.1:8080/echo", "conns=100",
		"attempted", strconv.FormatUint(r.Attempted, 10), strconv.FormatUint(r.Established, 10),
		"connect: connection refused", "network: reset by peer",
		strconv.FormatUint(r.Sent, 10), strconv.FormatUint(r.Received, 10),
		"p99.9", durationText(r.Latency.Quantile(0.99)), durationText(r.Latency.Max()),
		durationText(r.Connect.Quantile(0.5)), durationText(r.Handshake.Quantile(0.999)),
		"round trip", "connect", "handshake", "rss/conn", "13.7 KiB",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	// Errors by count, most frequent first.
	if i, j := strings.Index(out, "network: reset by peer"), strings.Index(out, "upgrade: 401"); i > j {
		t.Errorf("errors not by count:\n%s", out)
	}
	// Columns: the values line up under their headers.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "connections") {
			if strings.Index(l, "established") != strings.Index(lines[i+1], strconv.FormatUint(r.Established, 10)) {
				t.Errorf("columns not aligned:\n%s\n%s", l, lines[i+1])
			}
		}
	}
}

func TestWriteJSON(t *testing.T) {
	r := shardReport(makeShards(2)...)
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n  \"scenario\": \"echo\"") {
		t.Errorf("not indented:\n%.300s", b.String())
	}
	for _, k := range []string{"connect", "handshake", "latency"} {
		if !strings.Contains(b.String(), "\n  \""+k+"\": {\"count\":") {
			t.Errorf("%s is not on one line", k)
		}
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	sameReport(t, &back, r)
}

// brokenWriter fails every write.
type brokenWriter struct{}

func (brokenWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWritersReportErrors(t *testing.T) {
	r := shardReport(makeShards(1)...)
	for name, write := range map[string]func(io.Writer) error{
		"table": r.WriteTable, "json": r.WriteJSON, "html": r.WriteHTML,
	} {
		if err := write(brokenWriter{}); err == nil {
			t.Errorf("%s: no error from a failing writer", name)
		}
	}
}

// htmlCheck parses page as XML, strictly, and checks that it loads nothing
// from elsewhere and runs nothing. It returns the number of svg elements
// and the text of the page.
func htmlCheck(t *testing.T, page []byte) (svgs int, text string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = true
	d.Entity = xml.HTMLEntity
	var sb strings.Builder
	var stack []string
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			if e := new(xml.SyntaxError); errors.As(err, &e) {
				line = e.Line
			}
			lines := strings.Split(string(page), "\n")
			ctx := ""
			if line > 0 && line <= len(lines) {
				ctx = lines[line-1]
			}
			t.Fatalf("page does not parse: %v\nline: %s", err, ctx)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(tok.Name.Local)
			stack = append(stack, name)
			switch name {
			case "script", "link", "img", "iframe", "object", "embed", "image", "use", "foreignobject", "base":
				t.Errorf("page has a <%s> element", name)
			case "svg":
				svgs++
			}
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Value))
				if strings.Contains(v, "http:") || strings.Contains(v, "https:") || strings.HasPrefix(v, "//") ||
					strings.Contains(v, "url(") || strings.HasPrefix(strings.ToLower(a.Name.Local), "on") ||
					a.Name.Local == "href" || a.Name.Local == "src" {
					t.Errorf("<%s %s=%q>: a reference or a script", name, a.Name.Local, a.Value)
				}
			}
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 && stack[len(stack)-1] == "style" {
				css := strings.ToLower(string(tok))
				if strings.Contains(css, "url(") || strings.Contains(css, "@import") || strings.Contains(css, "http") {
					t.Errorf("style sheet refers elsewhere")
				}
				continue
			}
			sb.Write(tok)
			sb.WriteByte(' ')
		}
	}
	if len(stack) != 0 {
		t.Errorf("unclosed elements: %v", stack)
	}
	return svgs, sb.String()
}

func TestWriteHTML(t *testing.T) {
	r := shardReport(makeShards(3)...)
	r.URL = `ws://example.com/<script>alert("x")</script>?a=1&b=2`
	r.Scenario = "echo <b>bold</b>"
	r.Params["origin"] = `https://evil.example/"onload='x'`
	r.Errors[`upgrade: 400 <img src=x onerror=alert(1)>`] = 1
	var b bytes.Buffer
	if err := r.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	page := b.Bytes()
	if !bytes.HasPrefix(page, []byte("<!DOCTYPE html>")) {
		t.Errorf("no doctype: %.40q", page)
	}
	for _, s := range []string{"<script", "<b>", "<img"} {
		if bytes.Contains(page, []byte(s)) {
			t.Errorf("page holds %q unescaped", s)
		}
	}
	for _, s := range []string{"&lt;script&gt;", "&amp;b=2", "&lt;img src=x onerror=alert(1)&gt;", "<title>wssbench echo &lt;b&gt;"} {
		if !bytes.Contains(page, []byte(s)) {
			t.Errorf("page lacks %q", s)
		}
	}
	svgs, text := htmlCheck(t, page)
	// Spectrum and distribution of 4 histograms, messages, connections,
	// p99 and errors over time.
	if svgs != 12 {
		t.Errorf("%d charts, want 12", svgs)
	}
	for _, s := range []string{
		`ws://example.com/<script>alert("x")</script>?a=1&b=2`, "Latency by percentile: round trip",
		"Distribution: handshake", "Distribution: tls", "opened during the second", "Messages per second", "Connections", "Errors per second",
		"99.999%", "connect: connection refused", "RSS per connection", "13.7 KiB",
		durationText(r.Latency.Quantile(0.99)), strconv.FormatUint(r.Received, 10),
	} {
		if !strings.Contains(text, s) {
			t.Errorf("page text lacks %q", s)
		}
	}
	if strings.Contains(text, "no data") {
		t.Error("a chart has no data")
	}
}

func TestChartsScaleFromData(t *testing.T) {
	h := NewHistogram()
	for i := range 1000 {
		h.Record(time.Duration(100+i) * time.Microsecond)
	}
	c := spectrumChart("t", h)
	// The y axis reaches the max, in round steps of a unit that suits it.
	var labels []string
	for _, tx := range c.Texts {
		if tx.Class == "tick" {
			labels = append(labels, tx.Text)
		}
	}
	want := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "0", "0.2ms", "0.4ms", "0.6ms", "0.8ms", "1.0ms", "1.2ms"}
	if !reflect.DeepEqual(labels, want) {
		t.Errorf("ticks %q, want %q", labels, want)
	}
	// The line stays inside the plot.
	for _, p := range c.Paths {
		for _, pt := range strings.Fields(strings.NewReplacer("M", " ", "L", " ").Replace(p.D)) {
			x, y, _ := strings.Cut(pt, ",")
			xf, _ := strconv.ParseFloat(x, 64)
			yf, _ := strconv.ParseFloat(y, 64)
			if xf < c.plot.Left-0.1 || xf > c.plot.Right+0.1 || yf < c.plot.Top-0.1 || yf > c.plot.Bottom+0.1 {
				t.Fatalf("point %s outside the plot %+v", pt, c.plot)
			}
		}
	}

	d := distributionChart("t", h)
	var n uint64
	for _, r := range d.Rects {
		s := r.Title[strings.LastIndex(r.Title, ": ")+2:]
		v, err := strconv.ParseUint(strings.TrimSuffix(s, " samples"), 10, 64)
		if err != nil {
			t.Fatalf("bar title %q", r.Title)
		}
		n += v
		if r.X < d.plot.Left-0.1 || r.X+r.W > d.plot.Right+0.1 || r.Y < d.plot.Top-0.1 || r.Y+r.H > d.plot.Bottom+0.1 {
			t.Errorf("bar %+v outside the plot %+v", r, d.plot)
		}
	}
	if n != 1000 {
		t.Errorf("bars hold %d samples, want 1000", n)
	}

	// One sample, and one second: still drawn.
	one := NewHistogram()
	one.Record(time.Millisecond)
	if c := distributionChart("t", one); c.NoData || len(c.Rects) != 1 {
		t.Errorf("one sample: no data %v, %d bars", c.NoData, len(c.Rects))
	}
	r := &Report{Timeline: []Second{{At: 1, Established: 5}}}
	if cs := r.timelineCharts(); len(cs) != 2 || cs[0].NoData || len(cs[1].Dots) != 1 {
		t.Errorf("one second: %d charts", len(cs))
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct{ lo, hi float64 }{
		{0, 1}, {0, 7}, {0, 1234}, {0, 0.003}, {3, 97}, {0, 1e9 + 1}, {0, 0}, {5, 5}, {-3, 12},
	} {
		ticks, step := niceTicks(c.lo, c.hi, 5, 0)
		if len(ticks) < 2 || len(ticks) > 12 {
			t.Errorf("%v: %d ticks %v", c, len(ticks), ticks)
		}
		if ticks[0] > c.lo || ticks[len(ticks)-1] < c.hi {
			t.Errorf("%v: ticks %v do not cover", c, ticks)
		}
		m := step / math.Pow(10, math.Floor(math.Log10(step)))
		if math.Abs(m-1) > 1e-9 && math.Abs(m-2) > 1e-9 && math.Abs(m-5) > 1e-9 {
			t.Errorf("%v: step %v is not 1, 2 or 5 times a power of ten", c, step)
		}
	}
	for _, c := range []struct{ lo, hi float64 }{{1000, 1e9}, {100e3, 130e3}, {5e6, 6e6}, {1, 1e12}} {
		ticks := logDurationTicks(c.lo, c.hi)
		if len(ticks) < 2 || len(ticks) > 13 {
			t.Errorf("log %v: %d ticks %+v", c, len(ticks), ticks)
		}
		for _, tk := range ticks {
			if tk.V < c.lo*(1-1e-9) || tk.V > c.hi*(1+1e-9) {
				t.Errorf("log %v: tick %v outside", c, tk.V)
			}
		}
	}
}

func TestEmptyReport(t *testing.T) {
	for name, r := range map[string]*Report{
		"zero": {},
		"empty histograms": {Latency: NewHistogram(), Connect: NewHistogram(), Handshake: NewHistogram(),
			Errors: map[string]uint64{}, Timeline: []Second{}},
	} {
		t.Run(name, func(t *testing.T) {
			parseSummary(t, r.SummaryLine(), summaryKeys)
			var b bytes.Buffer
			if err := r.WriteTable(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "no data") || !strings.Contains(b.String(), "none") {
				t.Errorf("table:\n%s", b.String())
			}
			b.Reset()
			if err := r.WriteJSON(&b); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(b.Bytes()) {
				t.Errorf("invalid JSON: %s", b.String())
			}
			b.Reset()
			if err := r.WriteHTML(&b); err != nil {
				t.Fatal(err)
			}
			svgs, text := htmlCheck(t, b.Bytes())
			if svgs != 2 || strings.Count(text, "no data") < 3 || !strings.Contains(text, "No errors.") {
				t.Errorf("%d charts; text: %s", svgs, text)
			}
			r.Merge(&Report{})
			r.Merge(r)
		})
	}
}
