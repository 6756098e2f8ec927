package engine

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	gws "github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// TestMetricsSession runs a scripted session over ws:// and wss:// (two
// connections exchanging messages, a refusal, an idle expiry, a close)
// and checks, from /metrics parsed by Prometheus's parser, that each
// series it touches moved by exactly the expected amount and that no
// other wssd series moved.
func TestMetricsSession(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		name := map[bool]string{false: "ws", true: "wss"}[secure]
		t.Run(name, func(t *testing.T) {
			origins, err := security.ParseOrigins([]string{"https://app.example.com"})
			if err != nil {
				t.Fatal(err)
			}
			cfg := Config{Metrics: metrics.NewSet(), Origins: origins, IdleTimeout: time.Second}
			var srv *Server
			var url string
			var ccfg *tls.Config
			if secure {
				var addr string
				srv, addr, ccfg = startTLSServer(t, cfg)
				url = "wss://" + addr + "/echo"
			} else {
				var addr string
				srv, addr = startServer(t, cfg)
				url = "ws://" + addr + "/echo"
			}
			admin := httptest.NewServer(srv.AdminHandler(AdminOptions{}))
			defer admin.Close()
			d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: gateWait}

			before := enginetest.Scrape(t, admin.URL)
			a, _, err := d.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			for range 3 {
				gateEcho(t, a, "hello")
			}
			if _, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("foreign origin: %v, %v; want 403", resp, err)
			}
			if err := a.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, "bye"), time.Now().Add(gateWait)); err != nil {
				t.Fatal(err)
			}
			gateWantCloseOnly(t, a, gws.CloseNormalClosure, "bye")
			b, _, err := d.Dial(url, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			gateWantCloseOnly(t, b, gws.CloseGoingAway, "idle timeout") // gorilla answers it
			for deadline := time.Now().Add(gateWait); srv.Active() > 0; {
				if time.Now().After(deadline) {
					t.Fatal("connections still open")
				}
				time.Sleep(10 * time.Millisecond) // the server closes TCP after the close handshake
			}
			after := enginetest.Scrape(t, admin.URL)

			l := `{listener="` + name + `"}`
			want := map[string]float64{
				"wssd_connections_accepted_total" + l:                     3,
				"wssd_connections_opened_total" + l:                       2,
				"wssd_connections_closed_total" + l:                       2,
				"wssd_messages_received_total":                            3,
				"wssd_messages_sent_total":                                3,
				"wssd_messages_received_bytes_total":                      15,
				"wssd_messages_sent_bytes_total":                          15,
				`wssd_close_frames_sent_total{code="1000"}`:               1,
				`wssd_close_frames_sent_total{code="1001"}`:               1,
				`wssd_close_frames_received_total{code="1000"}`:           1,
				`wssd_close_frames_received_total{code="1001"}`:           1,
				`wssd_refusals_total{reason="origin"}`:                    1,
				`wssd_deadline_expiries_total{kind="idle"}`:               1,
				`wssd_upgrade_responses_total{status="101"}`:              2,
				`wssd_upgrade_responses_total{status="403"}`:              1,
				"wssd_upgrade_duration_seconds":                           2,
				`wssd_tls_handshakes_total{result="ok"}`:                  0,
				"wssd_tls_handshake_duration_seconds":                     0,
				`wssd_tls_sessions_total{records="wssd",version="1.3"}`:   0,
				"wssd_connections_active" + l:                             0,
				`wssd_connections_active{listener="` + other(name) + `"}`: 0,
			}
			if secure {
				want[`wssd_tls_handshakes_total{result="ok"}`] = 3
				want["wssd_tls_handshake_duration_seconds"] = 3
				want[`wssd_tls_sessions_total{records="wssd",version="1.3"}`] = 3
			}
			for key, v := range after {
				if !strings.HasPrefix(key, "wssd_") || strings.HasPrefix(key, "wssd_loop_lag_seconds") ||
					strings.HasPrefix(key, "wssd_outbound_") || key == "wssd_tls_queue_depth" {
					continue
				}
				if got := v - before[key]; got != want[key] {
					t.Errorf("%s moved by %v, want %v", key, got, want[key])
				}
			}
			for key := range want {
				if _, ok := after[key]; !ok {
					t.Errorf("%s missing from /metrics", key)
				}
			}
			if after[`wssd_loop_lag_seconds{loop="0"}`] == 0 {
				t.Error("no loop lag observed")
			}
			for _, key := range []string{"go_goroutines", "process_resident_memory_bytes"} {
				if _, ok := after[key]; !ok {
					t.Errorf("%s missing from /metrics", key)
				}
			}
		})
	}
}

