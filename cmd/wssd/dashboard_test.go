package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// dashboardMetrics are the series wssd's admin listener serves: its own
// (see Metrics in README.md) and the Go runtime's and the process's that
// the dashboard may use. go_memstats_* is a prefix.
var dashboardMetrics = map[string]bool{
	"wssd_connections_accepted_total":     true,
	"wssd_connections_opened_total":       true,
	"wssd_connections_closed_total":       true,
	"wssd_connections_active":             true,
	"wssd_tls_handshakes_total":           true,
	"wssd_tls_handshake_duration_seconds": true,
	"wssd_tls_queue_depth":                true,
	"wssd_upgrade_responses_total":        true,
	"wssd_upgrade_duration_seconds":       true,
	"wssd_messages_received_total":        true,
	"wssd_messages_sent_total":            true,
	"wssd_messages_received_bytes_total":  true,
	"wssd_messages_sent_bytes_total":      true,
	"wssd_close_frames_received_total":    true,
	"wssd_close_frames_sent_total":        true,
	"wssd_refusals_total":                 true,
	"wssd_deadline_expiries_total":        true,
	"wssd_outbound_queued_bytes":          true,
	"wssd_outbound_queued_connections":    true,
	"wssd_loop_lag_seconds":               true,
	"wssd_pubsub_published_total":         true,
	"wssd_pubsub_delivered_total":         true,
	"wssd_pubsub_topics":                  true,
	"wssd_pubsub_fanout_seconds":          true,
	"wssd_broker_connected":               true,
	"wssd_broker_disconnects_total":       true,
	"wssd_broker_reconnects_total":        true,
	"wssd_broker_dropped_total":           true,
	"go_goroutines":                       true,
	"go_gc_duration_seconds":              true,
	"process_cpu_seconds_total":           true,
	"process_resident_memory_bytes":       true,
	"process_open_fds":                    true,
	"process_max_fds":                     true,
}

// dashboardHistograms are the histograms and summaries, whose series add
// _bucket, _sum and _count to the name.
var dashboardHistograms = map[string]bool{
	"wssd_tls_handshake_duration_seconds": true,
	"wssd_upgrade_duration_seconds":       true,
	"wssd_loop_lag_seconds":               true,
	"wssd_pubsub_fanout_seconds":          true,
	"go_gc_duration_seconds":              true,
}

const (
	dashboardDatasource = "${datasource}"
	dashboardInstance   = `instance=~"$instance"`
	dashboardWidth      = 24
)

type dashDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashGridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

type dashTarget struct {
	Datasource *dashDatasource `json:"datasource"`
	Expr       string          `json:"expr"`
	RefID      string          `json:"refId"`
}

type dashPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Collapsed  bool            `json:"collapsed"`
	Datasource *dashDatasource `json:"datasource"`
	GridPos    *dashGridPos    `json:"gridPos"`
	Targets    []dashTarget    `json:"targets"`
	Panels     []dashPanel     `json:"panels"`
}

