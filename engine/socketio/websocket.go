package socketio

import (
	"slices"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/socketio/packet"
)

// wsConn is in the slot of a WebSocket transport's connection.
type wsConn struct {
	s        *Server
	ss       *session // once it carries the session
	*upgrade          // nil but for the upgrade of a polling session
}

// upgrade is where a polling session's upgrade is: the probe was
// answered, and the packets the client sent after its upgrade packet
// wait here until the session has moved to this loop.
type upgrade struct {
	sid            string // the polling session it upgrades
	accepted       bool   // the upgrade was answered 101: the session waits for it
	probed, moving bool
	queued         []queuedPacket
	queuedBytes    int
}

type queuedPacket struct {
	data   []byte
	binary bool
}

// maxQueued bounds what an upgrading connection may send before its
// session has moved to it.
const maxQueued = 1 << 20

// Closed ends the session the connection carried. Called on its loop by
// the engine.
func (w *wsConn) Closed(c *engine.Conn) {
	switch {
	case w.ss != nil:
		w.ss.close("transport close")
	case w.upgrade != nil && w.accepted && !w.moving:
		// The upgrade failed: the session polls on.
		w.s.atHomeOr(c, []byte(w.sid), (*session).upgradeFailed, nil)
	}
}

// upgradeFailed lets the session poll on, and upgrade again, when its
// upgrade's connection has gone before the upgrade was done. Called on the
// home loop.
func (ss *session) upgradeFailed() {
	if ss.state == tUpgrading {
		ss.state = tPolling
	}
}

// OnOpen starts a WebSocket session, or the probe of an upgrade. Called
// on the connection's loop by the engine.
func (s *Server) OnOpen(c *engine.Conn) {
	w, _ := c.Slot().(*wsConn)
	if w == nil || w.upgrade != nil {
		return // an upgrade: the client probes first
	}
	ls := s.loopOf(c.Loop())
	ss := s.newSession(ls, tWebSocket, c.RemoteAddr(), c.Identity())
	ss.ws = c
	w.ss = ss
	ls.out = ss.openPacket(ls.out[:0], false)
	_ = c.Write(codec.OpText, ls.out)
}

// OnMessage takes a packet. Called on the connection's loop by the
// engine.
func (s *Server) OnMessage(c *engine.Conn, op codec.OpCode, data []byte) {
	w, _ := c.Slot().(*wsConn)
	if w == nil {
		c.Close(codec.StatusInternalError, "")
		return
	}
	if len(data) > s.cfg.MaxPayload {
		if w.ss != nil {
			w.ss.ls.refused(refInvalid, c.RemoteAddr())
		}
		c.Close(codec.StatusMessageTooBig, "packet over maxPayload")
		return
	}
	if w.ss != nil {
		if op == codec.OpBinary {
			w.ss.onPacket(packet.Packet{Type: packet.Message, Data: data, Binary: true})
			return
		}
		p, err := packet.ParseText(data)
		if err != nil {
			w.ss.refuse(refInvalid, "parse error")
			return
		}
		w.ss.onPacket(p)
		return
	}
	if w.upgrade == nil {
		c.Close(codec.StatusInternalError, "") // not reached: OnOpen made the session
		return
	}
	s.onUpgrading(c, w, op, data)
}

// onUpgrading takes what comes on an upgrading connection: the probe,
// the upgrade packet, and what follows it until the session has moved
// here. Called on the connection's loop.
func (s *Server) onUpgrading(c *engine.Conn, w *wsConn, op codec.OpCode, data []byte) {
	if w.moving {
		w.queuedBytes += len(data)
		if w.queuedBytes > maxQueued {
			c.Close(codec.StatusMessageTooBig, "")
			return
		}
		w.queued = append(w.queued, queuedPacket{data: slices.Clone(data), binary: op == codec.OpBinary})
		return
	}
	switch {
	case op == codec.OpText && string(data) == "2probe" && !w.probed:
		w.probed = true
		_ = c.Write(codec.OpText, []byte("3probe"))
	case op == codec.OpText && string(data) == "5" && w.probed:
		w.moving = true
		s.atHomeOr(c, []byte(w.sid), func(ss *session) { ss.moveTo(c, w) }, func() {
			c.Close(codec.StatusPolicyViolation, "session gone")
		})
	default:
		c.Close(codec.StatusPolicyViolation, "upgrade expected")
	}
}

// moveTo ends the session's polling, and moves it to the upgraded
// connection's loop. Called on the home loop.
func (ss *session) moveTo(c *engine.Conn, w *wsConn) {
	if ss.state != tUpgrading {
		onLoopOf(ss.ls, c, func() { c.Close(codec.StatusPolicyViolation, "upgrade refused") })
		return
	}
	old := ss.ls
	old.unflush(ss)
	old.loop.Cancel(&ss.ping)
	connecting := old.loop.Cancel(&ss.connect)
	delete(old.sessions, ss.sid)
	ss.uncount() // its WebSocket is counted by the engine
	if ss.poll != nil {
		p := ss.poll
		ss.poll = nil
		respond(old, p, []byte{byte(packet.Noop)})
	}
	rooms := ss.leaveRooms()
	pending := ss.out
	ss.polling = nil // a WebSocket session has none
	arrive := func() {
		ls := ss.s.loopOf(c.Loop())
		ss.ls = ls
		if !c.Open() {
			ss.state = tWebSocket
			ss.close("transport close")
			return
		}
		ss.state, ss.ws, w.ss = tWebSocket, c, ss
		ls.counts.upgraded++
		if ss.awaitsPong {
			ls.loop.Schedule(&ss.ping, ss.s.cfg.PingTimeout)
		} else {
			ls.loop.Schedule(&ss.ping, ss.s.cfg.PingInterval)
		}
		switch {
		case ss.expiring:
			ss.connected() // the token's expiry, on the new home
		case connecting:
			ls.loop.Schedule(&ss.connect, ss.s.cfg.ConnectTimeout)
		}
		ss.joinRooms(rooms)
		if len(pending) > 0 {
			ls.scratch, _ = packet.SplitPayload(pending, ls.scratch, len(pending), func(p packet.Packet) error {
				ss.sendPacket(p)
				return nil
			})
		}
		for _, q := range w.queued {
			if ss.state == tClosed {
				break
			}
			s := ss.s
			s.OnMessage(c, opOf(q.binary), q.data)
		}
		w.upgrade = nil
	}
	if c.Loop() == old.loop {
		arrive()
		return
	}
	_ = c.Post(arrive)
}

func opOf(binary bool) codec.OpCode {
	if binary {
		return codec.OpBinary
	}
	return codec.OpText
}

// OnClose does nothing: the session was told (wsConn.Closed). Called on
// the connection's loop by the engine.
func (s *Server) OnClose(*engine.Conn, codec.StatusCode, string) {}