func other(listener string) string {
	if listener == "ws" {
		return "wss"
	}
	return "ws"
}

// TestAdminEndpoints: health is always ok, readiness follows the server's
// life, pprof is there only when asked for.
func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	srv, err := New(Config{ListenPlain: "127.0.0.1:0", Routes: map[string]Handler{"/echo": Echo{}}})
	if err != nil {
		t.Fatal(err)
	}
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{}))
	defer admin.Close()
	status := func(path string) int {
		t.Helper()
		resp, err := http.Get(admin.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz: %d", got)
	}
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Start: %d, want 503", got)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	if got := status("/readyz"); got != http.StatusOK {
		t.Errorf("/readyz serving: %d, want 200", got)
	}
	if got := status("/debug/pprof/"); got != http.StatusNotFound {
		t.Errorf("/debug/pprof/ without Pprof: %d, want 404", got)
	}
	if got := status("/metrics"); got != http.StatusOK {
		t.Errorf("/metrics without a metrics set: %d, want 200 (process metrics)", got)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(t.Context()) }()
	<-srv.stopping
	if got := status("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz draining: %d, want 503", got)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	withPprof := httptest.NewServer(srv.AdminHandler(AdminOptions{Pprof: true}))
	defer withPprof.Close()
	resp, err := http.Get(withPprof.URL + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/debug/pprof/ with Pprof: %d", resp.StatusCode)
	}
}

// blockingEcho echoes after holding its event loop for a while, as a
// handler that blocks would.
type blockingEcho struct{ d time.Duration }

func (blockingEcho) OnOpen(*Conn) {}
func (h blockingEcho) OnMessage(c *Conn, op codec.OpCode, p []byte) {
	time.Sleep(h.d) // the loop is blocked: what the lag metric must show
	_ = c.Write(op, p)
}
func (blockingEcho) OnClose(*Conn, codec.StatusCode, string) {}

// TestLoopLag: a handler that holds its loop for 1.2 s shows in that
// loop's lag histogram as an observation over half a second. (The lag
// counts from the first tick the loop missed, up to 100 ms after the
// block began, plus however late the ticker ran under load: the margin
// is for that.)
func TestLoopLag(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, Config{Loops: 1, Metrics: metrics.NewSet(), Routes: map[string]Handler{"/echo": blockingEcho{1200 * time.Millisecond}}})
	c, _, err := gateDial(t, addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gateEcho(t, c, "block")
	srv.FlushMetrics()
	var b strings.Builder
	srv.cfg.Metrics.WritePrometheus(&b)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	f := fams["wssd_loop_lag_seconds"]
	if f == nil || len(f.GetMetric()) != 1 {
		t.Fatalf("no lag histogram for the one loop:\n%s", b.String())
	}
	h := f.GetMetric()[0].GetHistogram()
	var underHalf uint64
	for _, bk := range h.GetBucket() {
		if bk.GetUpperBound() == 0.5 {
			underHalf = bk.GetCumulativeCount()
		}
	}
	if h.GetSampleCount()-underHalf < 1 {
		t.Errorf("no lag over 0.5 s observed after blocking the loop 1.2 s: %d samples, %d under 0.5 s", h.GetSampleCount(), underHalf)
	}
}

