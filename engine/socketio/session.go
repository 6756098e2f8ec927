package socketio

import (
	"net"
	"net/netip"
	"slices"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/engine/socketio/packet"
	"github.com/wssd/wssd/security"
)

// transport is where a session is in its life.
type transport uint8

const (
	tPolling   transport = iota // HTTP long-polling
	tUpgrading                  // polling, while a WebSocket probes
	tWebSocket                  // a WebSocket connection, for good
	tClosed
)

// session is one Engine.IO session, and the Socket.IO sockets on it. It
// lives on one loop, its home, and is touched only there: requests that
// arrive on other loops reach it by engine.Loop.Post, and its answers go
// back the same way, so no lock sits on its path. A polling session's
// home is the loop of its handshake request; a WebSocket session's is its
// connection's (an upgraded session moves there).
type session struct {
	s     *Server
	ls    *loopState // home
	sid   string
	state transport

	ws *engine.Conn // tWebSocket: the connection
	// What only a polling session has; nil on a WebSocket one, so that
	// sessions on WebSocket, most of them, do not carry it.
	*polling

	remote net.Addr
	id     *security.Identity // what the handshake's token said, if it had one

	ping       engine.Timer // the next ping, or the pong's deadline
	connect    engine.Timer // the connect timeout, until a socket connects
	awaitsPong bool
	flushing   bool // a flush is posted
	expiring   bool // connect is armed for the token's expiry

	// The Socket.IO layer (socket.go).
	sockets []*Socket // by namespace, in the order connected
	partial *incoming // a binary packet waiting for its attachments
	acks    map[uint64]AckHandler
	nextAck uint64
	member  *pubsub.Member // the main namespace's rooms (rooms.go)
	main    *Socket        // the socket of "/", if connected
}

// polling is a polling session's own: the GET waiting, the packets
// waiting for it, its place in the per-IP cap and its rate limits.
type polling struct {
	poll    *engine.Conn // a GET waiting for packets; on any loop
	out     []byte       // the payload waiting for the next GET
	packets int          // in out

	ip      netip.Addr // counted against Server.perIP, if counted
	counted bool

	msgBucket, byteBucket security.Bucket
}

// newSession starts a session on home with its first transport.
func (s *Server) newSession(ls *loopState, state transport, remote net.Addr, id *security.Identity) *session {
	ss := &session{s: s, ls: ls, sid: newSID(ls.loop.Index()), state: state, remote: remote, id: id}
	ss.ping.Init(ss.onPingTimer)
	ss.connect.Init(ss.onConnectTimeout)
	if state != tWebSocket {
		ss.polling = new(polling)
		now := ls.loop.Ticks()
		msgLimit, byteLimit := s.srv.Rates()
		if msgLimit != nil {
			msgLimit.Fill(&ss.msgBucket, now)
		}
		if byteLimit != nil {
			byteLimit.Fill(&ss.byteBucket, now)
		}
	}
	ls.loop.Schedule(&ss.ping, s.cfg.PingInterval)
	ls.loop.Schedule(&ss.connect, s.cfg.ConnectTimeout)
	if state == tWebSocket {
		ls.counts.opened[1]++
	} else {
		ls.counts.opened[0]++
		ls.sessions[ss.sid] = ss
	}
	return ss
}

// openPacket returns the open packet's text for the session.
func (ss *session) openPacket(dst []byte, upgrades bool) []byte {
	tmpl := ss.s.wsOpen
	if upgrades {
		tmpl = ss.s.open
	}
	dst = append(dst, byte(packet.Open))
	i := len(dst) + len(`{"sid":"`)
	dst = append(dst, tmpl...)
	copy(dst[i:], ss.sid)
	return dst
}

// onPingTimer pings the client or, when the last ping is unanswered, ends
// the session. Called on the home loop.
func (ss *session) onPingTimer() {
	if ss.state == tClosed {
		return
	}
	if ss.awaitsPong {
		ss.close("ping timeout")
		return
	}
	ss.awaitsPong = true
	ss.sendPacket(packet.Packet{Type: packet.Ping})
	ss.ls.loop.Schedule(&ss.ping, ss.s.cfg.PingTimeout)
}

// pong takes the client's answer, and schedules the next ping. Called on
// the home loop.
func (ss *session) pong() {
	if !ss.awaitsPong {
		return
	}
	ss.awaitsPong = false
	ss.ls.loop.Schedule(&ss.ping, ss.s.cfg.PingInterval)
}

// onConnectTimeout ends a session that has connected to no namespace, or
// whose token has expired. Called on the home loop.
func (ss *session) onConnectTimeout() {
	switch {
	case ss.state == tClosed:
	case len(ss.sockets) == 0:
		ss.close("connect timeout")
	case ss.expiring:
		ss.refuse(refTokenExpired, "token expired")
	}
}

// connected turns the connect timeout into the token's expiry, if the
// session has a token that expires, once a socket has connected. Called
// on the home loop.
func (ss *session) connected() {
	l := ss.ls.loop
	id := ss.id
	if id == nil || id.Expires.IsZero() {
		l.Cancel(&ss.connect)
		return
	}
	ec := ss.s.srv.Config()
	ss.expiring = true
	l.Schedule(&ss.connect, id.Expires.Add(ec.Auth.Leeway()).Sub(ec.Clock.Now()))
}

