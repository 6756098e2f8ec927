package pubsub

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/security"
)

// Broker carries publications between the hubs of several processes or
// hosts (natsbroker.Broker). A hub calls Subscribe and Unsubscribe from one
// goroutine at a time, in order; Publish from any goroutine.
type Broker interface {
	// Start connects, and from then on calls deliver for each publication
	// to a topic this process has subscribed to, from the broker's own
	// goroutines: for one topic, in the order the broker received them.
	Start(deliver func(topic string, data []byte)) error
	// Publish sends data, one JSON value, to every hub subscribed to
	// topic, this one included. It must not block on the network.
	Publish(topic string, data []byte) error
	// Subscribe registers this process's interest in topic and returns
	// once publications to it will be delivered.
	Subscribe(topic string) error
	// Unsubscribe withdraws the interest.
	Unsubscribe(topic string) error
	// Close disconnects.
	Close() error
}

// Hub is a server's pub/sub: the handler of the protocol's route (see
// protocol.go), and the topics. Make one with New and serve it on a
// route (engine.Config.Routes): the server attaches, starts and stops it.
// Publish is safe from any goroutine; the methods that take a connection
// are called on its event loop.
type Hub struct {
	cfg     Config
	broker  Broker         // nil: this process only
	srv     *engine.Server // set by Attach
	loops   []*loopState   // by engine.Loop.Index
	metrics *hubMetrics    // nil without the server's metrics

	mu     sync.RWMutex
	topics map[string]*topicState

	// The broker's interest changes, applied in order by one goroutine.
	imu      sync.Mutex
	interest []interestChange
	iwake    chan struct{}
	idone    chan struct{}
}

// topicState is what the hub knows of a topic with subscribers here.
type topicState struct {
	loops   []*loopState // with subscribers; replaced, never changed in place
	ready   bool         // the broker has this process's interest (always, without one)
	failed  error        // the broker refused it
	waiting []waiter
}

// waiter is a subscription that waits for the broker before it is
// acknowledged.
type waiter struct {
	m     *Member
	topic string
	done  func(err error) // called on m's loop, if m is still in topic
}

type interestChange struct {
	topic string
	st    *topicState // nil: withdraw
}

// New returns a hub for cfg, to serve on a route of one server.
func New(cfg Config) (*Hub, error) {
	if cfg.MaxSubscriptions < 0 {
		return nil, errors.New("pubsub: negative MaxSubscriptions")
	}
	if cfg.MaxSubscriptions == 0 {
		cfg.MaxSubscriptions = DefaultMaxSubscriptions
	}
	return &Hub{cfg: cfg, broker: cfg.Broker, topics: map[string]*topicState{}, iwake: make(chan struct{}, 1), idone: make(chan struct{})}, nil
}

// Attach gives the hub its server: called by engine.New, once.
func (h *Hub) Attach(s *engine.Server) error {
	if h.srv != nil {
		return errors.New("pubsub: the hub serves another server already")
	}
	h.srv = s
	h.loops = make([]*loopState, s.Loops())
	for i := range h.loops {
		h.loops[i] = &loopState{}
	}
	if set := s.Config().Metrics; set != nil {
		h.metrics = newHubMetrics(h, set)
	}
	return nil
}

// Start connects the broker, if any, and starts applying interest
// changes: called by the server's Start.
func (h *Hub) Start() error {
	if h.broker == nil {
		close(h.idone)
		return nil
	}
	if err := h.broker.Start(h.deliver); err != nil {
		close(h.idone)
		return err
	}
	go h.applyInterest()
	return nil
}

// Stop ends the interest goroutine and disconnects the broker: called by
// the server's Shutdown.
func (h *Hub) Stop() {
	if h.broker == nil {
		return
	}
	h.imu.Lock()
	h.interest = append(h.interest, interestChange{}) // the end
	h.imu.Unlock()
	h.nudge()
	<-h.idone
	_ = h.broker.Close()
}

