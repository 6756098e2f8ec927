package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"

	"github.com/wssd/wssd/engine/enginetest"
)

const (
	// promScrapeInterval is how often the test's Prometheus scrapes wssd.
	promScrapeInterval = time.Second
	// promRateInterval stands for Grafana's $__rate_interval: four scrape
	// intervals of a data source at Prometheus's default 15 s. It spans
	// the whole test, so every rate sees all the scripted traffic.
	promRateInterval = "1m"
	// promInterval stands for Grafana's $__interval.
	promInterval = "15s"
	// promQueryWait bounds how long the dashboard's queries are retried
	// for data once the traffic is done.
	promQueryWait = 30 * time.Second
	// promOrigin is the one web origin wssd lets in.
	promOrigin = "https://app.example"
)

// promNoData lists the dashboard targets that cannot return data in this
// test by their nature, by panel title and refId, with the reason. None
// do: every panel must show something after the scripted traffic.
var promNoData = map[string]string{}

// promZeroOK lists the targets whose every value may be 0 after the
// scripted traffic, by panel title and refId, with the reason. Every
// other target must return a value other than 0: the traffic is meant to
// show in it.
var promZeroOK = map[string]string{
	"TLS queue depth A": "sockets wait for a TLS worker only while every worker is busy; a few handshakes never queue",
	"Slow consumers B":  "slow_consumer_drop counts only under --slow-consumer drop; this wssd closes slow consumers (target A)",
	"Broker D":          "NATS drops messages only for a subscription that falls behind its pending limits (65,536 messages or 64 MiB by default)",
	"GC pause B":        "the quantiles are over runtime.MemStats.PauseNs, the last 256 pauses with zeros for GCs not yet run: p75 is 0 until 65 GCs have run",
}

