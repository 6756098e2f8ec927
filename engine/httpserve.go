package engine

import (
	"errors"
	"net/http"
	"strings"

	"github.com/wssd/wssd/engine/http1"
	"github.com/wssd/wssd/security"
)

// Plain HTTP on a route: a long-polling transport (Engine.IO's, say) is
// an HTTPHandler. Its requests are read like an upgrade's, through the
// same gates, with their bodies (by Content-Length, or chunked:
// chunked.go); each is answered once, at once or later, whole (Respond)
// or streamed in parts as they come (Stream, stream.go),
// and the connection is kept for the next (HTTP/1.1 keep-alive, pipelining
// included) or closed, as the request asks. A route's handler takes its
// path; a SubtreeHandler the paths under it too (subtree.go). Nothing of
// it is on the WebSocket path: a connection on such a route holds one
// small exchange more than another, and only until it upgrades.

// HTTPHandler is a route's Handler that also answers the requests on its
// path that are not WebSocket upgrades (a long-polling transport, say), and
// decides on upgrades itself.
type HTTPHandler interface {
	Handler
	// ServeHTTP is called on the connection's loop for each request on
	// the route, upgrade or not, once its head and its body have been
	// read and the origin gate has passed (and the token gate, for a
	// request that carries a token: see Config.Auth). It answers exactly
	// once: with c.Respond, or c.Stream and, once the body is all sent,
	// c.EndStream, at once or later (from a task on c's loop, Conn.Post);
	// or, for an upgrade (r.Upgrade), with c.Accept, c.Respond or
	// c.Stream. Until it has, the connection reads no further request.
	// r, and every slice in it, is valid only until ServeHTTP returns.
	ServeHTTP(c *Conn, r *Request)
}

// Request is a request on an HTTPHandler's route.
type Request struct {
	http1.Request        // the head (Method, Target, Values, HasToken, Path, Query, ...)
	Body          []byte // the body (by Content-Length, or decoded from chunks; empty without one)
	Upgrade       bool   // a valid WebSocket upgrade (http1.CheckUpgrade passed): c.Accept may answer it
}

// exchange is what a connection on an HTTPHandler's route keeps of the
// request being read or served, from its head to its answer, and across
// the requests of a connection kept alive. It is made on the connection's
// first request to such a route and dropped when the connection upgrades:
// other connections have none.
type exchange struct {
	h      HTTPHandler // the route's handler, which Accept opens the connection for
	origin []byte      // the request's Origin, when cors
	key    [24]byte    // the upgrade's Sec-WebSocket-Key (CheckUpgrade: 24 bytes)
	head   int         // the length of a request head read before its body has all come
	need   int         // and of the whole request; 0: no such request
	pmd    pmd         // the upgrade's permessage-deflate agreement

	route   bool // the request being answered is on an HTTPHandler's route
	cors    bool // from an allowed Origin: the answers carry the CORS lines
	pending bool // ServeHTTP has the request: it is not answered yet
	serving bool // ServeHTTP is running: readRequest goes on after it returns
	upgrade bool // the request is a valid upgrade: Accept may answer it
	bearer  bool // the 101 selects the subprotocol "bearer" (see request.token)
	close   bool // the connection closes after the answer (HTTP/1.0, Connection: close)
	kept    bool // an answer has kept the connection: its deadline is keep-alive's

	// A streamed answer (stream.go).
	http10    bool // the request is HTTP/1.0: the body goes out as it is, and the connection ends it
	streaming bool // the answer's head is written and its body is being sent (pending until EndStream)

	chunked chunkedBody // a chunked body coming in pieces (chunked.go)
}

// allowHTTP is the Allow line of a preflight's answer without CORS.
const allowHTTP = "Allow: GET, HEAD, POST, OPTIONS\r\n"

// preflightMaxAge is how long, in seconds, a browser may keep a
// preflight's answer: two hours, the most Chromium takes.
const preflightMaxAge = "7200"