func (h *Hub) nudge() {
	select {
	case h.iwake <- struct{}{}:
	default:
	}
}

// applyInterest tells the broker, in order, where this process's interest
// has changed, and acknowledges the subscriptions that waited for it.
func (h *Hub) applyInterest() {
	defer close(h.idone)
	for range h.iwake {
		for {
			h.imu.Lock()
			if len(h.interest) == 0 {
				h.imu.Unlock()
				break
			}
			ch := h.interest[0]
			h.interest = h.interest[1:]
			h.imu.Unlock()
			switch {
			case ch.topic == "":
				return
			case ch.st == nil:
				_ = h.broker.Unsubscribe(ch.topic)
			default:
				err := h.broker.Subscribe(ch.topic)
				h.mu.Lock()
				ws := ch.st.waiting
				ch.st.waiting = nil
				if err != nil {
					ch.st.failed = ErrBroker
				} else {
					ch.st.ready = true
				}
				h.mu.Unlock()
				for _, w := range ws {
					_ = w.m.ls.loop.Post(func() {
						// A member that has left the topic since (its
						// connection closed, say) is told nothing.
						if slices.Contains(w.m.topics, w.topic) {
							w.done(ch.st.failed)
						}
					})
				}
			}
		}
	}
}

func (h *Hub) changeInterest(ch interestChange) {
	h.imu.Lock()
	h.interest = append(h.interest, ch)
	h.imu.Unlock()
	h.nudge()
}

// Subscribe subscribes c to topic, a valid topic name, and calls done on
// c's loop once the subscription is in force: at once, or, with a broker,
// when it has taken this process's first interest in the topic (err is
// then ErrBroker if it could not). Subscribing again to a topic is a
// no-op that succeeds. It returns ErrTooManyTopics when c already has
// Config.MaxSubscriptions topics, engine.ErrClosed when c is not open,
// and ErrSlot when c's slot holds another protocol's state (the hub keeps
// a connection's subscriptions there). Called on c's loop.
func (h *Hub) Subscribe(c *engine.Conn, topic string, done func(c *engine.Conn, err error)) error {
	if !c.Open() {
		return engine.ErrClosed
	}
	if !security.ValidTopic(topic) {
		return ErrTopic
	}
	m, err := h.member(c)
	if err != nil {
		return err
	}
	return h.Join(m, topic, func(err error) { done(c, err) })
}

// Unsubscribe ends c's subscription to topic, if it has one. Called on c's
// loop.
func (h *Hub) Unsubscribe(c *engine.Conn, topic string) {
	if m, _ := c.Slot().(*Member); m != nil && m.h == h {
		h.Leave(m, topic)
	}
}

// Member is one subscriber's subscriptions: a /ws connection's, kept in
// its slot, or a session's of another protocol (a Socket.IO session, whose
// rooms are the hub's topics), made with NewMember. It belongs to one
// event loop and is used only there.
type Member struct {
	h      *Hub
	ls     *loopState
	topics []string
	c      *engine.Conn // a /ws connection; nil for a Sink's
	sink   Sink
}

// Sink is where a member of another protocol takes its publications.
type Sink interface {
	// Deliver writes a publication to the subscriber, and reports
	// whether it was written (not dropped for a slow consumer, say).
	// Called on the member's loop, for each publication to a topic it
	// has joined.
	Deliver(p *Publication) bool
}

// Publication is a publication as the loops deliver it: one value shared
// by every loop and subscriber, never changed.
type Publication struct {
	Topic string
	Data  []byte // one JSON value
	frame *engine.Prepared
}

// NewMember returns the subscriptions of a subscriber that lives on loop
// l and takes its publications through s. It has none yet. Called on l.
func (h *Hub) NewMember(l *engine.Loop, s Sink) *Member {
	return &Member{h: h, ls: h.loopState(l), sink: s}
}

// Topics returns the topics m has joined, in the order it joined them.
// The slice is the member's: do not change it. Called on m's loop.
func (m *Member) Topics() []string { return m.topics }

