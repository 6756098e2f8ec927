package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
)

// Merge adds the report of another shard of the same run to r. Shards hold
// disjoint connections, so everything adds:
//
//   - counts and the Errors map add;
//   - the histograms merge bucket by bucket (r gets its own histogram when
//     it had none, o's histograms are never shared);
//   - Timeline entries add second by second, matched on At, Established
//     included; the result is sorted by At;
//   - Elapsed is the longest of the two, Started the earliest;
//   - Server is r's if r has one, else o's (one shard samples the server);
//   - Scenario, URL and Params fill in what r lacks;
//   - Wire adds; Deflate's counts and answers add (r gets one when it had
//     none);
//   - pubsub: the FanoutTables merge publication by publication (their
//     deliveries add, the latest last delivery stays), and what follows
//     from the sums is computed again: Expected (all the publications
//     times all the subscribers, every shard's subscribers getting every
//     shard's publications), Missing, and Fanout and FanoutComplete from
//     the merged table.
//
// Everything is exact but the P99 of a merged second, which is the larger
// of the shards' P99s: an upper bound of the true figure, as the seconds'
// histograms are not kept. o must not be r; o is not modified.
func (r *Report) Merge(o *Report) {
	if o == nil || o == r {
		return
	}
	if r.Scenario == "" {
		r.Scenario = o.Scenario
	}
	if r.URL == "" {
		r.URL = o.URL
	}
	if r.Env == nil {
		r.Env = o.Env
	}
	for k, v := range o.Params {
		if _, ok := r.Params[k]; !ok {
			if r.Params == nil {
				r.Params = make(map[string]string, len(o.Params))
			}
			r.Params[k] = v
		}
	}
	if !o.Started.IsZero() && (r.Started.IsZero() || o.Started.Before(r.Started)) {
		r.Started = o.Started
	}
	r.Elapsed = max(r.Elapsed, o.Elapsed)

	r.Attempted += o.Attempted
	r.Established += o.Established
	r.Failed += o.Failed
	r.Dropped += o.Dropped
	r.Closed += o.Closed
	r.Resumed += o.Resumed
	for k, v := range o.Errors {
		if r.Errors == nil {
			r.Errors = make(map[string]uint64, len(o.Errors))
		}
		r.Errors[k] += v
	}
	r.Sent += o.Sent
	r.Received += o.Received
	r.Publishers += o.Publishers
	r.Subscribers += o.Subscribers
	r.Published += o.Published
	r.Duplicates += o.Duplicates

	r.Connect = mergeHistogram(r.Connect, o.Connect)
	r.TLS = mergeHistogram(r.TLS, o.TLS)
	r.Handshake = mergeHistogram(r.Handshake, o.Handshake)
	r.Latency = mergeHistogram(r.Latency, o.Latency)
	r.Subscribe = mergeHistogram(r.Subscribe, o.Subscribe)
	if o.FanoutTable != nil {
		r.FanoutTable = mergeFanout(r.FanoutTable, o.FanoutTable)
	}
	r.Wire.Add(o.Wire)
	if o.Deflate != nil {
		if r.Deflate == nil {
			r.Deflate = &DeflateReport{}
		}
		r.Deflate.merge(o.Deflate)
	}
	if r.scenario() == PubSub {
		r.derivePubSub()
	}

	if len(o.Timeline) > 0 {
		at := make(map[int]int, len(r.Timeline))
		for i, s := range r.Timeline {
			at[s.At] = i
		}
		for _, s := range o.Timeline {
			i, ok := at[s.At]
			if !ok {
				at[s.At] = len(r.Timeline)
				r.Timeline = append(r.Timeline, s)
				continue
			}
			r.Timeline[i].Add(s)
		}
		sort.SliceStable(r.Timeline, func(i, j int) bool { return r.Timeline[i].At < r.Timeline[j].At })
	}

	if r.Server == nil && o.Server != nil {
		s := *o.Server
		s.PIDs = append([]int(nil), s.PIDs...)
		r.Server = &s
	}
}

