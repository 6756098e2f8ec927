package engine

import (
	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/codec"
)

// onTraffic consumes what gnet has buffered for the connection: the request
// head while upgrading, then every complete frame. An incomplete head or
// frame stays in gnet's buffer until more bytes arrive. Called on the loop.
func (c *Conn) onTraffic() gnet.Action {
	if c.state == stateUpgrade {
		c.readUpgrade()
	}
	for (c.state == stateOpen || c.state == stateClosing) && c.readFrame() {
	}
	switch c.state {
	case stateFlushing, stateLingering:
		// Nothing more is read from a connection being closed.
		_, _ = c.gc.Discard(c.gc.InboundBuffered())
		if c.state == stateFlushing && c.gc.OutboundBuffered() == 0 {
			c.flushed()
		}
	}
	if c.state == stateClosed {
		return gnet.Close
	}
	return gnet.None
}

// readFrame handles the frame at the front of the inbound buffer. It
// returns false when there is no complete frame to handle, or the
// connection is no longer reading. Called on the loop.
func (c *Conn) readFrame() bool {
	gc := c.gc
	buffered := gc.InboundBuffered()
	if buffered < 2 {
		return false
	}
	hb, err := gc.Peek(min(buffered, codec.MaxHeaderSize))
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
	if buffered < total {
		return false
	}
	frame, err := gc.Peek(total)
	if err != nil {
		return false
	}
	m, ok, err := c.rd.Frame(h, frame[hlen:])
	if err != nil {
		c.failErr(err)
		return false
	}
	if ok {
		c.dispatch(m)
	}
	if c.state == stateClosed {
		return false // gc is gone
	}
	_, _ = gc.Discard(total)
	return true
}

// dispatch acts on a complete message or control frame. Called on the loop.
func (c *Conn) dispatch(m codec.Message) {
	switch m.Op {
	case codec.OpText, codec.OpBinary:
		if c.state == stateOpen {
			c.handler.OnMessage(c, m.Op, m.Payload)
		}
	case codec.OpPing:
		if c.state == stateOpen {
			_ = c.writeFrame(codec.OpPong, m.Payload)
		}
	case codec.OpPong:
		// Unsolicited pongs are allowed and ignored.
	case codec.OpClose:
		code, reason, err := codec.ParseClose(m.Payload)
		if err != nil {
			c.failErr(err)
			return
		}
		if c.state == stateOpen {
			// The peer closes first: answer with its code, then close
			// the socket (the server closes TCP first, RFC 6455 7.1.1).
			if code == codec.StatusNoStatus {
				c.writeClose(0, "")
			} else {
				c.writeClose(code, string(reason))
			}
			c.closeCode, c.closeReason = code, string(reason)
		}
		// When the server closed first, its own code stays the one
		// OnClose reports; the peer's answer only completes the handshake.
		c.finish()
	}
}
