package socketio

import (
	"slices"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/engine/socketio/packet"
)

// Rooms are the hub's topics (Config.Hub). A socket of the main namespace
// joins them; a publication to one, from /ws, from Socket.IO, from the
// server's code (Server.Publish) or from another process through the
// hub's broker, reaches it as the event "message" with
// {"topic":…,"data":…}, the object /ws subscribers get. The session is
// the hub's Member, and its Sink.

// Join puts a socket of the main namespace in room, a valid topic name,
// and calls done (on the socket's loop) once publications to it will
// come: at once, or once the hub's broker has the interest. It returns
// the hub's errors (pubsub.ErrTopic, pubsub.ErrTooManyTopics), ErrNoHub,
// or ErrDisconnected.
func (so *Socket) Join(room string, done func(err error)) error {
	ss := so.ss
	h := ss.s.cfg.Hub
	switch {
	case h == nil:
		return ErrNoHub
	case !so.Connected():
		return ErrDisconnected
	case so != ss.main:
		return errNotMain
	}
	if ss.member == nil {
		ss.member = h.NewMember(ss.ls.loop, ss)
	}
	return h.Join(ss.member, room, done)
}

// Leave takes the socket out of room.
func (so *Socket) Leave(room string) {
	if m := so.ss.member; m != nil && so == so.ss.main {
		so.ss.s.cfg.Hub.Leave(m, room)
	}
}

// Rooms returns the rooms the socket is in. The slice is the socket's:
// do not change it.
func (so *Socket) Rooms() []string {
	if m := so.ss.member; m != nil && so == so.ss.main {
		return m.Topics()
	}
	return nil
}

// Publish publishes data, one JSON value, to room: see Rooms above. Safe
// for concurrent use.
func (s *Server) Publish(room string, data []byte) error {
	if s.cfg.Hub == nil {
		return ErrNoHub
	}
	return s.cfg.Hub.Publish(room, data)
}

// leaveRooms takes the session out of its rooms and returns them.
// Called on the home loop.
func (ss *session) leaveRooms() []string {
	m := ss.member
	if m == nil {
		return nil
	}
	rooms := slices.Clone(m.Topics())
	ss.s.cfg.Hub.LeaveAll(m)
	ss.member = nil
	return rooms
}

// joinRooms puts the session back in rooms, on its new home. Called on
// the home loop.
func (ss *session) joinRooms(rooms []string) {
	if len(rooms) == 0 {
		return
	}
	h := ss.s.cfg.Hub
	ss.member = h.NewMember(ss.ls.loop, ss)
	for _, r := range rooms {
		_ = h.Join(ss.member, r, func(error) {})
	}
}

// Deliver writes a publication to the session, as the event "message".
// The packet, and for WebSocket the frame, is encoded once per loop.
// Called on the home loop by the hub (pubsub.Sink).
func (ss *session) Deliver(p *pubsub.Publication) bool {
	if ss.state == tClosed || ss.main == nil {
		return false
	}
	ls := ss.ls
	if ls.lastPub != p {
		ls.lastPub = p
		b := append(ls.lastPkt[:0], byte(packet.Message))
		b = packet.AppendSocket(b, packet.SPacket{Type: packet.Event, ID: -1})
		b = append(b, `["message",{"topic":`...)
		b = packet.AppendString(b, p.Topic)
		b = append(b, `,"data":`...)
		b = append(b, p.Data...)
		b = append(b, "}]"...)
		ls.lastPkt = b
		ls.lastFrame = nil
	}
	ls.counts.eventsOut++
	if ss.state == tWebSocket {
		if ls.lastFrame == nil {
			ls.lastFrame = engine.Prepare(codec.OpText, ls.lastPkt)
		}
		return ss.ws.WritePrepared(ls.lastFrame) == nil
	}
	ss.sendText(ls.lastPkt[1:])
	return ss.state != tClosed
}
