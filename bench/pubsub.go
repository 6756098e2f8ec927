package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/codec"
)

// The pubsub scenario, on a server speaking wssd's pub/sub protocol.
//
// Cfg.Conns subscribers each subscribe to Cfg.Topic once upgraded, with
// {"op":"subscribe","topic":T,"id":1}, and are established when the ack
// comes. Cfg.Pubs publishers, which do not subscribe, then publish at
// Cfg.Rate a second in all, open loop, each publication
//
//	{"op":"publish","topic":T,"data":{"pub":P,"seq":S,"sent_ns":W,"pad":"…"},"id":S}
//
// where P is the publisher's id, S its sequence number (from 0, per
// publisher), W the time it was meant to be sent, in Unix nanoseconds
// (processes on one host share that clock), and the pad brings the request
// to Cfg.Size bytes (a JSON object of records, or with Cfg.Payload text a
// string). The server acknowledges it (Published) or refuses it
// (an error, counted by code). At the end each publisher sends an end
// marker, {"pub":P,"end":N} with id -1, after its last publication: a
// subscriber that has the end marker of every publisher has all it will
// get, since the server delivers one publisher's publications in order.
//
// A subscriber keeps, per publisher, the sequence number it expects next:
// a delivery below it is a duplicate (a repeat, or out of order); above
// it, the ones between were missed. Each loop keeps, for the first
// publications, how many subscribers got each and the latest delivery
// (fanEntry); the run adds up the loops, and Report.Merge the shards, into
// Report.FanoutTable.

// MaxFanoutTracked bounds the publications whose fan-out a run keeps: the
// first ⌊MaxFanoutTracked / publishers⌋ of each publisher (of all the
// shards), so that the table of a run, shards merged, has at most this
// many rows.
const MaxFanoutTracked = 100_000

// fanoutTracked is MaxFanoutTracked, lowered by tests.
var fanoutTracked = MaxFanoutTracked

// maxPublisherID bounds the publisher ids a subscriber keeps track of.
const maxPublisherID = 1 << 16

// psConn is the pub/sub state of a connection. Touched only on its loop.
type psConn struct {
	publisher  bool
	pubID      uint64   // publisher: its id, in the publications
	seq        uint64   // publisher: the next publication's sequence number
	endSent    bool     // publisher: the end marker was sent
	endReplied bool     // publisher: and the server answered it
	next       []uint64 // subscriber: per publisher id, the sequence number expected next
	ends       int      // subscriber: end markers received
	msg        []byte   // a fragmented message being gathered
}

// fanEntry is what a loop saw of one publication: deliveries (not
// duplicates) and the latest, as nanoseconds from its intended send time.
type fanEntry struct {
	n    uint64
	last int64
}

// appendSubscribe appends the subscribe request.
func (r *run) appendSubscribe(dst []byte) []byte {
	dst = append(dst, `{"op":"subscribe","topic":"`...)
	dst = append(dst, r.cfg.Topic...)
	return append(dst, `","id":1}`...)
}