// checkHTTP passes the head of a request on an HTTPHandler's route through
// the checks that need no more than the head, and returns the length of
// its body, or -1 for a chunked one (readChunked), which is read before
// the request is served; or refuses the request, answering it, and returns
// false. A body that has not all come is waited for, and the head checked
// again, with the same outcome, once it has. Called on the loop.
func (c *Conn) checkHTTP(r *request) (size int, ok bool) {
	hx := c.hx
	if hx == nil {
		hx = new(exchange)
		c.hx = hx
	}
	hx.route, hx.cors, hx.upgrade = true, false, false
	method := string(r.Method)
	if method == http.MethodGet && r.HasToken("upgrade", "websocket") {
		// An upgrade, or an attempt at one: refused as on any route
		// when it is not valid (a body included).
		if err := http1.CheckUpgrade(&r.Request); err != nil {
			c.refuseRequest(err)
			return 0, false
		}
		hx.upgrade = true
	}
	if !c.allowOrigin(r) {
		return 0, false
	}
	if r.Origin != nil {
		hx.cors = true
		hx.origin = append(hx.origin[:0], r.Origin...)
	}
	// Every method but OPTIONS (a preflight, answered here) goes to the
	// handler, which says what it takes: a protocol may have its own
	// answer to the others (Engine.IO's is a 400).
	if hx.upgrade {
		return 0, true
	}
	switch {
	case r.TransferEncoding:
		return -1, true // chunked: Parse takes no other coding
	case r.ContentLength > c.loop.srv.cfg.MaxRequestBody:
		c.refused(refBodyTooLarge)
		c.refuseRequest(http1.ErrBodyTooLarge)
		return 0, false
	}
	return int(max(r.ContentLength, 0)), true
}

// serveHTTP serves a request on an HTTPHandler's route, whose head passed
// checkHTTP and whose body has all come: a CORS preflight is answered here,
// any other request goes through the token gate to the handler. Called on
// the loop.
func (c *Conn) serveHTTP(h HTTPHandler, r *request, body []byte) {
	l := c.loop
	hx := c.hx
	hx.close = r.Minor == 0 || r.HasToken("connection", "close")
	hx.http10 = r.Minor == 0
	if string(r.Method) == http.MethodOptions {
		hx.serving = true // readRequest reads on
		c.preflight(r)
		hx.serving = false
		return
	}
	hx.bearer = false
	if l.srv.cfg.Auth != nil {
		if tok, protocol := r.token(); tok != nil {
			if !c.verify(tok) {
				return
			}
			hx.bearer = protocol == security.ProtocolBearer
		}
	}
	c.setPath(r)
	if hx.upgrade {
		copy(hx.key[:], r.Key)
		hx.pmd = l.srv.negotiateDeflate(&r.Request, c.path)
	}
	hx.h = h
	// The handler answers when it will: no deadline runs meanwhile.
	c.deadline = 0
	l.wheel.cancel(&c.timer)
	hx.pending, hx.serving = true, true
	l.served = Request{Request: r.Request, Body: body, Upgrade: hx.upgrade}
	h.ServeHTTP(c, &l.served)
	l.served = Request{}
	hx.serving = false
}

// preflight answers a CORS preflight, an OPTIONS request on an
// HTTPHandler's route, with 204: from an allowed origin, what the route
// takes (GET and POST, the request headers the preflight asks for when
// they are field names, for preflightMaxAge); from no origin (not a
// preflight), the methods in Allow. Called on the loop.
func (c *Conn) preflight(r *request) {
	l := c.loop
	hx := c.hx
	closing := hx.close || l.srv.draining.Load()
	b := c.appendHead(l.scratch[:0], http.StatusNoContent, "", -1, "", closing)
	if hx.cors {
		b = append(b, "Access-Control-Allow-Methods: GET, POST\r\nAccess-Control-Max-Age: "+preflightMaxAge+"\r\n"...)
		b = appendAllowHeaders(b, &r.Request)
	} else {
		b = append(b, allowHTTP...)
	}
	c.sendAnswer(b, nil, http.StatusNoContent, closing)
}

