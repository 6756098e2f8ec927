package bench

import (
	"bufio"
	"html/template"
	"io"
	"math"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// WriteHTML writes the report as one self-contained HTML page: no script,
// no external font, style sheet or image, so that it can be mailed, kept
// with the run's results, and read offline. The charts are SVG drawn here;
// all text is escaped. The page has:
//
//   - a header with the scenario, the URL, the params, when the run
//     started and how long it was measured, then the key figures;
//   - the latency percentiles of each non-empty histogram (round trip or,
//     in pubsub, delivery and fan-out; connect, handshake, subscribe) in a
//     table, and for each a percentile spectrum
//     (latency by percentile, on a scale of 1/(1-q) from 0 to 99.999%)
//     and the distribution of its samples (bars over a log time scale);
//   - the run over time, from Timeline: messages sent and received per
//     second, connections open, and when any, latency p99 and errors per
//     second, with the figures of each second in a collapsed table;
//   - the bytes on the wire, sent and received, with the data messages
//     and their plaintext, and the permessage-deflate negotiation when it
//     was offered;
//   - the errors by reason, most frequent first;
//   - the server's figures when it was sampled.
//
// A chart without data says so. Tooltips are SVG titles: no script.
func (r *Report) WriteHTML(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if err := reportPage.Execute(bw, r.htmlPage()); err != nil {
		return err
	}
	return bw.Flush()
}

// The page's data: everything is text, formatted here, and escaped by the
// template.
type (
	htmlPage struct {
		Title    string
		Quantile []string // the names of the percentiles of the latency table
		Scenario string
		URL      string
		Params   []htmlPair
		Env      string // where the run ran
		Command  string // the load generator's command line
		Warning  string // a saturated load generator
		Started  string
		Elapsed  string
		Figures  []htmlFigure
		Hists    []htmlHist
		Timeline []*svgChart
		Seconds  []htmlSecond
		Errors   []htmlError
		ErrTotal string
		Server   []htmlPair
		Wire     []htmlWire // sent, received; none when nothing went over the wire
		Deflate  []htmlPair // the offer and the answers; none when not offered
	}
	htmlPair struct{ Key, Value string }

	htmlWire struct{ Direction, Bytes, Messages, PerMsg, PlainPerMsg, Compressed string }

	htmlFigure struct{ Label, Value, Note string }

	htmlHist struct {
		Name     string
		Cells    []string // count, min, the percentiles, max, mean
		Spectrum *svgChart
		Bars     *svgChart
	}

	htmlSecond struct{ At, Established, Opened, Sent, Received, Errors, P50, P99, Max, WireSent, WireRecv, CPU string }

	htmlError struct{ Reason, Count, Share string }
)

// htmlQuantiles are the percentiles of the page's latency table.
var htmlQuantiles = []struct {
	Name string
	Q    float64
}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}, {"p99.99", 0.9999}}

