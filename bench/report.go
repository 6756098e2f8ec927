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
	Env      *Environment      `json:"env,omitempty"` // where it ran
	Elapsed  time.Duration     `json:"elapsed_ns"`    // measured part of the run

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

	// Wire is what went over the clients' sockets and the data messages
	// it carried: compare a run with Deflate and one without.
	Wire Wire `json:"wire"`
	// Deflate is the permessage-deflate negotiation; nil when it was not
	// offered.
	Deflate *DeflateReport `json:"deflate,omitempty"`

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
	P50         float64 `json:"p50_us"`      // latency p50 of the second, in microseconds (shards: the highest)
	P99         float64 `json:"p99_us"`      // latency p99 of the second, in microseconds (shards: the highest)
	Max         float64 `json:"max_us"`      // latency max of the second, in microseconds
	WireSent    uint64  `json:"wire_sent_bytes"`
	WireRecv    uint64  `json:"wire_received_bytes"`
	// ClientCPU is the CPU the load generator used during the second, in
	// cores (user + system; shards add up): near the machine's CPU
	// count, the figures may be the load generator's limits, not the
	// server's.
	ClientCPU float64 `json:"client_cpu"`
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

// Wire is what the clients wrote to and read from their sockets (TCP
// payload: the frames for ws://, the TLS records for wss://, the TLS
// handshake not counted), from the upgrade request to the end of the
// measured part (the messages in flight included, the closing handshake
// not), and the data messages in it, whatever the scenario's (pubsub's
// subscriptions, publications, acks and deliveries all count).
type Wire struct {
	SentBytes          uint64 `json:"sent_bytes"`           // written to the sockets
	ReceivedBytes      uint64 `json:"received_bytes"`       // read from the sockets
	MessagesSent       uint64 `json:"messages_sent"`        // data messages sent
	MessagesReceived   uint64 `json:"messages_received"`    // data messages received
	PlainSentBytes     uint64 `json:"plain_sent_bytes"`     // their payloads, uncompressed
	PlainReceivedBytes uint64 `json:"plain_received_bytes"` // their payloads, inflated
	CompressedSent     uint64 `json:"compressed_sent"`      // messages sent compressed (RSV1)
	CompressedReceived uint64 `json:"compressed_received"`  // messages received compressed
}

// Add adds o's counts to w.
func (w *Wire) Add(o Wire) {
	w.SentBytes += o.SentBytes
	w.ReceivedBytes += o.ReceivedBytes
	w.MessagesSent += o.MessagesSent
	w.MessagesReceived += o.MessagesReceived
	w.PlainSentBytes += o.PlainSentBytes
	w.PlainReceivedBytes += o.PlainReceivedBytes
	w.CompressedSent += o.CompressedSent
	w.CompressedReceived += o.CompressedReceived
}

// perMessage is bytes per message, 0 without messages.
func perMessage(bytes, msgs uint64) float64 {
	if msgs == 0 {
		return 0
	}
	return float64(bytes) / float64(msgs)
}

// SentPerMessage is the bytes written per data message sent, everything
// on the wire included (frame headers, TLS records, control frames, the
// upgrade).
func (w Wire) SentPerMessage() float64 { return perMessage(w.SentBytes, w.MessagesSent) }

// ReceivedPerMessage is the bytes read per data message received.
func (w Wire) ReceivedPerMessage() float64 { return perMessage(w.ReceivedBytes, w.MessagesReceived) }

// PlainSentPerMessage is the average payload of a data message sent,
// uncompressed.
func (w Wire) PlainSentPerMessage() float64 { return perMessage(w.PlainSentBytes, w.MessagesSent) }

// PlainReceivedPerMessage is the average payload of a data message
// received, inflated.
func (w Wire) PlainReceivedPerMessage() float64 {
	return perMessage(w.PlainReceivedBytes, w.MessagesReceived)
}

// DeflateReport is the permessage-deflate negotiation of a run that
// offered it: the offer, and what the servers answered. A declined offer
// leaves the connection uncompressed: the run goes on.
type DeflateReport struct {
	Offer      string            `json:"offer"`      // the Sec-WebSocket-Extensions value sent
	Threshold  int               `json:"threshold"`  // messages shorter were sent uncompressed (0: all compressed)
	Negotiated uint64            `json:"negotiated"` // connections whose offer the server agreed to
	Declined   uint64            `json:"declined"`   // connections whose 101 had no extension
	Answers    map[string]uint64 `json:"answers"`    // the agreements, as the response states them, by connections
}

// merge adds o's counts to d.
func (d *DeflateReport) merge(o *DeflateReport) {
	if d.Offer == "" {
		d.Offer, d.Threshold = o.Offer, o.Threshold
	}
	d.Negotiated += o.Negotiated
	d.Declined += o.Declined
	for k, v := range o.Answers {
		if d.Answers == nil {
			d.Answers = map[string]uint64{}
		}
		d.Answers[k] += v
	}
}

// state is the negotiation in a word: "negotiated" (every connection
// that upgraded agreed), "declined" (none did), "partly" (some did) or
// "none" (no connection upgraded).
func (d *DeflateReport) state() string {
	switch {
	case d.Negotiated > 0 && d.Declined == 0:
		return "negotiated"
	case d.Negotiated == 0 && d.Declined > 0:
		return "declined"
	case d.Negotiated > 0:
		return "partly"
	}
	return "none"
}
