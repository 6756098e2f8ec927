package engine

import (
	"errors"
	"net/http"
	"time"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/http1"
	"github.com/wssd/wssd/security"
)

// The security gates, at the cheapest point for each (rule 7 of the house,
// in doc.go): the connection caps and handshake rate at accept
// (server.go), origin and token while the upgrade request is read, the
// rate and validation of each message before the handler sees it.

// request is the request being read on a loop, with what the gates take
// from it. The loop reads one request at a time, so one per loop does. Its
// Request points into the loop's read buffer and is cleared once the
// request is answered or handed to an HTTPHandler; query is a buffer of
// its own, reused.
type request struct {
	http1.Request
	query []byte // the query's token, percent-decoded
	route string // the path of the subtree route that serves it; "" when its route is its path (subtree.go)
}

// token returns the request's token, by precedence: the Authorization
// header, the Sec-WebSocket-Protocol header, the query. protocol is the
// subprotocol the answer must select: "bearer" when the client offered its
// token that way, whichever place the token is taken from, since a browser
// fails a handshake that selects none of the protocols it offered.
func (r *request) token() (tok []byte, protocol string) {
	var fromProtocol []byte
	for v := range r.Values("sec-websocket-protocol") {
		if t, ok := security.ProtocolToken(v); ok {
			fromProtocol, protocol = t, security.ProtocolBearer
			break
		}
	}
	if r.Authorization != nil {
		if t, ok := security.BearerToken(r.Authorization); ok {
			return t, protocol
		}
	}
	if fromProtocol != nil {
		return fromProtocol, protocol
	}
	if q, ok := security.QueryToken(r.query[:0], r.Target); ok {
		r.query = q
		return q, protocol
	}
	return nil, protocol
}

// allowOrigin applies the origin allowlist to the request, answering 403
// to a refused one. A request without Origin is not a browser's and passes
// (see Config.Origins). Called on the loop.
func (c *Conn) allowOrigin(r *request) bool {
	o := c.loop.srv.origins.Load()
	if o == nil || r.Origin == nil || o.Allow(r.Origin) {
		return true
	}
	c.refused(refOrigin)
	c.respond(http.StatusForbidden, "", "origin not allowed\n")
	return false
}

// authenticate checks the request's token, once the request is known to be
// a valid upgrade, and keeps who it names on the connection; it answers 401
// and returns false if the token is missing or not valid. protocol is the
// subprotocol the 101 selects. Called on the loop.
func (c *Conn) authenticate(r *request) (protocol string, ok bool) {
	tok, protocol := r.token()
	if !c.verify(tok) {
		return "", false
	}
	return protocol, true
}

// verify checks a request's token, keeping who it names on the
// connection, or answers 401 and returns false. Called on the loop.
func (c *Conn) verify(tok []byte) bool {
	l := c.loop
	a := l.srv.cfg.Auth
	id, err := a.Verify(tok)
	if err != nil {
		c.refused(AuthRefusal(err))
		c.respond(http.StatusUnauthorized, "WWW-Authenticate: "+a.Challenge(err)+"\r\n", "unauthorized: "+security.TokenErrorReason(err)+"\n")
		return false
	}
	c.id = &id
	if !id.Expires.IsZero() {
		c.expires = l.srv.tickAt(id.Expires.Add(a.Leeway()))
	}
	return true
}

// authRefusals are the refusals of the token errors Verify returns; any
// other is refAuthInvalid.
var authRefusals = []struct {
	err error
	r   Refusal
}{
	{security.ErrTokenMissing, refAuthMissing},
	{security.ErrTokenMalformed, refAuthMalformed},
	{security.ErrTokenSignature, refAuthSignature},
	{security.ErrTokenAlgorithm, refAuthAlgorithm},
	{security.ErrTokenExpired, refAuthExpired},
	{security.ErrTokenNotYetValid, refAuthNotYetValid},
	{security.ErrTokenNoExpiry, refAuthNoExpiry},
	{security.ErrTokenIssuer, refAuthIssuer},
	{security.ErrTokenAudience, refAuthAudience},
}

// AuthRefusal returns the refusal the token gate counts for a token that
// failed verification with err, for a protocol that verifies tokens itself
// (Server.VerifyToken) to count its refusals alike (Conn.Refuse). Safe for
// concurrent use.
func AuthRefusal(err error) Refusal {
	for _, a := range authRefusals {
		if errors.Is(err, a.err) {
			return a.r
		}
	}
	return refAuthInvalid
}

// tickAt returns the first tick at which t has passed: a deadline at t on
// a wheel never fires early. Safe for concurrent use.
func (s *Server) tickAt(t time.Time) int64 {
	d := t.Sub(s.epoch)
	if d <= 0 {
		return 1
	}
	return int64((d+tick-1)/tick) + 1
}

