package socketio

import (
	"errors"

	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

var errNotMain = errors.New("socketio: rooms are the main namespace's")

// ServeHub makes the main namespace speak the hub's protocol, as /ws does
// (see package pubsub), in events:
//
//	socket.emit("subscribe", {topic: "t"}, ack)
//	socket.emit("unsubscribe", {topic: "t"}, ack)
//	socket.emit("publish", {topic: "t", data: <any JSON>}, ack)
//
// ack gets null once the request is done, or an error object
// {code, message} with the codes /ws answers with: invalid_request,
// invalid_topic, forbidden, too_many_subscriptions, broker_unavailable.
// Publications come as the event "message" with {topic, data}. The
// permissions are the token's (its "topics" claim), or, without auth,
// the hub's anonymous rules. Call it before the server starts.
func (s *Server) ServeHub() {
	n := s.Of("/")
	n.On("subscribe", s.onSubscribe)
	n.On("unsubscribe", s.onUnsubscribe)
	n.On("publish", s.onPublish)
}

// hubError answers a hub request with an error, if it asked for an
// answer.
func hubError(ack Ack, code, message string) {
	if ack != nil {
		_ = ack(hubErr{Code: code, Message: message})
	}
}

type hubErr struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func hubOK(ack Ack) {
	if ack != nil {
		_ = ack(nil)
	}
}

// hubTopic reads the request's topic, answering an error if it has no
// valid one.
func (s *Server) hubTopic(args Args, ack Ack) (string, bool) {
	v := args.Value(0)
	if v == nil || v.Get("topic") == nil {
		hubError(ack, "invalid_request", "the request needs an object with a topic")
		return "", false
	}
	topic := string(v.GetStringBytes("topic"))
	if !security.ValidTopic(topic) {
		hubError(ack, "invalid_topic", "a topic is 1 to 16 dot-separated names of letters, digits, '_' and '-', 128 bytes at most")
		return "", false
	}
	return topic, true
}

// mayUse returns the hub if the socket's token (or the anonymous rules)
// lets it publish (publish) or subscribe to topic, and answers the
// refusal, counted, and returns nil if not.
func (s *Server) mayUse(so *Socket, publish bool, topic string, ack Ack) *pubsub.Hub {
	h := s.cfg.Hub
	if h == nil {
		hubError(ack, "broker_unavailable", "the server has no hub")
		return nil
	}
	may := (*pubsub.Hub).MaySubscribe
	if publish {
		may = (*pubsub.Hub).MayPublish
	}
	if !may(h, so.Identity(), topic) {
		so.ss.ls.refused(refForbidden, so.ss.remote)
		hubError(ack, "forbidden", h.WhyForbidden(so.Identity(), publish))
		return nil
	}
	return h
}

func (s *Server) onSubscribe(so *Socket, _ string, args Args, ack Ack) {
	topic, ok := s.hubTopic(args, ack)
	if !ok {
		return
	}
	if s.mayUse(so, false, topic, ack) == nil {
		return
	}
	err := so.Join(topic, func(err error) {
		if err != nil {
			hubError(ack, "broker_unavailable", "the message broker is not available")
			return
		}
		hubOK(ack)
	})
	switch {
	case errors.Is(err, pubsub.ErrTooManyTopics):
		hubError(ack, "too_many_subscriptions", "too many subscriptions on this connection")
	case err != nil:
		hubError(ack, "invalid_request", err.Error())
	}
}

func (s *Server) onUnsubscribe(so *Socket, _ string, args Args, ack Ack) {
	topic, ok := s.hubTopic(args, ack)
	if !ok {
		return
	}
	so.Leave(topic)
	hubOK(ack)
}

func (s *Server) onPublish(so *Socket, _ string, args Args, ack Ack) {
	topic, ok := s.hubTopic(args, ack)
	if !ok {
		return
	}
	data := args.Value(0).Get("data")
	if data == nil {
		hubError(ack, "invalid_request", "a publish needs data")
		return
	}
	h := s.mayUse(so, true, topic, ack)
	if h == nil {
		return
	}
	ls := so.ss.ls
	ls.args = appendJSON(ls.args[:0], data)
	if err := h.Publish(topic, ls.args); err != nil {
		hubError(ack, "broker_unavailable", "the message broker is not available")
		return
	}
	hubOK(ack)
}
