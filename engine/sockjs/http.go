package sockjs

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/security"
)

// receiver is an HTTP transport's receiving request.
type receiver uint8

const (
	rXHR receiver = iota
	rXHRStreaming
	rEventSource
	rHTMLFile
	rJSONP
)

var receiverNames = [...]string{"xhr", "xhr_streaming", "eventsource", "htmlfile", "jsonp"}

// streaming reports whether the transport's answer streams frames, rather
// than carrying one.
func (k receiver) streaming() bool { return k == rXHRStreaming || k == rEventSource || k == rHTMLFile }

func (k receiver) contentType() string {
	switch k {
	case rEventSource:
		return "text/event-stream"
	case rHTMLFile:
		return "text/html; charset=UTF-8"
	}
	return "application/javascript; charset=UTF-8"
}

// noCache is what every answer of a session's gets: GETs of private data
// must not be cached, nor POSTs (which some browsers did).
const noCache = "Cache-Control: no-store, no-cache, no-transform, must-revalidate, max-age=0\r\n"

// xhrPrelude opens an xhr_streaming answer: browsers hand nothing of a
// response to a page before its first 2 KiB or so.
var xhrPrelude = append(bytes.Repeat([]byte{'h'}, 2048), '\n')

// ssePrelude opens an eventsource answer.
var ssePrelude = []byte("\r\n")

// appendHTMLFilePrelude appends the page an htmlfile answer begins with:
// it hands each frame that follows to the callback of the page that
// opened it, padded past the 1 KiB browsers wait for.
func appendHTMLFilePrelude(dst []byte, cb string) []byte {
	n := len(dst)
	dst = append(dst, "<!doctype html>\n<html><head>\n"+
		"  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n"+
		"  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n"+
		"</head><body><h2>Don't panic!</h2>\n"+
		"  <script>\n"+
		"    document.domain = document.domain;\n"+
		"    var c = parent."...)
	dst = append(dst, cb...)
	dst = append(dst, ";\n"+
		"    c.start();\n"+
		"    function p(d) {c.message(d);};\n"+
		"    window.onload = function() {c.stop();};\n"+
		"  </script>"...)
	for len(dst)-n < 1024 {
		dst = append(dst, ' ')
	}
	return append(dst, "\r\n\r\n"...)
}

// preludeOf returns what a streaming transport's answer begins with.
func preludeOf(k receiver, cb string) []byte {
	switch k {
	case rXHRStreaming:
		return xhrPrelude
	case rEventSource:
		return ssePrelude
	}
	return appendHTMLFilePrelude(nil, cb)
}

// wrap appends a frame as the transport k carries it.
func wrap(dst []byte, k receiver, cb string, frame []byte) []byte {
	switch k {
	case rEventSource:
		// The client decodes each event's data as a URI (decodeURI):
		// a '%' must come as "%25". (JSON has escaped the line breaks and
		// NULs an event could not carry.)
		dst = append(dst, "data: "...)
		for {
			i := bytes.IndexByte(frame, '%')
			if i < 0 {
				break
			}
			dst = append(append(dst, frame[:i]...), "%25"...)
			frame = frame[i+1:]
		}
		dst = append(dst, frame...)
		return append(dst, "\r\n\r\n"...)
	case rHTMLFile:
		dst = append(dst, "<script>\np("...)
		dst = appendQuoted(dst, frame, true)
		return append(dst, ");\n</script>\r\n"...)
	case rJSONP:
		dst = append(dst, "/**/"...)
		dst = append(dst, cb...)
		dst = append(dst, '(')
		dst = appendQuoted(dst, frame, true)
		return append(dst, ");\r\n"...)
	}
	dst = append(dst, frame...)
	return append(dst, '\n')
}

