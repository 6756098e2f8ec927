package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/engine/pubsub/natsbroker"
)

// pubsubServer is a wssd engine serving the pub/sub protocol on /ws.
type pubsubServer struct {
	srv *engine.Server
	set *metrics.Set
	url string // of /ws
	ca  string // the CA file to trust, for wss://
}

// startPubSub starts a wssd engine with ps, over ws:// or wss://.
func startPubSub(t *testing.T, ps pubsub.Config, secure bool) *pubsubServer {
	t.Helper()
	hub, err := pubsub.New(ps)
	if err != nil {
		t.Fatal(err)
	}
	s := &pubsubServer{set: metrics.NewSet()}
	var base string
	s.srv, base, s.ca = launchWssd(t, engine.Config{
		Routes: map[string]engine.Handler{"/echo": engine.Echo{}, pubsub.DefaultRoute: hub}, Metrics: s.set,
	}, secure)
	s.url = base + "/ws"
	return s
}

// counter is the server's count of name, brought up to date.
func (s *pubsubServer) counter(name string) uint64 {
	s.srv.FlushMetrics()
	return s.set.GetOrCreateCounter(name).Get()
}

// checkComplete checks a pubsub report where every publication reached
// every subscriber exactly once.
func checkComplete(t *testing.T, rep *Report, subs, pubs uint64) {
	t.Helper()
	if rep.Subscribers != subs || rep.Publishers != pubs || rep.Established != subs+pubs || rep.Attempted != subs+pubs ||
		rep.Failed != 0 || rep.Dropped != 0 {
		t.Fatalf("subscribers %d, publishers %d, established %d of %d, failed %d, dropped %d (errors %v); want %d and %d",
			rep.Subscribers, rep.Publishers, rep.Established, rep.Attempted, rep.Failed, rep.Dropped, rep.Errors, subs, pubs)
	}
	if rep.Sent == 0 || rep.Published != rep.Sent || len(rep.Errors) != 0 {
		t.Fatalf("sent %d, published %d, errors %v", rep.Sent, rep.Published, rep.Errors)
	}
	if rep.Expected != rep.Published*subs || rep.Received != rep.Expected || rep.Missing != 0 || rep.Duplicates != 0 {
		t.Fatalf("received %d, expected %d (%d × %d), missing %d, duplicates %d",
			rep.Received, rep.Expected, rep.Published, subs, rep.Missing, rep.Duplicates)
	}
	if rep.Latency.Count() != rep.Received || rep.Handshake.Count() != subs+pubs || rep.Subscribe.Count() != subs {
		t.Fatalf("histograms: latency %d, handshake %d, subscribe %d samples", rep.Latency.Count(), rep.Handshake.Count(), rep.Subscribe.Count())
	}
	// Every publication is in the fan-out table (fewer than the cap), once,
	// with every subscriber.
	if uint64(len(rep.FanoutTable)) != rep.Published || rep.Fanout.Count() != rep.Published || rep.FanoutComplete != rep.Published {
		t.Fatalf("fan-out: %d rows, %d samples, %d complete; want %d", len(rep.FanoutTable), rep.Fanout.Count(), rep.FanoutComplete, rep.Published)
	}
	seqs := map[uint64]uint64{}
	for i, row := range rep.FanoutTable {
		if row.Deliveries != subs || row.Last <= 0 {
			t.Fatalf("publication %d/%d: %d deliveries, last %v; want %d", row.Publisher, row.Seq, row.Deliveries, row.Last, subs)
		}
		if i > 0 && !rep.FanoutTable[i-1].before(row) {
			t.Fatalf("fan-out table not sorted at %d: %+v", i, rep.FanoutTable[i-1:i+1])
		}
		if row.Seq != seqs[row.Publisher] {
			t.Fatalf("publisher %d: publication %d, want %d", row.Publisher, row.Seq, seqs[row.Publisher])
		}
		seqs[row.Publisher]++
	}
	if uint64(len(seqs)) != pubs {
		t.Fatalf("publications of %d publishers, want %d", len(seqs), pubs)
	}
}

