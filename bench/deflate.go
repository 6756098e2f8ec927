package bench

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"strings"

	"github.com/wssd/wssd/codec"
)

// permessage-deflate (RFC 7692) on the client side. With Config.Deflate,
// every connection offers the extension in its upgrade request; a server
// that agrees gets compressed messages (RSV1 on the frame) and may send
// them. Like the server, each loop has one Compressor and one
// Decompressor for all its connections; a connection keeps a window
// between messages only where the agreement has context takeover for that
// direction: the server's, whose messages then refer back into the ones
// before, and the client's own when its window may be the full 2^15
// bytes. Compression and inflation run on the loop, inside the latency
// measured.

// DefaultDeflateOffer is the offer sent without Config.DeflateOffer: no
// context takeover either way, so that no window outlives a message, on
// either side.
const DefaultDeflateOffer = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"

// maxInflated bounds an inflated message from the server.
const maxInflated = 64 << 20

// rsv1 is RSV1 as codec.Header.Rsv has it.
const rsv1 = 0x4

// ParseDeflateOffer parses one permessage-deflate offer, as
// Config.DeflateOffer gives it: "permessage-deflate" and its parameters,
// separated by semicolons, each parameter at most once, window bits 8 to
// 15. A list of several offers, or another extension, is refused.
func ParseDeflateOffer(s string) (codec.DeflateOffer, error) {
	var o codec.DeflateOffer
	parts := strings.Split(s, ";")
	if !strings.EqualFold(strings.TrimSpace(parts[0]), codec.ExtensionDeflate) {
		return o, fmt.Errorf("deflate offer %q: it must start with %s (one offer, no list)", s, codec.ExtensionDeflate)
	}
	seen := map[string]bool{}
	for _, part := range parts[1:] {
		key, value, hasValue := strings.Cut(strings.TrimSpace(part), "=")
		key, value = strings.ToLower(strings.TrimSpace(key)), strings.Trim(strings.TrimSpace(value), `"`)
		if seen[key] {
			return o, fmt.Errorf("deflate offer %q: %s twice", s, key)
		}
		seen[key] = true
		bits := func() (uint8, error) {
			var b uint8
			if _, err := fmt.Sscanf(value, "%d", &b); err != nil || b < codec.MinWindowBits || b > codec.MaxWindowBits ||
				fmt.Sprint(b) != value {
				return 0, fmt.Errorf("deflate offer %q: %s=%q is not 8 to 15", s, key, value)
			}
			return b, nil
		}
		var err error
		switch {
		case key == "server_no_context_takeover" && !hasValue:
			o.ServerNoContextTakeover = true
		case key == "client_no_context_takeover" && !hasValue:
			o.ClientNoContextTakeover = true
		case key == "server_max_window_bits" && hasValue:
			o.ServerMaxWindowBits, err = bits()
		case key == "client_max_window_bits":
			o.ClientWindowBits = true
			if hasValue {
				o.ClientMaxWindowBits, err = bits()
			}
		default:
			return o, fmt.Errorf("deflate offer %q: %q is not a permessage-deflate parameter", s, strings.TrimSpace(part))
		}
		if err != nil {
			return o, err
		}
	}
	return o, nil
}

// zConn is the permessage-deflate state of a connection that negotiated
// it. Touched only on its loop.
type zConn struct {
	outBits uint8  // the client's window, as codec.Compressor.Append takes it
	inBits  uint8  // the server's window, 8 to 15
	takeOut bool   // the client keeps its window between messages
	takeIn  bool   // the server does: the client keeps it too, to inflate
	outWin  []byte // with takeOut, the end of the messages sent compressed
	inWin   []byte // with takeIn, the end of the messages received compressed, inflated
	msg     []byte // the fragments of a compressed message so far
	inZ     bool   // the message being received is compressed
}

func newZConn(a codec.DeflateParams) *zConn {
	z := &zConn{outBits: a.ClientMaxWindowBits, inBits: a.ServerMaxWindowBits}
	if z.inBits == 0 {
		z.inBits = codec.MaxWindowBits
	}
	// The compressor refers back into a window it is given only when it
	// may use a full one; with a smaller one each message stands alone,
	// which is always allowed.
	z.takeOut = !a.ClientNoContextTakeover && (z.outBits == 0 || z.outBits == codec.MaxWindowBits)
	z.takeIn = !a.ServerNoContextTakeover
	return z
}

// headerValues is the values of the header field name (in lower case) of
// a response head, each trimmed.
func headerValues(head []byte, name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for line := range bytes.SplitSeq(head, []byte("\r\n")) {
			k, v, ok := bytes.Cut(line, []byte(":"))
			if ok && strings.EqualFold(string(k), name) && !yield(bytes.TrimSpace(v)) {
				return
			}
		}
	}
}