// htmlPage gathers and formats what the page shows.
func (r *Report) htmlPage() *htmlPage {
	u := func(n uint64) string { return strconv.FormatUint(n, 10) }
	p := &htmlPage{
		Scenario: r.Scenario,
		URL:      r.URL,
		Elapsed:  strconv.FormatFloat(r.Elapsed.Seconds(), 'f', 2, 64) + " s",
	}
	if p.Scenario == "" {
		p.Scenario = "run"
	}
	for _, q := range htmlQuantiles {
		p.Quantile = append(p.Quantile, q.Name)
	}
	p.Title = "wssbench " + p.Scenario
	if r.URL != "" {
		p.Title += " · " + r.URL
	}
	if !r.Started.IsZero() {
		p.Started = r.Started.Format(time.RFC3339)
	}
	for _, k := range sortedKeys(r.Params) {
		p.Params = append(p.Params, htmlPair{k, r.Params[k]})
	}
	if r.Env != nil {
		p.Env = r.Env.text()
		p.Command = strings.Join(r.Env.Command, " ")
	}

	p.Figures = []htmlFigure{
		{"connections established", u(r.Established), "of " + u(r.Attempted) + " attempted"},
		{"failed to connect", u(r.Failed), ""},
		{"dropped", u(r.Dropped), "established, then lost"},
		{"errors", u(r.errorCount()), ""},
	}
	if r.scenario() == PubSub {
		p.Figures = append(p.Figures,
			htmlFigure{"subscribers ready", u(r.Subscribers), u(r.Publishers) + " publishers"},
			htmlFigure{"publications", u(r.Published), "acknowledged, of " + u(r.Sent) + " sent"},
			htmlFigure{"deliveries", u(r.Received), "of " + u(r.Expected) + " expected"},
			htmlFigure{"deliveries per second", strconv.FormatFloat(r.messageRate(), 'f', 1, 64), "received"},
			htmlFigure{"missing", u(r.Missing), "expected, not delivered"},
			htmlFigure{"duplicates", u(r.Duplicates), "repeated or out of order"})
		if n := histCount(r.Fanout); n > 0 {
			p.Figures = append(p.Figures,
				htmlFigure{"fan-out p99", durationText(r.Fanout.Quantile(0.99)), "until the last subscriber had it"},
				htmlFigure{"fan-out max", durationText(r.Fanout.Max()), "until the last subscriber had it"},
				htmlFigure{"reached every subscriber", u(r.FanoutComplete), "of " + u(n) + " publications tracked"})
		}
	} else if r.messaging() {
		p.Figures = append(p.Figures,
			htmlFigure{"messages received", u(r.Received), "of " + u(r.Sent) + " sent"},
			htmlFigure{"messages per second", strconv.FormatFloat(r.messageRate(), 'f', 1, 64), "received"})
	}
	if histCount(r.Latency) > 0 {
		name := r.latencyName()
		p.Figures = append(p.Figures,
			htmlFigure{"latency p50", durationText(r.Latency.Quantile(0.5)), name},
			htmlFigure{"latency p99", durationText(r.Latency.Quantile(0.99)), name},
			htmlFigure{"latency p99.9", durationText(r.Latency.Quantile(0.999)), name},
			htmlFigure{"latency max", durationText(r.Latency.Max()), name})
	}
	f1 := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	if w := r.Wire; w.SentBytes > 0 || w.ReceivedBytes > 0 {
		p.Figures = append(p.Figures,
			htmlFigure{"bytes sent per message", f1(w.SentPerMessage()) + " B", "on the wire; " + f1(w.PlainSentPerMessage()) + " B plaintext"},
			htmlFigure{"bytes received per message", f1(w.ReceivedPerMessage()) + " B", "on the wire; " + f1(w.PlainReceivedPerMessage()) + " B plaintext"})
		p.Wire = []htmlWire{
			{"sent", bytesText(float64(w.SentBytes)), u(w.MessagesSent), f1(w.SentPerMessage()), f1(w.PlainSentPerMessage()), u(w.CompressedSent)},
			{"received", bytesText(float64(w.ReceivedBytes)), u(w.MessagesReceived), f1(w.ReceivedPerMessage()), f1(w.PlainReceivedPerMessage()), u(w.CompressedReceived)},
		}
	}
	if d := r.Deflate; d != nil {
		note := u(d.Negotiated) + " connections agreed, " + u(d.Declined) + " declined"
		if d.state() == "declined" {
			note = "by the server: messages went uncompressed"
		}
		p.Figures = append(p.Figures, htmlFigure{"permessage-deflate", d.state(), note})
		threshold := "all messages compressed"
		if d.Threshold > 0 {
			threshold = "messages of " + strconv.Itoa(d.Threshold) + " bytes or more compressed"
		}
		p.Deflate = []htmlPair{{"offer", d.Offer}, {"threshold", threshold}}
		for _, a := range sortedCounts(d.Answers) {
			p.Deflate = append(p.Deflate, htmlPair{"answer: " + a.Reason, u(a.Count) + " connections"})
		}
		if d.Declined > 0 {
			p.Deflate = append(p.Deflate, htmlPair{"declined (no extension in the 101)", u(d.Declined) + " connections"})
		}
	}
	if histCount(r.Connect) > 0 {
		p.Figures = append(p.Figures, htmlFigure{"connect p99", durationText(r.Connect.Quantile(0.99)), "TCP"})
	}
	if histCount(r.TLS) > 0 {
		p.Figures = append(p.Figures, htmlFigure{"TLS handshake p99", durationText(r.TLS.Quantile(0.99)), u(r.Resumed) + " resumed"})
	}
	if histCount(r.Handshake) > 0 {
		p.Figures = append(p.Figures, htmlFigure{"handshake p99", durationText(r.Handshake.Quantile(0.99)), "TLS and upgrade"})
	}
	if hs := r.handshakeRate(); hs > 0 {
		p.Figures = append(p.Figures, htmlFigure{"handshakes per second", strconv.FormatFloat(hs, 'f', 1, 64), "connections opened and closed"})
	}
	if s := r.Server; s != nil {
		p.Figures = append(p.Figures,
			htmlFigure{"server memory per connection", bytesText(s.RSSPerConn), "RSS growth at " + u(s.PeakConns) + " connections"})
		if r.Received > 0 {
			p.Figures = append(p.Figures,
				htmlFigure{"server CPU per million messages", strconv.FormatFloat(s.CPUPerMillion, 'f', 3, 64) + " s", "user + system"})
		}
		if !r.messaging() {
			p.Figures = append(p.Figures,
				htmlFigure{"server CPU per connection", strconv.FormatFloat(s.CPUPerConn, 'f', 3, 64) + " ms", "per connection opened"})
		}
		p.Server = []htmlPair{
			{"processes", pidsText(s.PIDs)},
			{"RSS at start", bytesText(float64(s.RSSStart))},
			{"RSS at peak", bytesText(float64(s.RSSPeak))},
			{"RSS at end", bytesText(float64(s.RSSEnd))},
			{"connections at peak", u(s.PeakConns)},
			{"RSS per connection", bytesText(s.RSSPerConn)},
			{"CPU (user + system)", strconv.FormatFloat(s.CPUSeconds, 'f', 2, 64) + " s"},
			{"CPU per million messages", strconv.FormatFloat(s.CPUPerMillion, 'f', 3, 64) + " s"},
			{"CPU per connection opened", strconv.FormatFloat(s.CPUPerConn, 'f', 3, 64) + " ms"},
			{"threads at end", strconv.Itoa(s.Threads)},
		}
	}

	for _, h := range r.histograms() {
		cells := []string{u(h.Hist.Count()), durationText(h.Hist.Min())}
		for _, q := range htmlQuantiles {
			cells = append(cells, durationText(h.Hist.Quantile(q.Q)))
		}
		cells = append(cells, durationText(h.Hist.Max()), durationText(h.Hist.Mean()))
		p.Hists = append(p.Hists, htmlHist{
			Name:     h.Name,
			Cells:    cells,
			Spectrum: spectrumChart("Latency by percentile: "+h.Name, h.Hist),
			Bars:     distributionChart("Distribution: "+h.Name, h.Hist),
		})
	}

	if mean, peak, ok := r.clientCPU(); ok {
		cores := strconv.Itoa(runtime.NumCPU())
		p.Figures = append(p.Figures, htmlFigure{"load generator CPU", strconv.FormatFloat(peak, 'f', 2, 64) + " of " + cores,
			"cores at its busiest second; " + strconv.FormatFloat(mean, 'f', 2, 64) + " on average"})
		if r.saturatedSeconds() > 0 {
			p.Warning = r.saturationWarning()
		}
	}

	p.Timeline = r.timelineCharts()
	lat := func(us float64) string {
		if us <= 0 {
			return "-"
		}
		return durationText(time.Duration(us * float64(time.Microsecond)))
	}
	for _, s := range r.Timeline {
		p.Seconds = append(p.Seconds, htmlSecond{
			At: strconv.Itoa(s.At), Established: u(s.Established), Opened: u(s.Opened), Sent: u(s.Sent),
			Received: u(s.Received), Errors: u(s.Errors), P50: lat(s.P50), P99: lat(s.P99), Max: lat(s.Max),
			WireSent: bytesText(float64(s.WireSent)), WireRecv: bytesText(float64(s.WireRecv)),
			CPU: strconv.FormatFloat(s.ClientCPU, 'f', 2, 64),
		})
	}

	total := r.errorCount()
	p.ErrTotal = u(total)
	for _, e := range r.sortedErrors() {
		p.Errors = append(p.Errors, htmlError{e.Reason, u(e.Count), percentText(e.Count, total)})
	}
	return p
}