// TestPubSubScenario: over ws:// and wss://, subscribers get every
// publication exactly once; the publications and deliveries the tool
// counts are the ones the server counted (which also counted each
// publisher's end marker, and its deliveries).
func TestPubSubScenario(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[secure], func(t *testing.T) {
			s := startPubSub(t, pubsub.Config{AnonymousPublish: true}, secure)
			const subs, pubs = 12, 3
			rep, err := Run(context.Background(), Config{
				Scenario: PubSub, Target: mustTarget(t, s.url, s.ca), Conns: subs, Pubs: pubs, Rate: 300,
				Duration: 400 * time.Millisecond, Size: 200, Loops: 2, Topic: "bench.t1",
			})
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, rep, subs, pubs)
			if got := s.counter("wssd_pubsub_published_total"); got != rep.Published+pubs {
				t.Errorf("the server counted %d publications; the tool %d and %d end markers", got, rep.Published, pubs)
			}
			if got := s.counter("wssd_pubsub_delivered_total"); got != rep.Received+pubs*subs {
				t.Errorf("the server counted %d deliveries; the tool %d and %d of end markers", got, rep.Received, pubs*subs)
			}
			if rep.Scenario != "pubsub" {
				t.Errorf("scenario %q", rep.Scenario)
			}
		})
	}
}

