package engine

import (
	"errors"
	"net"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/tlsrec"
	"github.com/wssd/wssd/security"
)

// connState is where a connection is in its life.
type connState uint8

const (
	// stateUpgrade: reading the HTTP request head (over TLS for wss://,
	// whose handshake is done before the connection reaches its loop). On
	// an HTTPHandler's route, also its body, then waiting for the
	// handler's answer and reading the next request of a connection kept
	// alive, until one upgrades (httpserve.go).
	stateUpgrade connState = iota
	// stateOpen: WebSocket frames flow both ways.
	stateOpen
	// stateClosing: a close frame has been sent; waiting for the peer's.
	stateClosing
	// stateFlushing: done with the connection, but gnet still holds bytes
	// for it; the socket is closed, or its side shut, once they are
	// written.
	stateFlushing
	// stateLingering: the server's side is shut (FIN sent after the last
	// byte); what still comes in is discarded until the peer closes too.
	stateLingering
	// stateClosed: the socket is gone, or going at once: the gnet
	// connection must not be touched.
	stateClosed
)

// Errors returned by Conn's methods.
var (
	ErrClosed = errors.New("engine: connection closed")
)

// Conn is one WebSocket connection, and before its upgrade, on an
// HTTPHandler's route, the HTTP connection its requests come on. Its
// methods say which goroutine may call them: "on the loop" means inside a
// Handler method of this connection (or a task run on its event loop).
type Conn struct {
	gc      gnet.Conn
	loop    *Loop
	handler Handler
	remote  net.Addr
	path    string

	in   inbound  // where the plaintext waits: gc, or the loop's plain for wss://
	tls  *session // nil for ws://
	tail []byte   // decrypted bytes left over between reads, for wss://

	prev, next *Conn // the loop's list

	// The small fields share one word: a Conn of 496 bytes takes a
	// 512-byte allocation, one of 520 a 576-byte one.
	state     connState
	headOnly  bool             // the request was a HEAD: answer without a body
	halfClose bool             // at the end, shut the server's side and linger
	closer    endedBy          // who started the end (metrics.go, logs.go)
	closeCode codec.StatusCode // what OnClose reports
	pmd       pmd              // the permessage-deflate agreement; 0: none (deflate.go)

	scanned int32      // bytes of the request head searched so far (fewer is only slower)
	proxy   proxyState // a PROXY header to read, or to refuse, first (proxy.go)
	rd      codec.Reader
	held    int64 // bytes of the loop's reassembly budget the message being read holds

	// Deadlines, in ticks of the loop's clock (see deadlines.go).
	timer    timer // on the loop's wheel, due at the earliest deadline
	deadline int64 // the upgrade or the close must be over by then; 0: none
	heard    int64 // bytes last came in
	lastData int64 // a data message last went either way
	pingAt   int64 // the unanswered ping was sent; 0: none

	closeReason string // what OnClose reports, with closeCode

	// The gates (gates.go).
	adm        security.Admission  // what the accept gate counted
	id         *security.Identity  // what the token says; nil without Config.Auth
	expires    int64               // the token expires at this tick; 0: never
	msgBucket  security.Bucket     // messages a second
	byteBucket security.Bucket     // bytes a second
	validator  *security.Validator // the loop's, for a JSON route; nil otherwise

	slot any // the protocol's (protocol.go)

	hx *exchange // the request being served on an HTTPHandler's route (httpserve.go); nil elsewhere

	pong *owedPong // a pong owed to a peer whose queue was not empty (answerPing)
	z    *takeover // the windows kept with context takeover (deflate.go); nil: none

	// For the metrics and the log lines (metrics.go, logs.go).
	born                               int64  // server nanos: reached the loop, then upgraded
	origin                             string // the Origin header of the upgrade
	msgsIn, msgsOut, bytesIn, bytesOut uint64
}

func newConn(l *Loop, gc gnet.Conn, sess *session, adm security.Admission) *Conn {
	c := &Conn{
		adm:    adm,
		gc:     gc,
		loop:   l,
		remote: gc.RemoteAddr(),
		state:  stateUpgrade,
		rd:     codec.Reader{MaxMessage: l.srv.cfg.MaxMessageSize, MaxFragments: l.srv.cfg.MaxFragments, Alloc: l.alloc},
		in:     gc,
		tls:    sess,
	}
	c.timer.owner = c
	if sess != nil {
		if sess.t != nil {
			sess.t.Attach(gc)
		}
		c.in = &l.plain
	}
	return c
}

