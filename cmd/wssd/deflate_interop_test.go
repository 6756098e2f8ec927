package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"

	"github.com/wssd/wssd/engine"
)

// TestInteropDeflate runs clients that offer permessage-deflate (RFC 7692)
// by default against the built binary over wss://, as TestInterop does:
// Node's ws, Python's websockets (also asking for a server window of 2^9
// and 2^10 bytes) and headless Chromium, each checking its echoes; then it
// reads from the admin listener's metrics that compressed messages went
// both ways. One binary serves each configuration: the defaults, context
// takeover (--deflate-context-takeover), and the extension declined
// (--deflate=false). Like TestInterop it runs with WSSD_INTEROP=1 (make
// interop).
func TestInteropDeflate(t *testing.T) {
	if os.Getenv("WSSD_INTEROP") != "1" {
		t.Skip("set WSSD_INTEROP=1 to run the permessage-deflate interop clients (Node ws, Python websockets, Chromium): make interop installs them and runs this test")
	}
	for _, pkg := range []string{"ws", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(interopDir, "node", "node_modules", pkg)); err != nil {
			t.Fatalf("%s is not installed (npm ci in %s/node; make interop does it): %v", pkg, interopDir, err)
		}
	}
	bin := os.Getenv("WSSD_INTEROP_BIN")
	if bin == "" {
		bin = buildBinary(t)
	}
	dataDir := t.TempDir()
	nodeDeflate := filepath.Join(interopDir, "node", "deflate.mjs")
	pyDeflate := filepath.Join(interopDir, "python", "deflate.py")

	// Node's run of 200 similar messages without context takeover, to
	// compare the run with it against.
	var noTakeover *deflateRun

	t.Run("defaults", func(t *testing.T) {
		s := startDeflateServer(t, bin, dataDir)
		// No window kept either way: the answer says so, whatever the
		// offer.
		none := []string{"server_no_context_takeover", "client_no_context_takeover"}

		t.Run("node ws", func(t *testing.T) {
			r := s.run(t, 40*time.Second, "node", nodeDeflate, s.url, s.ca, "--similar", "200")
			r.checkAnswer(t, none...)
			r.checkCompressed(t)
			noTakeover = r
		})
		t.Run("python websockets", func(t *testing.T) {
			r := s.run(t, 40*time.Second, "/usr/bin/python3", pyDeflate, s.url, s.ca)
			r.checkAnswer(t, none...)
			r.checkCompressed(t)
		})
		for _, bits := range []string{"9", "10"} {
			t.Run("python websockets server_max_window_bits="+bits, func(t *testing.T) {
				r := s.run(t, 40*time.Second, "/usr/bin/python3", pyDeflate, s.url, s.ca, "--server-max-window-bits", bits)
				r.checkAnswer(t, append(none, "server_max_window_bits="+bits)...)
				r.checkCompressed(t)
			})
		}
		t.Run("chromium", func(t *testing.T) {
			r := s.run(t, 90*time.Second, "node", filepath.Join(interopDir, "browser", "deflate.mjs"), s.byName(), s.ca)
			r.checkAnswer(t, none...)
			r.checkCompressed(t)
		})
		s.stop(t)
	})

	t.Run("context takeover", func(t *testing.T) {
		s := startDeflateServer(t, bin, dataDir, "--deflate-context-takeover")

		t.Run("node ws", func(t *testing.T) {
			r := s.run(t, 40*time.Second, "node", nodeDeflate, s.url, s.ca, "--similar", "200")
			// ws offers client_max_window_bits and no server window:
			// both windows are kept, the client's within the default
			// --deflate-window-bits.
			r.checkAnswer(t, "client_max_window_bits=13")
			r.checkCompressed(t)
			if noTakeover == nil {
				t.Log("no run without context takeover to compare with")
				return
			}
			// The same messages, each able to refer back to the ones
			// before: fewer compressed bytes per plaintext byte, both
			// ways.
			for _, d := range []struct {
				dir        string
				with, ctrl float64
			}{
				{"received", r.got.ratioIn(), noTakeover.got.ratioIn()},
				{"sent", r.got.ratioOut(), noTakeover.got.ratioOut()},
			} {
				t.Logf("%s: compressed/plain %.3f with context takeover, %.3f without", d.dir, d.with, d.ctrl)
				if !(d.with < d.ctrl) {
					t.Errorf("%s: compressed/plain is %.3f with context takeover; want less than the %.3f without", d.dir, d.with, d.ctrl)
				}
			}
		})
		t.Run("python websockets", func(t *testing.T) {
			r := s.run(t, 40*time.Second, "/usr/bin/python3", pyDeflate, s.url, s.ca)
			r.checkAnswer(t, "client_max_window_bits=13")
			r.checkCompressed(t)
		})
		for _, bits := range []string{"9", "10"} {
			t.Run("python websockets server_max_window_bits="+bits, func(t *testing.T) {
				r := s.run(t, 40*time.Second, "/usr/bin/python3", pyDeflate, s.url, s.ca, "--server-max-window-bits", bits)
				// A server window below 15 bits: the server keeps none
				// (it would be a dictionary only a full window can
				// refer back to wholly); the client's is kept.
				r.checkAnswer(t, "server_no_context_takeover", "server_max_window_bits="+bits, "client_max_window_bits=13")
				r.checkCompressed(t)
			})
		}
		s.stop(t)
	})

	t.Run("declined", func(t *testing.T) {
		s := startDeflateServer(t, bin, dataDir, "--deflate=false")
		t.Run("node ws", func(t *testing.T) {
			r := s.run(t, 40*time.Second, "node", nodeDeflate, s.url, s.ca, "--declined")
			if r.answer != "" {
				t.Errorf("Sec-WebSocket-Extensions: %s; want none", r.answer)
			}
			if r.got != (deflateCounts{}) {
				t.Errorf("the deflate metrics moved with --deflate=false: %+v", r.got)
			}
		})
		s.stop(t)
	})
}