// Add adds the same second of another shard to s: counts add, and P99
// becomes the larger of the two (an upper bound of the true figure, as
// the seconds' histograms stay with the shards).
func (s *Second) Add(o Second) {
	s.Established += o.Established
	s.Opened += o.Opened
	s.Sent += o.Sent
	s.Received += o.Received
	s.Errors += o.Errors
	s.P50 = math.Max(s.P50, o.P50)
	s.P99 = math.Max(s.P99, o.P99)
	s.Max = math.Max(s.Max, o.Max)
	s.WireSent += o.WireSent
	s.WireRecv += o.WireRecv
	s.ClientCPU += o.ClientCPU
}

// mergeHistogram merges src into dst, making dst when it is nil and src
// is not, and returns dst.
func mergeHistogram(dst, src *Histogram) *Histogram {
	if src == nil {
		return dst
	}
	if dst == nil {
		dst = NewHistogram()
	}
	dst.Merge(src)
	return dst
}

// histCount is h's count, 0 for a nil histogram.
func histCount(h *Histogram) uint64 {
	if h == nil {
		return 0
	}
	return h.Count()
}

// histQuantile is h's quantile q, 0 for a nil or empty histogram.
func histQuantile(h *Histogram, q float64) time.Duration {
	if histCount(h) == 0 {
		return 0
	}
	return h.Quantile(q)
}

// histMax is h's largest value, 0 for a nil or empty histogram.
func histMax(h *Histogram) time.Duration {
	if histCount(h) == 0 {
		return 0
	}
	return h.Max()
}

// histMean is h's mean, 0 for a nil or empty histogram.
func histMean(h *Histogram) time.Duration {
	if histCount(h) == 0 {
		return 0
	}
	return h.Mean()
}

// errorCount is the number of errors of all reasons.
func (r *Report) errorCount() uint64 {
	var n uint64
	for _, v := range r.Errors {
		n += v
	}
	return n
}

// handshakeRate is, for the handshake scenario, the connections opened
// per second of Elapsed; 0 for the other scenarios or without an Elapsed.
func (r *Report) handshakeRate() float64 {
	if r.scenario() != Handshake || r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Established) / r.Elapsed.Seconds()
}

// messageRate is the messages received per second of Elapsed, 0 without
// an Elapsed.
func (r *Report) messageRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Received) / r.Elapsed.Seconds()
}

