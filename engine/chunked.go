package engine

import (
	"errors"

	"github.com/wssd/wssd/engine/http1"
)

// A chunked request body (Transfer-Encoding: chunked, RFC 9112 section
// 7.1) on an HTTPHandler's route is decoded by http1.Chunked. One that has
// come whole with its head is decoded into the loop's buffer and served
// from there, as a Content-Length body is from the inbound buffer. One
// that has not is taken from the inbound buffer as it comes, like a
// WebSocket frame that has not all arrived: the head, then the data
// decoded so far, wait in a buffer of the exchange, and no more than a
// read's bytes wait in gnet's. Left there whole, the body would cost each
// arrival a copy of all of it, since gnet's Peek joins the bytes from the
// front: quadratic for a client that sends a chunk line a byte at a time.
//
// The data is bounded by MaxRequestBody and the body on the wire by
// MaxRequestBody plus MaxHeaderBytes (chunk lines and trailers are
// overhead), so that checkFlood's bound holds for it too: past either the
// request is answered 413 (body_too_large), as soon as a chunk size says
// so; a malformed body is answered 400 (bad_chunked_body). Either closes
// the connection, since where the body ends is not known any more.

// chunkedBody is what an exchange keeps of a chunked body that has not
// all come with its head.
type chunkedBody struct {
	dec  http1.Chunked
	buf  []byte // the request's head, then the data decoded so far; nil: no body is coming
	head int    // the head's length
	err  error  // the decoder's refusal, once there is one
}

// readChunked reads the chunked body of the request whose head, n bytes,
// b begins with, and serves the request once the body has all come: the
// request on an HTTPHandler's route that readOne has read and checkHTTP
// passed. A body that has not come whole is read as it comes (readMore),
// and the request read again, from the exchange, once it has. It reports
// whether the request was taken and the connection reads on, as readOne
// does. Called on the loop.
func (c *Conn) readChunked(h HTTPHandler, r *request, b []byte, n int) bool {
	l := c.loop
	cb := &c.hx.chunked
	in := c.in
	if cb.buf != nil {
		// The body came in pieces, and b is the exchange's buffer: the
		// head and the data.
		err := cb.err
		cb.err = nil
		if err != nil {
			cb.buf = nil
			c.refuseChunked(err)
			return false
		}
		c.serveHTTP(h, r, b[n:])
		cb.buf = nil
		return c.state == stateUpgrade
	}
	if buffered := in.InboundBuffered(); buffered > len(b) {
		b, _ = in.Peek(buffered)
		l.req.Request, _ = http1.Parse(b[:n]) // it parsed a moment ago
	}
	cfg := &l.srv.cfg
	cb.dec.Reset(cfg.MaxRequestBody, cfg.MaxRequestBody+int64(cfg.MaxHeaderBytes))
	body, m, err := cb.dec.Decode(l.body[:0], b[n:])
	l.body = body
	if err != nil {
		c.refuseChunked(err)
		return false
	}
	if !cb.dec.Done() {
		if r.HasToken("expect", "100-continue") {
			// The client waits for a word before it sends the body
			// (RFC 9110 section 10.1.1).
			l.scratch = append(l.scratch[:0], "HTTP/1.1 100 Continue\r\n\r\n"...)
			_ = c.send(l.scratch)
		}
		cb.buf = append(append([]byte(nil), b[:n]...), body...)
		cb.head = n
		_, _ = in.Discard(n + m) // r points there: not read from here on
		return false
	}
	c.serveHTTP(h, r, body)
	if cap(l.body) > maxLoopWork {
		l.body = nil // a burst is over: do not keep its buffer
	}
	if c.state == stateClosed {
		return false
	}
	_, _ = in.Discard(n + m)
	return c.state == stateUpgrade
}

// readMore decodes what has arrived of a chunked body that is coming in
// pieces, taking it from the inbound buffer up to the body's end. It
// reports whether the body has ended, or been refused: then the request
// is read again from the exchange's buffer (readChunked). Called on the
// loop.
func (cb *chunkedBody) readMore(in inbound) bool {
	buffered := in.InboundBuffered()
	if buffered == 0 {
		return false
	}
	src, err := in.Peek(buffered)
	if err != nil {
		return false
	}
	var m int
	cb.buf, m, cb.err = cb.dec.Decode(cb.buf, src)
	_, _ = in.Discard(m)
	return cb.err != nil || cb.dec.Done()
}

// refuseChunked answers a request whose chunked body the decoder refused,
// and closes the connection: 413 past the bounds, 400 for a malformed
// body, each counted. Called on the loop.
func (c *Conn) refuseChunked(err error) {
	if errors.Is(err, http1.ErrBodyTooLarge) {
		c.refused(refBodyTooLarge)
	} else {
		c.refused(refBadChunked)
	}
	c.refuseRequest(err)
}
