package pubsub

import (
	"errors"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/security"
)

// Config configures a Hub.
type Config struct {
	// AnonymousPublish lets clients publish to any topic when the server
	// has no Auth. Without Auth clients may always subscribe to any topic;
	// with it, the token's "topics" claim says what each may do (see
	// security.TopicPermissions), and a token without the claim may do
	// nothing.
	AnonymousPublish bool
	// MaxSubscriptions bounds the topics one connection subscribes to; 0
	// means DefaultMaxSubscriptions.
	MaxSubscriptions int
	// Broker carries publications between processes and hosts; nil keeps
	// them in this process.
	Broker Broker
}

// DefaultRoute is where wssd serves the protocol.
const DefaultRoute = "/ws"

// DefaultMaxSubscriptions is Config.MaxSubscriptions's default.
const DefaultMaxSubscriptions = 64

// RefusalForbidden is the refusal a protocol on the hub counts when the
// permissions refuse a subscription or a publication (MaySubscribe,
// MayPublish).
var RefusalForbidden = engine.NewRefusal("topic_forbidden")

// pubsubSchema is what every request must meet; the topic's form, the
// permissions and the data a publish needs are checked after, and answered
// with an error message.
var pubsubSchema = mustCompileSchema(`{
	"type": "object",
	"properties": {
		"op": {"enum": ["subscribe", "unsubscribe", "publish"]},
		"topic": {"type": "string", "minLength": 1, "maxLength": 128},
		"id": {"type": ["integer", "string"], "maxLength": 64,
			"minimum": -9007199254740991, "maximum": 9007199254740991},
		"data": true
	},
	"required": ["op", "topic"],
	"additionalProperties": false
}`)

func mustCompileSchema(doc string) *security.Schema {
	s, err := security.CompileSchema([]byte(doc))
	if err != nil {
		panic(err)
	}
	return s
}

// Schema returns what every request must meet: the engine validates the
// route's messages against it before OnMessage (engine.JSONHandler).
func (h *Hub) Schema() *security.Schema { return pubsubSchema }

// OnOpen does nothing. Called on the connection's event loop.
func (h *Hub) OnOpen(*engine.Conn) {}

// OnClose does nothing: the connection's subscriptions have ended already
// (member.Closed). Called on the connection's event loop.
func (h *Hub) OnClose(*engine.Conn, codec.StatusCode, string) {}

// OnMessage answers a request, which the route's validation has parsed
// and checked against pubsubSchema. Called on the connection's event loop.
func (h *Hub) OnMessage(c *engine.Conn, _ codec.OpCode, _ []byte) {
	v := c.JSON()
	if v == nil {
		return // unreachable: the route validates every message
	}
	serve(h, connPeer{h: h, c: c}, v)
}

// Peer is a client of the hub's protocol in another protocol's messages
// (a SockJS session's, say), for Serve.
type Peer interface {
	// Loop is the loop the client lives on, where Serve is called.
	Loop() *engine.Loop
	// Identity is what the client's token says; nil without auth.
	Identity() *security.Identity
	// Member returns the client's subscriptions, made on first use with
	// NewMember.
	Member() *Member
	// Answer writes an answer (an ack or an error) to the client. b is
	// valid only until it returns.
	Answer(b []byte)
	// Forbidden counts a request the permissions refused.
	Forbidden()
}

// connPeer is a /ws connection as a Peer.
type connPeer struct {
	h *Hub
	c *engine.Conn
}

func (p connPeer) Loop() *engine.Loop           { return p.c.Loop() }
func (p connPeer) Identity() *security.Identity { return p.c.Identity() }
func (p connPeer) Answer(b []byte)              { _ = p.c.Write(codec.OpText, b) }
func (p connPeer) Forbidden()                   { p.c.Refuse(RefusalForbidden) }

// Member returns the connection's subscriptions. On the hub's own route
// its slot is the hub's, so there is no error to return.
func (p connPeer) Member() *Member {
	m, _ := p.h.member(p.c)
	return m
}

// Serve answers a request of p's, v, which meets Schema, as a /ws
// connection's is answered: it subscribes, unsubscribes or publishes,
// and answers {"op":"ack","id":…} (when the request has an id) or
// {"op":"error",…}. Called on p's loop.
func (h *Hub) Serve(p Peer, v *fastjson.Value) { serve(h, p, v) }

