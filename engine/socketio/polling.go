package socketio

import (
	"errors"
	"net/http"
	"slices"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/socketio/packet"
	"github.com/wssd/wssd/security"
)

// The errors a request gets, as the reference server words them: a JSON
// body with a code and a message, and status 400 (403 for Forbidden).
const (
	errTransportUnknown = `{"code":0,"message":"Transport unknown"}`
	errSessionUnknown   = `{"code":1,"message":"Session ID unknown"}`
	errBadMethod        = `{"code":2,"message":"Bad handshake method"}`
	errBadRequest       = `{"code":3,"message":"Bad request"}`
	errVersion          = `{"code":5,"message":"Unsupported protocol version"}`
	errTooMany          = `{"code":4,"message":"Too many sessions from this address"}`
)

// refuse400 answers a request with 400 and one of the errors above.
func refuse400(c *engine.Conn, msg string) {
	_ = c.Respond(http.StatusBadRequest, "application/json", "", []byte(msg))
}

// ServeHTTP answers a request on the route: a polling handshake, poll or
// send, or an upgrade to WebSocket, new or of a polling session. Called
// on the request's loop by the engine (engine.HTTPHandler).
func (s *Server) ServeHTTP(c *engine.Conn, r *engine.Request) {
	ls := s.loopOf(c.Loop())
	eio, _ := r.Query(ls.query[:0], "EIO")
	if string(eio) != "4" {
		refuse400(c, errVersion)
		return
	}
	var tr string
	switch t, _ := r.Query(ls.query[:0], "transport"); string(t) {
	case "polling":
		tr = "polling"
	case "websocket":
		tr = "websocket"
	default:
		refuse400(c, errTransportUnknown)
		return
	}
	sid, hasSID := r.Query(ls.query[:0], "sid")
	ls.query = sid[:0]
	if r.Upgrade {
		if tr != "websocket" {
			refuse400(c, errBadRequest)
			return
		}
		if !hasSID {
			c.SetSlot(&wsConn{s: s})
			_ = c.Accept() // OnOpen starts the session
			return
		}
		s.upgradeRequest(c, string(sid))
		return
	}
	if tr != "polling" {
		refuse400(c, errBadRequest)
		return
	}
	switch string(r.Method) {
	case http.MethodGet:
		if !hasSID {
			// A polling session holds no connection of its own: an
			// address may hold as many as it may connections.
			ip := security.PeerAddr(c.RemoteAddr())
			if !s.perIP.Take(ip) {
				ls.refused(refPerIP, c.RemoteAddr())
				_ = c.Respond(http.StatusTooManyRequests, "application/json", "", []byte(errTooMany))
				return
			}
			ss := s.newSession(ls, tPolling, c.RemoteAddr(), c.Identity())
			ss.ip, ss.counted = ip, true
			ls.out = ss.openPacket(ls.out[:0], true)
			_ = c.Respond(http.StatusOK, "text/plain; charset=UTF-8", "", ls.out)
			return
		}
		s.atHome(c, sid, func(ss *session) { ss.onPoll(c) })
	case http.MethodPost:
		if !hasSID {
			refuse400(c, errBadMethod)
			return
		}
		if len(r.Body) > s.cfg.MaxPayload {
			_ = c.Respond(http.StatusRequestEntityTooLarge, "application/json", "", []byte(errBadRequest))
			return
		}
		body := r.Body
		if home, ok := s.homeOf(sid); ok && home != c.Loop().Index() {
			body = slices.Clone(body) // r.Body is the read buffer's
		}
		s.atHome(c, sid, func(ss *session) { ss.onSend(c, body) })
	default:
		refuse400(c, errBadMethod)
	}
}

// atHome runs f with the session sid names, on its home loop, or answers
// 400 Session ID unknown. Called on c's loop.
func (s *Server) atHome(c *engine.Conn, sid []byte, f func(ss *session)) {
	s.atHomeOr(c, sid, f, func() { refuse400(c, errSessionUnknown) })
}

// atHomeOr runs f with the session sid names, on its home loop; if there
// is no such session, it runs gone, unless nil, on c's loop. Called on
// c's loop.
func (s *Server) atHomeOr(c *engine.Conn, sid []byte, f func(ss *session), gone func()) {
	if gone == nil {
		gone = func() {}
	}
	home, ok := s.homeOf(sid)
	if !ok {
		gone()
		return
	}
	if home == c.Loop().Index() {
		ss := s.loops[home].sessions[string(sid)]
		if ss == nil {
			gone()
			return
		}
		f(ss)
		return
	}
	hl := s.loops[home]
	loop := s.loopAt(home)
	if loop == nil {
		gone() // no session ever lived there
		return
	}
	key := string(sid)
	_ = loop.Post(func() {
		ss := hl.sessions[key]
		if ss == nil {
			_ = c.Post(gone)
			return
		}
		f(ss)
	})
}