// Secure reports whether the connection came in over TLS (wss://). Safe
// for concurrent use.
func (c *Conn) Secure() bool { return c.tls != nil }

// inbound is what the frame and request readers read from: gnet's buffer
// for ws://, the decrypted bytes for wss://. gnet.Conn has these methods.
type inbound interface {
	InboundBuffered() int
	Peek(n int) ([]byte, error)
	Discard(n int) (int, error)
}

// send writes bytes to the connection, through TLS for wss://. What the
// socket does not take at once is queued by gnet. Called on the loop.
func (c *Conn) send(b []byte) error {
	if c.tls != nil {
		if c.tls.rec != nil {
			return c.sendRecords(b, nil)
		}
		_, err := c.tls.tc.Write(b)
		return err
	}
	_, err := c.gc.Write(b)
	return err
}

// RemoteAddr returns the peer's address: the client's, as a trusted
// balancer's PROXY header or a trusted proxy's X-Forwarded-For names it
// (Config.ProxyProtocol, Config.TrustedProxies). Safe for concurrent use
// once OnOpen has been called; before, on a trusted proxy's connection it
// is each request's client in turn, and is read on the loop.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// Subject returns the subject of the token the connection was
// authenticated with, or "" (no Auth, or a token without one). Safe for
// concurrent use once OnOpen has been called.
func (c *Conn) Subject() string {
	if c.id == nil {
		return ""
	}
	return c.id.Subject
}

// Path returns the path of the route the connection was upgraded on, or,
// on an HTTPHandler's route, that of the request being served: the
// request's path, but under a SubtreeHandler's route, the route's
// (Request.Path is then the request's). Safe for concurrent use once
// OnOpen has been called; on the loop before.
func (c *Conn) Path() string { return c.path }

// Write sends one message as a single frame. Called on the loop: it writes
// straight to the socket (what the kernel does not take at once is queued by
// gnet, so data may be reused when Write returns). It returns ErrClosed once
// the connection is closing or closed.
func (c *Conn) Write(op codec.OpCode, data []byte) error {
	if c.state != stateOpen {
		return ErrClosed
	}
	if op != codec.OpText && op != codec.OpBinary {
		return errors.New("engine: Write takes a text or binary opcode")
	}
	return c.writeData(op, data)
}

// Send sends one message as a single frame. Safe for concurrent use: data is
// copied into an encoded frame before Send returns, and the frame is written
// by a task on the connection's loop, in the order Send was called from one
// goroutine. It returns ErrClosed if the server has stopped; a message sent
// to a connection that closes before the task runs is dropped.
func (c *Conn) Send(op codec.OpCode, data []byte) error {
	if op != codec.OpText && op != codec.OpBinary {
		return errors.New("engine: Send takes a text or binary opcode")
	}
	p := Prepare(op, data)
	return c.Post(func() { _ = c.WritePrepared(p) })
}

// Close starts the closing handshake with code and reason: a close frame is
// sent and the socket is closed when the peer answers. Safe for concurrent
// use; it returns before the close frame is written.
func (c *Conn) Close(code codec.StatusCode, reason string) {
	_ = c.Post(func() { c.startClose(code, reason) })
}

// startClose sends a close frame and waits for the peer's. Called on the loop.
func (c *Conn) startClose(code codec.StatusCode, reason string) {
	switch c.state {
	case stateOpen:
		c.state = stateClosing
		c.closeCode, c.closeReason, c.closer = code, reason, closerServer
		c.writeClose(code, reason)
		c.closeBy()
	case stateUpgrade:
		// Nothing was answered yet, so there is nothing to lose.
		c.closeNow()
	}
}

// goAway is startClose for a drain; a streamed answer is ended first
// (stream.go). Called on the loop.
func (c *Conn) goAway() {
	if c.goAwayStream() {
		return
	}
	c.startClose(codec.StatusGoingAway, "going away")
}

// writeData writes a data frame, unless the peer is a slow consumer.
// Called on the loop.
func (c *Conn) writeData(op codec.OpCode, data []byte) error {
	if c.slowConsumer() {
		return ErrClosed
	}
	c.flushPong()
	c.sent(len(data))
	if c.pmd != 0 {
		if z := c.deflated(data); z != nil {
			c.sentCompressed(data, len(z))
			return c.writeFrameRSV(op, z, true)
		}
	}
	return c.writeFrame(op, data)
}