// TestPubSubPublishForbidden: with anonymous publishing off, every
// publication is refused, counted as an error by its code; the
// subscribers are ready all the same, and nothing is missing.
func TestPubSubPublishForbidden(t *testing.T) {
	s := startPubSub(t, pubsub.Config{AnonymousPublish: false}, false)
	rep, err := Run(context.Background(), Config{
		Scenario: PubSub, Target: mustTarget(t, s.url, ""), Conns: 5, Pubs: 2, Rate: 100,
		Duration: 300 * time.Millisecond, Loops: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Subscribers != 5 || rep.Publishers != 2 || rep.Established != 7 || rep.Failed != 0 {
		t.Fatalf("subscribers %d, publishers %d, established %d, failed %d (%v)", rep.Subscribers, rep.Publishers, rep.Established, rep.Failed, rep.Errors)
	}
	if rep.Sent == 0 || rep.Published != 0 || rep.Errors["publish: forbidden"] != rep.Sent || len(rep.Errors) != 1 {
		t.Fatalf("sent %d, published %d, errors %v; want every publication forbidden", rep.Sent, rep.Published, rep.Errors)
	}
	if rep.Received != 0 || rep.Expected != 0 || rep.Missing != 0 || len(rep.FanoutTable) != 0 || rep.FanoutTable == nil {
		t.Fatalf("received %d, expected %d, missing %d, fan-out table %v", rep.Received, rep.Expected, rep.Missing, rep.FanoutTable)
	}
}

// refusingPubSub is a pub/sub server of another make that refuses the
// subscriptions of every other connection, and acknowledges the rest.
type refusingPubSub struct {
	mu sync.Mutex
	n  int
}

func (s *refusingPubSub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	up := gws.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	s.mu.Lock()
	s.n++
	refuse := s.n%2 == 0
	s.mu.Unlock()
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		var req struct {
			Op string
			ID json.RawMessage
		}
		if json.Unmarshal(p, &req) != nil || req.Op != "subscribe" {
			return
		}
		reply := fmt.Sprintf(`{"op":"ack","id":%s}`, req.ID)
		if refuse {
			reply = fmt.Sprintf(`{"op":"error","id":%s,"code":"forbidden","message":"no"}`, req.ID)
		}
		if c.WriteMessage(gws.TextMessage, []byte(reply)) != nil {
			return
		}
	}
}

// TestPubSubSubscribeRefused: a subscriber whose subscription is refused
// failed, with the error's code as its reason; the others are ready.
func TestPubSubSubscribeRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: &refusingPubSub{}}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { hs.Close() })
	rep, err := Run(context.Background(), Config{
		Scenario: PubSub, Target: mustTarget(t, "ws://"+ln.Addr().String()+"/ws", ""), Conns: 8,
		Duration: 50 * time.Millisecond, Concurrency: 1, Loops: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Attempted != 8 || rep.Subscribers != 4 || rep.Established != 4 || rep.Failed != 4 ||
		rep.Errors["subscribe: forbidden"] != 4 || rep.Subscribe.Count() != 4 || rep.Handshake.Count() != 4 {
		t.Fatalf("attempted %d, subscribers %d, established %d, failed %d, errors %v, subscribe %d, handshake %d samples",
			rep.Attempted, rep.Subscribers, rep.Established, rep.Failed, rep.Errors, rep.Subscribe.Count(), rep.Handshake.Count())
	}
}

// TestPubSubNATS: two engines share topics through an in-process NATS
// server; two runs, one on each, started together as shards are, each
// with a publisher and subscribers, merge into a report where every
// subscriber got every publication of both publishers exactly once.
func TestPubSubNATS(t *testing.T) {
	ns := enginetest.StartNATS(t, -1)
	const shards, subsEach = 2, 6
	var servers [shards]*pubsubServer
	for i := range servers {
		servers[i] = startPubSub(t, pubsub.Config{AnonymousPublish: true,
			Broker: natsbroker.New(natsbroker.Config{URL: ns.ClientURL(), Logger: enginetest.Logger()})}, false)
	}
	// The barrier: the runs start publishing once both have their
	// subscribers ready.
	var arrived sync.WaitGroup
	arrived.Add(shards)
	barrier := func(ctx context.Context) error {
		arrived.Done()
		done := make(chan struct{})
		go func() { arrived.Wait(); close(done) }()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	reports := make([]*Report, shards)
	errs := make([]error, shards)
	var wg sync.WaitGroup
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			reports[i], errs[i] = Run(context.Background(), Config{
				Scenario: PubSub, Target: mustTarget(t, s.url, ""), Conns: subsEach, Pubs: 1, PubBase: i, PubsTotal: shards,
				Rate: 100, Duration: 300 * time.Millisecond, Loops: 2, Barrier: barrier,
			})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each run's subscribers got the publications of both.
	published := reports[0].Published + reports[1].Published
	for i, r := range reports {
		if r.Published == 0 || r.Received != published*subsEach {
			t.Errorf("run %d published %d and received %d; want %d × %d", i, r.Published, r.Received, published, subsEach)
		}
	}
	merged := &Report{}
	for _, r := range reports {
		merged.Merge(r)
	}
	checkComplete(t, merged, shards*subsEach, shards)
}

// TestPublishRequest: a publication is the request the protocol wants,
// padded to the size asked when there is room, and the end marker and
// subscription too.
func TestPublishRequest(t *testing.T) {
	r := &run{cfg: Config{Topic: "a.b", Size: 128}, payload: bytes.Repeat([]byte("x"), 128)}
	for _, seq := range []uint64{0, 7, 12345678} {
		b := r.appendPublish(nil, 3, seq, 1_700_000_000_123_456_789)
		if len(b) != 128 {
			t.Errorf("seq %d: %d bytes, want 128: %s", seq, len(b), b)
		}
		var req struct {
			Op, Topic string
			ID        uint64
			Data      struct {
				Pub, Seq uint64
				SentNs   int64 `json:"sent_ns"`
				Pad      string
			}
		}
		if err := json.Unmarshal(b, &req); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if req.Op != "publish" || req.Topic != "a.b" || req.ID != seq || req.Data.Pub != 3 || req.Data.Seq != seq ||
			req.Data.SentNs != 1_700_000_000_123_456_789 || strings.Trim(req.Data.Pad, "x") != "" {
			t.Errorf("%s", b)
		}
	}
	r.cfg.Size = 10 // no room: no pad
	if b := r.appendPublish(nil, 0, 1, 5); !json.Valid(b) || bytes.Contains(b, []byte("pad")) {
		t.Errorf("small: %s", b)
	}
	if b := r.appendEnd(nil, 2, 40); string(b) != `{"op":"publish","topic":"a.b","data":{"pub":2,"end":40},"id":-1}` {
		t.Errorf("end marker %s", b)
	}
	if b := r.appendSubscribe(nil); string(b) != `{"op":"subscribe","topic":"a.b","id":1}` {
		t.Errorf("subscribe %s", b)
	}
}

// TestFanoutCap: the fan-out table keeps the first publications of each
// publisher, its share of the cap; the deliveries are all counted.
func TestFanoutCap(t *testing.T) {
	defer func(n int) { fanoutTracked = n }(fanoutTracked)
	fanoutTracked = 10
	s := startPubSub(t, pubsub.Config{AnonymousPublish: true}, false)
	rep, err := Run(context.Background(), Config{
		Scenario: PubSub, Target: mustTarget(t, s.url, ""), Conns: 4, Pubs: 2, Rate: 200,
		Duration: 300 * time.Millisecond, Loops: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Published < 12 || rep.Received != rep.Published*4 || rep.Missing != 0 {
		t.Fatalf("published %d, received %d, missing %d", rep.Published, rep.Received, rep.Missing)
	}
	want := FanoutTable{}
	for pub := range uint64(2) {
		for seq := range uint64(5) {
			want = append(want, FanoutRow{Publisher: pub, Seq: seq, Deliveries: 4})
		}
	}
	for i := range rep.FanoutTable {
		rep.FanoutTable[i].Last = 0
	}
	if !reflect.DeepEqual(rep.FanoutTable, want) || rep.FanoutComplete != 10 || rep.Fanout.Count() != 10 {
		t.Fatalf("table %v, %d complete, %d fan-out samples; want the first 5 of each publisher", rep.FanoutTable, rep.FanoutComplete, rep.Fanout.Count())
	}
}

// TestDeliveryOrder: a subscriber counts a delivery below the sequence
// number it expects of its publisher as a duplicate, and one above as
// skipping the ones between (which the report's Missing then holds); the
// fan-out counts the first arrivals only; end markers and foreign
// messages are not deliveries.
func TestDeliveryOrder(t *testing.T) {
	r := &run{cfg: Config{Scenario: PubSub}, epoch: time.Now(), fanCap: 100}
	r.epochUnix = r.epoch.UnixNano()
	l := newCloop(r, nil)
	c := &conn{loop: l, state: cOpen, ps: &psConn{}}
	msg := func(data string) {
		c.pubsubMessage([]byte(`{"op":"message","topic":"bench","data":` + data + `}`))
	}
	sent := r.wall(r.nanos())
	for _, pubSeq := range [][2]int{{0, 0}, {0, 1}, {0, 1}, {0, 3}, {0, 2}, {0, 4}, {1, 0}, {1, 2}} {
		msg(fmt.Sprintf(`{"pub":%d,"seq":%d,"sent_ns":%d,"pad":"xx"}`, pubSeq[0], pubSeq[1], sent))
	}
	msg(`{"pub":0,"end":5}`)
	msg(`{"hello":1}`)
	c.pubsubMessage([]byte(`not json`))
	if l.s.received != 8 || l.s.duplicates != 2 || c.ps.ends != 1 || l.s.ends != 1 || l.s.latency.Count() != 8 {
		t.Fatalf("received %d, duplicates %d, ends %d, latency samples %d", l.s.received, l.s.duplicates, c.ps.ends, l.s.latency.Count())
	}
	if l.s.errors != 2 || l.s.errs["pubsub: a message not from wssbench"] != 1 || l.s.errs["pubsub: a message that is not a JSON object"] != 1 {
		t.Fatalf("errors %v", l.s.errs)
	}
	got := [][]uint64{}
	for _, f := range l.fan {
		var ns []uint64
		for _, e := range f {
			ns = append(ns, e.n)
		}
		got = append(got, ns)
	}
	if want := [][]uint64{{1, 1, 0, 1, 1}, {1, 0, 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fan-out counts %v, want %v", got, want)
	}
	// 8 publications (0 to 4 of publisher 0, 0 to 2 of publisher 1) to
	// this one subscriber, 8 deliveries of which 2 duplicates: 2 missing,
	// 1/1 and 0/2, which came out of order.
	rep := &Report{Scenario: "pubsub", Published: 8, Subscribers: 1, Received: l.s.received, Duplicates: l.s.duplicates}
	rep.derivePubSub()
	if rep.Expected != 8 || rep.Missing != 2 {
		t.Fatalf("expected %d, missing %d", rep.Expected, rep.Missing)
	}
}