// sortedKeys is m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// The charts: an svgChart is the shapes of one SVG picture, in pixels,
// which the template writes out.
type (
	svgChart struct {
		Title  string
		W, H   float64
		NoData bool
		Grid   []svgLine
		Axes   []svgLine
		Rects  []svgRect
		Paths  []svgPath
		Dots   []svgDot
		Texts  []svgText
		Legend []svgLegend

		plot         svgBox // the plotting area
		xAxis, yAxis svgAxis
	}
	svgLine struct{ X1, Y1, X2, Y2 float64 }
	svgRect struct {
		Class      string
		X, Y, W, H float64
		Title      string
	}
	svgPath struct{ Class, D, Title string }
	svgDot  struct {
		Class  string
		X, Y   float64
		Title  string
		Radius float64
	}
	svgText struct {
		Class, Anchor string
		X, Y          float64
		Transform     string
		Text          string
	}
	// svgLegend is an entry of a legend: a stroke of the series' colour
	// from X1 to X2 at LineY, and the label from TextX at TextY.
	svgLegend struct {
		Class, Label  string
		X1, X2, LineY float64
		TextX, TextY  float64
		width         float64 // estimated, of the whole entry
	}

	svgBox struct{ Left, Top, Right, Bottom float64 }

	// svgAxis maps values to [0, 1] along an axis, linearly or on the
	// logarithm of the value.
	svgAxis struct {
		Lo, Hi float64
		Log    bool
	}

	// svgTick is one labelled value of an axis.
	svgTick struct {
		V     float64
		Label string
	}
)

// Chart geometry, in pixels.
const (
	chartW      = 520
	chartH      = 290
	chartLeft   = 66
	chartRight  = 30
	chartTop    = 34
	chartBottom = 48
)

// frac is v's position along the axis, from 0 (Lo) to 1 (Hi).
func (a svgAxis) frac(v float64) float64 {
	lo, hi := a.Lo, a.Hi
	if a.Log {
		v, lo, hi = math.Log10(math.Max(v, 1e-300)), math.Log10(lo), math.Log10(hi)
	}
	if !(hi > lo) {
		return 0
	}
	return (v - lo) / (hi - lo)
}

// newChart starts a chart with its title and axis titles. An empty chart
// (noData) is only a frame and "no data".
func newChart(title, xTitle, yTitle string, noData bool) *svgChart {
	c := &svgChart{
		Title: title, W: chartW, H: chartH, NoData: noData,
		plot: svgBox{chartLeft, chartTop, chartW - chartRight, chartH - chartBottom},
	}
	if noData {
		c.Rects = append(c.Rects, svgRect{Class: "frame", X: 0.5, Y: 0.5, W: chartW - 1, H: chartH - 1})
		c.Texts = append(c.Texts, svgText{Class: "nodata", Anchor: "middle", X: chartW / 2, Y: chartH/2 + 5, Text: "no data"})
		return c
	}
	b := c.plot
	c.Texts = append(c.Texts,
		svgText{Class: "axis-title", Anchor: "middle", X: (b.Left + b.Right) / 2, Y: chartH - 8, Text: xTitle},
		svgText{Class: "axis-title", Anchor: "middle", X: 14, Y: (b.Top + b.Bottom) / 2,
			Transform: "rotate(-90 14 " + svgNum((b.Top+b.Bottom)/2) + ")", Text: yTitle})
	return c
}