// appendAllowHeaders appends the Access-Control-Allow-Headers line that
// grants a preflight's Access-Control-Request-Headers, when they are a
// list of field names; otherwise nothing, and the browser sends only the
// headers it needs no grant for.
func appendAllowHeaders(b []byte, r *http1.Request) []byte {
	n := len(b)
	b = append(b, "Access-Control-Allow-Headers: "...)
	some := false
	for elem := range r.Elements("access-control-request-headers") {
		if !http1.IsToken(elem) {
			return b[:n]
		}
		if some {
			b = append(b, ", "...)
		}
		b = append(b, elem...)
		some = true
	}
	if !some {
		return b[:n]
	}
	return append(b, "\r\n"...)
}

// errResponse is Respond's and Stream's error for an answer HTTP does not
// allow.
var errResponse = errors.New("engine: Respond takes a status from 200 to 599 (with no body for 204 and 304; " +
	"Stream takes neither), a Content-Type without line breaks and header lines each ended by CRLF")

// validAnswer reports whether an answer's status, Content-Type and header
// lines are ones Respond and Stream write.
func validAnswer(status int, contentType, header string) bool {
	return status >= 200 && status <= 599 && !strings.ContainsAny(contentType, "\r\n") &&
		(header == "" || strings.HasSuffix(header, "\r\n"))
}

// Respond answers the request the connection's HTTPHandler is serving:
// the status line, Date, Content-Type (none when contentType is ""),
// Content-Length, the lines in header (whole header lines, each ended by
// CRLF, or ""), for a request from an allowed Origin the CORS lines that
// let its page read the answer (Access-Control-Allow-Origin: that origin,
// Access-Control-Allow-Credentials: true, Vary: Origin), Connection: close
// when the connection closes after the answer, and body, but to a HEAD
// request. body may be reused when Respond returns.
//
// An HTTP/1.1 request without Connection: close keeps the connection: the
// next request is read, within Config.HandshakeTimeout of the answer;
// after one of HTTP/1.0 or with Connection: close, or while the server
// drains, the connection is closed. A peer that has more than
// Config.MaxOutbound bytes waiting to be written to it when an answer is
// due is closed instead, as a slow consumer.
//
// It returns ErrClosed when there is no request to answer (none is being
// served, or it was answered already) or the connection is gone, and
// another error, answering nothing, for a status outside 200 to 599, a
// body with 204 or 304, or malformed contentType or header. Called on the
// loop.
func (c *Conn) Respond(status int, contentType string, header string, body []byte) error {
	hx := c.hx
	if c.state != stateUpgrade || hx == nil || !hx.pending || hx.streaming {
		return ErrClosed
	}
	length := len(body)
	if status == http.StatusNoContent || status == http.StatusNotModified {
		length = -1
	}
	if !validAnswer(status, contentType, header) || length < 0 && len(body) > 0 {
		return errResponse
	}
	l := c.loop
	hx.pending = false
	if c.gc.OutboundBuffered() > l.srv.cfg.MaxOutbound {
		c.refused(refSlowConsumer)
		c.shut()
		return ErrClosed
	}
	closing := hx.close || l.srv.draining.Load()
	b := c.appendHead(l.scratch[:0], status, contentType, length, header, closing)
	if !c.sendAnswer(b, body, status, closing) {
		return ErrClosed
	}
	return nil
}

// sendAnswer ends an answer to a request on an HTTPHandler's route, whose
// status line and header fields b holds (in the loop's scratch), and
// sends it: then the connection is closed, or kept for the next request.
// It reports whether the answer was written. Called on the loop.
func (c *Conn) sendAnswer(b, body []byte, status int, closing bool) bool {
	b = append(b, "\r\n"...)
	if c.headOnly {
		body = nil
	}
	c.countAnswer(status)
	err := c.sendPair(b, body)
	c.answered(closing || err != nil)
	return err == nil
}