// slowConsumer reports whether a message to the connection is to be
// dropped because more than MaxOutbound bytes wait to be written to it:
// with SlowClose the connection fails with 1008 as well; with SlowDrop
// the message is counted and the connection stays. Called on the loop.
func (c *Conn) slowConsumer() bool {
	if c.gc.OutboundBuffered() <= c.loop.srv.cfg.MaxOutbound {
		return false
	}
	if c.loop.srv.cfg.SlowConsumer == SlowDrop {
		c.refused(refSlowDrop)
		return true
	}
	c.refused(refSlowConsumer)
	c.fail(codec.StatusPolicyViolation, "slow consumer")
	return true
}

// sent counts a data message of n payload bytes going out. Called on the
// loop.
func (c *Conn) sent(n int) {
	l := c.loop
	c.lastData = l.now()
	c.msgsOut++
	c.bytesOut += uint64(n)
	l.counts.msgsOut++
	l.counts.bytesOut += uint64(n)
}

// writeFrame writes one unfragmented frame. Called on the loop.
func (c *Conn) writeFrame(op codec.OpCode, p []byte) error {
	return c.writeFrameRSV(op, p, false)
}

// writeFrameRSV writes one unfragmented frame, with RSV1 set when
// compressed. Called on the loop.
func (c *Conn) writeFrameRSV(op codec.OpCode, p []byte, compressed bool) error {
	l := c.loop
	var err error
	if compressed {
		l.scratch = codec.AppendCompressedHeader(l.scratch[:0], op, len(p))
	} else {
		l.scratch = codec.AppendHeader(l.scratch[:0], true, op, len(p))
	}
	if c.tls != nil && c.tls.rec != nil {
		// Sealed from where the payload is: the one copy is the
		// encryption's.
		err = c.sendRecords(l.scratch, p)
	} else if len(p) <= smallFrame || c.tls != nil {
		// One buffer for TLS too, so that the header does not go out
		// in a record of its own.
		l.scratch = append(l.scratch, p...)
		err = c.send(l.scratch)
	} else {
		l.iov[0], l.iov[1] = l.scratch, p
		_, err = c.gc.Writev(l.iov[:])
		l.iov[0], l.iov[1] = nil, nil
	}
	return err
}

// writeEncoded writes an already encoded data frame of n payload bytes,
// unless the peer is a slow consumer. Called on the loop.
func (c *Conn) writeEncoded(frame []byte, n int) error {
	if c.slowConsumer() {
		return ErrClosed
	}
	c.flushPong()
	c.sent(n)
	return c.send(frame)
}

// answerPing answers a ping with a pong that carries its payload. When
// bytes already wait to be written to the peer, the pong would only wait
// behind them: it is kept instead, in place of any pong still owed (RFC
// 6455 section 5.5.3 lets an endpoint answer only the most recent of
// several pings), and written once the queue is empty (looked at every
// tick) or in front of the next data frame, whichever comes first. So a
// peer that pings and does not read holds one pong of the server's
// memory, not one per ping. Called on the loop.
func (c *Conn) answerPing(p []byte) {
	if c.gc.OutboundBuffered() == 0 {
		c.pong = nil
		_ = c.writeFrame(codec.OpPong, p)
		return
	}
	if c.pong == nil {
		c.pong = new(owedPong)
	}
	c.pong.n = uint8(copy(c.pong.p[:], p))
	c.loop.wheel.schedule(&c.timer, c.loop.now()+1) // checkOpen looks again
}

// owedPong is the payload of the pong a connection owes.
type owedPong struct {
	n uint8
	p [codec.MaxControlPayload]byte
}

// flushPong writes the pong still owed, if any, and lets go of it. Called
// on the loop.
func (c *Conn) flushPong() {
	if c.pong == nil {
		return
	}
	_ = c.writeFrame(codec.OpPong, c.pong.p[:c.pong.n])
	c.pong = nil
}

// writeClose writes a close frame; a zero code sends an empty one. Called on
// the loop.
func (c *Conn) writeClose(code codec.StatusCode, reason string) {
	l := c.loop
	l.counts.closeSent[closeBucket(code)]++
	l.scratch = codec.AppendClose(l.scratch[:0], code, reason)
	_ = c.send(l.scratch)
}

