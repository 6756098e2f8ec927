package engine

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"sync/atomic"
)

// Histogram is a Prometheus histogram with fixed buckets (le labels), so
// that histogram_quantile works on it in Prometheus and Grafana as is (the
// metrics package's own histograms have buckets of their own kind).
// Observations are atomic: observe what happens per connection, per tick
// or per publication, never per message. Safe for concurrent use.
type Histogram struct {
	name   string
	labels string // `loop="0"`, or ""
	bounds []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum    atomic.Uint64   // float64 bits
}

// NewHistogram returns a histogram named name, with labels (`loop="0"`,
// or "") and the buckets' upper bounds, ascending.
func NewHistogram(name, labels string, bounds []float64) *Histogram {
	return &Histogram{name: name, labels: labels, bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
}

// Observe adds an observation of v.
func (h *Histogram) Observe(v float64) {
	i := 0
	for i < len(h.bounds) && v > h.bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// WritePrometheus writes h in the Prometheus text format, with its TYPE
// line when header is set (once per metric name). Register it with
// metrics.Set.RegisterMetricsWriter.
func (h *Histogram) WritePrometheus(w io.Writer, header bool) {
	if header {
		fmt.Fprintf(w, "# TYPE %s histogram\n", h.name)
	}
	sep := ""
	if h.labels != "" {
		sep = ","
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.bounds) {
			le = strconv.FormatFloat(h.bounds[i], 'g', -1, 64)
		}
		fmt.Fprintf(w, "%s_bucket{%s%sle=%q} %d\n", h.name, h.labels, sep, le, cum)
	}
	braces := ""
	if h.labels != "" {
		braces = "{" + h.labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n", h.name, braces, strconv.FormatFloat(math.Float64frombits(h.sum.Load()), 'g', -1, 64))
	fmt.Fprintf(w, "%s_count%s %d\n", h.name, braces, cum)
}