// onPoll takes a GET: it is answered at once with what is buffered, or
// when the next packet comes (a ping at the latest). A second GET while
// one waits ends the session, as the protocol says. Called on the home
// loop.
func (ss *session) onPoll(c *engine.Conn) {
	if ss.poll != nil || ss.state != tPolling && ss.state != tUpgrading {
		other := ss.poll
		ss.poll = nil
		if other != nil {
			respond(ss.ls, other, []byte{byte(packet.Noop)})
		}
		ss.close("transport error")
		onLoopOf(ss.ls, c, func() { refuse400(c, errBadRequest) })
		return
	}
	ss.poll = c
	if c.Loop() == ss.ls.loop {
		watchPoll(c, ss.s, ss.sid)
	} else {
		sid := ss.sid
		_ = c.Post(func() { watchPoll(c, ss.s, sid) })
	}
	ss.flush()
}

// onLoopOf runs f on c's loop: at once when that is home, by a task if
// not.
func onLoopOf(home *loopState, c *engine.Conn, f func()) {
	if c.Loop() == home.loop {
		f()
		return
	}
	_ = c.Post(f)
}

// pollWatch is in the slot of a connection with a GET waiting: when the
// connection closes, its session is told, so that packets do not wait
// for a poll that is gone.
type pollWatch struct {
	s   *Server
	sid string
}

// watchPoll notes on c (its loop) which session it polls. Called on c's
// loop.
func watchPoll(c *engine.Conn, s *Server, sid string) {
	if w, ok := c.Slot().(*pollWatch); ok {
		w.sid = sid
		return
	}
	c.SetSlot(&pollWatch{s: s, sid: sid})
}

// Closed tells the session that its GET's connection is gone. Called on
// the connection's loop by the engine.
func (w *pollWatch) Closed(c *engine.Conn) {
	w.s.atHomeOr(c, []byte(w.sid), func(ss *session) {
		if ss.polling != nil && ss.poll == c {
			ss.poll = nil
		}
	}, nil)
}

// onSend takes a POST: its packets, then "ok". A payload that does not
// parse ends the session. Called on the home loop.
func (ss *session) onSend(c *engine.Conn, body []byte) {
	ls := ss.ls
	if ss.state != tPolling && ss.state != tUpgrading {
		onLoopOf(ls, c, func() { refuse400(c, errBadRequest) })
		return
	}
	var bad bool
	var err error
	ls.scratch, err = packet.SplitPayload(body, ls.scratch, ss.s.cfg.MaxPackets, func(p packet.Packet) error {
		if p.Type == packet.Ping || p.Type == packet.Upgrade || p.Type == packet.Open {
			bad = true
			return errStop
		}
		ss.onPacket(p)
		if ss.state == tClosed {
			return errStop
		}
		return nil
	})
	if err != nil && err != errStop || bad {
		ss.refuse(refInvalid, "parse error")
		onLoopOf(ls, c, func() { refuse400(c, errBadRequest) })
		return
	}
	onLoopOf(ls, c, func() { _ = c.Respond(http.StatusOK, "text/html", "", okBody) })
}

var okBody = []byte("ok")

// upgradeRequest answers an upgrade of the polling session sid: accepted
// when the session polls and is not upgrading already, refused with 400
// if not. Called on c's loop.
func (s *Server) upgradeRequest(c *engine.Conn, sid string) {
	w := &wsConn{s: s, upgrade: &upgrade{sid: sid}}
	c.SetSlot(w)
	s.atHome(c, []byte(sid), func(ss *session) {
		if ss.state != tPolling {
			onLoopOf(ss.ls, c, func() { refuse400(c, errBadRequest) })
			return
		}
		ss.state = tUpgrading
		onLoopOf(ss.ls, c, func() {
			if c.Accept() == nil {
				w.accepted = true
				return
			}
			s.atHomeOr(c, []byte(sid), (*session).upgradeFailed, nil) // the client has gone
		})
	})
}

// errStop stops SplitPayload's walk.
var errStop = errors.New("stop")