// px and py are the pixel coordinates of the values x and y.
func (c *svgChart) px(x float64) float64 {
	return c.plot.Left + c.xAxis.frac(x)*(c.plot.Right-c.plot.Left)
}

func (c *svgChart) py(y float64) float64 {
	return c.plot.Bottom - c.yAxis.frac(y)*(c.plot.Bottom-c.plot.Top)
}

// setAxes sets the axes' ranges and draws their ticks, grid lines and
// lines.
func (c *svgChart) setAxes(x svgAxis, xTicks []svgTick, y svgAxis, yTicks []svgTick) {
	c.xAxis, c.yAxis = x, y
	b := c.plot
	for _, t := range xTicks {
		px := c.px(t.V)
		c.Grid = append(c.Grid, svgLine{px, b.Top, px, b.Bottom})
		c.Axes = append(c.Axes, svgLine{px, b.Bottom, px, b.Bottom + 5})
		c.Texts = append(c.Texts, svgText{Class: "tick", Anchor: "middle", X: px, Y: b.Bottom + 19, Text: t.Label})
	}
	for _, t := range yTicks {
		py := c.py(t.V)
		c.Grid = append(c.Grid, svgLine{b.Left, py, b.Right, py})
		c.Axes = append(c.Axes, svgLine{b.Left - 5, py, b.Left, py})
		c.Texts = append(c.Texts, svgText{Class: "tick", Anchor: "end", X: b.Left - 8, Y: py + 4, Text: t.Label})
	}
	c.Axes = append(c.Axes, svgLine{b.Left, b.Bottom, b.Right, b.Bottom}, svgLine{b.Left, b.Top, b.Left, b.Bottom})
}

// addSeries draws a line through the points (x[i], y[i]), with a legend
// entry, and a dot where there is a single point.
func (c *svgChart) addSeries(class, label string, x, y []float64) {
	var d strings.Builder
	for i := range x {
		if i == 0 {
			d.WriteString("M")
		} else {
			d.WriteString(" L")
		}
		d.WriteString(svgNum(c.px(x[i])))
		d.WriteByte(',')
		d.WriteString(svgNum(c.py(y[i])))
	}
	if len(x) == 1 {
		c.Dots = append(c.Dots, svgDot{Class: class, X: c.px(x[0]), Y: c.py(y[0]), Radius: 3, Title: label})
	}
	c.Paths = append(c.Paths, svgPath{Class: class, D: d.String(), Title: label})
	c.addLegend(class, label)
}

// addLegend adds an entry to the legend, above the plot, left to right.
func (c *svgChart) addLegend(class, label string) {
	x := c.plot.Left
	if n := len(c.Legend); n > 0 {
		x = c.Legend[n-1].X1 + c.Legend[n-1].width
	}
	c.Legend = append(c.Legend, svgLegend{
		Class: class, Label: label, X1: x, X2: x + 16, LineY: 14, TextX: x + 21, TextY: 18,
		width: 36 + 6.5*float64(len([]rune(label))),
	})
}

// svgNum is a coordinate with at most one decimal.
func svgNum(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	s := strconv.FormatFloat(v, 'f', 1, 64)
	s = strings.TrimSuffix(s, ".0")
	if s == "-0" {
		s = "0"
	}
	return s
}

// niceStep is the 1, 2 or 5 times a power of ten nearest to raw.
func niceStep(raw float64) float64 {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / p; {
	case f < 1.5:
		return p
	case f < 3:
		return 2 * p
	case f < 7:
		return 5 * p
	}
	return 10 * p
}

// niceTicks is about n round values covering lo to hi, from a multiple of
// the step at or below lo to one at or above hi, and the step, which is at
// least minStep if that is positive.
func niceTicks(lo, hi float64, n int, minStep float64) ([]float64, float64) {
	if !(hi > lo) {
		hi = lo + math.Max(1, minStep)
	}
	step := math.Max(niceStep((hi-lo)/float64(max(n, 1))), minStep)
	first := math.Floor(lo/step + 1e-9)
	last := math.Ceil(hi/step - 1e-9)
	var ticks []float64
	for i := first; i <= last; i++ {
		ticks = append(ticks, i*step)
	}
	return ticks, step
}

// stepDecimals is the decimals that tick values a step apart need.
func stepDecimals(step float64) int {
	return max(0, int(-math.Floor(math.Log10(step)+1e-9)))
}

// countTicks is ticks from 0 to at least top, labelled as counts: 2500,
// 40k, 1.5M.
func countTicks(top float64) (svgAxis, []svgTick) {
	vals, step := niceTicks(0, math.Max(top, 1), 5, 1)
	div, suffix := 1.0, ""
	switch last := vals[len(vals)-1]; {
	case last >= 1e10:
		div, suffix = 1e9, "G"
	case last >= 1e7:
		div, suffix = 1e6, "M"
	case last >= 1e4:
		div, suffix = 1e3, "k"
	}
	dec := stepDecimals(step / div)
	ticks := make([]svgTick, len(vals))
	for i, v := range vals {
		label := "0"
		if v != 0 {
			label = strconv.FormatFloat(v/div, 'f', dec, 64) + suffix
		}
		ticks[i] = svgTick{v, label}
	}
	return svgAxis{Lo: vals[0], Hi: vals[len(vals)-1]}, ticks
}