// appendPublish appends publication seq of publisher pub, meant to be sent
// at sentNs (Unix nanoseconds), padded to Cfg.Size bytes when there is
// room: with a JSON payload (padJSON), the pad is a JSON object of
// records, else a string of the text payload.
func (r *run) appendPublish(dst []byte, pub, seq uint64, sentNs int64) []byte {
	start := len(dst)
	dst = append(dst, `{"op":"publish","topic":"`...)
	dst = append(dst, r.cfg.Topic...)
	dst = append(dst, `","data":{"pub":`...)
	dst = strconv.AppendUint(dst, pub, 10)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"sent_ns":`...)
	dst = strconv.AppendInt(dst, sentNs, 10)
	var digits [20]byte
	rest := len(`},"id":}`) + len(strconv.AppendUint(digits[:0], seq, 10))
	switch {
	case r.padJSON:
		if pad := r.cfg.Size - (len(dst) - start) - rest - len(`,"pad":`); pad > 0 {
			dst = append(dst, `,"pad":`...)
			dst = AppendJSONPayload(dst, pad)
		}
	default:
		if pad := r.cfg.Size - (len(dst) - start) - rest - len(`,"pad":""`); pad > 0 {
			dst = append(dst, `,"pad":"`...)
			dst = append(dst, r.payload[:pad]...)
			dst = append(dst, '"')
		}
	}
	dst = append(dst, `},"id":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	return append(dst, '}')
}

// appendEnd appends the end marker of publisher pub, which sent n
// publications.
func (r *run) appendEnd(dst []byte, pub, n uint64) []byte {
	dst = append(dst, `{"op":"publish","topic":"`...)
	dst = append(dst, r.cfg.Topic...)
	dst = append(dst, `","data":{"pub":`...)
	dst = strconv.AppendUint(dst, pub, 10)
	dst = append(dst, `,"end":`...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, `},"id":-1}`...)
}

// wall is the run's nanos n as Unix nanoseconds.
func (r *run) wall(n int64) int64 { return r.epochUnix + n }

// sendText sends body as one text message (compressed if deflate was
// negotiated). Called on the loop.
func (c *conn) sendText(body []byte) {
	c.sendData(codec.OpText, body)
}

// subscribe sends the subscribe request of an upgraded subscriber. Called
// on the loop.
func (c *conn) subscribe() {
	l := c.loop
	l.body = l.run.appendSubscribe(l.body[:0])
	c.sendText(l.body)
}

// publish sends the publisher's next publication, meant to go at run nanos
// at. Called on the loop.
func (c *conn) publish(at int64) {
	l := c.loop
	ps := c.ps
	l.body = l.run.appendPublish(l.body[:0], ps.pubID, ps.seq, l.run.wall(at))
	ps.seq++
	c.sendText(l.body)
	l.s.sent++
}

// publishEnd sends the publisher's end marker. Called on the loop.
func (c *conn) publishEnd() {
	l := c.loop
	c.ps.endSent = true
	l.s.endSent++
	l.body = l.run.appendEnd(l.body[:0], c.ps.pubID, c.ps.seq)
	c.sendText(l.body)
}

// publishDue sends, in open loop, the publications whose time has come,
// and is before until (run nanos, the end of the measured part), round
// robin over the loop's publishers, each stamped with the time it was
// meant for. Called on the loop.
func (l *cloop) publishDue(now, interval, until int64) {
	if len(l.pubs) == 0 || interval <= 0 {
		return
	}
	if l.pubNext == 0 {
		l.pubNext = now
	}
	for l.pubNext <= now && l.pubNext < until {
		c := l.pubs[l.pubRR%len(l.pubs)]
		l.pubRR++
		if c.state == cOpen {
			c.publish(l.pubNext)
		}
		l.pubNext += interval
	}
}

// pubsubFrame handles a data frame on a pub/sub connection, gathering a
// fragmented message. Called on the loop.
func (c *conn) pubsubFrame(h codec.Header, p []byte) {
	ps := c.ps
	if !h.Fin {
		ps.msg = append(ps.msg, p...)
		return
	}
	if len(ps.msg) > 0 {
		ps.msg = append(ps.msg, p...)
		p = ps.msg
	}
	c.pubsubMessage(p)
	ps.msg = ps.msg[:0]
}

// pubsubMessage handles a message from the server. Called on the loop.
func (c *conn) pubsubMessage(p []byte) {
	l := c.loop
	v, err := l.parser.ParseBytes(p)
	if err != nil || v.Type() != fastjson.TypeObject {
		l.fail("pubsub: a message that is not a JSON object")
		return
	}
	switch string(v.GetStringBytes("op")) {
	case "message":
		c.delivery(v.Get("data"))
	case "ack":
		id, ok := jsonInt(v.Get("id"))
		if !ok {
			l.fail("pubsub: an ack without a number id")
			return
		}
		c.acked(id)
	case "error":
		code := string(v.GetStringBytes("code"))
		if code == "" || len(code) > 64 {
			code = "?"
		}
		id, ok := jsonInt(v.Get("id"))
		c.refusedRequest(id, ok, code)
	default:
		l.fail("pubsub: a message of an unknown op")
	}
}

// jsonInt is v as an integer, if it is one.
func jsonInt(v *fastjson.Value) (int64, bool) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	n, err := v.Int64()
	return n, err == nil
}