// deflateServer is a wssd binary for TestInteropDeflate, with its admin
// listener.
type deflateServer struct {
	p       *process
	url     string // wss://localhost:PORT/echo, as logged
	metrics string // http://ADDR/metrics, as logged
	ca      string
}

var adminRE = regexp.MustCompile(`msg="admin listening" url=(http://\S+/metrics)`)

// startDeflateServer starts bin over wss:// on a port of its own, with
// the dev certificate in dataDir, an admin listener, and args.
func startDeflateServer(t *testing.T, bin, dataDir string, args ...string) *deflateServer {
	t.Helper()
	p := start(t, bin, append([]string{"--listen", "127.0.0.1:0", "--listen-plain", "", "--data-dir", dataDir}, args...)...)
	s := &deflateServer{p: p, metrics: p.waitLog(t, adminRE), url: p.waitLog(t, wssRE), ca: filepath.Join(dataDir, "dev-ca.pem")}
	t.Logf("wssd %s at %s, metrics at %s", strings.Join(args, " "), s.url, s.metrics)
	return s
}

// byName is the URL with the host name localhost, which the certificate
// is for, as a person would type it (Chromium checks the name).
func (s *deflateServer) byName() string {
	u, err := url.Parse(s.url)
	if err != nil {
		panic(err)
	}
	u.Host = net.JoinHostPort("localhost", u.Port())
	return u.String()
}

// stop drains the server with SIGTERM; it must exit 0.
func (s *deflateServer) stop(t *testing.T) {
	t.Helper()
	if err := s.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := s.p.waitExit(t, engine.DefaultDrainTimeout+wait); code != 0 {
		t.Errorf("exit code %d after SIGTERM; want 0\n%s", code, s.p.stderr())
	}
}

// deflateCounts are the wssd_deflate_* counters, or how much they grew.
type deflateCounts struct {
	Conns, MsgsIn, MsgsOut float64
	WireIn, PlainIn        float64
	WireOut, PlainOut      float64
	Compressions           float64
}

func (c deflateCounts) sub(d deflateCounts) deflateCounts {
	return deflateCounts{
		Conns: c.Conns - d.Conns, MsgsIn: c.MsgsIn - d.MsgsIn, MsgsOut: c.MsgsOut - d.MsgsOut,
		WireIn: c.WireIn - d.WireIn, PlainIn: c.PlainIn - d.PlainIn,
		WireOut: c.WireOut - d.WireOut, PlainOut: c.PlainOut - d.PlainOut,
		Compressions: c.Compressions - d.Compressions,
	}
}

func (c deflateCounts) ratioIn() float64  { return c.WireIn / c.PlainIn }
func (c deflateCounts) ratioOut() float64 { return c.WireOut / c.PlainOut }

// deflateCounts scrapes the server's metrics.
func (s *deflateServer) deflateCounts(t *testing.T) deflateCounts {
	t.Helper()
	m := scrapeMetrics(t, s.metrics)
	return deflateCounts{
		Conns:        m["wssd_deflate_connections_total"],
		MsgsIn:       m[`wssd_deflate_messages_total{direction="received"}`],
		MsgsOut:      m[`wssd_deflate_messages_total{direction="sent"}`],
		WireIn:       m[`wssd_deflate_bytes_total{direction="received",form="compressed"}`],
		PlainIn:      m[`wssd_deflate_bytes_total{direction="received",form="plain"}`],
		WireOut:      m[`wssd_deflate_bytes_total{direction="sent",form="compressed"}`],
		PlainOut:     m[`wssd_deflate_bytes_total{direction="sent",form="plain"}`],
		Compressions: m["wssd_deflate_compressions_total"],
	}
}

// scrapeMetrics reads the Prometheus text at metricsURL: each counter's
// and gauge's value, by its name and labels as exposed (labels sorted by
// name), e.g. `wssd_deflate_messages_total{direction="sent"}`.
func scrapeMetrics(t *testing.T, metricsURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s\n%s", metricsURL, resp.Status, b)
	}
	var parser expfmt.TextParser
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s does not parse: %v", metricsURL, err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Untyped != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// deflateRun is a client's run against a deflateServer: what it printed
// and how the server's counters grew meanwhile.
type deflateRun struct {
	answer string        // the Sec-WebSocket-Extensions the client got
	want   deflateExpect // what the client says the server should count
	got    deflateCounts // how much the counters grew
}