// TestInteropPrometheus runs the binary with a broker, has a real
// Prometheus (Debian's prometheus package, which make interop installs)
// scrape its admin listener every second, drives scripted traffic that
// gives every panel of dashboard.json something to show, and then runs
// each panel's queries, their Grafana variables substituted, against
// Prometheus's HTTP API until each returns data.
func TestInteropPrometheus(t *testing.T) {
	if os.Getenv("WSSD_INTEROP") != "1" {
		t.Skip("set WSSD_INTEROP=1 to run wssd under a real Prometheus: make interop installs it and runs this test")
	}
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		promBin = "/usr/bin/prometheus"
		if _, err := os.Stat(promBin); err != nil {
			t.Fatalf("prometheus is not installed (Debian's prometheus package; make interop installs it): %v", err)
		}
	}
	targets := dashboardTargets(t)
	bin := os.Getenv("WSSD_INTEROP_BIN")
	if bin == "" {
		bin = buildBinary(t)
	}
	began := time.Now()

	ns := enginetest.StartNATS(t, -1)
	dataDir := t.TempDir()
	p := start(t, bin, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data-dir", dataDir,
		"--admin", "127.0.0.1:0", "--loops", "2", "--broker", ns.ClientURL(), "--anonymous-publish",
		"--allowed-origins", promOrigin, "--handshake-timeout", "1s", "--max-outbound", "65536")
	metricsURL := p.waitLog(t, adminRE)
	wssURL := p.waitLog(t, wssRE)
	wsURL := p.waitLog(t, listeningRE)
	p.waitLog(t, regexp.MustCompile(`msg="broker connected"`))
	mu, err := url.Parse(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wssd at %s and %s, metrics at %s, broker %s", wssURL, wsURL, metricsURL, ns.ClientURL())

	prom := startPrometheus(t, promBin, mu.Host)
	instance := prom.waitScraped(t, p)
	t.Logf("prometheus at %s scrapes wssd as instance %q (%v since start)", prom.url, instance, time.Since(began).Round(time.Millisecond))

	// The instance variable's own query lists the instance.
	prom.checkInstanceVariable(t, instance)

	// The broker goes away and comes back on its port: the broker panel
	// shows the disconnect and the reconnect.
	bounceBroker := func() {
		t.Helper()
		port := ns.Addr().(*net.TCPAddr).Port
		ns.Shutdown()
		p.waitLog(t, regexp.MustCompile(`msg="broker disconnected"`))
		ns = enginetest.StartNATS(t, port)
		p.waitLog(t, regexp.MustCompile(`msg="broker reconnected"`))
	}
	held := promTraffic(t, p, wssURL, wsURL, filepath.Join(dataDir, "dev-ca.pem"), bounceBroker)
	t.Logf("traffic done (%v since start)", time.Since(began).Round(time.Millisecond))

	instanceRE := strings.ReplaceAll(regexp.QuoteMeta(instance), `\`, `\\`)
	prom.checkTargets(t, p, targets, instanceRE)
	t.Logf("queries done (%v since start)", time.Since(began).Round(time.Millisecond))

	// The broker panel with the broker running: connected is 1.
	if v, err := prom.query(fmt.Sprintf(`sum(wssd_broker_connected{instance=~"%s"})`, instanceRE)); err != nil || len(v) != 1 || v[0].value != 1 {
		t.Errorf("wssd_broker_connected with the broker up: %v, %v; want 1", v, err)
	}

	for _, c := range held {
		closeClean(t, c)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(t, wait); code != 0 {
		t.Errorf("exit code %d after SIGTERM; want 0\n%s", code, p.stderr())
	}
	prom.stop(t)
	t.Logf("stopped (%v since start)", time.Since(began).Round(time.Millisecond))
}

// dashTargetRef is one query of dashboard.json, with where it is.
type dashTargetRef struct {
	panel string // the panel's title, after its row's
	refID string
	expr  string
}

func (r dashTargetRef) String() string {
	return fmt.Sprintf("panel %q target %s", r.panel, r.refID)
}

// dashboardTargets returns every target of dashboard.json's panels, rows'
// panels included.
func dashboardTargets(t *testing.T) []dashTargetRef {
	t.Helper()
	data, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var refs []dashTargetRef
	var walk func(panels []dashPanel, in string)
	walk = func(panels []dashPanel, in string) {
		for _, p := range panels {
			walk(p.Panels, in+p.Title+" / ")
			for _, tg := range p.Targets {
				refs = append(refs, dashTargetRef{panel: in + p.Title, refID: tg.RefID, expr: tg.Expr})
			}
		}
	}
	walk(d.Panels, "")
	if len(refs) == 0 {
		t.Fatal("dashboard.json has no targets")
	}
	return refs
}

// grafanaVarRE matches Grafana's variable syntaxes: $name, ${name},
// ${name:format} and [[name]].
var grafanaVarRE = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// expandGrafanaVars substitutes the variables in expr as Grafana would
// for this test's data source, with instanceRE as the instance variable.
func expandGrafanaVars(expr, instanceRE string) (string, error) {
	values := map[string]string{
		"instance":        instanceRE,
		"__rate_interval": promRateInterval,
		"__interval":      promInterval,
	}
	var unknown []string
	out := grafanaVarRE.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVarRE.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		if value, ok := values[name]; ok {
			return value
		}
		unknown = append(unknown, v)
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("variables the test does not substitute: %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// promInstance is a Prometheus server the test started.
type promInstance struct {
	p   *process
	url string // http://127.0.0.1:PORT
}

// startPrometheus starts bin scraping the wssd admin listener at target
// every promScrapeInterval, with its configuration, storage and console
// directories in a temporary directory, listening on a free port of
// 127.0.0.1. It is killed when the test ends if it still runs.
func startPrometheus(t *testing.T, bin, target string) *promInstance {
	t.Helper()
	dir := t.TempDir()
	config := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: wssd
    static_configs:
      - targets: [%[2]q]
`, promScrapeInterval, target)
	configFile := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	// Prometheus cannot be told to take port 0 and say which it took:
	// it gets a port that was free a moment ago, and another if that one
	// was taken meanwhile.
	for try := 1; ; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		p := startProcess(t, bin,
			"--config.file="+configFile,
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr,
			"--web.console.templates="+filepath.Join(dir, "consoles"),
			"--web.console.libraries="+filepath.Join(dir, "console_libraries"),
			"--log.level=warn")
		prom := &promInstance{p: p, url: "http://" + addr}
		err = prom.waitReady()
		switch {
		case err == nil:
			return prom
		case try < 3 && strings.Contains(p.stderr(), "address already in use"):
			t.Logf("prometheus could not listen on %s, taken meanwhile; again on another port", addr)
		default:
			t.Fatalf("prometheus at %s: %v\n%s", prom.url, err, p.stderr())
		}
	}
}