// SummaryLine is the report on one line, for scripts: space-separated
// key=value pairs, always the same keys in the same order:
//
//	scenario attempted established failed dropped closed resumed errors
//	sent received msgs_per_s p50_us p90_us p99_us p999_us max_us mean_us
//	connect_p99_us tls_p99_us handshake_p99_us handshakes_per_s elapsed_s
//
// then server_rss_per_conn (bytes), server_cpu_s_per_million (CPU
// seconds per million messages received) and server_cpu_ms_per_conn (CPU
// milliseconds per connection opened) when Server is set, and last, in
// every scenario (0 but in pubsub), the pubsub figures:
//
//	publishers subscribers published expected missing duplicates
//	fanout_count fanout_complete fanout_p50_us fanout_p99_us fanout_max_us
//	subscribe_p99_us
//
// (fanout_count: the publications of the fan-out table; fanout_complete:
// those of them that reached every ready subscriber; the fanout_ figures
// are of Fanout, subscribe_p99_us of Subscribe). In pubsub, sent counts
// publications, received deliveries, msgs_per_s deliveries a second, and
// the latency figures are delivery latencies. Values carry
// no units: counts and microseconds (rounded) are integers, msgs_per_s,
// handshakes_per_s (of the handshake scenario; 0 for the others) and
// server_rss_per_conn have one decimal, elapsed_s two and
// server_cpu_s_per_million three. The latency figures are of Latency; a
// missing histogram reads 0. Spaces and control characters in the scenario
// become '_', so that every pair is one token.
//
// Then, in every scenario, the bytes on the wire and permessage-deflate
// (see Wire and DeflateReport; the deflate counts are 0 when it was not
// offered), the _per_msg figures with one decimal:
//
//	wire_sent_bytes wire_received_bytes wire_sent_per_msg
//	wire_received_per_msg plain_sent_per_msg plain_received_per_msg
//	compressed_sent compressed_received deflate_negotiated
//	deflate_declined
func (r *Report) SummaryLine() string {
	var b strings.Builder
	kv := func(k, v string) {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(v)
	}
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	us := func(d time.Duration) string { return strconv.FormatInt(d.Round(time.Microsecond).Microseconds(), 10) }
	f := func(v float64, prec int) string { return strconv.FormatFloat(v, 'f', prec, 64) }

	kv("scenario", summaryToken(r.Scenario))
	kv("attempted", u(r.Attempted))
	kv("established", u(r.Established))
	kv("failed", u(r.Failed))
	kv("dropped", u(r.Dropped))
	kv("closed", u(r.Closed))
	kv("resumed", u(r.Resumed))
	kv("errors", u(r.errorCount()))
	kv("sent", u(r.Sent))
	kv("received", u(r.Received))
	kv("msgs_per_s", f(r.messageRate(), 1))
	kv("p50_us", us(histQuantile(r.Latency, 0.50)))
	kv("p90_us", us(histQuantile(r.Latency, 0.90)))
	kv("p99_us", us(histQuantile(r.Latency, 0.99)))
	kv("p999_us", us(histQuantile(r.Latency, 0.999)))
	kv("max_us", us(histMax(r.Latency)))
	kv("mean_us", us(histMean(r.Latency)))
	kv("connect_p99_us", us(histQuantile(r.Connect, 0.99)))
	kv("tls_p99_us", us(histQuantile(r.TLS, 0.99)))
	kv("handshake_p99_us", us(histQuantile(r.Handshake, 0.99)))
	kv("handshakes_per_s", f(r.handshakeRate(), 1))
	kv("elapsed_s", f(r.Elapsed.Seconds(), 2))
	if s := r.Server; s != nil {
		kv("server_rss_per_conn", f(s.RSSPerConn, 1))
		kv("server_cpu_s_per_million", f(s.CPUPerMillion, 3))
		kv("server_cpu_ms_per_conn", f(s.CPUPerConn, 3))
	}
	kv("publishers", u(r.Publishers))
	kv("subscribers", u(r.Subscribers))
	kv("published", u(r.Published))
	kv("expected", u(r.Expected))
	kv("missing", u(r.Missing))
	kv("duplicates", u(r.Duplicates))
	kv("fanout_count", u(histCount(r.Fanout)))
	kv("fanout_complete", u(r.FanoutComplete))
	kv("fanout_p50_us", us(histQuantile(r.Fanout, 0.50)))
	kv("fanout_p99_us", us(histQuantile(r.Fanout, 0.99)))
	kv("fanout_max_us", us(histMax(r.Fanout)))
	kv("subscribe_p99_us", us(histQuantile(r.Subscribe, 0.99)))
	w := r.Wire
	kv("wire_sent_bytes", u(w.SentBytes))
	kv("wire_received_bytes", u(w.ReceivedBytes))
	kv("wire_sent_per_msg", f(w.SentPerMessage(), 1))
	kv("wire_received_per_msg", f(w.ReceivedPerMessage(), 1))
	kv("plain_sent_per_msg", f(w.PlainSentPerMessage(), 1))
	kv("plain_received_per_msg", f(w.PlainReceivedPerMessage(), 1))
	kv("compressed_sent", u(w.CompressedSent))
	kv("compressed_received", u(w.CompressedReceived))
	var zn, zd uint64
	if d := r.Deflate; d != nil {
		zn, zd = d.Negotiated, d.Declined
	}
	kv("deflate_negotiated", u(zn))
	kv("deflate_declined", u(zd))
	return b.String()
}

