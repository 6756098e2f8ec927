package engine

import (
	"net/http"
	"net/http/pprof"

	"github.com/VictoriaMetrics/metrics"
)

// AdminOptions configure Server.AdminHandler.
type AdminOptions struct {
	// Pprof serves the Go profiler under /debug/pprof/.
	Pprof bool
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
			set.WritePrometheus(w)
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