// member returns c's subscriptions, making them on first use. Called on
// c's loop.
func (h *Hub) member(c *engine.Conn) (*Member, error) {
	switch v := c.Slot().(type) {
	case nil:
		m := &Member{h: h, ls: h.loopState(c.Loop()), c: c}
		c.SetSlot(m)
		return m, nil
	case *Member:
		if v.h == h {
			return v, nil
		}
	}
	return nil, ErrSlot
}

// Closed ends every subscription of a connection that has closed. Called
// on its loop, by the engine.
func (m *Member) Closed(*engine.Conn) { m.h.LeaveAll(m) }

// deliver writes a publication to the member. Called on its loop.
func (m *Member) deliver(p *Publication) bool {
	if m.c != nil {
		return m.c.WritePrepared(p.frame) == nil
	}
	return m.sink.Deliver(p)
}

// Join subscribes m to topic, a valid topic name, and calls done on m's
// loop once the subscription is in force, as Subscribe does. Joining a
// topic again is a no-op that succeeds. It returns ErrTopic for a name
// that is not valid and ErrTooManyTopics when m already has
// Config.MaxSubscriptions topics. Called on m's loop.
func (h *Hub) Join(m *Member, topic string, done func(err error)) error {
	if !security.ValidTopic(topic) {
		return ErrTopic
	}
	if slices.Contains(m.topics, topic) {
		// Subscribed already: in force when the first one is.
		h.mu.Lock()
		st := h.topics[topic]
		if !st.ready && st.failed == nil {
			st.waiting = append(st.waiting, waiter{m: m, topic: topic, done: done})
			h.mu.Unlock()
			return nil
		}
		h.mu.Unlock()
		done(st.failed)
		return nil
	}
	if len(m.topics) >= h.cfg.MaxSubscriptions {
		return ErrTooManyTopics
	}
	l := m.ls
	subs := l.subs[topic]
	if subs == nil {
		if l.subs == nil {
			l.subs = map[string]map[*Member]struct{}{}
		}
		subs = map[*Member]struct{}{}
		l.subs[topic] = subs
	}
	subs[m] = struct{}{}
	m.topics = append(m.topics, topic)

	h.mu.Lock()
	st := h.topics[topic]
	if st == nil {
		st = &topicState{ready: h.broker == nil}
		h.topics[topic] = st
		if h.broker != nil {
			h.changeInterest(interestChange{topic: topic, st: st})
		}
	}
	if len(subs) == 1 {
		st.loops = append(slices.Clip(st.loops), l)
	}
	ready, failed := st.ready, st.failed
	if !ready && failed == nil {
		st.waiting = append(st.waiting, waiter{m: m, topic: topic, done: done})
	}
	h.mu.Unlock()
	if ready || failed != nil {
		done(failed)
	}
	return nil
}

// Leave ends m's subscription to topic, if it has one. Called on m's
// loop.
func (h *Hub) Leave(m *Member, topic string) {
	i := slices.Index(m.topics, topic)
	if i < 0 {
		return
	}
	m.topics = slices.Delete(m.topics, i, i+1)
	h.leave(m, topic)
}

// LeaveAll ends every subscription of m. Called on m's loop.
func (h *Hub) LeaveAll(m *Member) {
	for _, t := range m.topics {
		h.leave(m, t)
	}
	m.topics = nil
}

// loopState returns the hub's state on loop l. Called on l.
func (h *Hub) loopState(l *engine.Loop) *loopState {
	ls := h.loops[l.Index()]
	if ls.loop == nil {
		// Set once, before the loop is first in a topic's loops (under
		// h.mu), where publishers, which read it, find it.
		ls.loop = l
	}
	return ls
}