// durationUnit is the unit to label durations up to top (nanoseconds).
func durationUnit(top float64) (float64, string) {
	switch {
	case top >= 1e9:
		return 1e9, "s"
	case top >= 1e6:
		return 1e6, "ms"
	case top >= 1e3:
		return 1e3, "µs"
	}
	return 1, "ns"
}

// latencyTicks is ticks from 0 to at least top nanoseconds, in the unit
// that suits top: 0, 250µs, 500µs...
func latencyTicks(top float64) (svgAxis, []svgTick) {
	top = math.Max(top, 1)
	div, unit := durationUnit(top)
	vals, step := niceTicks(0, top/div, 5, 0)
	dec := stepDecimals(step)
	ticks := make([]svgTick, len(vals))
	for i, v := range vals {
		label := "0"
		if v != 0 {
			label = strconv.FormatFloat(v, 'f', dec, 64) + unit
		}
		ticks[i] = svgTick{v * div, label}
	}
	return svgAxis{Lo: 0, Hi: vals[len(vals)-1] * div}, ticks
}

// logDurationTicks is labelled durations on a log axis from lo to hi
// nanoseconds: the 1-2-5 values in range, only the powers of ten when
// those are too many, every digit when too few.
func logDurationTicks(lo, hi float64) []svgTick {
	pick := func(mults []float64) []float64 {
		var out []float64
		for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
			p := math.Pow(10, e)
			for _, m := range mults {
				if v := m * p; v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
					out = append(out, v)
				}
			}
		}
		return out
	}
	vals := pick([]float64{1, 2, 5})
	switch {
	case len(vals) > 9:
		vals = pick([]float64{1})
	case len(vals) < 3:
		vals = pick([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9})
	}
	if len(vals) < 2 {
		vals = []float64{lo, hi}
	}
	ticks := make([]svgTick, len(vals))
	for i, v := range vals {
		ticks[i] = svgTick{v, tickDuration(time.Duration(math.Round(v)))}
	}
	return ticks
}

// tickDuration is durationText without the zeros that end its decimals:
// 1ms, 2.5ms, 50µs.
func tickDuration(d time.Duration) string {
	s := durationText(d)
	i := strings.IndexFunc(s, func(c rune) bool { return (c < '0' || c > '9') && c != '.' && c != '-' })
	if i < 0 || !strings.Contains(s[:i], ".") {
		return s
	}
	num := strings.TrimRight(strings.TrimRight(s[:i], "0"), ".")
	return num + s[i:]
}

