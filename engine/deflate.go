package engine

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/http1"
)

// permessage-deflate (RFC 7692). The DEFLATE state is the loop's: one
// Compressor and one Decompressor per loop serve all its connections, one
// message at a time, so a connection that negotiated the extension costs
// two bytes (its agreement, in Conn.pmd) and no more, unless it agreed to
// context takeover (Deflate.ContextTakeover): then the windows it keeps,
// at most 2^WindowBits bytes each way, are the only memory it holds
// between messages (Conn.z).
//
// In: a compressed message is reassembled as it came (what the reassembly
// budget counts), then inflated whole into the loop's buffer, checked for
// size while it inflates (MaxMessageSize, 1009), for UTF-8 if it is text
// (1007), and charged to the byte rate by its inflated size.
//
// Out: a message of Deflate.Threshold bytes or more is compressed into the
// loop's buffer and sent with RSV1, unless it does not get smaller. A
// Prepared message is compressed once for each window size its
// connections asked for (almost always one), by the first loop that needs
// it, and shared by all (rule 6).

// Defaults for the zero values of Deflate.
const (
	// DefaultDeflateThreshold: shorter messages go uncompressed. Below
	// it, JSON of the usual kind saves a few bytes at most, for about the
	// CPU it costs to send the whole message.
	DefaultDeflateThreshold = 256
	// DefaultTakeoverWindowBits bounds each window a connection keeps
	// with context takeover: 2^13 bytes each way, 16 KiB a connection.
	DefaultTakeoverWindowBits = 13
)

// Deflate is the permessage-deflate extension's configuration (RFC 7692).
// A client's offer is accepted on the routes it names, with the
// parameters the offer asks for; by default, no context takeover either
// way, so no window survives a message.
type Deflate struct {
	// Routes limits the extension to these routes (paths in
	// Config.Routes); empty means every route.
	Routes []string
	// Threshold: a message shorter than this many bytes is sent
	// uncompressed. 0 means DefaultDeflateThreshold.
	Threshold int
	// Level is the compression level, 1 (fastest) to 9 (smallest); 0
	// means codec.DefaultDeflateLevel.
	Level int
	// ContextTakeover lets connections keep their compression windows
	// between messages, where the client's offer allows: messages refer
	// back into the ones before them and get smaller, at the cost of up
	// to 2^WindowBits bytes a direction for each such connection, idle
	// or not, and of priming the loop's compressor with that window for
	// each message.
	ContextTakeover bool
	// WindowBits bounds each window kept with ContextTakeover, 9 to 15
	// (zlib, which many clients compress with, cannot keep to 2^8). 0
	// means DefaultTakeoverWindowBits.
	WindowBits int
}

// withDefaults checks d against the routes and fills in its zero values.
func (d *Deflate) withDefaults(routes map[string]Handler) (*Deflate, error) {
	if d == nil {
		return nil, nil
	}
	c := *d
	for _, path := range c.Routes {
		if routes[path] == nil {
			return nil, fmt.Errorf("engine: deflate route %q is not a route", path)
		}
	}
	if c.Threshold < 0 {
		return nil, fmt.Errorf("engine: negative deflate threshold")
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultDeflateThreshold
	}
	if c.Level == 0 {
		c.Level = codec.DefaultDeflateLevel
	}
	if _, err := codec.NewCompressor(c.Level); err != nil {
		return nil, fmt.Errorf("engine: deflate level %d: not 1 to 9", c.Level)
	}
	if c.WindowBits == 0 {
		c.WindowBits = DefaultTakeoverWindowBits
	}
	if c.WindowBits <= codec.MinWindowBits || c.WindowBits > codec.MaxWindowBits {
		return nil, fmt.Errorf("engine: deflate window bits %d: not 9 to 15", c.WindowBits)
	}
	return &c, nil
}

// deflate is what the server keeps of its Deflate config.
type deflate struct {
	routes    map[string]bool // nil: every route
	policy    codec.DeflatePolicy
	threshold int
	level     int
}

func newDeflate(d *Deflate) *deflate {
	if d == nil {
		return nil
	}
	z := &deflate{
		policy:    codec.DeflatePolicy{ContextTakeover: d.ContextTakeover, WindowBits: uint8(d.WindowBits)},
		threshold: d.Threshold,
		level:     d.Level,
	}
	if len(d.Routes) > 0 {
		z.routes = make(map[string]bool, len(d.Routes))
		for _, p := range d.Routes {
			z.routes[p] = true
		}
	}
	return z
}

// pmd is a connection's permessage-deflate agreement, in two bytes: 0
// when there is none.
type pmd uint16

const (
	pmdOn             pmd = 1 << 0
	pmdServerTakeover pmd = 1 << 1 // the server keeps its window (Conn.z.out)
	pmdClientTakeover pmd = 1 << 2 // the client keeps its (Conn.z.in)
	pmdServerBitsAt       = 8      // 4 bits: the server's window bits; 0: 15
	pmdClientBitsAt       = 12     // 4 bits: the client's window bits; 0: 15
)