// sendPacket writes an Engine.IO packet to the client: a frame of its own
// over WebSocket, or into the payload the next poll takes. A polling
// client that lets more than MaxPackets packets or MaxPayload bytes wait
// is a slow consumer: its session ends. Called on the home loop.
func (ss *session) sendPacket(p packet.Packet) {
	switch ss.state {
	case tWebSocket:
		if p.Binary {
			_ = ss.ws.Write(codec.OpBinary, p.Data)
			return
		}
		ls := ss.ls
		ls.out = packet.AppendText(ls.out[:0], p)
		_ = ss.ws.Write(codec.OpText, ls.out)
	case tPolling, tUpgrading:
		ss.out = packet.AppendPayload(ss.out, p)
		ss.packets++
		if ss.packets > ss.s.cfg.MaxPackets || len(ss.out) > ss.s.cfg.MaxPayload+ss.s.cfg.MaxPayload/3+8 {
			ss.refuse(refSlowConsumer, "slow consumer")
			return
		}
		if ss.poll != nil && !ss.flushing {
			// Answered once what the loop is doing now is done, so
			// that the packets it sends (an event's attachments, say)
			// go in one answer.
			ss.flushing = true
			ss.ls.flushLater(ss)
		}
	}
}

// flushLater answers the session's GET in a task of the loop's, with
// those of the other sessions that sent meanwhile. A session that an
// upgrade moves away is taken off the list first (unflush). Called on the
// loop.
func (ls *loopState) flushLater(ss *session) {
	ls.flushes = append(ls.flushes, ss)
	if len(ls.flushes) == 1 {
		_ = ls.loop.Post(ls.flushAllFn)
	}
}

// flushAll answers the GETs of the sessions on the list. Called on the
// loop.
func (ls *loopState) flushAll() {
	list := ls.flushes
	ls.flushes = ls.spare[:0]
	for _, ss := range list {
		ss.flushing = false
		ss.flush()
	}
	clear(list)
	ls.spare = list[:0]
}

// unflush takes a session off the list. Called on the loop.
func (ls *loopState) unflush(ss *session) {
	if ss.flushing {
		ss.flushing = false
		ls.flushes = slices.DeleteFunc(ls.flushes, func(x *session) bool { return x == ss })
	}
}

// sendText writes a message packet of text (a Socket.IO packet). Called
// on the home loop.
func (ss *session) sendText(b []byte) {
	if ss.state == tWebSocket {
		ls := ss.ls
		ls.out = append(append(ls.out[:0], byte(packet.Message)), b...)
		_ = ss.ws.Write(codec.OpText, ls.out)
		return
	}
	ss.sendPacket(packet.Packet{Type: packet.Message, Data: b})
}

// flush answers the waiting GET with what is buffered. Called on the home
// loop.
func (ss *session) flush() {
	if ss.polling == nil || ss.poll == nil || ss.packets == 0 {
		return
	}
	body := ss.out
	ss.out, ss.packets = nil, 0
	c := ss.poll
	ss.poll = nil
	ss.ls.counts.polls++
	respond(ss.ls, c, body)
}

// respond answers a request on c, from the home loop, with a payload.
func respond(ls *loopState, c *engine.Conn, body []byte) {
	if c.Loop() == ls.loop {
		_ = c.Respond(200, "text/plain; charset=UTF-8", "", body)
		return
	}
	_ = c.Post(func() { _ = c.Respond(200, "text/plain; charset=UTF-8", "", body) })
}

// close ends the session: the sockets see it disconnect, a waiting GET
// gets a noop, a WebSocket transport is closed. Called on the home loop.
func (ss *session) close(reason string) {
	if ss.state == tClosed {
		return
	}
	prev := ss.state
	ss.state = tClosed
	ls := ss.ls
	ls.loop.Cancel(&ss.ping)
	ls.loop.Cancel(&ss.connect)
	if prev != tWebSocket {
		delete(ls.sessions, ss.sid)
	}
	ss.uncount()
	ls.counts.closed++
	ss.disconnectAll(reason)
	if ss.polling != nil && ss.poll != nil {
		c := ss.poll
		ss.poll = nil
		respond(ls, c, []byte{byte(packet.Noop)})
	}
	if ss.ws != nil {
		switch reason {
		case "transport close", "transport error":
		default:
			ss.ws.Close(codec.StatusNormalClosure, "")
		}
	}
}

// admit passes a message packet of n bytes through the session's rate
// limits (the engine's, as for a connection); a polling session's are its
// own, a WebSocket's are its connection's. Called on the home loop.
func (ss *session) admit(n int) bool {
	s := ss.s
	if ss.state == tWebSocket {
		return true // the connection's own limits took the frame
	}
	now := ss.ls.loop.Ticks()
	msgLimit, byteLimit := s.srv.Rates()
	if msgLimit != nil && !msgLimit.Take(&ss.msgBucket, now, 1) {
		return false
	}
	if byteLimit != nil && !byteLimit.Take(&ss.byteBucket, now, int64(n)) {
		return false
	}
	return true
}

// onPacket handles one packet from the client, on either transport.
// Called on the home loop.
func (ss *session) onPacket(p packet.Packet) {
	if ss.state == tClosed {
		return
	}
	switch p.Type {
	case packet.Pong:
		ss.pong()
	case packet.Message:
		if !ss.admit(len(p.Data)) {
			ss.refuse(refRate, "rate limit exceeded")
			return
		}
		ss.onMessage(p.Data, p.Binary)
	case packet.Close:
		ss.close("client close")
	case packet.Noop:
	default:
		// A ping or an upgrade does not come on an open transport.
		ss.refuse(refInvalid, "parse error")
	}
}

// uncount gives back the session's place in the per-IP cap, once it
// holds a connection of its own or has ended. Called on the home loop.
func (ss *session) uncount() {
	if ss.polling != nil && ss.counted {
		ss.counted = false
		ss.s.perIP.Return(ss.ip)
	}
}

// refuse counts a refusal and ends the session for it. Called on the home
// loop.
func (ss *session) refuse(r int, reason string) {
	ss.ls.refused(r, ss.remote)
	ss.close(reason)
}