// spectrumQuantiles are the percentiles marked on a spectrum.
var spectrumQuantiles = []struct {
	Name string
	Q    float64
}{{"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}, {"p99.99", 0.9999}, {"p99.999", 0.99999}}

// spectrumX is the position of the quantile q on a spectrum's x axis:
// log10(1/(1-q)), 0 for the minimum, 1 for p90, 2 for p99...
func spectrumX(q float64) float64 { return -math.Log10(1 - q) }

// spectrumChart is the latency of h by percentile, from the minimum to
// p99.999 on a scale of 1/(1-q), so that each further nine of the tail
// gets as much room as the whole body.
func spectrumChart(title string, h *Histogram) *svgChart {
	c := newChart(title, "percentile", "latency", histCount(h) == 0)
	if c.NoData {
		return c
	}
	const decades = 5
	xTicks := []svgTick{{0, "0%"}}
	for i, s := range spectrumQuantiles[1:] {
		xTicks = append(xTicks, svgTick{float64(i + 1), strings.TrimPrefix(s.Name, "p") + "%"})
	}
	y, yTicks := latencyTicks(float64(h.Max()))
	c.setAxes(svgAxis{Lo: 0, Hi: decades}, xTicks, y, yTicks)

	const points = 250
	xs := make([]float64, 0, points+1)
	ys := make([]float64, 0, points+1)
	for i := 0; i <= points; i++ {
		x := decades * float64(i) / points
		xs = append(xs, x)
		ys = append(ys, float64(h.Quantile(1-math.Pow(10, -x))))
	}
	c.addSeries("s0", "latency at percentile", xs, ys)
	for _, s := range spectrumQuantiles {
		v := h.Quantile(s.Q)
		c.Dots = append(c.Dots, svgDot{Class: "s0", X: c.px(spectrumX(s.Q)), Y: c.py(float64(v)), Radius: 2.5,
			Title: s.Name + ": " + durationText(v)})
	}
	return c
}

// distributionChart is h's samples by latency: bars over a log time scale
// from the smallest to the largest bucket, each bar a fixed share of the
// scale. h's buckets are 1/128 of a power of two wide; the bars are wider
// (at least four buckets), so that they do not alternate between holding
// one bucket and two.
func distributionChart(title string, h *Histogram) *svgChart {
	c := newChart(title, "latency (log scale)", "samples", histCount(h) == 0)
	if c.NoData {
		return c
	}
	type bucket struct {
		upper float64
		count uint64
	}
	var buckets []bucket
	h.Buckets(func(upper time.Duration, count uint64) {
		buckets = append(buckets, bucket{math.Max(float64(upper), 1), count})
	})
	if len(buckets) == 0 {
		return newChart(title, "", "", true)
	}
	lo, hi := math.Log10(buckets[0].upper), math.Log10(buckets[len(buckets)-1].upper)
	// At least a factor of two across.
	if minSpan := math.Log10(2); hi-lo < minSpan {
		mid := (lo + hi) / 2
		lo, hi = mid-minSpan/2, mid+minSpan/2
	}
	// A little room so that the first and last bars are whole.
	pad := (hi - lo) * 0.02
	lo, hi = lo-pad, hi+pad
	bucketSpan := math.Log10(1 + 1.0/128)
	n := int(math.Max(1, math.Min(80, math.Floor((hi-lo)/(4*bucketSpan)))))
	bins := make([]uint64, n)
	var top uint64
	for _, b := range buckets {
		i := int(math.Floor((math.Log10(b.upper) - lo) / (hi - lo) * float64(n)))
		i = min(max(i, 0), n-1)
		bins[i] += b.count
		top = max(top, bins[i])
	}
	y, yTicks := countTicks(float64(top))
	loV, hiV := math.Pow(10, lo), math.Pow(10, hi)
	c.setAxes(svgAxis{Lo: loV, Hi: hiV, Log: true}, logDurationTicks(loV, hiV), y, yTicks)
	width := (c.plot.Right - c.plot.Left) / float64(n)
	for i, count := range bins {
		if count == 0 {
			continue
		}
		from := math.Pow(10, lo+(hi-lo)*float64(i)/float64(n))
		to := math.Pow(10, lo+(hi-lo)*float64(i+1)/float64(n))
		top := c.py(float64(count))
		c.Rects = append(c.Rects, svgRect{
			Class: "s0", X: c.px(from), Y: top, W: math.Max(width-1, 0.5), H: c.plot.Bottom - top,
			Title: durationText(time.Duration(from)) + " to " + durationText(time.Duration(to)) + ": " +
				strconv.FormatUint(count, 10) + " samples",
		})
	}
	return c
}

// timelineCharts is the run over time: messages per second, connections
// open, and p99 and errors per second when there are any.
func (r *Report) timelineCharts() []*svgChart {
	tl := r.Timeline
	msgs := newChart("Messages per second", "seconds", "messages / s", len(tl) == 0)
	conns := newChart("Connections", "seconds", "connections", len(tl) == 0)
	if len(tl) == 0 {
		if !r.messaging() {
			return []*svgChart{conns}
		}
		return []*svgChart{msgs, conns}
	}
	at := make([]float64, len(tl))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, s := range tl {
		at[i] = float64(s.At)
		lo, hi = math.Min(lo, at[i]), math.Max(hi, at[i])
	}
	lo = math.Min(lo, 0)
	xVals, xStep := niceTicks(lo, math.Max(hi, lo+1), 8, 1)
	xDec := stepDecimals(xStep)
	xTicks := make([]svgTick, len(xVals))
	for i, v := range xVals {
		xTicks[i] = svgTick{v, strconv.FormatFloat(v, 'f', xDec, 64)}
	}
	x := svgAxis{Lo: xVals[0], Hi: xVals[len(xVals)-1]}
	series := func(f func(Second) float64) ([]float64, float64) {
		out := make([]float64, len(tl))
		top := 0.0
		for i, s := range tl {
			out[i] = f(s)
			top = math.Max(top, out[i])
		}
		return out, top
	}

	sent, topSent := series(func(s Second) float64 { return float64(s.Sent) })
	recv, topRecv := series(func(s Second) float64 { return float64(s.Received) })
	y, yTicks := countTicks(math.Max(topSent, topRecv))
	msgs.setAxes(x, xTicks, y, yTicks)
	if r.scenario() == PubSub {
		msgs.addSeries("s1", "published", at, sent)
		msgs.addSeries("s0", "delivered", at, recv)
	} else {
		msgs.addSeries("s1", "sent", at, sent)
		msgs.addSeries("s0", "received", at, recv)
	}

	open, topOpen := series(func(s Second) float64 { return float64(s.Established) })
	opened, topOpened := series(func(s Second) float64 { return float64(s.Opened) })
	y, yTicks = countTicks(math.Max(topOpen, topOpened))
	conns.setAxes(x, xTicks, y, yTicks)
	conns.addSeries("s2", "open at the end of the second", at, open)
	if topOpened > 0 {
		conns.addSeries("s1", "opened during the second", at, opened)
	}
	charts := []*svgChart{conns}
	if r.messaging() {
		charts = []*svgChart{msgs, conns}
	}

	if top := r.timelineTop(func(s Second) float64 { return max(s.P50, s.P99, s.Max) * 1e3 }); top > 0 {
		p50, _ := series(func(s Second) float64 { return s.P50 * 1e3 })
		p99, _ := series(func(s Second) float64 { return s.P99 * 1e3 })
		maxes, _ := series(func(s Second) float64 { return s.Max * 1e3 })
		c := newChart("Latency per second", "seconds", "latency", false)
		y, yTicks := latencyTicks(top)
		c.setAxes(x, xTicks, y, yTicks)
		c.addSeries("s1", "p50 of the second", at, p50)
		c.addSeries("s0", "p99 of the second", at, p99)
		c.addSeries("s3", "max of the second", at, maxes)
		charts = append(charts, c)
	}
	out, topOut := series(func(s Second) float64 { return float64(s.WireSent) })
	in, topIn := series(func(s Second) float64 { return float64(s.WireRecv) })
	if top := math.Max(topOut, topIn); top > 0 {
		c := newChart("Bytes on the wire per second", "seconds", "bytes / s", false)
		y, yTicks := countTicks(top)
		c.setAxes(x, xTicks, y, yTicks)
		c.addSeries("s1", "sent", at, out)
		c.addSeries("s0", "received", at, in)
		charts = append(charts, c)
	}
	if cpu, top := series(func(s Second) float64 { return s.ClientCPU }); top > 0 {
		c := newChart("Load generator CPU", "seconds", "cores", false)
		y, yTicks := countTicks(math.Max(top, float64(runtime.NumCPU())))
		c.setAxes(x, xTicks, y, yTicks)
		c.addSeries("s2", "cores used", at, cpu)
		charts = append(charts, c)
	}
	if errs, top := series(func(s Second) float64 { return float64(s.Errors) }); top > 0 {
		c := newChart("Errors per second", "seconds", "errors / s", false)
		y, yTicks := countTicks(top)
		c.setAxes(x, xTicks, y, yTicks)
		c.addSeries("s3", "errors", at, errs)
		charts = append(charts, c)
	}
	return charts
}

// timelineTop is the highest f of the timeline's seconds.
func (r *Report) timelineTop(f func(Second) float64) float64 {
	top := 0.0
	for _, s := range r.Timeline {
		top = math.Max(top, f(s))
	}
	return top
}

// reportPage is the page's template. Keep it well-formed XML (void
// elements closed, no named entities, nothing but '>' of the markup
// characters in the style sheet): the tests parse it so.
var reportPage = template.Must(template.New("page").Funcs(template.FuncMap{"n": svgNum}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title>{{.Title}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232b; background: #fff; margin: 0 auto; padding: 1.5em 2em 3em; max-width: 1100px; }
h1 { font-size: 1.6em; margin: 0 0 .2em; }
h2 { font-size: 1.2em; margin: 2em 0 .6em; padding-bottom: .2em; border-bottom: 1px solid #d8dde3; }
h3 { font-size: 1em; margin: 1.4em 0 .4em; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .92em; }
.url { margin: 0 0 .6em; word-break: break-all; }
.params { list-style: none; padding: 0; margin: 0 0 .6em; display: flex; flex-wrap: wrap; gap: .3em .5em; }
.params li { background: #eef1f5; border-radius: 4px; padding: .05em .5em; }
.when { color: #5b6570; margin: 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .7em; margin-top: 1.4em; }
.figure { border: 1px solid #d8dde3; border-radius: 6px; padding: .6em .8em; }
.figure .value { font-size: 1.45em; font-weight: 600; font-variant-numeric: tabular-nums; }
.figure .label { color: #39424c; }
.figure .note { color: #6b7580; font-size: .85em; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .8em; border-bottom: 1px solid #e4e8ec; text-align: right; }
th { font-weight: 600; background: #f5f7f9; }
th:first-child, td:first-child, td.text { text-align: left; }
td.reason { text-align: left; word-break: break-word; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure.chart { margin: 0; }
figure.chart figcaption { font-weight: 600; margin: 0 0 .2em; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg.chart .grid { stroke: #e8ebef; stroke-width: 1; }
svg.chart .axis { stroke: #6b7580; stroke-width: 1; }
svg.chart .frame { fill: #fafbfc; stroke: #d8dde3; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #39424c; }
svg.chart text.axis-title { font-size: 12px; fill: #1d232b; }
svg.chart text.nodata { font-size: 16px; fill: #6b7580; }
svg.chart line.key { stroke-width: 3; }
svg.chart path { fill: none; stroke-width: 1.8; stroke-linejoin: round; }
svg.chart path.s0, svg.chart line.s0 { stroke: #1f6fb4; }
svg.chart path.s1, svg.chart line.s1 { stroke: #e07b1a; }
svg.chart path.s2, svg.chart line.s2 { stroke: #2b9a46; }
svg.chart path.s3, svg.chart line.s3 { stroke: #c9302c; }
svg.chart rect.s0, svg.chart circle.s0 { fill: #1f6fb4; }
svg.chart rect.s1, svg.chart circle.s1 { fill: #e07b1a; }
svg.chart rect.s2, svg.chart circle.s2 { fill: #2b9a46; }
svg.chart rect.s3, svg.chart circle.s3 { fill: #c9302c; }
.nodata { color: #6b7580; font-style: italic; }
details { margin-top: 1em; }
summary { cursor: pointer; }
</style>
</head>
<body>
<header>
<h1>wssbench: {{.Scenario}}</h1>
{{if .URL}}<p class="url"><code>{{.URL}}</code></p>
{{end}}{{if .Params}}<ul class="params">{{range .Params}}<li><code>{{.Key}}={{.Value}}</code></li>{{end}}</ul>
{{end}}<p class="when">{{if .Started}}Started {{.Started}}, measured{{else}}Measured{{end}} for {{.Elapsed}}.</p>
{{if .Warning}}<p class="warning"><strong>Warning:</strong> {{.Warning}}</p>
{{end}}{{if .Env}}<p class="env">{{.Env}}</p>
<p class="command"><code>{{.Command}}</code></p>
{{end}}
</header>
<section class="figures">
{{range .Figures}}<div class="figure"><div class="value">{{.Value}}</div><div class="label">{{.Label}}</div>{{if .Note}}<div class="note">{{.Note}}</div>{{end}}</div>
{{end}}</section>

<h2>Latency</h2>
{{if .Hists}}<table>
<thead><tr><th></th><th>count</th><th>min</th>{{range .Quantile}}<th>{{.}}</th>{{end}}<th>max</th><th>mean</th></tr></thead>
<tbody>
{{range .Hists}}<tr><td>{{.Name}}</td>{{range .Cells}}<td>{{.}}</td>{{end}}</tr>
{{end}}</tbody>
</table>
{{range .Hists}}<h3>{{.Name}}</h3>
<div class="charts">
{{template "chart" .Spectrum}}
{{template "chart" .Bars}}
</div>
{{end}}{{else}}<p class="nodata">no data: no latency, connect or handshake was measured</p>
{{end}}
<h2>Over time</h2>
<div class="charts">
{{range .Timeline}}{{template "chart" .}}
{{end}}</div>
{{if .Seconds}}<details>
<summary>Each second</summary>
<table>
<thead><tr><th>second</th><th>connections open</th><th>opened</th><th>sent</th><th>received</th><th>errors</th><th>p50</th><th>p99</th><th>max</th><th>bytes out</th><th>bytes in</th><th>client CPU</th></tr></thead>
<tbody>
{{range .Seconds}}<tr><td>{{.At}}</td><td>{{.Established}}</td><td>{{.Opened}}</td><td>{{.Sent}}</td><td>{{.Received}}</td><td>{{.Errors}}</td><td>{{.P50}}</td><td>{{.P99}}</td><td>{{.Max}}</td><td>{{.WireSent}}</td><td>{{.WireRecv}}</td><td>{{.CPU}}</td></tr>
{{end}}</tbody>
</table>
</details>
{{end}}
{{if .Wire}}<h2>Bytes on the wire</h2>
<table>
<thead><tr><th></th><th>on the wire</th><th>data messages</th><th>bytes / message</th><th>plaintext / message</th><th>compressed</th></tr></thead>
<tbody>
{{range .Wire}}<tr><td>{{.Direction}}</td><td>{{.Bytes}}</td><td>{{.Messages}}</td><td>{{.PerMsg}}</td><td>{{.PlainPerMsg}}</td><td>{{.Compressed}}</td></tr>
{{end}}</tbody>
</table>
<p>TCP payload the clients wrote and read (TLS records for wss://, the TLS handshake not counted), from the upgrade to the end of the measured part.</p>
{{end}}{{if .Deflate}}<h2>permessage-deflate</h2>
<table>
<tbody>
{{range .Deflate}}<tr><td class="text">{{.Key}}</td><td class="text"><code>{{.Value}}</code></td></tr>
{{end}}</tbody>
</table>
{{end}}
<h2>Errors</h2>
{{if .Errors}}<table>
<thead><tr><th>reason</th><th>count</th><th>share</th></tr></thead>
<tbody>
{{range .Errors}}<tr><td class="reason"><code>{{.Reason}}</code></td><td>{{.Count}}</td><td>{{.Share}}</td></tr>
{{end}}</tbody>
<tfoot><tr><th>total</th><th>{{.ErrTotal}}</th><th></th></tr></tfoot>
</table>
{{else}}<p>No errors.</p>
{{end}}{{if .Server}}
<h2>Server</h2>
<table>
<tbody>
{{range .Server}}<tr><td class="text">{{.Key}}</td><td>{{.Value}}</td></tr>
{{end}}</tbody>
</table>
{{end}}</body>
</html>
{{define "chart"}}<figure class="chart">
<figcaption>{{.Title}}</figcaption>
<svg class="chart" viewBox="0 0 {{n .W}} {{n .H}}" width="{{n .W}}" height="{{n .H}}" role="img" aria-label="{{.Title}}">
<title>{{.Title}}</title>
{{range .Grid}}<line class="grid" x1="{{n .X1}}" y1="{{n .Y1}}" x2="{{n .X2}}" y2="{{n .Y2}}"/>
{{end}}{{range .Rects}}<rect class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" width="{{n .W}}" height="{{n .H}}">{{if .Title}}<title>{{.Title}}</title>{{end}}</rect>
{{end}}{{range .Paths}}<path class="{{.Class}}" d="{{.D}}"><title>{{.Title}}</title></path>
{{end}}{{range .Dots}}<circle class="{{.Class}}" cx="{{n .X}}" cy="{{n .Y}}" r="{{n .Radius}}"><title>{{.Title}}</title></circle>
{{end}}{{range .Axes}}<line class="axis" x1="{{n .X1}}" y1="{{n .Y1}}" x2="{{n .X2}}" y2="{{n .Y2}}"/>
{{end}}{{range .Texts}}<text class="{{.Class}}" x="{{n .X}}" y="{{n .Y}}" text-anchor="{{.Anchor}}"{{if .Transform}} transform="{{.Transform}}"{{end}}>{{.Text}}</text>
{{end}}{{range .Legend}}<line class="key {{.Class}}" x1="{{n .X1}}" y1="{{n .LineY}}" x2="{{n .X2}}" y2="{{n .LineY}}"/><text x="{{n .TextX}}" y="{{n .TextY}}">{{.Label}}</text>
{{end}}</svg>
</figure>{{end}}`))