type dashVariable struct {
	Type       string          `json:"type"`
	Name       string          `json:"name"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	Datasource *dashDatasource `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

type dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	Tags          []string    `json:"tags"`
	Refresh       string      `json:"refresh"`
	SchemaVersion int         `json:"schemaVersion"`
	Panels        []dashPanel `json:"panels"`
	Time          struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"time"`
	Templating struct {
		List []dashVariable `json:"list"`
	} `json:"templating"`
}

// metricNameRE matches PromQL identifiers; the metric names are those
// among them with a known prefix.
var metricNameRE = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// readmeMetricRE matches the metric names in the rows of README.md's
// table of metrics.
var readmeMetricRE = regexp.MustCompile("(?m)^\\| `(wssd_[a-zA-Z0-9_:]+)`")

// exprMetrics returns the wssd_, go_ and process_ names in expr, each with
// the offset just past it.
func exprMetrics(expr string) (names []string, ends []int) {
	for _, loc := range metricNameRE.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		if strings.HasPrefix(name, "wssd_") || strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			names = append(names, name)
			ends = append(ends, loc[1])
		}
	}
	return names, ends
}

// baseMetric is the metric a series name belongs to: without the _bucket,
// _sum or _count of a histogram or summary.
func baseMetric(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && dashboardHistograms[base] {
			return base
		}
	}
	return name
}

func knownMetric(name string) bool {
	return dashboardMetrics[name] || strings.HasPrefix(name, "go_memstats_") && len(name) > len("go_memstats_")
}

// checkLayout reports panels in one grid that leave the grid or overlap.
func checkLayout(t *testing.T, where string, panels []dashPanel, topLevel bool) {
	t.Helper()
	type placed struct {
		title string
		pos   dashGridPos
	}
	var seen []placed
	for _, p := range panels {
		if p.GridPos == nil {
			t.Errorf("%s: panel %d %q has no gridPos", where, p.ID, p.Title)
			continue
		}
		pos := *p.GridPos
		if topLevel && p.Type == "row" {
			pos = dashGridPos{X: 0, W: dashboardWidth, Y: pos.Y, H: 1}
		}
		if pos.X < 0 || pos.Y < 0 || pos.W <= 0 || pos.H <= 0 || pos.X+pos.W > dashboardWidth {
			t.Errorf("%s: panel %d %q has gridPos %+v outside the %d-wide grid", where, p.ID, p.Title, pos, dashboardWidth)
			continue
		}
		for _, q := range seen {
			if pos.X < q.pos.X+q.pos.W && q.pos.X < pos.X+pos.W && pos.Y < q.pos.Y+q.pos.H && q.pos.Y < pos.Y+pos.H {
				t.Errorf("%s: panel %d %q at %+v overlaps %q at %+v", where, p.ID, p.Title, pos, q.title, q.pos)
			}
		}
		seen = append(seen, placed{p.Title, pos})
	}
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatal("dashboard.json is not valid JSON")
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}

	if d.UID != "wssd-overview" || d.Title != "wssd" {
		t.Errorf("uid %q, title %q; want wssd-overview, wssd", d.UID, d.Title)
	}
	if !slices.Contains(d.Tags, "wssd") || !slices.Contains(d.Tags, "websocket") {
		t.Errorf("tags %q; want wssd and websocket", d.Tags)
	}
	if d.Refresh != "30s" || d.Time.From != "now-1h" || d.Time.To != "now" {
		t.Errorf("refresh %q, time %q to %q; want 30s, now-1h to now", d.Refresh, d.Time.From, d.Time.To)
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion %d; want a Grafana 10 or later model", d.SchemaVersion)
	}

	// used collects the metrics the dashboard queries, by base name.
	used := make(map[string]bool)

	// Template variables.
	vars := make(map[string]dashVariable)
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v, ok := vars["datasource"]; !ok || v.Type != "datasource" || string(v.Query) != `"prometheus"` {
		t.Errorf("no datasource variable of type prometheus: %+v", v)
	}
	if v, ok := vars["instance"]; !ok {
		t.Error("no instance variable")
	} else {
		const q = "label_values(wssd_connections_active, instance)"
		if v.Type != "query" || !v.Multi || !v.IncludeAll || !strings.Contains(string(v.Query), q) {
			t.Errorf("instance variable: want a multi query variable with All on %s: %+v", q, v)
		}
		if v.Datasource == nil || v.Datasource.UID != dashboardDatasource {
			t.Errorf("instance variable: datasource %+v; want uid %s", v.Datasource, dashboardDatasource)
		}
		names, _ := exprMetrics(v.Definition + " " + string(v.Query))
		for _, name := range names {
			if !knownMetric(baseMetric(name)) {
				t.Errorf("instance variable: unknown metric %s", name)
			}
		}
	}

	// Panels, and the panels in rows.
	ids := make(map[int]string)
	var walk func(panels []dashPanel, in string)
	walk = func(panels []dashPanel, in string) {
		for _, p := range panels {
			where := in + "panel " + p.Title
			if p.ID <= 0 {
				t.Errorf("%s: id %d; want a positive id", where, p.ID)
			} else if other, dup := ids[p.ID]; dup {
				t.Errorf("%s: id %d is also the id of %q", where, p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				if p.Datasource != nil && p.Datasource.UID != dashboardDatasource {
					t.Errorf("%s: datasource %+v; want uid %s", where, *p.Datasource, dashboardDatasource)
				}
				walk(p.Panels, "row "+p.Title+": ")
				continue
			}
			if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != dashboardDatasource {
				t.Errorf("%s: datasource %+v; want {prometheus %s}", where, p.Datasource, dashboardDatasource)
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: no targets", where)
			}
			for _, tg := range p.Targets {
				where := where + " target " + tg.RefID
				if tg.Datasource != nil && (tg.Datasource.Type != "prometheus" || tg.Datasource.UID != dashboardDatasource) {
					t.Errorf("%s: datasource %+v; want {prometheus %s}", where, *tg.Datasource, dashboardDatasource)
				}
				expr := strings.TrimSpace(tg.Expr)
				if expr == "" {
					t.Errorf("%s: empty expr", where)
					continue
				}
				names, ends := exprMetrics(expr)
				if len(names) == 0 {
					t.Errorf("%s: %s queries no metric", where, expr)
				}
				for i, name := range names {
					base := baseMetric(name)
					if !knownMetric(base) {
						t.Errorf("%s: unknown metric %s in %s", where, name, expr)
					}
					used[base] = true
					rest := strings.TrimLeft(expr[ends[i]:], " ")
					selector, _, closed := strings.Cut(rest, "}")
					if !strings.HasPrefix(rest, "{") || !closed || !strings.Contains(selector, dashboardInstance) {
						t.Errorf("%s: %s is not selected by %s in %s", where, name, dashboardInstance, expr)
					}
				}
			}
		}
	}
	walk(d.Panels, "")
	if len(ids) == 0 {
		t.Fatal("no panels")
	}

	// Layout: the top-level grid, and the grid inside each row (where a
	// collapsed row keeps its panels).
	checkLayout(t, "top level", d.Panels, true)
	for _, p := range d.Panels {
		if p.Type == "row" && len(p.Panels) > 0 {
			checkLayout(t, "row "+p.Title, p.Panels, false)
		}
	}

	// Every wssd metric has a panel.
	for name := range dashboardMetrics {
		if strings.HasPrefix(name, "wssd_") && !used[name] {
			t.Errorf("no panel queries %s", name)
		}
	}

	// The wssd metrics used are those README.md documents.
	documented := readmeMetrics(t)
	for name := range used {
		if strings.HasPrefix(name, "wssd_") && !documented[name] {
			t.Errorf("the dashboard uses %s, which README.md's table of metrics does not list", name)
		}
	}
}

// readmeMetrics returns the wssd_ metrics README.md's table lists. It
// fails the test when the README or its table is missing: what is checked
// against it would then pass for nothing.
func readmeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := make(map[string]bool)
	for _, m := range readmeMetricRE.FindAllStringSubmatch(string(readme), -1) {
		documented[m[1]] = true
	}
	if len(documented) == 0 {
		t.Fatal("README.md has no table of wssd_ metrics")
	}
	return documented
}

// TestMetricsDocumented: the README's metrics table, the metrics wssd
// registers (the engine's, the hub's and the broker's, in one set) and
// the HELP texts of metricHelp are the same list.
func TestMetricsDocumented(t *testing.T) {
	o, err := parseFlags([]string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0",
		"--broker", "nats://127.0.0.1:1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	set := metrics.NewSet()
	if _, _, _, err := newServer(o, slog.New(slog.NewTextHandler(io.Discard, nil)), set); err != nil {
		t.Fatal(err)
	}
	documented := readmeMetrics(t)
	registered := map[string]bool{}
	for _, name := range set.ListMetricNames() {
		name, _, _ = strings.Cut(name, "{")
		registered[name] = true
	}
	var b strings.Builder
	set.WritePrometheus(&b)
	registered["wssd_loop_lag_seconds"] = true // written per loop, once loops run
	for _, m := range regexp.MustCompile(`(?m)^(wssd_[a-z_]+?)(_bucket|_sum|_count)?[{ ]`).FindAllStringSubmatch(b.String(), -1) {
		registered[m[1]] = true
	}
	for name := range registered {
		if !documented[name] {
			t.Errorf("%s is not in the README's metrics table", name)
		}
	}
	for name := range documented {
		if !registered[name] {
			t.Errorf("the README documents %s, which the server does not have", name)
		}
	}
	for name := range registered {
		if metricHelp[name] == "" {
			t.Errorf("%s has no HELP text in metricHelp", name)
		}
	}
	for name := range metricHelp {
		if !documented[name] {
			t.Errorf("metricHelp has %s, which the README's metrics table does not", name)
		}
	}
}