// summaryToken makes s one token of a summary line.
func summaryToken(s string) string {
	return strings.Map(func(c rune) rune {
		if unicode.IsSpace(c) || unicode.IsControl(c) {
			return '_'
		}
		return c
	}, s)
}

// ProgressLine is the live line printed once a second during a run, from
// the second s and the errors so far:
//
//	[  12s] conns=40000 opened/s=0 sent/s=19987 recv/s=19990 errors=3 p99=1.23ms
//
// conns is the connections open at the end of the second, opened/s those
// established during it, sent/s and recv/s its messages (counted, so the
// rates are exact whatever the tick's jitter) and p99 its round-trip p99,
// shown as "-" when no message came back.
func ProgressLine(s Second, errors uint64) string {
	lat := func(us float64) string {
		if us <= 0 {
			return "-"
		}
		return durationText(time.Duration(us * float64(time.Microsecond)))
	}
	line := fmt.Sprintf("[%4ds] conns=%d opened/s=%d sent/s=%d recv/s=%d errors=%d p50=%s p99=%s max=%s out=%s/s in=%s/s cpu=%.2f/%d",
		s.At, s.Established, s.Opened, s.Sent, s.Received, errors, lat(s.P50), lat(s.P99), lat(s.Max),
		bytesText(float64(s.WireSent)), bytesText(float64(s.WireRecv)), s.ClientCPU, runtime.NumCPU())
	if saturated(s.ClientCPU) {
		line += " (load generator saturated: these figures may be its limits, not the server's)"
	}
	return line
}

// saturated reports whether the load generator, using cpu cores, used
// nine tenths or more of the machine's.
func saturated(cpu float64) bool { return cpu >= 0.9*float64(runtime.NumCPU()) }

// clientCPU is the load generator's CPU over the timeline, in cores: its
// mean and its highest second; ok is false when it was not sampled.
func (r *Report) clientCPU() (mean, peak float64, ok bool) {
	for _, s := range r.Timeline {
		mean += s.ClientCPU
		peak = math.Max(peak, s.ClientCPU)
	}
	if peak == 0 {
		return 0, 0, false
	}
	return mean / float64(len(r.Timeline)), peak, true
}

// saturationWarning says what a saturated load generator means.
func (r *Report) saturationWarning() string {
	return "the load generator used 90% or more of the machine's " + strconv.Itoa(runtime.NumCPU()) + " CPUs in " +
		strconv.Itoa(r.saturatedSeconds()) + " of " + strconv.Itoa(len(r.Timeline)) +
		" seconds: the figures may be its limits, not the server's (use --procs, or another machine)"
}

// messaging reports whether the run's scenario exchanges messages: echo,
// pubsub and socketio do (and a scenario this version does not know may);
// connect, handshake and churn only open connections.
func (r *Report) messaging() bool {
	switch r.scenario() {
	case Connect, Handshake, Churn:
		return r.Sent > 0 || r.Received > 0
	}
	return true
}

// saturatedSeconds counts the seconds of the timeline in which the load
// generator was saturated.
func (r *Report) saturatedSeconds() int {
	n := 0
	for _, s := range r.Timeline {
		if saturated(s.ClientCPU) {
			n++
		}
	}
	return n
}

