package engine

import (
	"bytes"
	"io"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// writeWithHelp writes the exposition b to w with the HELP line of each
// family that has a TYPE line (every family with metrics.ExposeMetadata,
// and the Histograms) given its text by help: the metrics package writes
// HELP lines empty, when it writes them at all.
func writeWithHelp(w io.Writer, b []byte, help func(string) string) {
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/4)
	for line := range bytes.Lines(b) {
		if bytes.HasPrefix(line, []byte("# HELP ")) {
			continue // written again before its TYPE line
		}
		if rest, ok := bytes.CutPrefix(line, []byte("# TYPE ")); ok {
			family, _, _ := bytes.Cut(rest, []byte(" "))
			if text := help(string(family)); text != "" {
				out.WriteString("# HELP ")
				out.Write(family)
				out.WriteByte(' ')
				helpEscaper.WriteString(&out, text)
				out.WriteByte('\n')
			}
		}
		out.Write(line)
	}
	_, _ = w.Write(out.Bytes())
}

// helpEscaper escapes a HELP text as the text format wants it.
var helpEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`)

// AdminOptions configure Server.AdminHandler.
type AdminOptions struct {
	// Pprof serves the Go profiler under /debug/pprof/.
	Pprof bool
	// Help returns the HELP text of a metric family of Config.Metrics,
	// or "" for none. nil leaves the set's HELP lines as the metrics
	// package writes them (empty, with metrics.ExposeMetadata).
	Help func(family string) string
}

// AdminHandler returns the handler of an admin listener, for operators
// and their monitoring, never for clients:
//
//   - /metrics: Config.Metrics in the Prometheus text format, brought up
//     to date first (FlushMetrics), then the Go runtime's and the
//     process's metrics;
//   - /healthz: 200 while the process serves at all;
//   - /readyz: 200 while the server accepts connections, 503 before Start
//     and once it drains (a load balancer takes it out of rotation);
//   - /debug/pprof/: the profiler, with opts.Pprof only.
//
// Serve it with net/http on its own address, with timeouts: it is not on
// the hot path. Safe for concurrent use.
func (s *Server) AdminHandler(opts AdminOptions) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if set := s.cfg.Metrics; set != nil {
			s.FlushMetrics()
			if opts.Help == nil {
				set.WritePrometheus(w)
			} else {
				var b bytes.Buffer
				set.WritePrometheus(&b)
				writeWithHelp(w, b.Bytes(), opts.Help)
			}
		}
		metrics.WriteProcessMetrics(w)
		metrics.WriteFDMetrics(w)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}
