package pubsub

import (
	"io"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/engine"
)

// hubMetrics are the hub's series in the server's metrics set. What
// happens per message is counted by each loop in plain integers (loopState)
// and added here once per tick (Tick).
type hubMetrics struct {
	published, delivered *metrics.Counter
	fanout               *engine.Histogram
}

// fanoutBuckets bound a loop's write of one publication to its
// subscribers, in seconds.
var fanoutBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

func newHubMetrics(h *Hub, set *metrics.Set) *hubMetrics {
	m := &hubMetrics{
		published: set.NewCounter("wssd_pubsub_published_total"),
		delivered: set.NewCounter("wssd_pubsub_delivered_total"),
		fanout:    engine.NewHistogram("wssd_pubsub_fanout_seconds", "", fanoutBuckets),
	}
	set.NewGauge("wssd_pubsub_topics", func() float64 { return float64(h.Topics()) })
	set.RegisterMetricsWriter(func(w io.Writer) { m.fanout.WritePrometheus(w, true) })
	return m
}

// Tick adds what the loop counted since its last tick to the metrics.
// Called on the loop, by the engine (engine.Ticker).
func (h *Hub) Tick(l *engine.Loop) {
	ls := h.loops[l.Index()]
	if m := h.metrics; m != nil {
		if ls.published != 0 {
			m.published.Add(int(ls.published))
		}
		if ls.delivered != 0 {
			m.delivered.Add(int(ls.delivered))
		}
	}
	ls.published, ls.delivered = 0, 0
}