// writeLastClose writes a close frame after which the connection ends:
// over TLS 1.3 the close_notify that ends the TLS stream goes in the same
// write. Called on the loop.
func (c *Conn) writeLastClose(code codec.StatusCode, reason string) {
	if c.tls == nil || c.tls.rec == nil {
		c.writeClose(code, reason)
		return
	}
	l := c.loop
	l.counts.closeSent[closeBucket(code)]++
	l.scratch = codec.AppendClose(l.scratch[:0], code, reason)
	l.sealed = c.tls.rec.Seal(l.sealed[:0], l.scratch, nil)
	l.sealed = c.tls.rec.AppendAlert(l.sealed, tlsrec.AlertCloseNotify)
	c.tls.notified = true
	_, _ = c.gc.Write(l.sealed)
}

// fail sends a close frame with code and reason, unless one was sent
// already, and closes the socket without waiting for an answer, as RFC 6455
// section 7.1.7 asks of a connection that must be failed. Called on the loop.
func (c *Conn) fail(code codec.StatusCode, reason string) {
	if c.state == stateOpen {
		c.closeCode, c.closeReason, c.closer = code, reason, closerServer
		c.writeLastClose(code, reason)
	}
	c.shut()
}

// failErr fails the connection for a protocol error. Called on the loop.
func (c *Conn) failErr(err error) {
	var pe *codec.ProtocolError
	if errors.As(err, &pe) {
		c.fail(pe.Code, pe.Reason)
		return
	}
	c.fail(codec.StatusInternalError, "internal error")
}

// finish closes the socket once the close handshake is done: after gnet
// has written what is queued (a close frame after a large message, say),
// within CloseTimeout. Called on the loop.
func (c *Conn) finish() { c.end(false) }

// shut ends a connection whose peer may still be sending: a failed
// connection or a refused request. Once what is queued is written, the
// server's side is shut down, which sends FIN after the last byte, and what
// still comes in is read and dropped until the peer closes its side or
// CloseTimeout passes. Closing at once instead would reset the connection
// while the peer's bytes arrive, and a reset can destroy data the peer has
// not read yet, such as the close frame that says why. Called on the loop.
func (c *Conn) shut() { c.end(true) }

func (c *Conn) end(halfClose bool) {
	switch c.state {
	case stateFlushing, stateLingering, stateClosed:
		return
	}
	c.halfClose = halfClose
	c.release() // nothing more is read
	if c.tls != nil {
		// End the TLS stream properly too: close_notify after the
		// last record. (end runs once: it leaves the states above.)
		if c.tls.rec != nil {
			if !c.tls.notified {
				c.tls.notified = true
				c.sendAlert(tlsrec.AlertCloseNotify)
			}
		} else {
			_ = c.tls.tc.CloseWrite()
		}
		if c.state == stateClosed {
			return
		}
	}
	if c.gc.OutboundBuffered() > 0 {
		c.state = stateFlushing
		c.closeBy()
		return
	}
	c.flushed()
}

// flushed goes on with the end of a connection whose queue is empty.
// Called on the loop.
func (c *Conn) flushed() {
	if !c.halfClose {
		c.closeNow()
		return
	}
	c.state = stateLingering
	c.closeBy()
	if err := unix.Shutdown(c.gc.Fd(), unix.SHUT_WR); err != nil {
		c.closeNow()
	}
}

// closeNow closes the socket at once. gnet makes one last attempt, without
// waiting, to write what is queued, and calls OnClose, and so onClosed,
// before closeNow returns. Called on the loop.
func (c *Conn) closeNow() {
	if c.state == stateClosed {
		return
	}
	c.state = stateClosed
	_ = c.loop.el.Close(c.gc)
}

// onClosed ends the connection's life: it leaves the loop's list and, if
// the handler saw it open, the handler sees it close. Called on the loop,
// once, from gnet's OnClose.
func (c *Conn) onClosed() {
	c.state = stateClosed
	l := c.loop
	l.remove(c)
	l.wheel.cancel(&c.timer)
	c.release()
	if c.tls != nil && c.tls.rec != nil {
		c.tls.rec.Wipe() // nothing is sealed or opened any more
	}
	if lim := l.srv.limits.Load(); lim != nil {
		lim.Release(c.adm, l.now())
		c.adm = security.Admission{}
	}
	if cl, ok := c.slot.(Closer); ok {
		c.slot = nil
		cl.Closed(c)
	}
	if c.handler == nil {
		return
	}
	l.counts.closed[c.listener()]++
	code, reason := c.closeCode, c.closeReason
	if code == 0 {
		code = codec.StatusAbnormal
	}
	c.logClosed(code, reason)
	c.handler.OnClose(c, code, reason)
}