// waitReady waits until Prometheus's /-/ready answers 200.
func (prom *promInstance) waitReady() error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timeout := time.After(wait)
	for {
		resp, err := http.Get(prom.url + "/-/ready")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/-/ready: %s", resp.Status)
		}
		select {
		case <-tick.C:
		case <-prom.p.exited:
			return fmt.Errorf("exited before it was ready: %v", prom.p.err)
		case <-timeout:
			return fmt.Errorf("not ready after %v: %v", wait, err)
		}
	}
}

// stop kills Prometheus, by its PID, and waits for it to exit.
func (prom *promInstance) stop(t *testing.T) {
	t.Helper()
	_ = prom.p.cmd.Process.Kill()
	select {
	case <-prom.p.exited:
	case <-time.After(wait):
		t.Errorf("prometheus (pid %d) did not exit after SIGKILL", prom.p.cmd.Process.Pid)
	}
}

// promSample is one series of an instant query's result.
type promSample struct {
	metric map[string]string
	value  float64
}

func (s promSample) String() string {
	return fmt.Sprintf("%v %g", s.metric, s.value)
}

// errPromQuery is an error Prometheus answered to a query: the query is
// wrong, and asking again will not help.
var errPromQuery = errors.New("prometheus refused the query")

// query runs expr as an instant query through /api/v1/query.
func (prom *promInstance) query(expr string) ([]promSample, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	if err := prom.api("/api/v1/query?"+url.Values{"query": {expr}}.Encode(), &data); err != nil {
		return nil, err
	}
	switch data.ResultType {
	case "vector":
		var raw []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &raw); err != nil {
			return nil, err
		}
		samples := make([]promSample, 0, len(raw))
		for _, r := range raw {
			s, _ := r.Value[1].(string)
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, fmt.Errorf("sample %v: %v", r.Value, err)
			}
			samples = append(samples, promSample{metric: r.Metric, value: v})
		}
		return samples, nil
	case "scalar":
		var raw [2]any
		if err := json.Unmarshal(data.Result, &raw); err != nil {
			return nil, err
		}
		s, _ := raw[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("scalar %v: %v", raw, err)
		}
		return []promSample{{value: v}}, nil
	default:
		return nil, fmt.Errorf("%w: result type %q; a panel's query must be an instant vector or scalar", errPromQuery, data.ResultType)
	}
}

// api GETs path from Prometheus's HTTP API and decodes its data into v.
func (prom *promInstance) api(path string, v any) error {
	resp, err := http.Get(prom.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return fmt.Errorf("%s: HTTP %d: %v", path, resp.StatusCode, err)
	}
	if body.Status != "success" {
		if body.ErrorType == "bad_data" {
			return fmt.Errorf("%w: %s: %s", errPromQuery, body.ErrorType, body.Error)
		}
		return fmt.Errorf("HTTP %d: %s: %s", resp.StatusCode, body.ErrorType, body.Error)
	}
	return json.Unmarshal(body.Data, v)
}

// waitScraped waits until Prometheus has stored a successful scrape of
// wssd, so that the traffic that follows raises counters it has already
// seen at their start, and returns wssd's instance label.
func (prom *promInstance) waitScraped(t *testing.T, wssd *process) string {
	t.Helper()
	tick := time.NewTicker(promScrapeInterval / 4)
	defer tick.Stop()
	timeout := time.After(wait)
	for {
		v, err := prom.query(`up{job="wssd"} == 1`)
		if err == nil && len(v) == 1 && v[0].metric["instance"] != "" {
			return v[0].metric["instance"]
		}
		select {
		case <-tick.C:
		case <-prom.p.exited:
			t.Fatalf("prometheus exited: %v\n%s", prom.p.err, prom.p.stderr())
		case <-wssd.exited:
			t.Fatalf("wssd exited: %v\n%s", wssd.err, wssd.stderr())
		case <-timeout:
			var targets any
			_ = prom.api("/api/v1/targets", &targets)
			t.Fatalf("prometheus has not scraped wssd after %v: up = %v, %v; targets %v\n%s", wait, v, err, targets, prom.p.stderr())
		}
	}
}

