package bench

import "time"

// Report is what a run measured: the figures wssbench prints, writes with
// --json, and draws with --html. Reports of shards of one run (processes,
// source addresses) merge exactly with Merge: counts add, histograms merge
// bucket by bucket, timelines add second by second.
//
// Scenario is a name, not a Scenario, so that a report reads and shows
// whatever scenario it names, one this version knows or not.
type Report struct {
	Scenario string            `json:"scenario"` // the Scenario's name: connect, echo, handshake, churn, pubsub, socketio
	URL      string            `json:"url"`
	Params   map[string]string `json:"params"` // the flags that shaped the run
	Started  time.Time         `json:"started"`
	Elapsed  time.Duration     `json:"elapsed_ns"` // measured part of the run

	Attempted   uint64            `json:"attempted"`   // connections tried
	Established uint64            `json:"established"` // connections upgraded (pubsub subscribers: subscribed; socketio: sessions that joined their namespace)
	Failed      uint64            `json:"failed"`      // connections that failed to open
	Dropped     uint64            `json:"dropped"`     // established connections lost before the end
	Closed      uint64            `json:"closed"`      // connections the tool closed during the run (handshake, churn)
	Resumed     uint64            `json:"resumed"`     // TLS handshakes that resumed a session
	Errors      map[string]uint64 `json:"errors"`      // by reason: "connect: connection refused", "upgrade: 401", ...

	Sent     uint64 `json:"sent"`     // messages sent (pubsub: publications; socketio: events)
	Received uint64 `json:"received"` // messages received (echoes; pubsub: deliveries to the subscribers; socketio: acks)

	// The pubsub scenario. Established and Attempted count publishers and
	// subscribers together; a subscriber is established once its
	// subscription is acknowledged.
	Publishers     uint64 `json:"publishers"`      // publisher connections established
	Subscribers    uint64 `json:"subscribers"`     // subscribers ready: their subscription acknowledged
	Published      uint64 `json:"published"`       // publications the server acknowledged
	Expected       uint64 `json:"expected"`        // deliveries expected: Published × Subscribers
	Missing        uint64 `json:"missing"`         // Expected less the deliveries that were not Duplicates, if more
	Duplicates     uint64 `json:"duplicates"`      // deliveries that came after a later publication of the same publisher: repeats, or out of order
	FanoutComplete uint64 `json:"fanout_complete"` // publications of FanoutTable that reached every ready subscriber

	Connect   *Histogram `json:"connect"`   // TCP connect time
	TLS       *Histogram `json:"tls"`       // TLS handshake, after connect
	Handshake *Histogram `json:"handshake"` // TLS handshake and HTTP upgrade, after connect; socketio over polling: from the first request to the open packet
	Latency   *Histogram `json:"latency"`   // message round trip (open loop: from the intended send time); pubsub: from a publication's intended send time to its delivery; socketio: to the event's ack
	Subscribe *Histogram `json:"subscribe"` // pubsub: from the upgrade to the subscription's acknowledgement; socketio: from the upgrade (polling: the open packet) to the CONNECT's answer
	Fanout    *Histogram `json:"fanout"`    // pubsub: for each publication of FanoutTable, from its intended send time to its last delivery

	// FanoutTable is, for the first publications (at most MaxFanoutTracked
	// in all), how many subscribers got each and when the last did; shards
	// merge it publication by publication.
	FanoutTable FanoutTable `json:"fanout_table"`

	Timeline []Second `json:"timeline"` // one entry per second of the run

	Server *ServerStats `json:"server,omitempty"` // with --server-pid
}

// scenario is the Scenario r.Scenario names; the zero Scenario when it
// names none this version knows.
func (r *Report) scenario() Scenario {
	s, _ := ParseScenario(r.Scenario)
	return s
}

// Second is one second of a run.
type Second struct {
	At          int     `json:"at"`          // seconds since Started
	Established uint64  `json:"established"` // connections open at the end of the second
	Opened      uint64  `json:"opened"`      // connections established during the second
	Sent        uint64  `json:"sent"`        // messages sent during the second
	Received    uint64  `json:"received"`    // messages received during the second
	Errors      uint64  `json:"errors"`      // errors during the second
	P99         float64 `json:"p99_us"`      // latency p99 of the second, in microseconds
}

// ServerStats is the server sampled from /proc during the run: one
// process, or several serving one port, added up.
type ServerStats struct {
	PIDs          []int   `json:"pids"`
	RSSStart      uint64  `json:"rss_start_bytes"`
	RSSPeak       uint64  `json:"rss_peak_bytes"`
	RSSEnd        uint64  `json:"rss_end_bytes"`
	CPUSeconds    float64 `json:"cpu_seconds"`            // user + system during the run
	Threads       int     `json:"threads"`                // at the end, all processes
	PeakConns     uint64  `json:"peak_conns"`             // the run's connections open when RSS peaked
	RSSPerConn    float64 `json:"rss_per_conn"`           // (RSSPeak - RSSStart) / PeakConns
	CPUPerMillion float64 `json:"cpu_s_per_million_msgs"` // CPUSeconds per million messages received
	CPUPerConn    float64 `json:"cpu_ms_per_conn"`        // CPU milliseconds per connection opened (handshake, churn: the cost of a connection)
}