// ServeHTTP answers a request under the server's route: the greeting,
// /info, the iframe page, the WebSocket endpoints, and a session's
// transports. Called on the request's loop by the engine
// (engine.HTTPHandler).
func (s *Server) ServeHTTP(c *engine.Conn, r *engine.Request) {
	ls := s.loopOf(c.Loop())
	path := r.Path()
	prefix := c.Path()
	if !bytes.HasPrefix(path, []byte(prefix)) {
		notFound(c)
		return
	}
	rest := path[len(prefix):]
	method := string(r.Method)
	switch {
	case len(rest) == 0 || string(rest) == "/":
		if method != http.MethodGet && method != http.MethodHead {
			notAllowed(c, "GET")
			return
		}
		_ = c.Respond(http.StatusOK, "text/plain; charset=UTF-8", "", welcome)
		return
	case string(rest) == "/info":
		if method != http.MethodGet && method != http.MethodHead {
			notAllowed(c, "GET")
			return
		}
		ls.out = s.appendInfo(ls.out[:0])
		_ = c.Respond(http.StatusOK, "application/json; charset=UTF-8", noCache, ls.out)
		return
	case iframePath(rest):
		s.serveIframe(c, r)
		return
	case string(rest) == "/websocket":
		s.serveWebSocket(c, r, true)
		return
	}
	session, tr, ok := sessionPath(rest)
	if !ok {
		notFound(c)
		return
	}
	switch string(tr) {
	case "websocket":
		s.serveWebSocket(c, r, false)
	case "xhr":
		s.serveReceive(c, r, session, rXHR, http.MethodPost)
	case "xhr_streaming":
		s.serveReceive(c, r, session, rXHRStreaming, http.MethodPost)
	case "eventsource":
		s.serveReceive(c, r, session, rEventSource, http.MethodGet)
	case "htmlfile":
		s.serveReceive(c, r, session, rHTMLFile, http.MethodGet)
	case "jsonp":
		s.serveReceive(c, r, session, rJSONP, http.MethodGet)
	case "xhr_send":
		s.serveSend(c, r, session, false)
	case "jsonp_send":
		s.serveSend(c, r, session, true)
	default:
		notFound(c)
	}
}

var welcome = []byte("Welcome to SockJS!\n")

// sessionPath splits /<server>/<session>/<transport> and returns the
// last two: the first two may be anything but empty or with a dot in
// them. The server's part is for load balancers; the protocol ignores it.
func sessionPath(rest []byte) (session, tr []byte, ok bool) {
	var parts [3][]byte
	for i := range parts {
		if len(rest) == 0 || rest[0] != '/' {
			return nil, nil, false
		}
		rest = rest[1:]
		n := bytes.IndexByte(rest, '/')
		if i == 2 {
			if n >= 0 {
				return nil, nil, false
			}
			n = len(rest)
		} else if n <= 0 || bytes.IndexByte(rest[:n], '.') >= 0 {
			return nil, nil, false
		}
		parts[i], rest = rest[:n], rest[n:]
	}
	return parts[1], parts[2], true
}

// maxSessionID bounds a session id's length: the client makes it (8
// random characters, or a UUID), and it is kept while the session lives.
const maxSessionID = 128

func notFound(c *engine.Conn) {
	_ = c.Respond(http.StatusNotFound, "text/plain; charset=UTF-8", "", []byte("Not found\n"))
}

func notAllowed(c *engine.Conn, allow string) {
	_ = c.Respond(http.StatusMethodNotAllowed, "", "Allow: "+allow+"\r\n", nil)
}

func serverError(c *engine.Conn, msg string) {
	_ = c.Respond(http.StatusInternalServerError, "text/plain; charset=UTF-8", noCache, []byte(msg))
}

// appendInfo appends /info's answer: what the transports may count on,
// and entropy for clients without a good source of their own.
func (s *Server) appendInfo(dst []byte) []byte {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand does not fail (Go 1.24)
	dst = append(dst, `{"websocket":`...)
	dst = strconv.AppendBool(dst, !s.cfg.NoWebSocket)
	dst = append(dst, `,"cookie_needed":`...)
	dst = strconv.AppendBool(dst, s.cfg.CookieNeeded)
	dst = append(dst, `,"origins":["*:*"],"entropy":`...)
	dst = strconv.AppendUint(dst, uint64(binary.BigEndian.Uint32(b[:])), 10)
	return append(dst, '}')
}

