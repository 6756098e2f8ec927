package sockjs

import (
	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

// Echo is the application that sends each message back to its session.
type Echo struct{}

func (Echo) OnOpen(*Session)                   {}
func (Echo) OnMessage(ss *Session, msg []byte) { _ = ss.Send(msg) }
func (Echo) OnClose(*Session, int, string)     {}

// Hub is the application that speaks the hub's protocol, as /ws does
// (see package pubsub), one request per message: {"op":"subscribe",
// "topic":"t","id":1} and the others, answered {"op":"ack","id":1} or
// {"op":"error",…}, and publications {"op":"message","topic":"t",
// "data":…} to subscribers, /ws ones and SockJS ones alike. A message
// that is not a request gets the error /ws answers it with under
// engine.InvalidReply, and the session stays. Make one with NewHub.
type Hub struct {
	h     *pubsub.Hub
	loops []hubLoop // by loop index, made by the first session on each
	max   int64     // engine Config.MaxJSONSize, if set
	depth int       // engine Config.MaxJSONDepth
}

// hubLoop is the application's on one loop.
type hubLoop struct {
	v *security.Validator
	// The publication last encoded on this loop, to write it once to
	// every session here that takes it.
	last    *pubsub.Publication
	quoted  []byte           // its message as a JSON string
	prepped *engine.Prepared // and as a WebSocket session's frame
	body    []byte
}

// NewHub returns the application on h, whose route must be served by the
// same engine. It takes the engine's JSON limits (MaxJSONSize,
// MaxJSONDepth) when its Server is attached.
func NewHub(h *pubsub.Hub) *Hub { return &Hub{h: h} }

// attach sizes the application for the server's engine. Called by
// Server.Attach.
func (a *Hub) attach(es *engine.Server) {
	ec := es.Config()
	a.loops = make([]hubLoop, es.Loops())
	a.max, a.depth = ec.MaxJSONSize, ec.MaxJSONDepth
}

// hubSession is what a session of the Hub keeps in Session.Data.
type hubSession struct {
	a  *Hub
	ss *Session
	m  *pubsub.Member
}

func (a *Hub) loop(ss *Session) *hubLoop {
	hl := &a.loops[ss.ls.loop.Index()]
	if hl.v == nil {
		hl.v = security.NewValidator(a.h.Schema(), a.depth)
	}
	return hl
}

// OnOpen gives the session its place in the hub.
func (a *Hub) OnOpen(ss *Session) { ss.Data = &hubSession{a: a, ss: ss} }

// OnMessage answers a request.
func (a *Hub) OnMessage(ss *Session, msg []byte) {
	hs, _ := ss.Data.(*hubSession)
	if hs == nil {
		return
	}
	hl := a.loop(ss)
	if a.max > 0 && int64(len(msg)) > a.max {
		hl.body = engine.AppendErrorReply(hl.body[:0], nil, "too_big", "message larger than the JSON limit")
		_ = ss.Send(hl.body)
		return
	}
	if bad := hl.v.Validate(msg); bad != nil {
		hl.body = engine.AppendErrorReply(hl.body[:0], nil, bad.Kind.String(), bad.Reason)
		_ = ss.Send(hl.body)
		return
	}
	a.h.Serve(hs, hl.v.Value())
}

// OnClose ends the session's subscriptions.
func (a *Hub) OnClose(ss *Session, _ int, _ string) {
	if hs, _ := ss.Data.(*hubSession); hs != nil && hs.m != nil {
		a.h.LeaveAll(hs.m)
	}
}

// The session as the hub's pubsub.Peer and pubsub.Sink.

func (hs *hubSession) Loop() *engine.Loop           { return hs.ss.ls.loop }
func (hs *hubSession) Identity() *security.Identity { return hs.ss.id }
func (hs *hubSession) Answer(b []byte)              { _ = hs.ss.Send(b) }
func (hs *hubSession) Forbidden()                   { hs.ss.ls.refused(refForbidden, hs.ss.remote) }

func (hs *hubSession) Member() *pubsub.Member {
	if hs.m == nil {
		hs.m = hs.a.h.NewMember(hs.ss.ls.loop, hs)
	}
	return hs.m
}

// Deliver writes a publication to the session: encoded once per loop,
// and to WebSocket sessions as one frame they share. Called on the
// session's loop.
func (hs *hubSession) Deliver(p *pubsub.Publication) bool {
	ss := hs.ss
	if ss.state != sOpen {
		return false
	}
	hl := hs.a.loop(ss)
	if hl.last != p {
		hl.last, hl.prepped = p, nil
		hl.body = pubsub.AppendMessage(hl.body[:0], p)
		hl.quoted = appendQuoted(hl.quoted[:0], hl.body, false)
	}
	switch ss.kind {
	case tWebSocket:
		if hl.prepped == nil {
			frame := make([]byte, 0, len(hl.quoted)+3)
			frame = append(append(append(frame, frameArray, '['), hl.quoted...), ']')
			hl.prepped = engine.Prepare(codec.OpText, frame)
		}
		ss.ls.counts.out++
		return ss.ws.WritePrepared(hl.prepped) == nil
	case tRaw:
		return ss.Send(hl.body) == nil
	}
	return ss.sendQuoted(hl.quoted) == nil
}
