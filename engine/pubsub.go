package engine

import (
	"errors"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/security"
)

// The pub/sub protocol, on its route (default /ws). Clients send JSON
// requests:
//
//	{"op":"subscribe","topic":"t","id":1}
//	{"op":"unsubscribe","topic":"t","id":2}
//	{"op":"publish","topic":"t","data":<any JSON>,"id":3}
//
// and get, for a request with an id, {"op":"ack","id":…} once it is done,
// or {"op":"error","id":…,"code":…,"message":…} (a request without an id
// gets only errors), and {"op":"message","topic":"t","data":…} for each
// publication to a topic they subscribe to. A request that is not of this
// form fails validation like any message on a JSON route.

// PubSubConfig configures the pub/sub protocol.
type PubSubConfig struct {
	// Route is the path the protocol is served on; "" means
	// DefaultPubSubRoute.
	Route string
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

// Defaults of PubSubConfig.
const (
	DefaultPubSubRoute      = "/ws"
	DefaultMaxSubscriptions = 64
)

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

// Hub returns the server's pub/sub hub.
func (s *Server) Hub() *Hub { return s.hub }

func (s *Server) maxSubscriptions() int {
	if s.cfg.PubSub == nil {
		return DefaultMaxSubscriptions
	}
	return s.cfg.PubSub.MaxSubscriptions
}

// pubsubHandler serves the protocol. Its subscriptions end with the
// connection (the engine drops them in onClosed).
type pubsubHandler struct{}

// OnOpen does nothing. Called on the connection's event loop.
func (pubsubHandler) OnOpen(*Conn) {}

// OnClose does nothing. Called on the connection's event loop.
func (pubsubHandler) OnClose(*Conn, codec.StatusCode, string) {}

// OnMessage answers a request, which the route's validation has parsed
// and checked against pubsubSchema. Called on the connection's event loop.
func (pubsubHandler) OnMessage(c *Conn, _ codec.OpCode, _ []byte) {
	v := c.validator.Value()
	if v == nil {
		return // unreachable: the route validates every message
	}
	l := c.loop
	h := l.srv.hub
	id := l.pubID[:0]
	if idv := v.Get("id"); idv != nil {
		id = idv.MarshalTo(id)
	}
	l.pubID = id
	topic := v.GetStringBytes("topic")
	if !security.ValidTopic(string(topic)) {
		c.pubsubError(id, "invalid_topic", "a topic is 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most")
		return
	}
	switch string(v.GetStringBytes("op")) {
	case "subscribe":
		if !c.maySubscribe(string(topic)) {
			c.forbidden(id, "not allowed to subscribe to this topic")
			return
		}
		var ackID []byte
		if len(id) > 0 {
			ackID = append([]byte(nil), id...) // the ack may come later
		}
		err := h.Subscribe(c, string(topic), func(c *Conn, err error) {
			switch {
			case err != nil:
				c.pubsubError(ackID, "broker_unavailable", "the message broker is not available")
			case len(ackID) > 0:
				c.pubsubAck(ackID)
			}
		})
		switch {
		case errors.Is(err, ErrTooManyTopics):
			c.pubsubError(id, "too_many_subscriptions", "too many subscriptions on this connection")
		case err != nil:
			c.pubsubError(id, "invalid_topic", err.Error())
		}
	case "unsubscribe":
		h.Unsubscribe(c, string(topic))
		c.pubsubAck(id)
	case "publish":
		data := v.Get("data")
		if data == nil {
			c.pubsubError(id, "invalid_request", "a publish needs data")
			return
		}
		if !c.mayPublish(string(topic)) {
			c.forbidden(id, "not allowed to publish to this topic")
			return
		}
		l.pubData = data.MarshalTo(l.pubData[:0])
		l.counts.published++
		if err := h.publish(string(topic), l.pubData); err != nil {
			c.pubsubError(id, "broker_unavailable", "the message broker is not available")
			return
		}
		c.pubsubAck(id)
	}
}

// maySubscribe and mayPublish apply the permissions of the connection's
// token, or, without auth, the anonymous rules. Called on the loop.
func (c *Conn) maySubscribe(topic string) bool {
	if c.loop.srv.cfg.Auth == nil {
		return true
	}
	return c.topicPerms != nil && c.topicPerms.Subscribe.Allow(topic)
}

func (c *Conn) mayPublish(topic string) bool {
	if c.loop.srv.cfg.Auth == nil {
		return c.loop.srv.cfg.PubSub.AnonymousPublish
	}
	return c.topicPerms != nil && c.topicPerms.Publish.Allow(topic)
}

// forbidden answers a request the permissions refuse, and counts it.
func (c *Conn) forbidden(id []byte, message string) {
	c.refused(refTopicForbidden)
	c.pubsubError(id, "forbidden", message)
}

// pubsubAck acknowledges the request with id, if it has one. Called on the
// loop.
func (c *Conn) pubsubAck(id []byte) {
	if len(id) == 0 {
		return
	}
	l := c.loop
	b := append(l.reply[:0], `{"op":"ack","id":`...)
	b = append(b, id...)
	l.reply = append(b, '}')
	_ = c.Write(codec.OpText, l.reply)
}

// pubsubError answers a request with an error message. code and message
// need no JSON escaping. Called on the loop.
func (c *Conn) pubsubError(id []byte, code, message string) {
	l := c.loop
	b := append(l.reply[:0], `{"op":"error",`...)
	if len(id) > 0 {
		b = append(b, `"id":`...)
		b = append(b, id...)
		b = append(b, ',')
	}
	b = append(b, `"code":"`...)
	b = append(b, code...)
	b = append(b, `","message":"`...)
	b = append(b, message...)
	l.reply = append(b, `"}`...)
	_ = c.Write(codec.OpText, l.reply)
}

// the loop's buffers for requests, kept here to say what they are for.
type pubsubScratch struct {
	pubID   []byte // the request's id, as JSON
	pubData []byte // a publication's data, as JSON
}