func pmdOf(a codec.DeflateParams) pmd {
	p := pmdOn | pmd(a.ServerMaxWindowBits)<<pmdServerBitsAt | pmd(a.ClientMaxWindowBits)<<pmdClientBitsAt
	if !a.ServerNoContextTakeover {
		p |= pmdServerTakeover
	}
	if !a.ClientNoContextTakeover {
		p |= pmdClientTakeover
	}
	return p
}

// params returns the agreement p holds.
func (p pmd) params() codec.DeflateParams {
	return codec.DeflateParams{
		ServerNoContextTakeover: p&pmdServerTakeover == 0,
		ClientNoContextTakeover: p&pmdClientTakeover == 0,
		ServerMaxWindowBits:     uint8(p>>pmdServerBitsAt) & 0xf,
		ClientMaxWindowBits:     uint8(p>>pmdClientBitsAt) & 0xf,
	}
}

// serverBits is the window the server compresses within: 0 for a full one.
func (p pmd) serverBits() uint8 { return uint8(p>>pmdServerBitsAt) & 0xf }

// clientWindow is how many bytes of the client's window the server keeps.
func (p pmd) clientWindow() int {
	b := uint8(p>>pmdClientBitsAt) & 0xf
	if b == 0 {
		b = codec.MaxWindowBits
	}
	return 1 << b
}

// negotiateDeflate returns the agreement for a request's offers on the
// route path: 0 for none (no offer, none acceptable, or no deflate here).
// Called on the loop.
func (s *Server) negotiateDeflate(r *http1.Request, path string) pmd {
	d := s.deflate
	if d == nil || d.routes != nil && !d.routes[path] {
		return 0
	}
	a, ok := codec.NegotiateDeflate(r.Values("sec-websocket-extensions"), d.policy)
	if !ok {
		return 0
	}
	return pmdOf(a)
}

// appendExtensions appends the 101's Sec-WebSocket-Extensions line for p,
// if any.
func appendExtensions(dst []byte, p pmd) []byte {
	if p == 0 {
		return dst
	}
	dst = append(dst, "Sec-WebSocket-Extensions: "...)
	dst = p.params().AppendResponse(dst)
	return append(dst, "\r\n"...)
}

// takeover is the windows a connection with context takeover keeps: the
// last bytes of the compressed messages' plaintext, each way.
type takeover struct {
	in, out []byte
}

// deflateCounts are a loop's counts of compressed messages.
type deflateCounts struct {
	msgsIn, msgsOut   uint64 // compressed messages
	wireIn, wireOut   uint64 // their compressed payload bytes
	plainIn, plainOut uint64 // their plaintext bytes
	compressions      uint64 // times a message was compressed, sent so or not
	conns             uint64 // connections that negotiated the extension
}

// compressor returns the loop's Compressor. Called on the loop.
func (l *Loop) compressor() *codec.Compressor {
	if l.z == nil {
		l.z, _ = codec.NewCompressor(l.srv.deflate.level) // checked by New
	}
	return l.z
}

// scratchKeep bounds the loop's inflate and deflate buffers kept between
// messages: a larger one, made for a large message, is let go after it.
const scratchKeep = 256 << 10

// inflate returns a compressed message's payload inflated, in the loop's
// buffer, valid until the next message; or false when the connection
// failed. Called on the loop.
func (c *Conn) inflate(p []byte) ([]byte, bool) {
	l := c.loop
	if l.unz == nil {
		l.unz = codec.NewDecompressor()
	}
	var dict []byte
	if c.z != nil {
		dict = c.z.in
	}
	out, err := l.unz.Append(l.inflated[:0], p, c.rd.MaxMessage, dict)
	if cap(out) <= scratchKeep {
		l.inflated = out[:0]
	} else {
		l.inflated = nil
	}
	if err != nil {
		if err == codec.ErrMessageTooBig {
			c.refused(refInflated)
		}
		c.failErr(err)
		return nil, false
	}
	l.dcounts.msgsIn++
	l.dcounts.wireIn += uint64(len(p))
	l.dcounts.plainIn += uint64(len(out))
	if c.pmd&pmdClientTakeover != 0 {
		if c.z == nil {
			c.z = new(takeover)
		}
		c.z.in = codec.Window(c.z.in, out, c.pmd.clientWindow())
	}
	return out, true
}

// deflated compresses a data message for the connection, into the loop's
// buffer, valid until the next message; nil when it is not to be
// compressed (too short, or no smaller compressed). Called on the loop.
func (c *Conn) deflated(data []byte) []byte {
	l := c.loop
	d := l.srv.deflate
	if len(data) < d.threshold {
		return nil
	}
	var dict []byte
	if c.z != nil {
		dict = c.z.out
	}
	out := l.compressor().Append(l.deflatedBuf[:0], data, c.pmd.serverBits(), dict)
	l.dcounts.compressions++
	if cap(out) <= scratchKeep {
		l.deflatedBuf = out[:0]
	} else {
		l.deflatedBuf = nil
	}
	if len(out) >= len(data) {
		return nil
	}
	return out
}