// jsonUint is v as a non-negative integer, if it is one.
func jsonUint(v *fastjson.Value) (uint64, bool) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	n, err := v.Uint64()
	return n, err == nil
}

// acked handles the ack of request id. Called on the loop.
func (c *conn) acked(id int64) {
	l := c.loop
	switch {
	case c.state == cJoining && id == 1:
		c.ready(l.run.nanos())
	case c.ps.publisher && id == -1:
		c.ps.endReplied = true
		l.s.endReplied++
		l.s.endAcked++
	case c.ps.publisher && id >= 0:
		l.s.published++
	}
}

// refusedRequest handles an error answer: a subscription refused fails
// the subscriber; a publication refused is an error of its code; an end
// marker refused is only noted.
func (c *conn) refusedRequest(id int64, hasID bool, code string) {
	l := c.loop
	switch {
	case c.state == cJoining:
		c.refused("subscribe: " + code)
	case c.ps.publisher && hasID && id == -1:
		c.ps.endReplied = true
		l.s.endReplied++
	case c.ps.publisher:
		l.fail("publish: " + code)
	default:
		l.fail("pubsub: " + code)
	}
}

// delivery handles a publication delivered to a subscriber: its latency,
// its order, its fan-out. Called on the loop.
func (c *conn) delivery(d *fastjson.Value) {
	l := c.loop
	ps := c.ps
	if ps.publisher || c.state != cOpen {
		return // not subscribed, or not yet
	}
	if d == nil || d.Type() != fastjson.TypeObject {
		l.fail("pubsub: a message not from wssbench")
		return
	}
	pub, okP := jsonUint(d.Get("pub"))
	if okP && pub < maxPublisherID {
		if _, ok := jsonUint(d.Get("end")); ok {
			ps.ends++
			l.s.ends++
			return
		}
	}
	seq, okS := jsonUint(d.Get("seq"))
	sent, okT := jsonInt(d.Get("sent_ns"))
	if !okP || !okS || !okT || pub >= maxPublisherID {
		l.fail("pubsub: a message not from wssbench")
		return
	}
	r := l.run
	lat := r.wall(r.nanos()) - sent
	l.s.received++
	l.s.latency.Record(time.Duration(lat))
	l.s.second.Record(time.Duration(lat))
	if uint64(len(ps.next)) <= pub {
		ps.next = slices.Grow(ps.next, int(pub)+1-len(ps.next))[:pub+1]
	}
	if seq < ps.next[pub] {
		l.s.duplicates++
		return
	}
	ps.next[pub] = seq + 1
	if seq >= r.fanCap {
		return
	}
	if uint64(len(l.fan)) <= pub {
		l.fan = slices.Grow(l.fan, int(pub)+1-len(l.fan))[:pub+1]
	}
	f := l.fan[pub]
	if uint64(len(f)) <= seq {
		f = slices.Grow(f, int(seq)+1-len(f))[:seq+1]
		l.fan[pub] = f
	}
	e := &f[seq]
	if e.n == 0 || lat > e.last {
		e.last = lat
	}
	e.n++
}

// drainCounts is what the end of a pubsub run waits on, added up over the
// loops.
type drainCounts struct {
	endSent, endReplied, endAcked uint64
	waiting                       int    // open subscribers without the end markers wanted
	progress                      uint64 // grows while anything comes in
}