// leave takes m out of its loop's subscribers to topic, and the loop out
// of the topic's loops if it was the last. Called on the loop.
func (h *Hub) leave(m *Member, topic string) {
	l := m.ls
	subs := l.subs[topic]
	delete(subs, m)
	if len(subs) > 0 {
		return
	}
	delete(l.subs, topic)
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.topics[topic]
	if st == nil {
		return
	}
	st.loops = slices.DeleteFunc(slices.Clone(st.loops), func(x *loopState) bool { return x == l })
	if len(st.loops) > 0 {
		return
	}
	delete(h.topics, topic)
	if h.broker != nil {
		h.changeInterest(interestChange{topic: topic})
	}
	// Subscriptions still waiting for the broker are not answered: their
	// members have left the topic by then (applyInterest).
}

// Publish publishes data, which must be one JSON value (it is sent as
// is), to topic, a valid topic name: every connection subscribed to it,
// here or, through the broker, in other processes, gets
// {"op":"message","topic":topic,"data":data}. Safe for concurrent use;
// data may be reused when Publish returns.
func (h *Hub) Publish(topic string, data []byte) error {
	if !security.ValidTopic(topic) {
		return ErrTopic
	}
	if m := h.metrics; m != nil {
		m.published.Inc() // from outside the loops: the loops count theirs (Tick)
	}
	return h.publish(topic, data)
}

func (h *Hub) publish(topic string, data []byte) error {
	if h.broker != nil {
		if err := h.broker.Publish(topic, data); err != nil {
			return ErrBroker
		}
		return nil
	}
	h.deliver(topic, data)
	return nil
}

// deliver hands a publication to the loops with subscribers to its topic:
// the frame is encoded once and shared by all of them. Safe for concurrent
// use.
func (h *Hub) deliver(topic string, data []byte) {
	h.mu.RLock()
	var loops []*loopState
	if st := h.topics[topic]; st != nil {
		loops = st.loops
	}
	h.mu.RUnlock()
	if len(loops) == 0 {
		return
	}
	p := &Publication{Topic: topic, Data: slices.Clone(data), frame: engine.Prepare(codec.OpText, messageBody(topic, data))}
	for _, l := range loops {
		_ = l.loop.Post(func() { h.fanOut(l, topic, p) })
	}
}

// messageBody is {"op":"message","topic":topic,"data":data}; topic, a
// valid name, needs no escaping.
func messageBody(topic string, data []byte) []byte {
	b := make([]byte, 0, len(`{"op":"message","topic":"","data":}`)+len(topic)+len(data))
	return AppendMessage(b, &Publication{Topic: topic, Data: data})
}

// AppendMessage appends what a /ws subscriber gets for p:
// {"op":"message","topic":…,"data":…}.
func AppendMessage(dst []byte, p *Publication) []byte {
	dst = append(dst, `{"op":"message","topic":"`...)
	dst = append(dst, p.Topic...)
	dst = append(dst, `","data":`...)
	dst = append(dst, p.Data...)
	return append(dst, '}')
}

// fanOut writes a publication's frame to the loop's subscribers to topic,
// and times it. Called on the loop.
func (h *Hub) fanOut(l *loopState, topic string, p *Publication) {
	subs := l.subs[topic]
	if len(subs) == 0 {
		return
	}
	m := h.metrics
	var start time.Time
	if m != nil {
		start = time.Now()
	}
	for m := range subs {
		if m.deliver(p) {
			l.delivered++
		}
	}
	if m != nil {
		m.fanout.Observe(time.Since(start).Seconds())
	}
}

// Topics returns how many topics have subscribers in this process. Safe
// for concurrent use.
func (h *Hub) Topics() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.topics)
}

// Errors of the hub.
var (
	ErrTopic         = errors.New("pubsub: not a topic name")
	ErrTooManyTopics = errors.New("pubsub: too many subscriptions on the connection")
	ErrSlot          = errors.New("pubsub: the connection's slot holds another protocol's state")
	// ErrBroker is what a subscription or a publication gets when the
	// broker could not take it.
	ErrBroker = errors.New("pubsub: the message broker is not available")
)