// durationText is d for people, with three significant digits: 850ns,
// 12.3µs, 1.23ms, 2.50s.
func durationText(d time.Duration) string {
	if d < 0 {
		return "-" + durationText(-d)
	}
	if d == 0 {
		return "0"
	}
	if d < time.Microsecond {
		return strconv.FormatInt(int64(d), 10) + "ns"
	}
	v, units := float64(d)/1e3, []string{"µs", "ms", "s"}
	// Move up a unit when three significant digits round to 1000.
	for len(units) > 1 && v >= 999.5 {
		v, units = v/1e3, units[1:]
	}
	prec := 0
	switch {
	case v < 9.995:
		prec = 2
	case v < 99.95:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + units[0]
}

// bytesText is n bytes for people, in binary units: 512 B, 1.5 KiB, 3.2 GiB.
func bytesText(n float64) string {
	const unit = 1024
	if math.Abs(n) < unit {
		return strconv.FormatFloat(n, 'f', 0, 64) + " B"
	}
	exp := 0
	for v := math.Abs(n); v >= unit && exp < 6; v /= unit {
		exp++
	}
	return strconv.FormatFloat(n/math.Pow(unit, float64(exp)), 'f', 1, 64) + " " + string("KMGTPE"[exp-1]) + "iB"
}

// percentText is part of whole in percent, with one decimal.
func percentText(part, whole uint64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 1, 64) + "%"
}

// errorReason is one reason of the Errors map.
type errorReason struct {
	Reason string
	Count  uint64
}

// sortedErrors is the Errors map by count, most frequent first, then by
// reason.
func (r *Report) sortedErrors() []errorReason { return sortedCounts(r.Errors) }