// answered goes on from an answer to a request on an HTTPHandler's route
// that has all been written: the connection is closed when closing, or
// kept for the next request. Called on the loop.
func (c *Conn) answered(closing bool) {
	l := c.loop
	hx := c.hx
	hx.pending, hx.streaming, hx.upgrade, hx.route, hx.cors = false, false, false, false, false
	if closing {
		c.shut()
		return
	}
	// Kept alive: the next request has the handshake's time to come,
	// from now.
	hx.kept = true
	c.born = l.srv.nanos()
	c.deadline = l.now() + l.srv.hsTicks
	l.wheel.schedule(&c.timer, c.deadline)
	if !hx.serving {
		c.readOnLater()
	}
}

// sendPair writes a, which is in the loop's scratch, and b after it: b
// goes out from where it is when it is large (sealed from there over TLS
// 1.3, with writev over ws://), and is copied after a otherwise. Called on
// the loop.
func (c *Conn) sendPair(a, b []byte) error {
	l := c.loop
	l.scratch = a
	switch {
	case len(b) == 0:
		return c.send(a)
	case c.tls != nil && c.tls.rec != nil:
		return c.sendRecords(a, b)
	case c.tls == nil && len(b) > smallFrame:
		l.iov[0], l.iov[1] = a, b
		_, err := c.gc.Writev(l.iov[:])
		l.iov[0], l.iov[1] = nil, nil
		return err
	}
	l.scratch = append(a, b...)
	return c.send(l.scratch)
}

// readOnLater has gnet call OnTraffic again when bytes the connection
// received while its request was being served wait to be read (a
// pipelined request, frames after an upgrade): nothing else would, since
// they have been read from the socket already. Called on the loop,
// outside ServeHTTP.
func (c *Conn) readOnLater() {
	if c.gc.InboundBuffered() > 0 || len(c.tail) > 0 {
		_ = c.gc.Wake(nil)
	}
}

// checkFlood closes a connection whose request is being served and which
// has sent more, meanwhile, than a request may hold (MaxHeaderBytes and
// MaxRequestBody): what waits in its buffer is bounded. Called on the
// loop.
func (c *Conn) checkFlood() {
	cfg := &c.loop.srv.cfg
	if int64(c.in.InboundBuffered()) > int64(cfg.MaxHeaderBytes)+cfg.MaxRequestBody {
		c.refused(refRequestFlood)
		c.closeNow()
	}
}

// Accept answers the upgrade request the connection's HTTPHandler is
// serving (Request.Upgrade) with a 101 and opens the connection as a
// WebSocket on the route, for the handler, as a route whose handler is
// not an HTTPHandler would have at once: the handler's OnOpen is called
// before Accept returns, and its OnMessage and OnClose follow. The 101
// selects the subprotocol "bearer" when the request's token came that way
// (see Config.Auth). It returns ErrClosed when there is no upgrade to
// answer, or the connection is gone. Called on the loop.
func (c *Conn) Accept() error {
	hx := c.hx
	if c.state != stateUpgrade || hx == nil || !hx.pending || !hx.upgrade {
		return ErrClosed
	}
	hx.pending = false
	if !c.admitForwarded() {
		return ErrClosed
	}
	var protocol string
	if hx.bearer {
		protocol = security.ProtocolBearer
	}
	var origin []byte
	if hx.cors {
		origin = hx.origin
	}
	if err := c.open(hx.h, hx.key[:], protocol, origin, hx.pmd); err != nil {
		c.closeNow()
		return ErrClosed
	}
	if !hx.serving && c.state == stateOpen {
		c.readOnLater()
	}
	return nil
}

// VerifyToken verifies a token as the token gate does (Config.Auth), for
// a protocol that takes one from its own messages rather than from the
// request (an HTTPHandler's route lets a request without a token through).
// It returns what the token says, or the error of a token that fails (one
// of security's ErrToken errors), which the protocol counts as the gate
// would with c.Refuse(AuthRefusal(err)); with no Config.Auth, nil and no
// error. Safe for concurrent use.
func (s *Server) VerifyToken(tok []byte) (*security.Identity, error) {
	a := s.cfg.Auth
	if a == nil {
		return nil, nil
	}
	id, err := a.Verify(tok)
	if err != nil {
		return nil, err
	}
	return &id, nil
}