// checkInstanceVariable runs the dashboard's instance variable,
// label_values(wssd_connections_active, instance), as Grafana does
// through /api/v1/label/instance/values, and checks it lists instance.
func (prom *promInstance) checkInstanceVariable(t *testing.T, instance string) {
	t.Helper()
	var values []string
	path := "/api/v1/label/instance/values?" + url.Values{"match[]": {"wssd_connections_active"}}.Encode()
	if err := prom.api(path, &values); err != nil {
		t.Errorf("instance variable: %v", err)
		return
	}
	for _, v := range values {
		if v == instance {
			return
		}
	}
	t.Errorf("instance variable: label_values(wssd_connections_active, instance) = %q; want %q among them", values, instance)
}

// checkTargets runs every target's query, its variables substituted,
// until it returns data: a series with a value that is a number (a
// histogram_quantile or a ratio over no observations is NaN, which a
// panel does not draw), and other than 0 unless promZeroOK lists it. Queries are retried each scrape interval until
// promQueryWait has passed; the ones still without data then fail the
// test, each with its panel and expression.
func (prom *promInstance) checkTargets(t *testing.T, wssd *process, targets []dashTargetRef, instanceRE string) {
	t.Helper()
	type pending struct {
		ref    dashTargetRef
		expr   string
		last   string // what the last try returned
		zeroOK bool   // 0 is data enough
	}
	var todo []*pending
	listed := make(map[string]bool)
	for _, ref := range targets {
		key := ref.panel + " " + ref.refID
		listed[key] = true
		if reason, ok := promNoData[key]; ok {
			t.Logf("%s: not checked: %s", ref, reason)
			continue
		}
		expr, err := expandGrafanaVars(ref.expr, instanceRE)
		if err != nil {
			t.Errorf("%s: %s: %v", ref, ref.expr, err)
			continue
		}
		todo = append(todo, &pending{ref: ref, expr: expr, zeroOK: promZeroOK[key] != ""})
	}
	for _, m := range []map[string]string{promNoData, promZeroOK} {
		for key := range m {
			if !listed[key] {
				t.Errorf("the test lists %q, which is no longer a target of dashboard.json", key)
			}
		}
	}
	tick := time.NewTicker(promScrapeInterval)
	defer tick.Stop()
	timeout := time.After(promQueryWait)
	for tries := 1; ; tries++ {
		var left []*pending
		for _, q := range todo {
			v, err := prom.query(q.expr)
			switch {
			case errors.Is(err, errPromQuery):
				t.Errorf("%s: the query is wrong: %s: %v", q.ref, q.expr, err)
			case err != nil:
				q.last = err.Error()
				left = append(left, q)
			case !promHasData(v, q.zeroOK):
				q.last = fmt.Sprintf("%v", v)
				if len(v) == 0 {
					q.last = "no series"
				}
				left = append(left, q)
			default:
				t.Logf("%s: %s → %v (try %d)", q.ref, q.expr, v, tries)
			}
		}
		todo = left
		if len(todo) == 0 {
			return
		}
		select {
		case <-tick.C:
			continue
		case <-prom.p.exited:
			t.Errorf("prometheus exited: %v\n%s", prom.p.err, prom.p.stderr())
		case <-wssd.exited:
			t.Errorf("wssd exited: %v\n%s", wssd.err, wssd.stderr())
		case <-timeout:
		}
		break
	}
	for _, q := range todo {
		t.Errorf("%s returned no data after %v: %s\n\tgot: %s", q.ref, promQueryWait, q.expr, q.last)
	}
}

// promHasData reports whether v has a series whose value is a number,
// and unless zeroOK one other than 0.
func promHasData(v []promSample, zeroOK bool) bool {
	for _, s := range v {
		if !math.IsNaN(s.value) && (zeroOK || s.value != 0) {
			return true
		}
	}
	return false
}