// drainCounts counts, on the loops, the end markers and the subscribers
// still waiting for want of them.
func (r *run) drainCounts(want int) drainCounts {
	var mu sync.Mutex
	var d drainCounts
	r.each(func(l *cloop) {
		waiting := 0
		for c := l.head; c != nil; c = c.next {
			if c.ps != nil && !c.ps.publisher && c.state == cOpen && c.ps.ends < want {
				waiting++
			}
		}
		mu.Lock()
		defer mu.Unlock()
		d.endSent += l.s.endSent
		d.endReplied += l.s.endReplied
		d.endAcked += l.s.endAcked
		d.waiting += waiting
		d.progress += l.s.received + l.s.ends + l.s.endReplied + l.s.published + l.s.errors
	})
	return d
}

// drainQuiet is how long the end of a pubsub run waits with nothing
// coming in before it gives up on what is missing.
const drainQuiet = 2 * time.Second

// waitDrain polls until done holds, or nothing has come in for drainQuiet,
// or ctx ends.
func (r *run) waitDrain(ctx context.Context, want int, done func(drainCounts) bool) drainCounts {
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	d := r.drainCounts(want)
	last, since := d.progress, time.Now()
	for !done(d) {
		if d.progress != last {
			last, since = d.progress, time.Now()
		} else if time.Since(since) > drainQuiet {
			break
		}
		select {
		case <-poll.C:
		case <-ctx.Done():
			return d
		}
		d = r.drainCounts(want)
	}
	return d
}

// drainPubSub ends the publishing: each publisher sends its end marker;
// once the server has answered them, every subscriber is waited for until
// it has the end marker of every publisher that got one through: of the
// end markers acknowledged here when all the publishers are in this run,
// else of all Cfg.PubsTotal publishers.
func (r *run) drainPubSub(ctx context.Context) {
	r.each(func(l *cloop) {
		for _, c := range l.pubs {
			if c.state == cOpen && !c.ps.endSent {
				c.publishEnd()
			}
		}
	})
	d := r.waitDrain(ctx, -1, func(d drainCounts) bool { return d.endReplied >= d.endSent })
	want := r.cfg.PubsTotal
	if r.cfg.Pubs == r.cfg.PubsTotal {
		want = int(d.endAcked)
	}
	if want > 0 {
		r.waitDrain(ctx, want, func(d drainCounts) bool { return d.waiting == 0 })
	}
}

// fanoutTable adds up the loops' fan-out entries. Called at the end of a
// run, off the loops.
func (r *run) fanoutTable() FanoutTable {
	var mu sync.Mutex
	var sum [][]fanEntry
	r.each(func(l *cloop) {
		mu.Lock()
		defer mu.Unlock()
		for pub, f := range l.fan {
			if len(sum) <= pub {
				sum = append(sum, make([][]fanEntry, pub+1-len(sum))...)
			}
			s := sum[pub]
			if len(s) < len(f) {
				s = append(s, make([]fanEntry, len(f)-len(s))...)
				sum[pub] = s
			}
			for i, e := range f {
				if e.n == 0 {
					continue
				}
				if s[i].n == 0 || e.last > s[i].last {
					s[i].last = e.last
				}
				s[i].n += e.n
			}
		}
	})
	t := FanoutTable{}
	for pub, s := range sum {
		for seq, e := range s {
			if e.n > 0 {
				t = append(t, FanoutRow{Publisher: uint64(pub), Seq: uint64(seq), Deliveries: e.n, Last: time.Duration(e.last)})
			}
		}
	}
	return t
}

// FanoutRow is the fan-out of one publication of a pubsub run.
type FanoutRow struct {
	Publisher  uint64        // the publisher's id
	Seq        uint64        // the publication's sequence number, from 0, at its publisher
	Deliveries uint64        // the subscribers that got it (duplicates not counted)
	Last       time.Duration // from its intended send time to its last delivery
}