// serve is Serve for any kind of peer: a type parameter rather than the
// interface, so that a /ws connection's request does not allocate its
// peer.
func serve[P Peer](h *Hub, p P, v *fastjson.Value) {
	l := h.loopState(p.Loop())
	id := l.pubID[:0]
	if idv := v.Get("id"); idv != nil {
		id = idv.MarshalTo(id)
	}
	l.pubID = id
	topic := v.GetStringBytes("topic")
	if !security.ValidTopic(string(topic)) {
		reply(l, p, id, "invalid_topic", "a topic is 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most")
		return
	}
	switch string(v.GetStringBytes("op")) {
	case "subscribe":
		if !h.MaySubscribe(p.Identity(), string(topic)) {
			p.Forbidden()
			reply(l, p, id, "forbidden", h.WhyForbidden(p.Identity(), false))
			return
		}
		var ackID []byte
		if len(id) > 0 {
			ackID = append([]byte(nil), id...) // the ack may come later
		}
		err := h.Join(p.Member(), string(topic), func(err error) {
			switch {
			case err != nil:
				reply(l, p, ackID, "broker_unavailable", "the message broker is not available")
			case len(ackID) > 0:
				ack(l, p, ackID)
			}
		})
		// The topic is valid: the limit is the one refusal left.
		if errors.Is(err, ErrTooManyTopics) {
			reply(l, p, id, "too_many_subscriptions", "too many subscriptions on this connection")
		}
	case "unsubscribe":
		h.Leave(p.Member(), string(topic))
		ack(l, p, id)
	case "publish":
		data := v.Get("data")
		if data == nil {
			reply(l, p, id, "invalid_request", "a publish needs data")
			return
		}
		if !h.MayPublish(p.Identity(), string(topic)) {
			p.Forbidden()
			reply(l, p, id, "forbidden", h.WhyForbidden(p.Identity(), true))
			return
		}
		l.pubData = data.MarshalTo(l.pubData[:0])
		l.published++
		if err := h.publish(string(topic), l.pubData); err != nil {
			reply(l, p, id, "broker_unavailable", "the message broker is not available")
			return
		}
		ack(l, p, id)
	}
}

// MaySubscribe and MayPublish apply the permissions of a token (id), or,
// without auth (id nil), the anonymous rules: anyone may subscribe, and
// publish only with Config.AnonymousPublish. Safe for concurrent use.
func (h *Hub) MaySubscribe(id *security.Identity, topic string) bool {
	if id == nil {
		return true
	}
	return id.Topics != nil && id.Topics.Subscribe.Allow(topic)
}

// MayPublish: see MaySubscribe.
func (h *Hub) MayPublish(id *security.Identity, topic string) bool {
	if id == nil {
		return h.cfg.AnonymousPublish
	}
	return id.Topics != nil && id.Topics.Publish.Allow(topic)
}

// WhyForbidden returns the message of the error forbidden for a
// publication (publish) or a subscription that MayPublish or MaySubscribe
// refused id (nil without auth): what would have allowed it, so that a
// client's developer need not guess. Safe for concurrent use.
func (h *Hub) WhyForbidden(id *security.Identity, publish bool) string {
	verb := "subscribing"
	if publish {
		verb = "publishing"
	}
	switch {
	case id == nil && publish:
		return "publishing needs --anonymous-publish on the server"
	case id == nil:
		return "not allowed to subscribe to this topic" // anyone may, without auth
	case id.Topics == nil:
		return "the token has no topics claim, which " + verb + " needs"
	}
	return "the token's topics claim does not allow " + verb + " to this topic"
}

// ack acknowledges the request with id, if it has one. Called on the
// loop.
func ack[P Peer](l *loopState, p P, id []byte) {
	if len(id) == 0 {
		return
	}
	b := append(l.reply[:0], `{"op":"ack","id":`...)
	b = append(b, id...)
	l.reply = append(b, '}')
	p.Answer(l.reply)
}

// reply answers a request with an error message, in the form of the
// engine's own (engine.AppendErrorReply). Called on the loop.
func reply[P Peer](l *loopState, p P, id []byte, code, message string) {
	l.reply = engine.AppendErrorReply(l.reply[:0], id, code, message)
	p.Answer(l.reply)
}

// loopState is the hub's on one event loop, touched only there.
type loopState struct {
	loop *engine.Loop                    // set by the first subscription
	subs map[string]map[*Member]struct{} // the loop's subscribers, by topic

	published, delivered uint64 // since the last Tick

	pubID   []byte // the request's id, as JSON
	pubData []byte // a publication's data, as JSON
	reply   []byte // acks and errors
}
