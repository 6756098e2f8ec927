package pubsub

import (
	"errors"

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
	l := h.loopOf(c)
	id := l.pubID[:0]
	if idv := v.Get("id"); idv != nil {
		id = idv.MarshalTo(id)
	}
	l.pubID = id
	topic := v.GetStringBytes("topic")
	if !security.ValidTopic(string(topic)) {
		h.reply(c, id, "invalid_topic", "a topic is 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most")
		return
	}
	switch string(v.GetStringBytes("op")) {
	case "subscribe":
		if !h.maySubscribe(c, string(topic)) {
			h.forbidden(c, id, h.WhyForbidden(c.Identity(), false))
			return
		}
		var ackID []byte
		if len(id) > 0 {
			ackID = append([]byte(nil), id...) // the ack may come later
		}
		err := h.Subscribe(c, string(topic), func(c *engine.Conn, err error) {
			switch {
			case err != nil:
				h.reply(c, ackID, "broker_unavailable", "the message broker is not available")
			case len(ackID) > 0:
				h.ack(c, ackID)
			}
		})
		// The topic is valid and c open: the limit is the one
		// refusal left (ErrSlot cannot be, on the hub's own route).
		if errors.Is(err, ErrTooManyTopics) {
			h.reply(c, id, "too_many_subscriptions", "too many subscriptions on this connection")
		}
	case "unsubscribe":
		h.Unsubscribe(c, string(topic))
		h.ack(c, id)
	case "publish":
		data := v.Get("data")
		if data == nil {
			h.reply(c, id, "invalid_request", "a publish needs data")
			return
		}
		if !h.mayPublish(c, string(topic)) {
			h.forbidden(c, id, h.WhyForbidden(c.Identity(), true))
			return
		}
		l.pubData = data.MarshalTo(l.pubData[:0])
		l.published++
		if err := h.publish(string(topic), l.pubData); err != nil {
			h.reply(c, id, "broker_unavailable", "the message broker is not available")
			return
		}
		h.ack(c, id)
	}
}

// maySubscribe and mayPublish apply the permissions of the connection's
// token, or, without auth, the anonymous rules. Called on the loop.
func (h *Hub) maySubscribe(c *engine.Conn, topic string) bool {
	return h.MaySubscribe(c.Identity(), topic)
}

func (h *Hub) mayPublish(c *engine.Conn, topic string) bool {
	return h.MayPublish(c.Identity(), topic)
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

// forbidden answers a request the permissions refuse, and counts it.
// Called on the loop.
func (h *Hub) forbidden(c *engine.Conn, id []byte, message string) {
	c.Refuse(RefusalForbidden)
	h.reply(c, id, "forbidden", message)
}

// ack acknowledges the request with id, if it has one. Called on the
// loop.
func (h *Hub) ack(c *engine.Conn, id []byte) {
	if len(id) == 0 {
		return
	}
	l := h.loopOf(c)
	b := append(l.reply[:0], `{"op":"ack","id":`...)
	b = append(b, id...)
	l.reply = append(b, '}')
	_ = c.Write(codec.OpText, l.reply)
}

// reply answers a request with an error message, in the form of the
// engine's own (engine.AppendErrorReply). Called on the loop.
func (h *Hub) reply(c *engine.Conn, id []byte, code, message string) {
	l := h.loopOf(c)
	l.reply = engine.AppendErrorReply(l.reply[:0], id, code, message)
	_ = c.Write(codec.OpText, l.reply)
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