// sortedCounts is a map of counts by count, largest first, then by key.
func sortedCounts(m map[string]uint64) []errorReason {
	out := make([]errorReason, 0, len(m))
	for k, v := range m {
		out = append(out, errorReason{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	return out
}

// paramsText is the params as key=value pairs sorted by key.
func paramsText(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params[k]
	}
	return strings.Join(parts, " ")
}

// namedHistogram is one of a report's histograms with its name.
type namedHistogram struct {
	Name string
	Hist *Histogram
}

// latencyName is what Latency measures: a round trip, in pubsub a
// delivery, in socketio an ack.
func (r *Report) latencyName() string {
	switch r.scenario() {
	case PubSub:
		return "delivery"
	case SocketIO:
		return "ack"
	}
	return "round trip"
}

// subscribeName is what Subscribe measures: in socketio the join of a
// namespace, else a subscription.
func (r *Report) subscribeName() string {
	if r.scenario() == SocketIO {
		return "join"
	}
	return "subscribe"
}

// histograms is the report's non-empty histograms, latency first (pubsub:
// delivery, then fan-out).
func (r *Report) histograms() []namedHistogram {
	var out []namedHistogram
	for _, h := range []namedHistogram{
		{r.latencyName(), r.Latency},
		{"fan-out", r.Fanout},
		{"connect", r.Connect},
		{"tls", r.TLS},
		{"handshake", r.Handshake},
		{r.subscribeName(), r.Subscribe},
	} {
		if histCount(h.Hist) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// tableText makes s safe for one cell of a tabwriter table: no tabs or
// line breaks.
func tableText(s string) string {
	return strings.Map(func(c rune) rune {
		if c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' {
			return ' '
		}
		return c
	}, s)
}

// WriteTable writes the report as a fixed-width table, for people: the
// run, the connections, the errors by reason (most frequent first), the
// messages (pubsub: the publications and their deliveries, and the
// fan-out), the latency percentiles of each non-empty histogram and the
// server's figures if sampled.
func (r *Report) WriteTable(w io.Writer) error {
	bw := bufio.NewWriter(w)
	tw := tabwriter.NewWriter(bw, 0, 0, 2, ' ', 0)
	row := func(cells ...string) {
		for i, c := range cells {
			if i > 0 {
				_, _ = io.WriteString(tw, "\t")
			}
			_, _ = io.WriteString(tw, tableText(c))
		}
		_, _ = io.WriteString(tw, "\n")
	}
	blank := func() { _, _ = io.WriteString(tw, "\n") }
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }

	scenario := r.Scenario
	if scenario == "" {
		scenario = "-"
	}
	row("scenario", scenario)
	if r.URL != "" {
		row("url", r.URL)
	}
	if len(r.Params) > 0 {
		row("params", paramsText(r.Params))
	}
	if !r.Started.IsZero() {
		row("started", r.Started.Format(time.RFC3339))
	}
	if r.Env != nil {
		row("env", r.Env.text())
		row("command", strings.Join(r.Env.Command, " "))
	}
	row("elapsed", strconv.FormatFloat(r.Elapsed.Seconds(), 'f', 2, 64)+"s")
	blank()

	row("connections", "attempted", "established", "failed", "dropped", "closed", "resumed")
	row("", u(r.Attempted), u(r.Established), u(r.Failed), u(r.Dropped), u(r.Closed), u(r.Resumed))
	if hs := r.handshakeRate(); hs > 0 {
		row("handshakes/s", strconv.FormatFloat(hs, 'f', 1, 64))
	}
	blank()

	if errs := r.sortedErrors(); len(errs) == 0 {
		row("errors", "none")
	} else {
		total := r.errorCount()
		row("errors", "count", "share", "reason")
		for _, e := range errs {
			row("", u(e.Count), percentText(e.Count, total), e.Reason)
		}
	}
	blank()

	if r.scenario() == PubSub {
		row("pub/sub", "publishers", "subscribers", "published", "of sent", "deliveries", "expected", "missing", "duplicates", "deliveries/s")
		row("", u(r.Publishers), u(r.Subscribers), u(r.Published), u(r.Sent), u(r.Received), u(r.Expected),
			u(r.Missing), u(r.Duplicates), strconv.FormatFloat(r.messageRate(), 'f', 1, 64))
		if n := histCount(r.Fanout); n > 0 {
			row("fan-out", "publications", "to all", "p50", "p99", "max")
			row("", u(n), u(r.FanoutComplete)+" ("+percentText(r.FanoutComplete, n)+")",
				durationText(r.Fanout.Quantile(0.5)), durationText(r.Fanout.Quantile(0.99)), durationText(r.Fanout.Max()))
		}
		blank()
	} else if r.scenario() == SocketIO {
		row("events", "sent", "acked", "acked/s")
		row("", u(r.Sent), u(r.Received), strconv.FormatFloat(r.messageRate(), 'f', 1, 64))
		blank()
	} else if r.messaging() {
		row("messages", "sent", "received", "received/s")
		row("", u(r.Sent), u(r.Received), strconv.FormatFloat(r.messageRate(), 'f', 1, 64))
		blank()
	}

	if w := r.Wire; w.SentBytes > 0 || w.ReceivedBytes > 0 {
		f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
		row("bytes", "on the wire", "messages", "wire/msg", "plaintext/msg", "compressed")
		row("sent", bytesText(float64(w.SentBytes)), u(w.MessagesSent), f1(w.SentPerMessage()),
			f1(w.PlainSentPerMessage()), u(w.CompressedSent))
		row("received", bytesText(float64(w.ReceivedBytes)), u(w.MessagesReceived), f1(w.ReceivedPerMessage()),
			f1(w.PlainReceivedPerMessage()), u(w.CompressedReceived))
		blank()
	}
	if d := r.Deflate; d != nil {
		row("deflate", d.state(), "offer: "+d.Offer)
		row("", "connections", "answer")
		if d.Negotiated == 0 && d.Declined == 0 {
			row("", "0", "no connection upgraded")
		}
		for _, a := range sortedCounts(d.Answers) {
			row("", u(a.Count), a.Reason)
		}
		if d.Declined > 0 {
			row("", u(d.Declined), "declined: no extension, messages uncompressed")
		}
		blank()
	}

	if hs := r.histograms(); len(hs) == 0 {
		row("latency", "no data")
	} else {
		row("latency", "count", "p50", "p90", "p99", "p99.9", "max", "mean")
		for _, h := range hs {
			row(h.Name, u(h.Hist.Count()),
				durationText(h.Hist.Quantile(0.50)), durationText(h.Hist.Quantile(0.90)),
				durationText(h.Hist.Quantile(0.99)), durationText(h.Hist.Quantile(0.999)),
				durationText(h.Hist.Max()), durationText(h.Hist.Mean()))
		}
	}

	if s := r.Server; s != nil {
		blank()
		row("server", "pids", "threads", "rss start", "rss peak", "rss end", "peak conns", "rss/conn", "cpu", "cpu/M msgs", "cpu/conn")
		row("", pidsText(s.PIDs), strconv.Itoa(s.Threads),
			bytesText(float64(s.RSSStart)), bytesText(float64(s.RSSPeak)), bytesText(float64(s.RSSEnd)),
			u(s.PeakConns), bytesText(s.RSSPerConn),
			strconv.FormatFloat(s.CPUSeconds, 'f', 2, 64)+"s",
			strconv.FormatFloat(s.CPUPerMillion, 'f', 3, 64)+"s",
			strconv.FormatFloat(s.CPUPerConn, 'f', 3, 64)+"ms")
	}
	if mean, peak, ok := r.clientCPU(); ok {
		blank()
		cores := strconv.Itoa(runtime.NumCPU())
		row("client", "cpu mean", "cpu peak", "saturated")
		row("", strconv.FormatFloat(mean, 'f', 2, 64)+"/"+cores, strconv.FormatFloat(peak, 'f', 2, 64)+"/"+cores,
			strconv.Itoa(r.saturatedSeconds())+" of "+strconv.Itoa(len(r.Timeline))+" s")
		if n := r.saturatedSeconds(); n > 0 {
			row("warning", r.saturationWarning())
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteJSON writes the whole report as indented JSON, each histogram, and
// the fan-out table, on one line (a histogram's buckets would take four
// lines each); HTML characters in strings are left as they are.
func (r *Report) WriteJSON(w io.Writer) error {
	// The report without its histograms and table, indented, then each,
	// compact, in place of its null.
	c := *r
	c.Connect, c.TLS, c.Handshake, c.Latency, c.Subscribe, c.Fanout = nil, nil, nil, nil, nil, nil
	c.FanoutTable = nil
	out, err := marshalJSON(&c, "  ")
	if err != nil {
		return err
	}
	for _, h := range []struct {
		field string
		value any
		none  bool
	}{
		{"Connect", r.Connect, r.Connect == nil}, {"TLS", r.TLS, r.TLS == nil},
		{"Handshake", r.Handshake, r.Handshake == nil}, {"Latency", r.Latency, r.Latency == nil},
		{"Subscribe", r.Subscribe, r.Subscribe == nil}, {"Fanout", r.Fanout, r.Fanout == nil},
		{"FanoutTable", r.FanoutTable, r.FanoutTable == nil},
	} {
		if h.none {
			continue
		}
		f, _ := reflect.TypeFor[Report]().FieldByName(h.field)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		key := "\n  " + strconv.Quote(name) + ": "
		null := []byte(key + "null")
		if name == "" || name == "-" || bytes.Count(out, null) != 1 {
			// Not where expected: the plain form.
			if out, err = marshalJSON(r, "  "); err != nil {
				return err
			}
			break
		}
		compact, err := marshalJSON(h.value, "")
		if err != nil {
			return err
		}
		compact = bytes.TrimSuffix(compact, []byte("\n"))
		out = bytes.Replace(out, null, append([]byte(key), compact...), 1)
	}
	_, err = w.Write(out)
	return err
}

// pidsText is a list of process ids: "412,413,414".
func pidsText(pids []int) string {
	parts := make([]string, len(pids))
	for i, p := range pids {
		parts[i] = strconv.Itoa(p)
	}
	return strings.Join(parts, ",")
}

// marshalJSON is v's JSON with the given indent (none if empty), without
// escaping HTML characters, and a final newline.
func marshalJSON(v any, indent string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", indent)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