// promTraffic drives the scripted traffic the dashboard's panels show,
// and returns the connections it keeps open for the gauges (active
// connections, topics with subscribers) until the queries are done:
//
//   - echo over wss:// from the allowed origin, closed with 1000;
//   - a subscriber and a publisher on /ws over wss://, through the
//     broker, which bounceBroker restarts between the subscription and
//     the publications;
//   - a refusal: an upgrade from an origin not allowed (403);
//   - a deadline expiry: a TCP connection to the wss:// listener that
//     sends nothing until --handshake-timeout closes it;
//   - a slow consumer on ws:// that sends more than --max-outbound of
//     echoes and reads none (closed with 1008).
func promTraffic(t *testing.T, p *process, wssURL, wsURL, ca string, bounceBroker func()) []*websocket.Conn {
	t.Helper()
	u, err := url.Parse(wssURL)
	if err != nil {
		t.Fatal(err)
	}
	wssAddr := net.JoinHostPort("127.0.0.1", u.Port())
	wssBase := strings.TrimSuffix(wssURL, "/echo")

	// The silent connection first: its deadline runs while the rest goes.
	silent, err := net.DialTimeout("tcp", wssAddr, wait)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	silentClosed := make(chan error, 1)
	go func() {
		_ = silent.SetReadDeadline(time.Now().Add(wait))
		_, err := silent.Read(make([]byte, 1))
		silentClosed <- err
	}()

	d := websocket.Dialer{TLSClientConfig: trusting(t, ca), HandshakeTimeout: wait}
	allowed := http.Header{"Origin": {promOrigin}}
	dial := func(url string, h http.Header) *websocket.Conn {
		t.Helper()
		c, _, err := d.Dial(url, h)
		if err != nil {
			t.Fatalf("dial %s: %v\n%s", url, err, p.stderr())
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(wait))
		_ = c.SetWriteDeadline(time.Now().Add(wait))
		return c
	}
	roundTrip := func(c *websocket.Conn, req, want string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("sent %s, read %q, %v; want %s", req, got, err, want)
		}
	}

	// Echo: messages of a few sizes, then a clean close.
	echo := dial(wssURL, allowed)
	for i := range 20 {
		msg := strings.Repeat("e", 1<<(i%12))
		roundTrip(echo, msg, msg)
	}
	closeClean(t, echo)
	held := []*websocket.Conn{dial(wssURL, allowed)}
	roundTrip(held[0], "held", "held")

	// Pub/sub through the broker.
	sub, pub := dial(wssBase+"/ws", nil), dial(wssBase+"/ws", nil)
	roundTrip(sub, `{"op":"subscribe","topic":"dashboard","id":1}`, `{"op":"ack","id":1}`)
	bounceBroker()
	for i := range 10 {
		roundTrip(pub, fmt.Sprintf(`{"op":"publish","topic":"dashboard","data":%d,"id":%d}`, i, i), fmt.Sprintf(`{"op":"ack","id":%d}`, i))
		want := fmt.Sprintf(`{"op":"message","topic":"dashboard","data":%d}`, i)
		if _, got, err := sub.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("subscriber read %q, %v; want %s", got, err, want)
		}
	}
	closeClean(t, pub)
	held = append(held, sub)

	// An origin that is not allowed.
	if c, resp, err := d.Dial(wssURL, http.Header{"Origin": {"https://elsewhere.example"}}); err == nil {
		c.Close()
		t.Fatalf("an upgrade from a foreign origin was accepted")
	} else if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("an upgrade from a foreign origin: %v, %v; want 403", resp, err)
	}

	// A slow consumer: a small receive buffer, and echoes never read.
	slowDialer := websocket.Dialer{HandshakeTimeout: wait, NetDial: func(network, addr string) (net.Conn, error) {
		nd := net.Dialer{Timeout: wait, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4096)
			}); err != nil {
				return err
			}
			return serr
		}}
		return nd.Dial(network, addr)
	}}
	slow, _, err := slowDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	defer slow.Close()
	_ = slow.SetWriteDeadline(time.Now().Add(wait))
	chunk := make([]byte, 32<<10)
	for i := 0; i < 1024; i++ { // 32 MiB at most: more than any socket buffers
		if err := slow.WriteMessage(websocket.BinaryMessage, chunk); err != nil {
			break // closed by the server
		}
	}
	p.waitLog(t, regexp.MustCompile(`reason=slow_consumer\b`))

	select {
	case err := <-silentClosed:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("the silent connection was not closed by --handshake-timeout within %v", wait)
		}
	case <-time.After(wait + time.Second):
		t.Fatal("the silent connection's reader did not return")
	}
	return held
}

// closeClean closes c with 1000 and waits for the server's close frame.
func closeClean(t *testing.T, c *websocket.Conn) {
	t.Helper()
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
				t.Errorf("close: %v; want the server's 1000", err)
			}
			break
		}
	}
	c.Close()
}
