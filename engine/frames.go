package engine

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/codec"
)

// onTraffic consumes what gnet has buffered for the connection: requests
// (their heads, and on an HTTPHandler's route their bodies) until it
// upgrades, then frames. An incomplete request, frame header or control
// frame stays in gnet's buffer until more bytes arrive; an incomplete data
// frame is taken in pieces. Called on the loop.
func (c *Conn) onTraffic() gnet.Action {
	c.heard = c.loop.now()
	var tlsErr error
	if c.tls != nil {
		switch c.state {
		case stateFlushing, stateLingering:
			// Nothing more is read from a connection being closed, nor
			// decrypted: TLS would answer some of it.
			_, _ = c.gc.Discard(c.gc.InboundBuffered())
		default:
			tlsErr = c.decrypt()
			defer c.keepTail()
			if tlsErr == errTLSAnswers {
				// crypto/tls answered the peer on its own while
				// reading, and the peer does not read. Those records
				// cannot be dropped: the connection goes, whatever
				// the policy.
				tlsErr = nil
				c.refused(refSlowConsumer)
				c.fail(codec.StatusPolicyViolation, "slow consumer")
			}
		}
	}
	if c.state == stateUpgrade && (c.proxy == proxyExpect || c.proxy == proxyCheck) {
		c.readProxy()
	}
	if c.state == stateUpgrade && (c.proxy == proxyNone || c.proxy == proxyForwarded) {
		c.readRequest()
	}
	for (c.state == stateOpen || c.state == stateClosing) && c.readFrame() {
	}
	switch c.state {
	case stateFlushing, stateLingering:
		// Nothing more is read from a connection being closed.
		_, _ = c.in.Discard(c.in.InboundBuffered())
		if c.state == stateFlushing && c.gc.OutboundBuffered() == 0 {
			c.flushed()
		}
	}
	if tlsErr != nil && c.state != stateClosed {
		// The peer ended the TLS stream (close_notify), or broke it:
		// nothing more can be read.
		c.tlsEnded(tlsErr)
		c.closeNow()
	}
	if c.state == stateClosed {
		return gnet.Close
	}
	return gnet.None
}

// readFrame handles the frame at the front of the inbound buffer. It
// returns false when there is no complete frame to handle, or the
// connection is no longer reading. Called on the loop.
//
// A frame that has arrived whole is handled where it lies. A data frame
// that has not is taken piece by piece as it arrives, into a buffer of its
// own size, so what a partial message costs is what the reassembly budget
// counts, and no more waits in gnet's buffer than a frame header or a
// control frame (at most 131 bytes).
func (c *Conn) readFrame() bool {
	if c.rd.Need() > 0 {
		return c.readPiece()
	}
	in := c.in
	buffered := in.InboundBuffered()
	if buffered < 2 {
		return false
	}
	hb, err := in.Peek(min(buffered, codec.MaxHeaderSize))
	if err != nil {
		return false
	}
	h, hlen, err := codec.ParseHeader(hb)
	if err != nil {
		c.failErr(err)
		return false
	}
	if hlen == 0 {
		return false
	}
	if err := c.rd.Check(h); err != nil {
		c.failErr(err)
		return false
	}
	// Check bounded h.Length by the message size limit, so this fits.
	total := hlen + int(h.Length)
	whole := buffered >= total
	if !whole && h.OpCode.IsControl() {
		return false // wait in gnet's buffer for the rest
	}
	// The frame is taken from here on, now or in pieces: the gates see it
	// once.
	ok, drop := c.admitFrame(h, total, whole)
	if !ok {
		return false
	}
	if !whole {
		_, _ = in.Discard(hlen)
		c.rd.Begin(h)
		return c.readPiece()
	}
	frame, err := in.Peek(total)
	if err != nil {
		return false
	}
	m, complete, err := c.rd.Frame(h, frame[hlen:])
	if err != nil {
		c.failErr(err)
		return false
	}
	if complete && !drop {
		c.dispatch(m)
	}
	c.messageDone(m.Payload)
	if c.state == stateClosed {
		return false // the connection is gone
	}
	_, _ = in.Discard(total)
	return true
}

// readPiece gives what has arrived of a streamed frame's payload to the
// codec. Called on the loop.
func (c *Conn) readPiece() bool {
	in := c.in
	n := int(min(int64(in.InboundBuffered()), c.rd.Need()))
	if n == 0 {
		return false
	}
	p, err := in.Peek(n)
	if err != nil {
		return false
	}
	m, ok, err := c.rd.Feed(p)
	if err != nil {
		c.failErr(err)
		return false
	}
	if ok {
		c.dispatch(m)
	}
	c.messageDone(m.Payload)
	if c.state == stateClosed {
		return false // the connection is gone
	}
	_, _ = in.Discard(n)
	return true
}

// received counts a data message of n payload bytes coming in. Called on
// the loop.
func (c *Conn) received(n int) {
	l := c.loop
	c.msgsIn++
	c.bytesIn += uint64(n)
	l.counts.msgsIn++
	l.counts.bytesIn += uint64(n)
}

// dispatch acts on a complete message or control frame. Called on the loop.
func (c *Conn) dispatch(m codec.Message) {
	switch m.Op {
	case codec.OpText, codec.OpBinary:
		if m.Compressed && !c.inflated(&m) {
			return
		}
		c.received(len(m.Payload))
		if c.state == stateOpen && c.valid(m) {
			c.lastData = c.loop.now()
			c.handler.OnMessage(c, m.Op, m.Payload)
		}
	case codec.OpPing:
		if c.state == stateOpen {
			c.answerPing(m.Payload)
		}
	case codec.OpPong:
		// Unsolicited pongs are allowed and ignored.
	case codec.OpClose:
		code, reason, err := codec.ParseClose(m.Payload)
		if err != nil {
			c.failErr(err)
			return
		}
		c.loop.counts.closeRecv[closeBucket(code)]++
		if c.state == stateOpen {
			c.closer = closerClient
			// The peer closes first: answer with its code, then close
			// the socket (the server closes TCP first, RFC 6455 7.1.1).
			if code == codec.StatusNoStatus {
				c.writeLastClose(0, "")
			} else {
				c.writeLastClose(code, string(reason))
			}
			c.closeCode, c.closeReason = code, string(reason)
		}
		// When the server closed first, its own code stays the one
		// OnClose reports; the peer's answer only completes the handshake.
		c.finish()
	}
}