// TestOutboundGauges: the outbound gauges, sampled when read rather than
// every second, show what waits for a client that does not read, and go
// back to zero once the client has read it all.
func TestOutboundGauges(t *testing.T) {
	t.Parallel()
	// 16 MiB of echoes: more than the kernel buffers on both ends take.
	const size, messages = 64 << 10, 256
	got := make(chan string, messages+1)
	set := metrics.NewSet()
	srv, addr := startServer(t, Config{Metrics: set, MaxOutbound: 64 << 20, Routes: map[string]Handler{"/echo": signalEcho{got}}})
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{}))
	defer admin.Close()
	const bytesKey, connsKey = "wssd_outbound_queued_bytes", "wssd_outbound_queued_connections"

	c := confDialBuffer(t, confAddr{hostport: addr}, 4096)
	if b, n := outboundGauges(t, set); b != 0 || n != 0 {
		t.Fatalf("%v bytes queued for %v connections before anything was sent", b, n)
	}
	frame := confBuildFrame(cfFin|cfBinary, confPattern(size, true), true)
	for range messages {
		c.mustSend(frame, 0)
	}
	c.mustSend(confFrame(cfFin|cfText, "end"), 0)
	for m := ""; m != "end"; {
		select {
		case m = <-got:
		case <-time.After(confWait):
			t.Fatal("the handler did not get the last message")
		}
	}

	s := enginetest.Scrape(t, admin.URL)
	if b, n := s[bytesKey], s[connsKey]; b == 0 || b > messages*(size+14) || n != 1 {
		t.Errorf("scraped: %v bytes queued for %v connections; want some for 1", b, n)
	}

	for i := 0; i <= messages; i++ {
		if _, _, err := c.readFrame(); err != nil {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(confWait)
	for {
		s := enginetest.Scrape(t, admin.URL)
		if s[bytesKey] == 0 && s[connsKey] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v bytes still queued for %v connections after the client read everything", s[bytesKey], s[connsKey])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// outboundGauges reads the outbound gauges straight from set, with no
// flush.
func outboundGauges(t *testing.T, set *metrics.Set) (bytes, conns float64) {
	t.Helper()
	var b strings.Builder
	set.WritePrometheus(&b)
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		f := fams[name]
		if f == nil || len(f.GetMetric()) != 1 {
			t.Fatalf("no %s in:\n%s", name, b.String())
		}
		m := f.GetMetric()[0]
		if f.GetType() == dto.MetricType_GAUGE {
			return m.GetGauge().GetValue()
		}
		return m.GetUntyped().GetValue() // no TYPE line: metrics.ExposeMetadata is off
	}
	return value("wssd_outbound_queued_bytes"), value("wssd_outbound_queued_connections")
}

// TestQuietLoopNotWoken: a loop whose connections have nothing due is not
// sent the ticks, and its lag histogram counts them as on time, so its
// _count still grows by ten a second.
func TestQuietLoopNotWoken(t *testing.T) {
	t.Parallel()
	cfg, clk := clocked(Config{Loops: 1, Metrics: metrics.NewSet(), PingInterval: -1})
	srv, addr := startServer(t, cfg)
	c, _, err := gateDial(t, addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gateEcho(t, c, "hello")
	l := srv.loopList()[0]
	lag := func() (n uint64, sum uint64) {
		for i := range l.lag.counts {
			n += l.lag.counts[i].Load()
		}
		return n, l.lag.sum.Load()
	}
	// The ticks after the echo run, until one passes that the loop is not
	// sent: on a busy machine, what the echo left on the loop (a write's
	// completion, say) may take a few.
	for i := 0; ; i++ {
		_, before := lag()
		clk.Advance(tick)
		enginetest.WaitFor(t, "the loop to run its ticks", func() bool { return l.posted.Load() == 0 })
		if _, after := lag(); after == before {
			break
		}
		if i == 50 {
			t.Fatal("the loop was sent every tick of 50 after the echo")
		}
	}
	n0, sum0 := lag()
	clk.Advance(10 * tick)
	n1, sum1 := lag()
	if n1-n0 < 10 {
		t.Errorf("%d ticks counted for ten; want every one", n1-n0)
	}
	if sum1 != sum0 {
		t.Error("a quiet loop was sent ticks: its lag grew")
	}
	gateEcho(t, c, "still here")
}

// TestAdminHelp: with AdminOptions.Help, each family the exposition types
// has its HELP text, escaped as the text format wants, and Prometheus's
// parser reads it; a family Help has no text for gets no HELP line.
func TestAdminHelp(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, Config{Loops: 1, Metrics: metrics.NewSet()})
	c, _, err := gateDial(t, addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	gateEcho(t, c, "x") // a loop with a connection writes its lag
	help := map[string]string{
		"wssd_upgrade_duration_seconds": `from a socket on its loop to its 101 \ and a second line` + "\n" + "here",
		"wssd_loop_lag_seconds":         "how late the tick runs",
	}
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{Help: func(f string) string { return help[f] }}))
	defer admin.Close()
	resp, err := http.Get(admin.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p expfmt.TextParser
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for name, want := range help {
		if f := fams[name]; f == nil || f.GetHelp() != want {
			t.Errorf("%s: HELP %q; want %q", name, f.GetHelp(), want)
		}
	}
	if f := fams["wssd_tls_handshake_duration_seconds"]; f == nil || f.Help != nil {
		t.Errorf("wssd_tls_handshake_duration_seconds: %v; want no HELP", f)
	}
}
