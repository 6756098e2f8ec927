package engine

import (
	"net/http"
	"strconv"
)

// A streamed answer: an HTTPHandler answers a request with a head now and
// a body in parts as they come (an XHR or EventSource stream), where
// Respond needs the whole body at once. The connection is the request's
// until the body ends, as with a request that waits for its answer: no
// further request is read (what comes meanwhile waits in the buffer,
// bounded by checkFlood) and no deadline runs. Over HTTP/1.1 the body is
// chunked, a part a chunk, each written with one write (over TLS 1.3,
// sealed from where it is, in as few records as its size allows); over
// HTTP/1.0 it goes out as it is, and the end of the connection ends it.
//
// A drain ends an open stream as EndStream would, and then the
// connection: the client sees a whole answer (over HTTP/1.1, its last
// chunk) and the close after it, where a request still waiting for its
// answer is closed without one.

// crlf ends the data of a chunk.
var crlf = []byte("\r\n")

// lastChunk ends a chunked body: a chunk of size zero and no trailer.
const lastChunk = "0\r\n\r\n"

// Stream answers the request the connection's HTTPHandler is serving, as
// Respond does (the status line, Date, Content-Type unless contentType is
// "", the lines in header, the CORS lines for a request from an allowed
// Origin, Connection: close when the connection closes after the answer),
// but with a body that is sent in parts as it comes, with WriteStream,
// and ended with EndStream: `Transfer-Encoding: chunked` for an HTTP/1.1
// request; for one of HTTP/1.0, no length, and the connection closes at
// the end of the body. To a HEAD request, only the head is sent, and the
// stream is ended at once (WriteStream and EndStream then return
// ErrClosed).
//
// Until EndStream, the connection reads no further request and no
// deadline runs on it, as while a request waits for its answer. A drain
// ends the stream, as EndStream would, and closes the connection.
//
// It returns ErrClosed when there is no request to answer (none is being
// served, or it was answered already) or the connection is gone, or the
// peer has more than Config.MaxOutbound bytes waiting to be written to it
// (then it is closed as a slow consumer, as by Respond); and another
// error, answering nothing, for a status outside 200 to 599, 204, 304,
// or malformed contentType or header. Called on the loop.
func (c *Conn) Stream(status int, contentType, header string) error {
	hx := c.hx
	if c.state != stateUpgrade || hx == nil || !hx.pending || hx.streaming {
		return ErrClosed
	}
	if !validAnswer(status, contentType, header) || status == http.StatusNoContent || status == http.StatusNotModified {
		return errResponse
	}
	l := c.loop
	if c.gc.OutboundBuffered() > l.srv.cfg.MaxOutbound {
		hx.pending = false
		c.refused(refSlowConsumer)
		c.shut()
		return ErrClosed
	}
	hx.close = hx.close || l.srv.draining.Load()
	b := c.appendHead(l.scratch[:0], status, contentType, -1, header, hx.close)
	if !hx.http10 {
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	}
	b = append(b, "\r\n"...)
	l.scratch = b
	c.countAnswer(status)
	err := c.send(b)
	if err != nil || c.headOnly {
		c.answered(hx.close || err != nil)
		if err != nil {
			return ErrClosed
		}
		return nil
	}
	hx.streaming, hx.upgrade = true, false
	return nil
}

// WriteStream sends b as the next part of the streamed answer (one chunk
// over HTTP/1.1); an empty b sends nothing. A peer that has more than
// Config.MaxOutbound bytes waiting to be written to it is closed instead,
// as a slow consumer, and counted as by Respond. It returns ErrClosed
// when no stream is open on c (Stream was not called, or EndStream was),
// the connection is gone, or it has just been closed as a slow consumer.
// b may be reused when WriteStream returns. Called on the loop.
func (c *Conn) WriteStream(b []byte) error {
	if !c.streamOpen() {
		return ErrClosed
	}
	if len(b) == 0 {
		return nil
	}
	if c.gc.OutboundBuffered() > c.loop.srv.cfg.MaxOutbound {
		c.refused(refSlowConsumer)
		c.shut()
		return ErrClosed
	}
	var err error
	if c.hx.http10 {
		err = c.send(b)
	} else {
		err = c.sendChunk(b)
	}
	if err != nil {
		c.shut()
		return ErrClosed
	}
	return nil
}

// EndStream ends the streamed answer (with the last chunk, over HTTP/1.1)
// and, as an answer of Respond does, keeps the connection for the next
// request (read within Config.HandshakeTimeout, a pipelined one at once)
// or closes it (HTTP/1.0, Connection: close, the server draining). It
// returns ErrClosed when no stream is open on c or the connection is
// gone. Called on the loop.
func (c *Conn) EndStream() error {
	if !c.streamOpen() || !c.endStream() {
		return ErrClosed
	}
	return nil
}

// streamOpen reports whether the connection is sending a streamed answer.
// Called on the loop.
func (c *Conn) streamOpen() bool {
	return c.state == stateUpgrade && c.hx != nil && c.hx.streaming
}

// endStream ends the open stream, and then keeps the connection or closes
// it, as after any answer. It reports whether the end was written. Called
// on the loop.
func (c *Conn) endStream() bool {
	hx := c.hx
	var err error
	if !hx.http10 {
		l := c.loop
		l.scratch = append(l.scratch[:0], lastChunk...)
		err = c.send(l.scratch)
	}
	c.answered(hx.close || err != nil)
	return err == nil
}

// sendChunk writes p as one chunk: its size line, p and the CRLF after it,
// in one write. A small p is copied behind its size line in the loop's
// scratch; a large one goes out from where it is (sealed from there over
// TLS 1.3, with writev over ws://), as Respond's body does. Called on the
// loop.
func (c *Conn) sendChunk(p []byte) error {
	l := c.loop
	head := strconv.AppendInt(l.scratch[:0], int64(len(p)), 16)
	head = append(head, "\r\n"...)
	l.scratch = head
	switch {
	case c.tls != nil && c.tls.rec != nil:
		return c.sendRecords3(head, p, crlf)
	case c.tls == nil && len(p) > smallFrame:
		l.chunk[0], l.chunk[1], l.chunk[2] = head, p, crlf
		_, err := c.gc.Writev(l.chunk[:])
		l.chunk = [3][]byte{}
		return err
	}
	l.scratch = append(append(head, p...), crlf...)
	return c.send(l.scratch)
}

// goAwayStream ends the connection's open stream for a drain, and then
// the connection. It reports whether there was one. Called on the loop.
func (c *Conn) goAwayStream() bool {
	if !c.streamOpen() {
		return false
	}
	c.hx.close = true
	c.endStream()
	return true
}