// iframePath reports whether rest is /iframe.html or a versioned
// /iframe-<version>.html.
func iframePath(rest []byte) bool {
	name, ok := bytes.CutPrefix(rest, []byte("/iframe"))
	if !ok {
		return false
	}
	name, ok = bytes.CutSuffix(name, []byte(".html"))
	if !ok {
		return false
	}
	if len(name) == 0 {
		return true
	}
	if name[0] != '-' {
		return false
	}
	for _, b := range name[1:] {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// iframePage returns the page the iframe transports load from the
// server's origin: it loads the client from clientURL, which then talks
// to the server from there.
func iframePage(clientURL string) []byte {
	return []byte("<!DOCTYPE html>\n<html>\n<head>\n" +
		"  <meta http-equiv=\"X-UA-Compatible\" content=\"IE=edge\" />\n" +
		"  <meta http-equiv=\"Content-Type\" content=\"text/html; charset=UTF-8\" />\n" +
		"  <script src=\"" + htmlAttr(clientURL) + "\"></script>\n" +
		"  <script>\n" +
		"    document.domain = document.domain;\n" +
		"    SockJS.bootstrap_iframe();\n" +
		"  </script>\n" +
		"</head>\n<body>\n" +
		"  <h2>Don't panic!</h2>\n" +
		"  <p>This is a SockJS hidden iframe. It's used for cross domain magic.</p>\n" +
		"</body>\n</html>")
}

// htmlAttr escapes a value for a double-quoted HTML attribute.
func htmlAttr(v string) string {
	return strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;", `>`, "&gt;").Replace(v)
}

// yearLong is how long the static answers may be cached.
const yearLong = 365 * 24 * time.Hour

// serveIframe answers the iframe page, cacheable for a year, or 304 to a
// client that has it.
func (s *Server) serveIframe(c *engine.Conn, r *engine.Request) {
	if m := string(r.Method); m != http.MethodGet && m != http.MethodHead {
		notAllowed(c, "GET")
		return
	}
	hdr := "Cache-Control: public, max-age=31536000\r\nExpires: " +
		time.Now().Add(yearLong).UTC().Format(http.TimeFormat) + "\r\nETag: " + s.etag + "\r\n"
	for v := range r.Values("if-none-match") {
		if string(v) == s.etag {
			_ = c.Respond(http.StatusNotModified, "", hdr, nil)
			return
		}
	}
	_ = c.Respond(http.StatusOK, "text/html; charset=UTF-8", hdr, s.iframe)
}

// sessionHeader returns the header lines of a session's answers: no
// caching, and with Config.CookieNeeded the JSESSIONID cookie, the
// client's or a new one.
func (s *Server) sessionHeader(r *engine.Request) string {
	if !s.cfg.CookieNeeded {
		return noCache
	}
	v := "dummy"
	for line := range r.Values("cookie") {
		for _, kv := range bytes.Split(line, []byte{';'}) {
			k, val, _ := bytes.Cut(bytes.TrimSpace(kv), []byte{'='})
			if string(k) == "JSESSIONID" && validCookieValue(val) {
				v = string(val)
			}
		}
	}
	return noCache + "Set-Cookie: JSESSIONID=" + v + "; path=/\r\n"
}

// validCookieValue reports whether v may be echoed in a Set-Cookie line
// (RFC 6265's cookie-octets, at most 128 of them).
func validCookieValue(v []byte) bool {
	if len(v) == 0 || len(v) > 128 {
		return false
	}
	for _, b := range v {
		if b <= 0x20 || b >= 0x7f || b == '"' || b == ',' || b == ';' || b == '\\' {
			return false
		}
	}
	return true
}

// callback reads the c parameter of jsonp and htmlfile: the name of the
// page's function that takes the frames. It answers 500 and returns
// false when there is none, or it is not a name.
func callback(c *engine.Conn, r *engine.Request, ls *loopState) (string, bool) {
	v, ok := r.Query(ls.out[:0], "c")
	if !ok || len(v) == 0 {
		serverError(c, `"callback" parameter required`)
		return "", false
	}
	if len(v) > 128 {
		serverError(c, `invalid "callback" parameter`)
		return "", false
	}
	for _, b := range v {
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-') {
			serverError(c, `invalid "callback" parameter`)
			return "", false
		}
	}
	return string(v), true
}

// recvWatch is in the slot of a connection that carries a receiving
// request: when the connection closes, its session is told, so that a
// client gone is found at once.
type recvWatch struct {
	s   *Server
	sid string
}

// Closed tells the session that its receiving request's connection has
// gone. Called on the connection's loop by the engine.
func (w *recvWatch) Closed(c *engine.Conn) {
	w.s.atHome(c, w.sid, false, func(_ *loopState, ss *Session) {
		if ss != nil && ss.recv == c {
			ss.detach()
			ss.close(codeInterrupted, reasonInterrupted)
		}
	})
}

// serveReceive takes a receiving request: it opens a session, or
// receives the frames of one. Called on c's loop.
func (s *Server) serveReceive(c *engine.Conn, r *engine.Request, sid []byte, k receiver, method string) {
	if string(r.Method) != method {
		notAllowed(c, method)
		return
	}
	if len(sid) > maxSessionID {
		notFound(c)
		return
	}
	ls := s.loops[c.Loop().Index()]
	var cb string
	if k == rJSONP || k == rHTMLFile {
		var ok bool
		if cb, ok = callback(c, r, ls); !ok {
			return
		}
	}
	hdr := s.sessionHeader(r)
	id := string(sid)
	if w, ok := c.Slot().(*recvWatch); ok && w.s == s {
		w.sid = id
	} else {
		c.SetSlot(&recvWatch{s: s, sid: id})
	}
	remote, ident := c.RemoteAddr(), c.Identity()
	s.atHome(c, id, true, func(home *loopState, ss *Session) {
		if home == nil {
			_ = c.Post(func() { notFound(c) }) // the index is in flux: the client tries again
			return
		}
		if ss == nil {
			// A new session, homed here.
			ip := security.PeerAddr(remote)
			if !s.perIP.Take(ip) {
				home.refused(refPerIP, remote)
				onLoopOf(home, c, func() {
					_ = c.Respond(http.StatusTooManyRequests, "text/plain; charset=UTF-8", noCache,
						[]byte("Too many sessions from this address\n"))
				})
				s.index.drop(id)
				return
			}
			ss = s.newSession(home, tHTTP, remote, ident)
			ss.polling = &polling{sid: id, ip: ip, counted: true}
			ss.linger.Init(ss.onLinger)
			home.sessions[id] = ss
			ss.receive(c, k, cb, hdr, true)
			return
		}
		if security.PeerAddr(remote) != ss.ip {
			// Not the session's client: as if there were no session.
			onLoopOf(home, c, func() { notFound(c) })
			return
		}
		ss.receive(c, k, cb, hdr, false)
	})
}

// atHome runs f, on the home loop of session id, with that loop's state
// and the session, or with nil when there is none: with create, the loop
// it runs on is then the session's home, to make it there; without, f
// runs on c's loop. A request that arrives on another loop than its
// session's is handed to the home loop (engine.Loop.Post), as an
// Engine.IO session's is. Called on c's loop.
func (s *Server) atHome(c *engine.Conn, id string, create bool, f func(hl *loopState, ss *Session)) {
	me := c.Loop().Index()
	home, ok := s.index.home([]byte(id))
	if !ok {
		if !create {
			f(s.loops[me], nil)
			return
		}
		home = s.index.claim(id, me)
	}
	s.runAt(c, home, id, create, f, 2)
}

// runAt runs f on loop home with session id. A session found gone there
// is made there, if create, unless the index names another home for it
// by then. Called on any loop.
func (s *Server) runAt(c *engine.Conn, home int, id string, create bool, f func(hl *loopState, ss *Session), tries int) {
	me := s.loops[c.Loop().Index()]
	run := func() {
		hl := s.loops[home]
		ss := hl.sessions[id]
		if ss == nil {
			if !create {
				onLoopOf(hl, c, func() { f(me, nil) })
				return
			}
			if h := s.index.claim(id, home); h != home {
				if tries > 0 {
					s.runAt(c, h, id, create, f, tries-1)
				} else {
					f(nil, nil) // not reached but by a storm of requests for one id
				}
				return
			}
		}
		f(hl, ss)
	}
	if home == me.loop.Index() {
		run()
		return
	}
	l := s.loops[home].shared.Load()
	if l == nil {
		// Not reached: a home is a loop that has served a request.
		f(nil, nil)
		return
	}
	_ = l.Post(run)
}

// onLoopOf runs f on c's loop: at once when that is home's, by a task if
// not.
func onLoopOf(home *loopState, c *engine.Conn, f func()) {
	if c.Loop() == home.loop {
		f()
		return
	}
	_ = c.Post(f)
}

// receive takes a receiving request for the session: a closed session
// answers its close frame, one that has a receiver "Another connection
// still open"; otherwise the request receives, the first time with the
// open frame. Called on the home loop.
func (ss *Session) receive(c *engine.Conn, k receiver, cb, hdr string, fresh bool) {
	ls := ss.ls
	if ss.state != sOpen || ss.recv != nil {
		code, reason := int(ss.code), ss.reason
		if ss.state == sOpen {
			code, reason = codeAnother, "Another connection still open"
		}
		frame := appendCloseFrame(nil, code, reason)
		answerOnce(ls, c, k, cb, hdr, frame)
		return
	}
	ls.loop.Cancel(&ss.linger)
	ss.recv, ss.rkind, ss.cb, ss.hdr, ss.sent = c, k, cb, hdr, 0
	ls.counts.requests[k]++
	if k.streaming() {
		prelude := preludeOf(k, cb)
		onLoopOf(ls, c, func() {
			if c.Stream(http.StatusOK, k.contentType(), hdr) == nil {
				_ = c.WriteStream(prelude)
			}
		})
	}
	if fresh {
		ss.writeFrame([]byte{frameOpen})
		ss.begin()
		if ss.recv == nil {
			return
		}
	}
	if ss.queued > 0 {
		ss.flushQueue()
	}
	if ss.recv != nil {
		ss.heartbeatIn()
	}
}

// answerOnce answers a receiving request with one frame, and ends it.
// Called on home's loop.
func answerOnce(home *loopState, c *engine.Conn, k receiver, cb, hdr string, frame []byte) {
	body := wrap(nil, k, cb, frame)
	if !k.streaming() {
		onLoopOf(home, c, func() { _ = c.Respond(http.StatusOK, k.contentType(), hdr, body) })
		return
	}
	prelude := preludeOf(k, cb)
	onLoopOf(home, c, func() {
		if c.Stream(http.StatusOK, k.contentType(), hdr) == nil {
			_ = c.WriteStream(prelude)
			_ = c.WriteStream(body)
			_ = c.EndStream()
		}
	})
}

// writeFrame writes a frame to the receiving request, as its transport
// carries it: a polling request is answered with it, and a streaming one
// ended once it has carried Config.ResponseLimit bytes. Called on the
// home loop.
func (ss *Session) writeFrame(frame []byte) {
	c := ss.recv
	if c == nil {
		return
	}
	ls := ss.ls
	k := ss.rkind
	ls.wrapped = wrap(ls.wrapped[:0], k, ss.cb, frame)
	b := ls.wrapped
	if c.Loop() != ls.loop {
		b = slices.Clone(b)
	}
	if !k.streaming() {
		hdr := ss.hdr
		ss.detach()
		onLoopOf(ls, c, func() { _ = c.Respond(http.StatusOK, k.contentType(), hdr, b) })
		return
	}
	ss.sent += len(b)
	end := ss.sent >= ss.s.cfg.ResponseLimit
	if end {
		ss.detach()
	}
	onLoopOf(ls, c, func() {
		_ = c.WriteStream(b)
		if end {
			_ = c.EndStream()
		}
	})
}

// endReceiver ends the receiving request, if any. Called on the home
// loop.
func (ss *Session) endReceiver() {
	c := ss.recv
	if c == nil {
		return
	}
	streaming := ss.rkind.streaming()
	ss.detach()
	if streaming {
		onLoopOf(ss.ls, c, func() { _ = c.EndStream() })
	}
}

// detach lets the receiving request go: the session waits for the next
// for the disconnect delay. Called on the home loop.
func (ss *Session) detach() {
	ss.recv = nil
	ls := ss.ls
	ss.stopHeartbeat()
	ls.unflush(ss)
	ls.loop.Schedule(&ss.linger, ss.s.cfg.DisconnectDelay)
}

// onLinger ends a session whose client has made no receiving request for
// the disconnect delay, and forgets a closed one. Called on the home
// loop.
func (ss *Session) onLinger() {
	if ss.state == sOpen {
		ss.close(codeGoingAway, "Session timed out")
	}
	ss.drop()
}

// drop forgets a session of the HTTP transports. Called on the home loop.
func (ss *Session) drop() {
	ls := ss.ls
	ls.loop.Cancel(&ss.linger)
	if ls.sessions[ss.sid] == ss {
		delete(ls.sessions, ss.sid)
		ss.s.index.drop(ss.sid)
	}
	if ss.counted {
		ss.counted = false
		ss.s.perIP.Return(ss.ip)
	}
}

// serveSend takes a request that carries messages (xhr_send, or
// jsonp_send with jsonp), answered 204 (jsonp: "ok"), 404 for no such
// session, or 500 for a body without messages or that is not a frame of
// them. Called on c's loop.
func (s *Server) serveSend(c *engine.Conn, r *engine.Request, sid []byte, jsonp bool) {
	if string(r.Method) != http.MethodPost {
		notAllowed(c, http.MethodPost)
		return
	}
	body := r.Body
	if jsonp && isForm(r) {
		q, err := url.ParseQuery(string(body))
		if err != nil {
			serverError(c, "Payload expected.")
			return
		}
		body = []byte(q.Get("d"))
	}
	if len(body) == 0 {
		serverError(c, "Payload expected.")
		return
	}
	hdr := s.sessionHeader(r)
	remote := c.RemoteAddr()
	home, ok := s.index.home(sid)
	if !ok {
		notFound(c)
		return
	}
	if home != c.Loop().Index() {
		body = slices.Clone(body) // r.Body is the read buffer's
	}
	s.runAt(c, home, string(sid), false, func(hl *loopState, ss *Session) {
		if hl == nil {
			_ = c.Post(func() { notFound(c) })
			return
		}
		if ss == nil || ss.state != sOpen || security.PeerAddr(remote) != ss.ip {
			onLoopOf(hl, c, func() { notFound(c) })
			return
		}
		ls := ss.ls
		if !ss.onFrame(body, false) {
			ls.refused(refInvalid, remote)
			onLoopOf(ls, c, func() { serverError(c, "Broken JSON encoding.") })
			return
		}
		onLoopOf(ls, c, func() {
			if jsonp {
				_ = c.Respond(http.StatusOK, "text/plain; charset=UTF-8", hdr, []byte("ok"))
				return
			}
			_ = c.Respond(http.StatusNoContent, "text/plain; charset=UTF-8", hdr, nil)
		})
	}, 0)
}

// isForm reports whether the request's body is form-encoded.
func isForm(r *engine.Request) bool {
	for v := range r.Values("content-type") {
		mt, _, _ := bytes.Cut(v, []byte{';'})
		return string(bytes.ToLower(bytes.TrimSpace(mt))) == "application/x-www-form-urlencoded"
	}
	return false
}
