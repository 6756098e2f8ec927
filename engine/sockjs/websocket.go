package sockjs

import (
	"net/http"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
)

// wsConn is in the slot of a WebSocket transport's connection.
type wsConn struct {
	raw bool     // the raw endpoint: no SockJS frames
	ss  *Session // once open
}

// Closed ends the session the connection carried: its client has gone.
// Called on its loop by the engine.
func (w *wsConn) Closed(*engine.Conn) {
	if w.ss != nil {
		w.ss.close(codeInterrupted, reasonInterrupted)
	}
}

// serveWebSocket answers a request for a WebSocket endpoint: the
// session's transport, or the raw one. Called on c's loop.
func (s *Server) serveWebSocket(c *engine.Conn, r *engine.Request, raw bool) {
	if s.cfg.NoWebSocket {
		notFound(c)
		return
	}
	if !r.Upgrade {
		if string(r.Method) != http.MethodGet {
			notAllowed(c, http.MethodGet)
			return
		}
		_ = c.Respond(http.StatusBadRequest, "text/plain; charset=UTF-8", "", []byte(`Can "Upgrade" only to "WebSocket".`))
		return
	}
	c.SetSlot(&wsConn{raw: raw})
	_ = c.Accept() // OnOpen starts the session
}

// OnOpen starts a WebSocket session: its connection is its home. Called
// on the connection's loop by the engine.
func (s *Server) OnOpen(c *engine.Conn) {
	w, _ := c.Slot().(*wsConn)
	if w == nil {
		c.Close(codec.StatusInternalError, "")
		return
	}
	kind := tWebSocket
	if w.raw {
		kind = tRaw
	}
	ss := s.newSession(s.loopOf(c.Loop()), kind, c.RemoteAddr(), c.Identity())
	ss.ws = c
	w.ss = ss
	if kind == tWebSocket {
		_ = c.Write(codec.OpText, []byte{frameOpen})
	}
	ss.begin()
}

// OnMessage takes a frame of messages, or a raw message. Called on the
// connection's loop by the engine.
func (s *Server) OnMessage(c *engine.Conn, op codec.OpCode, data []byte) {
	w, _ := c.Slot().(*wsConn)
	if w == nil || w.ss == nil {
		c.Close(codec.StatusInternalError, "")
		return
	}
	ss := w.ss
	if op != codec.OpText {
		ss.refuse(refInvalid, int(codec.StatusUnsupportedData), "SockJS messages are text")
		return
	}
	if w.raw {
		ss.onMessage(data)
		return
	}
	if len(data) == 0 {
		return // ignored, as the protocol says
	}
	if !ss.onFrame(data, true) {
		ss.refuse(refInvalid, int(codec.StatusProtocolError), "Broken framing.")
	}
}

// OnClose does nothing: the session was told (wsConn.Closed). Called on
// the connection's loop by the engine.
func (s *Server) OnClose(*engine.Conn, codec.StatusCode, string) {}