// sentCompressed counts a compressed message, and adds its plaintext to
// the window the connection keeps, with server context takeover. Called
// on the loop.
func (c *Conn) sentCompressed(plain []byte, wire int) {
	l := c.loop
	l.dcounts.msgsOut++
	l.dcounts.wireOut += uint64(wire)
	l.dcounts.plainOut += uint64(len(plain))
	if c.pmd&pmdServerTakeover != 0 {
		if c.z == nil {
			c.z = new(takeover)
		}
		c.z.out = codec.Window(c.z.out, plain, 1<<l.srv.deflate.policy.WindowBits)
	}
}

// preparedZ is a Prepared message's compressed frames, one for each
// server window size asked for, made the first time one is.
type preparedZ struct {
	mu     sync.Mutex
	frames [codec.MaxWindowBits - codec.MinWindowBits + 1]atomic.Pointer[[]byte]
}

// noGain marks a window size for which compression does not make the
// message smaller: it is sent as it is.
var noGain = new([]byte)

// compressedFrame returns p's compressed frame for the connection's
// window, compressing it if no loop has yet; nil when p goes uncompressed.
// Called on the loop.
func (p *Prepared) compressedFrame(c *Conn) []byte {
	bits := c.pmd.serverBits()
	if bits == 0 {
		bits = codec.MaxWindowBits
	}
	slot := &p.z.frames[bits-codec.MinWindowBits]
	if f := slot.Load(); f != nil {
		return *f
	}
	p.z.mu.Lock()
	defer p.z.mu.Unlock()
	if f := slot.Load(); f != nil {
		return *f
	}
	l := c.loop
	payload := p.frame[len(p.frame)-p.n:]
	z := l.compressor().Append(l.deflatedBuf[:0], payload, bits, nil)
	l.dcounts.compressions++
	if len(z) >= p.n {
		l.deflatedBuf = z[:0]
		slot.Store(noGain)
		return nil
	}
	frame := make([]byte, 0, codec.MaxHeaderSize+len(z))
	frame = append(codec.AppendCompressedHeader(frame, p.op, len(z)), z...)
	l.deflatedBuf = z[:0]
	if cap(l.deflatedBuf) > scratchKeep {
		l.deflatedBuf = nil
	}
	slot.Store(&frame)
	return frame
}

// inflated replaces a compressed message's payload by its plaintext, and
// vets that as a message's payload would have been as it came: UTF-8 for
// text, and the byte rate for what the plaintext adds to what the frames
// were charged. It reports whether the message goes on; when not, the
// connection failed or (RateDrop) the message is dropped. Called on the
// loop.
func (c *Conn) inflated(m *codec.Message) bool {
	wire := len(m.Payload)
	p, ok := c.inflate(m.Payload)
	if !ok {
		return false
	}
	m.Payload, m.Compressed = p, false
	if m.Op == codec.OpText && !codec.ValidUTF8(p) {
		c.failErr(codec.ErrInvalidUTF8)
		return false
	}
	s := c.loop.srv
	if extra, bl := int64(len(p)-wire), s.byteLimit.Load(); bl != nil && extra > 0 && !bl.Take(&c.byteBucket, c.loop.now(), extra) {
		c.refused(refRateBytes)
		if s.cfg.RatePolicy == RateClose {
			c.fail(codec.StatusPolicyViolation, "rate limit exceeded")
		}
		return false
	}
	return true
}

// deflateMetrics are the extension's metrics.
type deflateMetrics struct {
	conns, compressions *metrics.Counter
	msgs                [2]*metrics.Counter    // received, sent
	bytes               [2][2]*metrics.Counter // received, sent × compressed, plain
}

func newDeflateMetrics(set *metrics.Set) *deflateMetrics {
	m := &deflateMetrics{
		conns:        set.NewCounter("wssd_deflate_connections_total"),
		compressions: set.NewCounter("wssd_deflate_compressions_total"),
	}
	for i, dir := range []string{"received", "sent"} {
		m.msgs[i] = set.NewCounter(`wssd_deflate_messages_total{direction="` + dir + `"}`)
		for j, form := range []string{"compressed", "plain"} {
			m.bytes[i][j] = set.NewCounter(`wssd_deflate_bytes_total{direction="` + dir + `",form="` + form + `"}`)
		}
	}
	return m
}

// flush adds a loop's counts. Called on the loop.
func (m *deflateMetrics) flush(c *deflateCounts) {
	addCount(m.conns, &c.conns)
	addCount(m.compressions, &c.compressions)
	addCount(m.msgs[0], &c.msgsIn)
	addCount(m.msgs[1], &c.msgsOut)
	addCount(m.bytes[0][0], &c.wireIn)
	addCount(m.bytes[0][1], &c.plainIn)
	addCount(m.bytes[1][0], &c.wireOut)
	addCount(m.bytes[1][1], &c.plainOut)
}