// FanoutTable is the fan-out of the publications a pubsub run tracked (at
// least one delivery, and among the first MaxFanoutTracked), sorted by
// publisher, then sequence number, one row per publication. Its JSON form
// is compact: [[publisher, seq, deliveries, last_ns], ...], null for a nil
// table.
type FanoutTable []FanoutRow

func (a FanoutRow) before(b FanoutRow) bool {
	return a.Publisher < b.Publisher || a.Publisher == b.Publisher && a.Seq < b.Seq
}

// MarshalJSON writes the compact form.
func (t FanoutTable) MarshalJSON() ([]byte, error) {
	if t == nil {
		return []byte("null"), nil
	}
	b := make([]byte, 0, 2+len(t)*32)
	b = append(b, '[')
	for i, row := range t {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendUint(b, row.Publisher, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, row.Seq, 10)
		b = append(b, ',')
		b = strconv.AppendUint(b, row.Deliveries, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(row.Last), 10)
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// UnmarshalJSON reads the compact form; rows out of order are sorted, and
// rows of one publication added up. null leaves t unchanged.
func (t *FanoutTable) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil
	}
	var rows [][4]json.Number
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		return fmt.Errorf("fan-out table: %w", err)
	}
	out := make(FanoutTable, 0, len(rows))
	for _, row := range rows {
		var v [3]uint64
		for i := range v {
			n, err := strconv.ParseUint(string(row[i]), 10, 64)
			if err != nil {
				return fmt.Errorf("fan-out table: %q is not a count", row[i])
			}
			v[i] = n
		}
		last, err := strconv.ParseInt(string(row[3]), 10, 64)
		if err != nil {
			return fmt.Errorf("fan-out table: %q is not nanoseconds", row[3])
		}
		out = append(out, FanoutRow{Publisher: v[0], Seq: v[1], Deliveries: v[2], Last: time.Duration(last)})
	}
	if !slices.IsSortedFunc(out, compareRows) {
		slices.SortStableFunc(out, compareRows)
	}
	*t = mergeFanout(out[:0:0], out)
	return nil
}

func compareRows(a, b FanoutRow) int {
	switch {
	case a.before(b):
		return -1
	case b.before(a):
		return 1
	}
	return 0
}

// mergeFanout merges two sorted tables into a new one: the rows of one
// publication add their deliveries and keep the latest last delivery. A
// table may have several rows of one publication; the result has one.
func mergeFanout(a, b FanoutTable) FanoutTable {
	out := make(FanoutTable, 0, max(len(a), len(b)))
	add := func(row FanoutRow) {
		if n := len(out); n > 0 && out[n-1].Publisher == row.Publisher && out[n-1].Seq == row.Seq {
			o := &out[n-1]
			o.Deliveries += row.Deliveries
			o.Last = max(o.Last, row.Last)
			return
		}
		out = append(out, row)
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if j == len(b) || i < len(a) && !b[j].before(a[i]) {
			add(a[i])
			i++
		} else {
			add(b[j])
			j++
		}
	}
	return out
}

// derivePubSub computes the pubsub figures that follow from the others:
// Expected, Missing, and Fanout and FanoutComplete from FanoutTable. Run
// and Merge call it.
func (r *Report) derivePubSub() {
	r.Expected = r.Published * r.Subscribers
	unique := r.Received - min(r.Duplicates, r.Received)
	r.Missing = 0
	if r.Expected > unique {
		r.Missing = r.Expected - unique
	}
	if r.FanoutTable == nil {
		return
	}
	h := NewHistogram()
	r.FanoutComplete = 0
	for _, row := range r.FanoutTable {
		h.Record(row.Last)
		if r.Subscribers > 0 && row.Deliveries >= r.Subscribers {
			r.FanoutComplete++
		}
	}
	r.Fanout = h
}