// deflateExpect is the client's "deflate: {JSON}" line.
type deflateExpect struct {
	// ClientCompressed is how many messages the client sent compressed.
	ClientCompressed float64 `json:"clientCompressed"`
	// ServerCompressible is how many of the echoes the server should
	// send compressed: JSON of --deflate-threshold bytes or more.
	ServerCompressible float64 `json:"serverCompressible"`
	// Messages is how many messages the client sent.
	Messages float64 `json:"messages"`
}

var (
	deflateLineRE  = regexp.MustCompile(`(?m)^deflate: (\{.*\})$`)
	extensionsRE   = regexp.MustCompile(`(?m)^extensions: (.*)$`)
	offerExtRE     = regexp.MustCompile(`(?m)^offer: (.*)$`)
	deflateParamRE = regexp.MustCompile(`^[a-z_]+(=\d+)?$`)
)

// run runs a deflate client (name and args, as runClient does) and
// scrapes the server's metrics before and after it.
func (s *deflateServer) run(t *testing.T, timeout time.Duration, name string, args ...string) *deflateRun {
	t.Helper()
	before := s.deflateCounts(t)
	out := runClient(t, s.p, timeout, name, args...)
	r := &deflateRun{got: s.deflateCounts(t).sub(before)}
	m := deflateLineRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the client printed no deflate: line:\n%s", out)
	}
	if err := json.Unmarshal([]byte(m[1]), &r.want); err != nil {
		t.Fatalf("deflate: %s: %v", m[1], err)
	}
	if m := extensionsRE.FindStringSubmatch(out); m != nil {
		r.answer = strings.TrimSpace(m[1])
	} else {
		t.Fatalf("the client printed no extensions: line:\n%s", out)
	}
	offer := "(not known to the client)"
	if m := offerExtRE.FindStringSubmatch(out); m != nil {
		offer = strings.TrimSpace(m[1])
	}
	t.Logf("offer: %s\nanswer: %s\nclient: %+v\nserver's counters grew by %+v", offer, r.answer, r.want, r.got)
	return r
}

// checkAnswer checks that the answer is permessage-deflate with exactly
// params, in any order.
func (r *deflateRun) checkAnswer(t *testing.T, params ...string) {
	t.Helper()
	elems := strings.Split(r.answer, ";")
	for i := range elems {
		elems[i] = strings.TrimSpace(elems[i])
	}
	if elems[0] != "permessage-deflate" {
		t.Errorf("Sec-WebSocket-Extensions: %q; want permessage-deflate", r.answer)
		return
	}
	got := slices.Sorted(slices.Values(elems[1:]))
	want := slices.Sorted(slices.Values(params))
	if !slices.Equal(got, want) {
		t.Errorf("Sec-WebSocket-Extensions: %q; want permessage-deflate with %q", r.answer, want)
	}
	for _, p := range got {
		if !deflateParamRE.MatchString(p) {
			t.Errorf("Sec-WebSocket-Extensions: parameter %q is not of the form name or name=bits", p)
		}
	}
}

// checkCompressed checks that messages went compressed both ways, as many
// as the client says, and smaller than their plaintext: every message the
// client compressed was counted received compressed; exactly the echoes
// of JSON of 256 bytes or more were sent compressed (the others do not
// reach the threshold, or do not shrink).
func (r *deflateRun) checkCompressed(t *testing.T) {
	t.Helper()
	g, w := r.got, r.want
	if g.Conns < 1 {
		t.Errorf("wssd_deflate_connections_total grew by %v; want 1 or more", g.Conns)
	}
	if w.ClientCompressed < 1 || w.ServerCompressible < 1 {
		t.Fatalf("the client expects %+v: no compressed message either way to check", w)
	}
	if g.MsgsIn < w.ClientCompressed {
		t.Errorf(`wssd_deflate_messages_total{direction="received"} grew by %v; want %v or more (the messages the client sent compressed)`, g.MsgsIn, w.ClientCompressed)
	}
	if g.MsgsOut != w.ServerCompressible {
		t.Errorf(`wssd_deflate_messages_total{direction="sent"} grew by %v; want %v (the echoes of JSON of 256 bytes or more)`, g.MsgsOut, w.ServerCompressible)
	}
	if g.Compressions < g.MsgsOut {
		t.Errorf("wssd_deflate_compressions_total grew by %v, less than the %v messages sent compressed", g.Compressions, g.MsgsOut)
	}
	if !(g.WireIn > 0 && g.WireIn < g.PlainIn) || !(g.WireOut > 0 && g.WireOut < g.PlainOut) {
		t.Errorf("wssd_deflate_bytes_total grew by compressed %v, plain %v received and compressed %v, plain %v sent: want fewer compressed bytes than plain, both ways",
			g.WireIn, g.PlainIn, g.WireOut, g.PlainOut)
	}
}