// refused counts a refusal of this connection, or of one of its messages,
// and logs it (sampled). Called on the loop.
func (c *Conn) refused(r Refusal) {
	l := c.loop
	l.refused[r]++
	if !l.rlog.due(l.now(), r) {
		return
	}
	attrs := []any{"remote", c.remote.String()}
	if c.state == stateUpgrade {
		if hx := c.hx; hx != nil && hx.cors {
			attrs = append(attrs, "origin", string(hx.origin)) // of the request being served
		} else if l.req.Origin != nil {
			attrs = append(attrs, "origin", string(l.req.Origin))
		}
	} else {
		attrs = append(attrs, "path", c.path)
		if sub := c.Subject(); sub != "" {
			attrs = append(attrs, "subject", sub)
		}
	}
	l.rlog.write(r, attrs...)
}

// admitFrame passes a frame that is about to be taken (whole, or in pieces
// when it has not all arrived) through the connection's rate limits, once
// per frame: the byte bucket pays for every frame's bytes on the wire,
// header included, as the frame arrives, and the message bucket for every
// frame that starts something (a data message, a ping or a pong), so a
// message that never ends is refused like a flood. A data frame that will
// be buffered then takes its size from the loop's reassembly budget.
//
// It returns false when the connection is failed for the frame. A frame
// refused under RateDrop is still taken, but dropped: a data frame's
// whole message is (see codec.Reader.Skip), and drop tells the caller not
// to act on a control frame (a ping goes unanswered). Called on the loop.
func (c *Conn) admitFrame(h codec.Header, wire int, whole bool) (ok, drop bool) {
	if h.OpCode == codec.OpClose {
		return true, false // the close handshake is never rate limited
	}
	s := c.loop.srv
	if (s.msgLimit.Load() != nil || s.byteLimit.Load() != nil) && !c.withinRate(h, int64(wire)) {
		if s.cfg.RatePolicy == RateClose {
			c.fail(codec.StatusPolicyViolation, "rate limit exceeded")
			return false, false
		}
		if h.OpCode.IsControl() {
			return true, true
		}
		c.rd.Skip()
	}
	if h.OpCode.IsControl() || c.rd.Skipping() || whole && h.Fin && !c.rd.Busy() {
		return true, false // nothing is buffered: the frame is read where it lies
	}
	if !c.hold(h.Length) {
		c.refused(refReassembly)
		c.fail(codec.StatusMessageTooBig, "message buffers full")
		return false, false
	}
	return true, false
}

// withinRate takes a frame of wire bytes from the connection's buckets,
// and counts a refusal when it does not pass: one per message, however
// many of its frames are refused. Called on the loop.
func (c *Conn) withinRate(h codec.Header, wire int64) bool {
	s := c.loop.srv
	msgLimit, byteLimit := s.msgLimit.Load(), s.byteLimit.Load()
	now := c.loop.now()
	r := Refusal(maxRefusals)
	switch {
	case msgLimit != nil && h.OpCode != codec.OpContinuation && !msgLimit.Take(&c.msgBucket, now, 1):
		r = refRateMessages
	case byteLimit != nil && !byteLimit.Take(&c.byteBucket, now, wire):
		r = refRateBytes
	default:
		return true
	}
	if !c.rd.Skipping() || h.OpCode.IsControl() {
		c.refused(r)
	}
	return false
}

// valid passes a complete data message through the route's validation,
// if it has one, and reports whether it may go on to the handler. One that
// fails is refused as InvalidMessage says: the connection fails, or the
// message is dropped with an error reply. Called on the loop.
func (c *Conn) valid(m codec.Message) bool {
	if c.validator == nil {
		return true
	}
	if m.Op == codec.OpBinary {
		c.invalid(refBinary, codec.StatusUnsupportedData, "binary messages not accepted", "binary")
		return false
	}
	bad := c.validator.Validate(m.Payload)
	if bad == nil {
		return true
	}
	switch bad.Kind {
	case security.InvalidJSON:
		c.invalid(refInvalidJSON, codec.StatusInvalidPayload, bad.Reason, bad.Kind.String())
	case security.TooDeep:
		c.invalid(refJSONDepth, codec.StatusPolicyViolation, bad.Reason, bad.Kind.String())
	default:
		c.invalid(refSchema, codec.StatusPolicyViolation, bad.Reason, bad.Kind.String())
	}
	return false
}

// invalid refuses a message that failed validation: the connection fails
// with code and reason, or, with InvalidReply, the peer is told why in an
// error message and the connection stays. Called on the loop.
func (c *Conn) invalid(r Refusal, code codec.StatusCode, reason, kind string) {
	c.refused(r)
	if c.loop.srv.cfg.InvalidMessage == InvalidClose {
		c.fail(code, reason)
		return
	}
	l := c.loop
	l.reply = AppendErrorReply(l.reply[:0], nil, kind, reason)
	_ = c.writeData(codec.OpText, l.reply)
}

// AppendErrorReply appends the reply a JSON route answers a message it
// refuses with, {"op":"error","id":id,"code":code,"message":message}:
// the one Config.InvalidMessage's InvalidReply sends, and the one a
// protocol on a JSON route answers its own errors with. id is the
// request's id as JSON, or nil for none; code and message are escaped.
// Safe for concurrent use.
func AppendErrorReply(b, id []byte, code, message string) []byte {
	b = append(b, `{"op":"error",`...)
	if len(id) > 0 {
		b = append(b, `"id":`...)
		b = append(b, id...)
		b = append(b, ',')
	}
	b = append(b, `"code":`...)
	b = appendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, message)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}