// errExtensionNotOffered is a response with extensions to a request that
// offered none.
var errExtensionNotOffered = errors.New("upgrade: an extension that was not offered")

// negotiated reads the extensions of the 101: with deflate offered, the
// agreement, or none when the server declined; a response that must fail
// the connection is an error. Called on the loop.
func (c *conn) negotiated(head []byte) error {
	l := c.loop
	r := l.run
	exts := headerValues(head, "sec-websocket-extensions")
	if !r.cfg.Deflate {
		for v := range exts {
			if len(v) > 0 {
				return errExtensionNotOffered
			}
		}
		return nil
	}
	a, ok, err := codec.ParseDeflateResponse(exts, r.zOffer)
	if err != nil {
		return errors.New("upgrade: invalid permessage-deflate response")
	}
	if !ok {
		l.s.zDeclined++
		return nil
	}
	l.s.zNegotiated++
	l.s.zAnswers[string(a.AppendResponse(nil))]++
	c.z = newZConn(a)
	return nil
}

// compressor and decompressor are the loop's, made when first needed.
func (l *cloop) compressor() *codec.Compressor {
	if l.comp == nil {
		l.comp, _ = codec.NewCompressor(0) // the default level is valid
	}
	return l.comp
}

func (l *cloop) decompressor() *codec.Decompressor {
	if l.decomp == nil {
		l.decomp = codec.NewDecompressor()
	}
	return l.decomp
}

// sendData sends p as one data message, compressed when the connection
// negotiated deflate and p is at least the threshold long. Called on the
// loop.
func (c *conn) sendData(op codec.OpCode, p []byte) {
	l := c.loop
	l.s.msgsOut++
	l.s.plainOut += uint64(len(p))
	z := c.z
	if z == nil || len(p) < l.run.cfg.DeflateThreshold {
		l.scratch = codec.AppendMaskedFrame(l.scratch[:0], true, op, p, c.nextMask())
		c.write(l.scratch)
		return
	}
	var dict []byte
	if z.takeOut {
		dict = z.outWin
	}
	l.zbuf = l.compressor().Append(l.zbuf[:0], p, z.outBits, dict)
	if z.takeOut {
		z.outWin = codec.Window(z.outWin, p, 1<<codec.MaxWindowBits)
	}
	l.scratch = codec.AppendMaskedFrame(l.scratch[:0], true, op, l.zbuf, c.nextMask())
	l.scratch[0] |= 0x40 // RSV1: compressed
	l.s.zOut++
	c.write(l.scratch)
}

// compressedStart reports whether a frame with reserved bits set is the
// first frame of a compressed message the connection may receive.
func (c *conn) compressedStart(h codec.Header) bool {
	return c.z != nil && h.Rsv == rsv1 && (h.OpCode == codec.OpText || h.OpCode == codec.OpBinary)
}

// message takes a data frame from the server and returns what the
// scenario handles: the frame as it came when it is not compressed;
// nothing (ok false) for a fragment of a compressed message, gathered; and
// for the last one, the whole message inflated, as one final frame.
// Called on the loop.
func (c *conn) message(h codec.Header, p []byte) (codec.Header, []byte, bool) {
	l := c.loop
	z := c.z
	if z != nil && h.OpCode != codec.OpContinuation {
		z.inZ = h.Rsv == rsv1
	}
	if z == nil || !z.inZ {
		l.s.plainIn += uint64(len(p))
		if h.Fin {
			l.s.msgsIn++
		}
		return h, p, true
	}
	if !h.Fin || len(z.msg) > 0 {
		z.msg = append(z.msg, p...)
		if !h.Fin {
			return h, nil, false
		}
		p = z.msg
	}
	var dict []byte
	if z.takeIn {
		dict = z.inWin
	}
	out, err := l.decompressor().Append(l.ibuf[:0], p, maxInflated, dict)
	if cap(z.msg) > 64<<10 {
		z.msg = nil
	} else {
		z.msg = z.msg[:0]
	}
	z.inZ = false
	if err != nil {
		reason := "protocol: invalid compressed message"
		if errors.Is(err, codec.ErrMessageTooBig) {
			reason = "protocol: compressed message too big"
		}
		c.lost(reason)
		return h, nil, false
	}
	if cap(out) <= 1<<20 {
		l.ibuf = out // kept for the next
	}
	if z.takeIn {
		z.inWin = codec.Window(z.inWin, out, 1<<z.inBits)
	}
	l.s.msgsIn++
	l.s.zIn++
	l.s.plainIn += uint64(len(out))
	h.Fin, h.Rsv = true, 0
	return h, out, true
}

// extensions is the Sec-WebSocket-Extensions value of the upgrade
// requests: the deflate offer, or "".
func (r *run) extensions() string {
	if !r.cfg.Deflate {
		return ""
	}
	return strings.TrimSpace(r.cfg.DeflateOffer)
}
