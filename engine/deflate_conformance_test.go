package engine

// RFC 7692 permessage-deflate conformance of the /echo route: the analogue
// of the Autobahn TestSuite's case groups 12 and 13 (see CONFORMANCE.md),
// with the negotiation refusals and the protocol errors the extension adds.
//
// The client half of the extension is written here from RFC 7692 and RFC
// 1951 with the standard library's compress/flate, independent of the
// server's compressor: the client compresses and masks its messages by
// hand, inflates the server's compressed echoes (with the LZ77 window kept
// across messages where the response allows context takeover), and walks
// their DEFLATE blocks to check that no back-reference reaches farther than
// the window the server agreed to.

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// dconfTail is the end of a DEFLATE sync flush (an empty stored block),
// which RFC 7692 section 7.2.1 removes from a compressed message and
// section 7.2.2 appends again before inflating it.
var dconfTail = []byte{0x00, 0x00, 0xff, 0xff}

// --- negotiation -----------------------------------------------------------

// dconfParam is one extension-param (RFC 6455 section 9.1), its value
// unquoted.
type dconfParam struct {
	name   string
	value  string
	valued bool
}

// dconfExt is one element of a Sec-WebSocket-Extensions list.
type dconfExt struct {
	name   string
	params []dconfParam
}

// param returns the first parameter of e named name.
func (e dconfExt) param(name string) (dconfParam, bool) {
	for _, p := range e.params {
		if p.name == name {
			return p, true
		}
	}
	return dconfParam{}, false
}

func (e dconfExt) has(name string) bool {
	_, ok := e.param(name)
	return ok
}

// dconfTchar reports whether c is a token character (RFC 7230 section 3.2.6).
func dconfTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// dconfScanner reads one header value.
type dconfScanner struct {
	s string
	i int
}

func (s *dconfScanner) ows() {
	for s.i < len(s.s) && (s.s[s.i] == ' ' || s.s[s.i] == '\t') {
		s.i++
	}
}

func (s *dconfScanner) at(c byte) bool { return s.i < len(s.s) && s.s[s.i] == c }

func (s *dconfScanner) token() (string, bool) {
	start := s.i
	for s.i < len(s.s) && dconfTchar(s.s[s.i]) {
		s.i++
	}
	return s.s[start:s.i], s.i > start
}

// value reads a token or a quoted-string, whose unescaped value must be a
// token (RFC 6455 section 9.1).
func (s *dconfScanner) value() (string, bool) {
	if !s.at('"') {
		return s.token()
	}
	s.i++
	var v []byte
	for s.i < len(s.s) {
		c := s.s[s.i]
		s.i++
		switch {
		case c == '"':
			for _, c := range v {
				if !dconfTchar(c) {
					return "", false
				}
			}
			return string(v), len(v) > 0
		case c == '\\' && s.i < len(s.s):
			v = append(v, s.s[s.i])
			s.i++
		default:
			v = append(v, c)
		}
	}
	return "", false
}

// dconfParse parses Sec-WebSocket-Extensions values (RFC 6455 section 9.1):
// comma-separated elements, each a token and parameters after semicolons.
func dconfParse(values []string) ([]dconfExt, error) {
	var exts []dconfExt
	for _, v := range values {
		s := &dconfScanner{s: v}
		for {
			s.ows()
			if s.i == len(s.s) {
				break
			}
			if s.at(',') {
				s.i++
				continue
			}
			name, ok := s.token()
			if !ok {
				return nil, fmt.Errorf("no extension token at byte %d of %q", s.i, v)
			}
			e := dconfExt{name: name}
			for {
				s.ows()
				if s.i == len(s.s) || s.at(',') {
					break
				}
				if !s.at(';') {
					return nil, fmt.Errorf("unexpected %q at byte %d of %q", s.s[s.i], s.i, v)
				}
				s.i++
				s.ows()
				p := dconfParam{}
				if p.name, ok = s.token(); !ok {
					return nil, fmt.Errorf("no parameter name at byte %d of %q", s.i, v)
				}
				s.ows()
				if s.at('=') {
					s.i++
					s.ows()
					if p.value, ok = s.value(); !ok {
						return nil, fmt.Errorf("bad value of %s in %q", p.name, v)
					}
					p.valued = true
				}
				e.params = append(e.params, p)
			}
			exts = append(exts, e)
		}
	}
	return exts, nil
}

// dconfWindowBits is the value of a *_max_window_bits parameter: a decimal
// integer from 8 to 15 without leading zeroes (RFC 7692 section 7.1.2).
func dconfWindowBits(p dconfParam) (int, bool) {
	v := p.value
	if !p.valued || len(v) == 0 || len(v) > 2 || v[0] == '0' {
		return 0, false
	}
	n := 0
	for i := range len(v) {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = 10*n + int(v[i]-'0')
	}
	return n, 8 <= n && n <= 15
}

// dconfAgreed is what the server's response agreed to.
type dconfAgreed struct {
	on          bool     // permessage-deflate is in use
	resp        dconfExt // the response's element
	serverNoCtx bool     // server_no_context_takeover
	clientNoCtx bool     // client_no_context_takeover
	serverBits  int      // the LZ77 window of the server's compressor
	clientBits  int      // the LZ77 window of the client's compressor
}

// dconfCheckResponse checks the server's Sec-WebSocket-Extensions values
// resp against take, the offer it should have accepted ("" when it should
// have declined them all; with mayDecline it may also decline take), by
// the rules of RFC 7692 section 7.1, and returns what they agree to.
func dconfCheckResponse(t testing.TB, take string, mayDecline bool, resp []string) dconfAgreed {
	t.Helper()
	if take == "" || mayDecline && len(resp) == 0 {
		if len(resp) != 0 {
			t.Fatalf("server answered Sec-WebSocket-Extensions %q; every offer should have been declined", resp)
		}
		return dconfAgreed{serverBits: 15, clientBits: 15}
	}
	if len(resp) == 0 {
		t.Fatalf("server declined every offer; it should have accepted %q", take)
	}
	offers, err := dconfParse([]string{take})
	if err != nil || len(offers) != 1 {
		t.Fatalf("test offer %q: %v", take, err)
	}
	offer := offers[0]
	exts, err := dconfParse(resp)
	if err != nil {
		t.Fatalf("malformed Sec-WebSocket-Extensions %q: %v", resp, err)
	}
	if len(exts) != 1 || exts[0].name != "permessage-deflate" {
		t.Fatalf("Sec-WebSocket-Extensions %q, want one permessage-deflate element", resp)
	}
	ag := dconfAgreed{on: true, resp: exts[0], serverBits: 15, clientBits: 15}
	seen := map[string]bool{}
	for _, p := range ag.resp.params {
		if seen[p.name] {
			t.Errorf("response %q has %s twice", resp, p.name)
		}
		seen[p.name] = true
		switch p.name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if p.valued {
				t.Errorf("response %q gives %s a value", resp, p.name)
			}
			ag.serverNoCtx = ag.serverNoCtx || p.name == "server_no_context_takeover"
			ag.clientNoCtx = ag.clientNoCtx || p.name == "client_no_context_takeover"
		case "server_max_window_bits":
			bits, ok := dconfWindowBits(p)
			if !ok {
				t.Errorf("response %q: server_max_window_bits %q is not a value from 8 to 15", resp, p.value)
				continue
			}
			if o, ok := offer.param(p.name); ok {
				if ob, _ := dconfWindowBits(o); bits > ob {
					t.Errorf("response %q: server_max_window_bits %d is more than the %d offered (RFC 7692 section 7.1.2.1)", resp, bits, ob)
				}
			}
			ag.serverBits = bits
		case "client_max_window_bits":
			o, offered := offer.param(p.name)
			if !offered {
				t.Errorf("response %q has client_max_window_bits, which the offer %q lacks (RFC 7692 section 7.1.2.2)", resp, take)
			}
			bits, ok := dconfWindowBits(p)
			if !ok {
				t.Errorf("response %q: client_max_window_bits %q is not a value from 8 to 15", resp, p.value)
				continue
			}
			if o.valued {
				if ob, _ := dconfWindowBits(o); bits > ob {
					t.Errorf("response %q: client_max_window_bits %d is more than the %d offered", resp, bits, ob)
				}
			}
			ag.clientBits = bits
		default:
			t.Errorf("response %q has parameter %q, which RFC 7692 does not define", resp, p.name)
		}
	}
	if offer.has("server_no_context_takeover") && !ag.serverNoCtx {
		t.Errorf("offer %q asks for server_no_context_takeover; response %q lacks it (RFC 7692 section 7.1.1.1)", take, resp)
	}
	if o, ok := offer.param("client_max_window_bits"); ok && o.valued && !seen[o.name] {
		// The client said it would not use a larger window.
		ag.clientBits, _ = dconfWindowBits(o)
	}
	if t.Failed() {
		t.FailNow()
	}
	return ag
}

// dconfDial is confDial with a Sec-WebSocket-Extensions line in the request
// for each of offers. It returns the client and the response's
// Sec-WebSocket-Extensions values.
func dconfDial(t testing.TB, addr confAddr, offers ...string) (*confClient, []string) {
	t.Helper()
	c, h := confUpgrade(t, addr, 0, offers...)
	return c, h.Values("Sec-WebSocket-Extensions")
}

// --- the client half of permessage-deflate ---------------------------------

// dconfCodec compresses the client's messages and inflates the server's as
// agreed.
type dconfCodec struct {
	ag    dconfAgreed
	level int // of the client's compressor
	zbuf  bytes.Buffer
	zw    map[int]*flate.Writer // by level
	// window holds the last inflated bytes of the server's compressed
	// messages, up to its window size, when it keeps its context.
	window []byte
}

func newDconfCodec(ag dconfAgreed, level int) *dconfCodec {
	return &dconfCodec{ag: ag, level: level, zw: map[int]*flate.Writer{}}
}

// compress compresses message p (RFC 7692 section 7.2.1): DEFLATE, a sync
// flush, and the flush's empty stored block removed. compress/flate's
// window is 32 KiB: when the client agreed to a smaller one, a message that
// could reach farther back (a longer one, or any with context takeover) is
// Huffman-coded only, with no back-references at all.
func (z *dconfCodec) compress(p []byte) []byte {
	level := z.level
	if z.ag.clientBits < 15 && (!z.ag.clientNoCtx || len(p) > 1<<z.ag.clientBits) {
		level = flate.HuffmanOnly
	}
	w := z.zw[level]
	switch {
	case w == nil:
		w, _ = flate.NewWriter(&z.zbuf, level)
		z.zw[level] = w
	case z.ag.clientNoCtx:
		w.Reset(&z.zbuf)
	}
	z.zbuf.Reset()
	_, _ = w.Write(p)
	_ = w.Flush()
	out, ok := bytes.CutSuffix(z.zbuf.Bytes(), dconfTail)
	if !ok {
		panic("compress/flate: a flush does not end with 00 00 ff ff")
	}
	return bytes.Clone(out)
}

// inflate inflates the payload of a compressed message from the server
// (RFC 7692 section 7.2.2), after checking with dconfWalkDeflate that no
// back-reference in it reaches past the agreed window.
func (z *dconfCodec) inflate(wire []byte) ([]byte, dconfWalk, error) {
	in := append(append(make([]byte, 0, len(wire)+9), wire...), dconfTail...)
	walk, err := dconfWalkDeflate(in)
	if err != nil {
		return nil, walk, fmt.Errorf("compressed payload of %d bytes: %w", len(wire), err)
	}
	if limit := 1 << z.ag.serverBits; walk.maxDist > limit {
		return nil, walk, fmt.Errorf("back-reference %d bytes back, past the %d-byte window agreed", walk.maxDist, limit)
	}
	var dict []byte
	if !z.ag.serverNoCtx {
		dict = z.window
	}
	// A final empty stored block after the flush ends the stream cleanly.
	r := flate.NewReaderDict(bytes.NewReader(append(in, 0x01, 0x00, 0x00, 0xff, 0xff)), dict)
	out, err := io.ReadAll(r)
	if err != nil {
		return nil, walk, fmt.Errorf("inflate %d bytes (window of %d bytes kept): %w", len(wire), len(dict), err)
	}
	if len(out) != walk.out {
		return nil, walk, fmt.Errorf("inflated %d bytes, but the block walk counts %d", len(out), walk.out)
	}
	if !z.ag.serverNoCtx {
		z.window = append(z.window, out...)
		if over := len(z.window) - 1<<z.ag.serverBits; over > 0 {
			z.window = bytes.Clone(z.window[over:])
		}
	}
	return out, walk, nil
}

// dconfFrames returns payload p as masked frames with first-frame bits b0
// (opcode and RSV1), in frames of at most frag bytes when frag > 0.
func dconfFrames(b0 byte, p []byte, frag int) []byte {
	if frag <= 0 || len(p) <= frag {
		return confFrame(cfFin|b0, p)
	}
	return confFragments(b0, p, frag)
}

// dconfConn is a client connection with permessage-deflate as agreed.
type dconfConn struct {
	t  testing.TB
	cc *confClient
	ag dconfAgreed
	z  *dconfCodec
	// maxDist is the farthest back-reference in the server's messages.
	maxDist int
}

// dconfOpen connects to addr with a Sec-WebSocket-Extensions line for each of
// lines and checks the response against take (see dconfCheckResponse).
func dconfOpen(t testing.TB, addr confAddr, take string, mayDecline bool, lines ...string) *dconfConn {
	t.Helper()
	cc, resp := dconfDial(t, addr, lines...)
	ag := dconfCheckResponse(t, take, mayDecline, resp)
	return &dconfConn{t: t, cc: cc, ag: ag, z: newDconfCodec(ag, flate.BestSpeed)}
}

// frames returns message p with opcode op as masked frames, compressed
// (RSV1 on the first frame only) when deflate is set, in frames of at most
// frag bytes of the payload as sent when frag > 0.
func (c *dconfConn) frames(op byte, p []byte, deflate bool, frag int) []byte {
	if deflate {
		return dconfFrames(op|cfRsv1, c.z.compress(p), frag)
	}
	return dconfFrames(op, p, frag)
}

// readFrame reads one server frame (confClient.readFrame), RSV1 allowed
// on the first frame of a data message when the extension is in use.
func (c *dconfConn) readFrame() (ws.Header, []byte, error) {
	c.cc.deflate = c.ag.on
	return c.cc.readFrame()
}

// dconfMessage is a message or control frame from the server.
type dconfMessage struct {
	op         ws.OpCode
	payload    []byte // inflated
	compressed bool   // RSV1 was set
	wire       int    // payload bytes on the wire
}

// next reads the next message (reassembled and inflated) or control frame.
func (c *dconfConn) next() (dconfMessage, error) {
	h, p, err := c.readFrame()
	if err != nil {
		return dconfMessage{}, err
	}
	if h.OpCode == ws.OpContinuation {
		return dconfMessage{}, errors.New("server sent a continuation with no message to continue")
	}
	m := dconfMessage{op: h.OpCode, payload: p, compressed: h.Rsv1()}
	for !h.Fin {
		if h, p, err = c.readFrame(); err != nil {
			return dconfMessage{}, err
		}
		if h.OpCode != ws.OpContinuation {
			return dconfMessage{}, fmt.Errorf("server sent opcode %d inside a fragmented message", h.OpCode)
		}
		m.payload = append(m.payload, p...)
	}
	m.wire = len(m.payload)
	if m.compressed {
		out, walk, err := c.z.inflate(m.payload)
		if err != nil {
			return dconfMessage{}, fmt.Errorf("opcode %d message: %w", m.op, err)
		}
		c.maxDist = max(c.maxDist, walk.maxDist)
		m.payload = out
	}
	if m.op == ws.OpText && !utf8.Valid(m.payload) {
		return dconfMessage{}, errors.New("server sent invalid UTF-8 in a text message")
	}
	return m, nil
}

// expect reads the next message and checks it is p with opcode op.
func (c *dconfConn) expect(op byte, p []byte) dconfMessage {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for opcode %d, %d bytes: %v", op, len(p), err)
	}
	if m.op != ws.OpCode(op) || !bytes.Equal(m.payload, p) {
		c.t.Fatalf("got opcode %d, %d bytes (%d on the wire, compressed %v), want opcode %d, %d bytes%s",
			m.op, len(m.payload), m.wire, m.compressed, op, len(p), confFirstDiff(m.payload, p))
	}
	return m
}

// expectClose is confClient.expectClose for a connection whose data
// frames may be compressed: a message before the close frame is reported
// inflated.
func (c *dconfConn) expectClose(want ...ws.StatusCode) {
	c.t.Helper()
	for {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for a close frame with code %v: %v", want, err)
		}
		if m.op != ws.OpClose {
			c.t.Errorf("got %v (compressed %v) where a close frame with code %v was expected", confMessage{op: m.op, payload: m.payload}, m.compressed, want)
			continue
		}
		code, reason := confCloseFields(m.payload)
		if len(m.payload) == 1 || !slices.Contains(want, code) || !utf8.ValidString(reason) {
			c.t.Errorf("server closed with %v, want code %v", confMessage{op: m.op, payload: m.payload}, want)
		}
		break
	}
	c.cc.expectEOF()
}

// echo sends p with opcode op (see frames) and expects it back.
func (c *dconfConn) echo(op byte, p []byte, deflate bool, frag int) dconfMessage {
	c.t.Helper()
	c.cc.mustSend(c.frames(op, p, deflate, frag), 0)
	return c.expect(op, p)
}

// --- payloads ----------------------------------------------------------------

// dconfRand returns a generator seeded with seed and stream.
func dconfRand(seed, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }

// dconfJSON returns n bytes of JSON-like text.
func dconfJSON(n int, seed uint64) []byte {
	r := dconfRand(seed, 1)
	b := []byte("[")
	for len(b) < n {
		id := r.IntN(100000)
		b = fmt.Appendf(b, `{"id":%d,"user":"user-%05d","email":"user%d@example.org","active":%t,"score":%.3f,"tags":["t%d","t%d"]},`,
			id, id, id, r.IntN(2) == 0, r.Float64()*100, r.IntN(20), r.IntN(20))
	}
	return b[:n]
}

// dconfWords are the words of dconfProse, many of them with multibyte UTF-8.
var dconfWords = strings.Fields("the and of a message window compression größer naïve façade " +
	"Ünïcödé über señal café 日本語の テキスト 圧縮 Ελληνικά κείμενο кириллица текст 🎉 € √2≈1.414 ℤ⊂ℝ " +
	"frame server client echo")

// dconfProse returns n bytes of UTF-8 prose, cut on a code point boundary and
// padded with spaces.
func dconfProse(n int, seed uint64) []byte {
	r := dconfRand(seed, 2)
	var b []byte
	for len(b) < n {
		b = append(b, dconfWords[r.IntN(len(dconfWords))]...)
		if r.IntN(9) == 0 {
			b = append(b, ". "...)
		} else {
			b = append(b, ' ')
		}
	}
	b = b[:n]
	for !utf8.Valid(b) {
		b = b[:len(b)-1]
	}
	for len(b) < n {
		b = append(b, ' ')
	}
	return b
}

// dconfHTML returns n bytes of HTML-like text.
func dconfHTML(n int, seed uint64) []byte {
	r := dconfRand(seed, 3)
	b := []byte("<!DOCTYPE html>\n<html><head><title>wssd</title></head><body>\n")
	for len(b) < n {
		i := r.IntN(10000)
		b = fmt.Appendf(b, "<div class=\"row\" id=\"r%d\"><a href=\"/items/%d\">%s %s</a><span class=\"price\">%d.%02d</span></div>\n",
			i, i, dconfWords[r.IntN(4)], dconfWords[r.IntN(4)+4], r.IntN(500), r.IntN(100))
	}
	return b[:n]
}

// dconfRandom returns n pseudo-random bytes, which do not compress.
func dconfRandom(n int, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

// dconfRepeated returns n bytes of a short binary pattern.
func dconfRepeated(n int, _ uint64) []byte { return confPattern(n, true) }

// dconfFarUnit is the period of dconfFar.
const dconfFarUnit = 3000

// dconfFar returns n bytes of a block of dconfFarUnit bytes repeated: the
// block is pseudo-random bytes with a run of 8 dashes every 64, so that a
// fast compressor keeps looking for matches (it finds the runs) and finds
// the repeats 3000 bytes back, which one held to a smaller window must not
// use.
func dconfFar(n int, seed uint64) []byte {
	unit := dconfRandom(dconfFarUnit, seed)
	for i := 56; i < len(unit); i += 64 {
		copy(unit[i:min(i+8, len(unit))], "--------")
	}
	return bytes.Repeat(unit, n/dconfFarUnit+1)[:n]
}

// --- 12 ----------------------------------------------------------------------

// dconfKinds are the payloads of group 12; compressible ones must come back
// compressed at or above the server's threshold.
var dconfKinds = []struct {
	name         string
	op           byte
	gen          func(n int, seed uint64) []byte
	compressible bool
}{
	{"json text", cfText, dconfJSON, true},
	{"utf-8 prose", cfText, dconfProse, true},
	{"html text", cfText, dconfHTML, true},
	{"random binary", cfBinary, dconfRandom, false},
	{"repeated binary", cfBinary, dconfRepeated, true},
}

// dconfSizes are the message sizes of group 12.
var dconfSizes = []int{16, 64, 256, 1024, 4096, 8192, 16384, 32768, 65536, 131072}

// dconfCount is how many messages of size bytes group 12 sends: a few of the
// small ones, one of each from 16 KiB up, to fit the run time.
func dconfCount(size int) int { return max(1, min(3, (16<<10)/size)) }

// TestDeflateConformancePayloads covers group 12: JSON-like text, UTF-8
// prose, HTML-like text, pseudo-random and repetitive binary, at sizes of 16
// bytes to 128 KiB, sent compressed in one frame and in 256-byte frames
// (the sender's auto-fragmentation), each echoed intact. With a threshold
// of 200 bytes, the echoes of the 16- and 64-byte messages must come
// uncompressed and those of compressible messages of 256 bytes and up
// compressed; random binary may come either way.
func TestDeflateConformancePayloads(t *testing.T) {
	const threshold = 200
	confEach(t, Config{Deflate: &Deflate{Threshold: threshold}}, func(t *testing.T, addr confAddr) {
		for ki, k := range dconfKinds {
			for _, frag := range []int{0, 256} {
				name := fmt.Sprintf("12.%d %s", ki+1, k.name)
				if frag > 0 {
					name += fmt.Sprintf(" in %d-byte frames", frag)
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					offer := "permessage-deflate; client_max_window_bits"
					c := dconfOpen(t, addr, offer, false, offer)
					compressed, plain := 0, 0
					for _, size := range dconfSizes {
						for i := range dconfCount(size) {
							// Each payload twice in a row: a compressor
							// that keeps its context finds the first.
							p := k.gen(size, uint64(size)<<8|uint64(i/2))
							m := c.echo(k.op, p, true, frag)
							if m.compressed {
								compressed++
							} else {
								plain++
							}
							switch {
							case size < threshold && m.compressed:
								t.Errorf("echo of a %d-byte message, under the threshold of %d, came compressed", size, threshold)
							case size >= 1024 && k.compressible && !m.compressed:
								// Smaller ones go as they are when DEFLATE
								// does not make them smaller, which the
								// RFC allows message by message.
								t.Errorf("echo of a %d-byte %s message came uncompressed", size, k.name)
							}
						}
					}
					c.cc.closeNormally()
					t.Logf("%d echoes compressed, %d not; farthest back-reference %d bytes", compressed, plain, c.maxDist)
				})
			}
		}
	})
}

// --- 13 ----------------------------------------------------------------------

// dconfOffer is one negotiation of group 13: the Sec-WebSocket-Extensions
// lines sent, and the offer the server must take from them (mayDecline:
// or decline).
type dconfOffer struct {
	lines      []string
	take       string
	mayDecline bool
}

func dconfOne(offer string) dconfOffer { return dconfOffer{lines: []string{offer}, take: offer} }

// dconfOffers are the offers of group 13.
var dconfOffers = []dconfOffer{
	dconfOne("permessage-deflate"),
	dconfOne("permessage-deflate; client_no_context_takeover"),
	dconfOne("permessage-deflate; client_max_window_bits"),
	dconfOne("permessage-deflate; client_max_window_bits=15"),
	dconfOne("permessage-deflate; client_max_window_bits=9"),
	dconfOne("permessage-deflate; server_max_window_bits=9"),
	dconfOne("permessage-deflate; server_max_window_bits=15"),
	// A server that cannot compress within 256 bytes declines (RFC 7692
	// section 7.1.2.1).
	{lines: []string{"permessage-deflate; server_max_window_bits=8"}, take: "permessage-deflate; server_max_window_bits=8", mayDecline: true},
	dconfOne("permessage-deflate; server_no_context_takeover"),
	dconfOne("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
	dconfOne("permessage-deflate; client_max_window_bits=10; server_max_window_bits=10"),
	dconfOne("permessage-deflate; server_max_window_bits=11; client_max_window_bits; client_no_context_takeover"),
	// A quoted-string value that unescapes to a token is the same value
	// (RFC 6455 section 9.1).
	dconfOne(`permessage-deflate; client_max_window_bits="10"`),
	// Several offers: the first acceptable one is taken.
	{
		lines: []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"},
		take:  "permessage-deflate; server_max_window_bits=10",
	},
	{
		lines: []string{"permessage-deflate; server_max_window_bits=16, permessage-deflate; client_max_window_bits"},
		take:  "permessage-deflate; client_max_window_bits",
	},
	{
		lines: []string{"x-webkit-deflate-frame, permessage-deflate; server_no_context_takeover"},
		take:  "permessage-deflate; server_no_context_takeover",
	},
	{
		lines: []string{"permessage-deflate; foo=bar", "permessage-deflate; server_max_window_bits=12"},
		take:  "permessage-deflate; server_max_window_bits=12",
	},
	{
		lines: []string{"permessage-deflate; client_no_context_takeover", "permessage-deflate"},
		take:  "permessage-deflate; client_no_context_takeover",
	},
}

// dconfExchange sends compressible text and binary that repeats every 3000
// bytes, at 16 bytes to 4 KiB, compressed when the extension is in use
// (every other size in 256-byte frames), with a short uncompressed message
// after each (no part of either LZ77 window), then a message twice; each
// must be echoed intact, the text compressed. The client's reading checks
// the server's back-references against the agreed window.
func dconfExchange(t *testing.T, c *dconfConn) {
	t.Helper()
	for i, size := range []int{16, 256, 1024, 4096} {
		frag := 256 * (i % 2)
		if m := c.echo(cfText, dconfJSON(size, uint64(size)), c.ag.on, frag); c.ag.on && size >= 1024 && !m.compressed {
			// Under 1 KiB it may not get smaller, and then goes as it is.
			t.Errorf("echo of %d bytes of JSON came uncompressed (threshold 1)", size)
		}
		c.echo(cfBinary, dconfFar(size, uint64(i)), c.ag.on, frag)
		c.echo(cfText, []byte("uncompressed, between compressed messages"), false, 0)
	}
	p := dconfProse(4096, 13)
	c.echo(cfText, p, c.ag.on, 0)
	again := c.echo(cfText, p, c.ag.on, 0)
	c.cc.closeNormally()
	t.Logf("agreed %+v; farthest back-reference %d bytes; a repeated 4096-byte message took %d bytes", c.ag.resp, c.maxDist, again.wire)
}

// TestDeflateConformanceOffers covers group 13: each offer (alone,
// combined, several in one line or over several lines) is accepted with a
// response that follows RFC 7692 section 7.1 (parameters known and at most
// once, window sizes from 8 to 15 and no more than offered,
// client_max_window_bits only if offered, server_no_context_takeover if
// asked for), or for server_max_window_bits=8 declined; the messages of
// dconfExchange then round-trip, and the server's back-references stay within
// the window it agreed to. It runs against the default configuration (no
// context takeover either way) and against servers that keep their
// context, with a 32 KiB and (for the offers with client_max_window_bits)
// a 1 KiB window for the client's direction.
func TestDeflateConformanceOffers(t *testing.T) {
	servers := []struct {
		name  string
		d     *Deflate
		check func(t *testing.T, offer dconfExt, ag dconfAgreed)
		only  string // when set, only the offers that have it
	}{
		{
			name: "defaults",
			d:    &Deflate{Threshold: 1},
			check: func(t *testing.T, _ dconfExt, ag dconfAgreed) {
				if !ag.serverNoCtx || !ag.clientNoCtx {
					t.Errorf("response %+v: by default both directions have no context takeover", ag.resp)
				}
			},
		},
		{
			name:  "context takeover",
			d:     &Deflate{Threshold: 1, ContextTakeover: true, WindowBits: 15},
			check: dconfCheckTakeover(15),
		},
		{
			name:  "context takeover, 10-bit window",
			d:     &Deflate{Threshold: 1, ContextTakeover: true, WindowBits: 10},
			check: dconfCheckTakeover(10),
			only:  "client_max_window_bits",
		},
	}
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			confEach(t, Config{Deflate: s.d}, func(t *testing.T, addr confAddr) {
				for i, o := range dconfOffers {
					if !strings.Contains(o.take, s.only) {
						continue
					}
					t.Run(fmt.Sprintf("13.%d %s", i+1, strings.Join(o.lines, " | ")), func(t *testing.T) {
						t.Parallel()
						c := dconfOpen(t, addr, o.take, o.mayDecline, o.lines...)
						if c.ag.on {
							offer, _ := dconfParse([]string{o.take})
							s.check(t, offer[0], c.ag)
						}
						dconfExchange(t, c)
					})
				}
			})
		})
	}
}

// dconfCheckTakeover checks the response of a server configured with
// ContextTakeover and WindowBits bits: it keeps its own context unless the
// offer asks it not to or bounds its window (a server may always add
// server_no_context_takeover), and for the client's direction, unless the
// offer gives it up, answers client_max_window_bits (at most bits) to an
// offer that has it, and client_no_context_takeover to one that does not
// when bits is less than a full window.
func dconfCheckTakeover(bits int) func(t *testing.T, offer dconfExt, ag dconfAgreed) {
	return func(t *testing.T, offer dconfExt, ag dconfAgreed) {
		switch {
		case offer.has("server_no_context_takeover") && !ag.serverNoCtx:
			t.Errorf("response %+v lacks the server_no_context_takeover the offer asked for", ag.resp)
		case !offer.has("server_no_context_takeover") && !offer.has("server_max_window_bits") && ag.serverNoCtx:
			t.Errorf("response %+v: server_no_context_takeover for an offer that lets the server keep a full window", ag.resp)
		}
		switch {
		case offer.has("client_no_context_takeover"):
		case !offer.has("client_max_window_bits"):
			if !ag.clientNoCtx && bits < 15 {
				t.Errorf("response %+v lacks client_no_context_takeover for an offer without client_max_window_bits", ag.resp)
			}
		case !ag.resp.has("client_max_window_bits"):
			t.Errorf("response %+v lacks client_max_window_bits", ag.resp)
		case ag.clientBits > bits:
			t.Errorf("response %+v: client_max_window_bits %d, more than the server's %d", ag.resp, ag.clientBits, bits)
		}
	}
}

// --- negotiation refusals ----------------------------------------------------

// TestDeflateConformanceRefusals checks that offers RFC 7692 section 7
// says a server must decline (unknown or repeated parameters, window sizes
// out of 8-15, with leading zeroes or not numbers, a window size for the
// server without a value, a value on a no_context_takeover parameter), and
// an unknown extension, get a 101 without Sec-WebSocket-Extensions, after
// which messages are echoed uncompressed.
func TestDeflateConformanceRefusals(t *testing.T) {
	refused := [][]string{
		{"permessage-deflate; foo"},
		{"permessage-deflate; foo=bar"},
		{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"},
		{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"},
		{"permessage-deflate; server_max_window_bits=10; server_max_window_bits=10"},
		{"permessage-deflate; client_max_window_bits=10; client_max_window_bits"},
		{"permessage-deflate; client_max_window_bits=7"},
		{"permessage-deflate; client_max_window_bits=16"},
		{"permessage-deflate; client_max_window_bits=abc"},
		{"permessage-deflate; client_max_window_bits=010"},
		{`permessage-deflate; client_max_window_bits="7"`},
		{"permessage-deflate; server_max_window_bits"},
		{"permessage-deflate; server_max_window_bits=7"},
		{"permessage-deflate; server_max_window_bits=16"},
		{"permessage-deflate; server_max_window_bits=+9"},
		{"permessage-deflate; server_no_context_takeover=1"},
		{"permessage-deflate; client_no_context_takeover=true"},
		{"x-webkit-deflate-frame"},
		{"permessage-deflate; foo, permessage-deflate; client_max_window_bits=16"},
		{"permessage-deflate; server_max_window_bits=0", "x-unknown-extension"},
	}
	confEach(t, Config{Deflate: &Deflate{Threshold: 1}}, func(t *testing.T, addr confAddr) {
		for _, lines := range refused {
			t.Run(strings.Join(lines, " | "), func(t *testing.T) {
				c := dconfOpen(t, addr, "", false, lines...)
				c.echo(cfText, dconfJSON(1024, 1), false, 0)
				c.cc.closeNormally()
			})
		}
	})
}

// TestDeflateConformanceDisabled checks a server without Config.Deflate:
// every offer is declined, messages are echoed uncompressed, and a frame
// with RSV1 fails the connection with 1002.
func TestDeflateConformanceDisabled(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		for _, lines := range [][]string{
			{"permessage-deflate"},
			{"permessage-deflate; client_max_window_bits", "permessage-deflate"},
			{"permessage-deflate; server_no_context_takeover; client_no_context_takeover, x-webkit-deflate-frame"},
		} {
			t.Run(strings.Join(lines, " | "), func(t *testing.T) {
				c := dconfOpen(t, addr, "", false, lines...)
				c.echo(cfText, dconfJSON(1024, 2), false, 0)
				c.cc.closeNormally()
			})
		}
		t.Run("RSV1 after a declined offer", func(t *testing.T) {
			c := dconfOpen(t, addr, "", false, "permessage-deflate")
			z := newDconfCodec(dconfAgreed{on: true, serverBits: 15, clientBits: 15, clientNoCtx: true}, flate.BestSpeed)
			_ = c.cc.send(confFrame(cfFin|cfRsv1|cfText, z.compress([]byte("Hello, world!"))), 0)
			c.expectClose(1002)
		})
	})
}

// --- protocol errors ---------------------------------------------------------

// dconfBomb is a compressed message of 16 MiB of zeros, about 20 KiB long
// (DEFLATE inflates at most about 1000 times).
var dconfBomb = sync.OnceValue(func() []byte {
	z := newDconfCodec(dconfAgreed{on: true, serverBits: 15, clientBits: 15, clientNoCtx: true}, flate.BestSpeed)
	return z.compress(make([]byte, 16<<20))
})

// TestDeflateConformanceErrors checks the failures the extension adds:
// RSV1 on a control frame or a continuation, RSV2 beside RSV1, and RSV1
// from a client that did not offer the extension fail with 1002; a
// compressed payload that is not DEFLATE, or that refers to bytes before
// the start of the message, fails with 1007 (or 1002); a small message that
// inflates to 16 MiB, past the 1 MiB limit, fails with 1009; and compressed
// text that inflates to invalid UTF-8 fails with 1007.
func TestDeflateConformanceErrors(t *testing.T) {
	cases := []struct {
		name  string
		send  func(c *dconfConn) []byte
		codes []ws.StatusCode
	}{
		{
			name:  "RSV1 on a ping",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfPing, "Hello") },
			codes: confCodes(1002),
		},
		{
			name:  "RSV1 on a pong",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfPong, "Hello") },
			codes: confCodes(1002),
		},
		{
			name:  "RSV1 on a close",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfClose, confClosePayload(1000, "")) },
			codes: confCodes(1002),
		},
		{
			name: "RSV1 on the continuation of a compressed message",
			send: func(c *dconfConn) []byte {
				w := c.z.compress(dconfJSON(2048, 3))
				return confCat(confFrame(cfRsv1|cfText, w[:len(w)/2]), confFrame(cfFin|cfRsv1|cfCont, w[len(w)/2:]))
			},
			codes: confCodes(1002),
		},
		{
			name: "RSV1 on the continuation of an uncompressed message",
			send: func(c *dconfConn) []byte {
				return confCat(confFrame(cfText, "Hello, "), confFrame(cfFin|cfRsv1|cfCont, "world"))
			},
			codes: confCodes(1002),
		},
		{
			name: "RSV1 and RSV2 on a compressed message",
			send: func(c *dconfConn) []byte {
				return confFrame(cfFin|cfRsv1|cfRsv2|cfText, c.z.compress([]byte("Hello, world!")))
			},
			codes: confCodes(1002),
		},
		{
			name:  "compressed payload with a reserved block type",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfBinary, "\x06\x00\x00\x00\x00\x00") },
			codes: confCodes(1007, 1002),
		},
		{
			name:  "compressed payload with a stored block whose NLEN is not the complement of LEN",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfBinary, "\x00\x05\x00\x05\x00hello") },
			codes: confCodes(1007, 1002),
		},
		{
			name:  "compressed payload referring to bytes before the message",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfBinary, dconfBackBeforeStart()) },
			codes: confCodes(1007, 1002),
		},
		{
			name: "compressed text that inflates to invalid UTF-8",
			send: func(c *dconfConn) []byte {
				return confFrame(cfFin|cfRsv1|cfText, c.z.compress([]byte("Hello, \xed\xa0\x80 world, "+strings.Repeat("again ", 50))))
			},
			codes: confCodes(1007),
		},
		{
			name: "compressed text in fragments that inflates to invalid UTF-8",
			send: func(c *dconfConn) []byte {
				p := append(dconfProse(4000, 5), 0xc0, 0xaf)
				return dconfFrames(cfRsv1|cfText, c.z.compress(p), 256)
			},
			codes: confCodes(1007),
		},
		{
			name:  "20 KiB that inflate to 16 MiB, past the 1 MiB limit",
			send:  func(*dconfConn) []byte { return confFrame(cfFin|cfRsv1|cfBinary, dconfBomb()) },
			codes: confCodes(1009),
		},
	}
	confEach(t, Config{MaxMessageSize: 1 << 20, Deflate: &Deflate{Threshold: 1}}, func(t *testing.T, addr confAddr) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := dconfOpen(t, addr, "permessage-deflate", false, "permessage-deflate")
				c.echo(cfText, []byte("Hello, world!"), true, 0)
				// The server may fail the connection before all is sent.
				_ = c.cc.send(tc.send(c), 0)
				c.expectClose(tc.codes...)
			})
		}
		t.Run("RSV1 from a client that did not offer", func(t *testing.T) {
			c := dconfOpen(t, addr, "", false)
			z := newDconfCodec(dconfAgreed{on: true, serverBits: 15, clientBits: 15, clientNoCtx: true}, flate.BestSpeed)
			_ = c.cc.send(confFrame(cfFin|cfRsv1|cfText, z.compress([]byte("Hello, world!"))), 0)
			c.expectClose(1002)
		})
	})
}

// TestDeflateConformanceFraming checks compressed messages the server must
// take: an empty one, one in 1-byte frames, one with a ping between its
// frames (answered at once), and one that inflates to exactly the message
// size limit; one byte more fails with 1009, in one frame or in fragments.
func TestDeflateConformanceFraming(t *testing.T) {
	const limit = 64 << 10
	confEach(t, Config{MaxMessageSize: limit, Deflate: &Deflate{Threshold: 1}}, func(t *testing.T, addr confAddr) {
		open := func(t *testing.T) *dconfConn {
			return dconfOpen(t, addr, "permessage-deflate", false, "permessage-deflate")
		}
		t.Run("empty message", func(t *testing.T) {
			c := open(t)
			c.echo(cfText, []byte{}, true, 0)
			c.echo(cfBinary, []byte{}, true, 0)
			c.cc.closeNormally()
		})
		t.Run("1-byte frames", func(t *testing.T) {
			c := open(t)
			c.echo(cfText, dconfProse(300, 6), true, 1)
			c.cc.closeNormally()
		})
		t.Run("ping between the frames of a compressed message", func(t *testing.T) {
			c := open(t)
			p := dconfHTML(2000, 7)
			w := c.z.compress(p)
			c.cc.mustSend(confCat(
				confFrame(cfRsv1|cfText, w[:len(w)/2]),
				confFrame(cfFin|cfPing, "ping"),
			), 0)
			if m, err := c.next(); err != nil || m.op != ws.OpPong || string(m.payload) != "ping" {
				t.Fatalf("got %v (%v), want a pong with payload %q", m.op, err, "ping")
			}
			c.cc.mustSend(confFrame(cfFin|cfCont, w[len(w)/2:]), 0)
			c.expect(cfText, p)
			c.cc.closeNormally()
		})
		t.Run("exactly the limit", func(t *testing.T) {
			c := open(t)
			c.echo(cfBinary, dconfFar(limit, 8), true, 0)
			c.echo(cfText, dconfJSON(limit, 8), true, 4096)
			c.cc.closeNormally()
		})
		t.Run("one byte past the limit", func(t *testing.T) {
			c := open(t)
			_ = c.cc.send(c.frames(cfBinary, dconfFar(limit+1, 9), true, 0), 0)
			c.expectClose(1009)
		})
		t.Run("one byte past the limit in fragments", func(t *testing.T) {
			c := open(t)
			_ = c.cc.send(c.frames(cfText, dconfJSON(limit+1, 9), true, 1024), 0)
			c.expectClose(1009)
		})
	})
}

// --- a DEFLATE block walker (RFC 1951) ---------------------------------------

// dconfWalk is what dconfWalkDeflate found in a DEFLATE stream.
type dconfWalk struct {
	out     int    // bytes the stream inflates to
	maxDist int    // the farthest back-reference
	blocks  [3]int // blocks by type: stored, fixed Huffman, dynamic Huffman
}

// dconfBitReader reads bits least significant first (RFC 1951 section 3.1.1).
type dconfBitReader struct {
	p   []byte
	pos int  // in bits
	eof bool // a read went past the end
}

func (b *dconfBitReader) bits(n int) int {
	v := 0
	for i := range n {
		if b.pos >= 8*len(b.p) {
			b.eof = true
			return 0
		}
		v |= int(b.p[b.pos>>3]>>(b.pos&7)&1) << i
		b.pos++
	}
	return v
}

// dconfHuffman is a canonical Huffman code (RFC 1951 section 3.2.2): how
// many codes there are of each length, and the symbols in code order.
type dconfHuffman struct {
	count  [16]int
	symbol []int
}

func dconfNewHuffman(lengths []int) (*dconfHuffman, error) {
	h := &dconfHuffman{}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	left := 1
	for l := 1; l <= 15; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, errors.New("over-subscribed Huffman code")
		}
	}
	for l := 1; l <= 15; l++ {
		for sym, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, sym)
			}
		}
	}
	return h, nil
}

// decode reads one symbol of h; codes are packed most significant bit
// first. It returns -1 for a code h does not have.
func (b *dconfBitReader) decode(h *dconfHuffman) int {
	code, first, index := 0, 0, 0
	for l := 1; l <= 15; l++ {
		code |= b.bits(1)
		n := h.count[l]
		if code-first < n {
			return h.symbol[index+code-first]
		}
		index += n
		first = (first + n) << 1
		code <<= 1
	}
	return -1
}

// The base lengths and distances of length codes 257-285 and distance codes
// 0-29, and their extra bits (RFC 1951 section 3.2.5).
var dconfLenBase, dconfLenExtra, dconfDistBase, dconfDistExtra = func() (lb, le, db, de []int) {
	lb, le = make([]int, 29), make([]int, 29)
	lb[0] = 3
	for i := range 28 {
		if i >= 8 {
			le[i] = (i - 4) / 4
		}
		if i > 0 {
			lb[i] = lb[i-1] + 1<<le[i-1]
		}
	}
	lb[28] = 258
	db, de = make([]int, 30), make([]int, 30)
	db[0] = 1
	for i := range 30 {
		if i >= 4 {
			de[i] = (i - 2) / 2
		}
		if i > 0 {
			db[i] = db[i-1] + 1<<de[i-1]
		}
	}
	return lb, le, db, de
}()

// dconfFixed are the codes of a fixed Huffman block (RFC 1951 section 3.2.6).
var dconfFixedLit, dconfFixedDist = func() (*dconfHuffman, *dconfHuffman) {
	lit := make([]int, 288)
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	dist := make([]int, 30)
	for i := range dist {
		dist[i] = 5
	}
	l, _ := dconfNewHuffman(lit)
	d, _ := dconfNewHuffman(dist)
	return l, d
}()

// dconfWalkDeflate walks the blocks of DEFLATE stream p, up to a final block
// or to the end of p after a stored block, counting the bytes it inflates
// to and the farthest distance any back-reference reaches, without
// producing them.
func dconfWalkDeflate(p []byte) (dconfWalk, error) {
	var w dconfWalk
	b := &dconfBitReader{p: p}
	for {
		final := b.bits(1)
		typ := b.bits(2)
		if b.eof {
			return w, errors.New("DEFLATE stream ends inside a block header")
		}
		switch typ {
		case 0:
			i := (b.pos + 7) / 8
			if i+4 > len(p) {
				return w, errors.New("DEFLATE stream ends inside a stored block header")
			}
			n := int(binary.LittleEndian.Uint16(p[i:]))
			if nn := int(binary.LittleEndian.Uint16(p[i+2:])); n != ^nn&0xffff {
				return w, fmt.Errorf("stored block LEN %#04x, NLEN %#04x", n, nn)
			}
			if i+4+n > len(p) {
				return w, errors.New("DEFLATE stream ends inside a stored block")
			}
			b.pos = 8 * (i + 4 + n)
			w.out += n
		case 1:
			if err := b.walkCodes(&w, dconfFixedLit, dconfFixedDist); err != nil {
				return w, err
			}
		case 2:
			lit, dist, err := b.dynamicCodes()
			if err != nil {
				return w, err
			}
			if err := b.walkCodes(&w, lit, dist); err != nil {
				return w, err
			}
		default:
			return w, errors.New("DEFLATE block of reserved type 3")
		}
		w.blocks[typ]++
		if final == 1 || typ == 0 && b.pos == 8*len(p) {
			return w, nil
		}
	}
}

// dynamicCodes reads the code lengths of a dynamic Huffman block (RFC 1951
// section 3.2.7).
func (b *dconfBitReader) dynamicCodes() (lit, dist *dconfHuffman, err error) {
	hlit, hdist, hclen := b.bits(5)+257, b.bits(5)+1, b.bits(4)+4
	if hlit > 286 || hdist > 30 {
		return nil, nil, fmt.Errorf("dynamic block with %d literal/length and %d distance codes", hlit, hdist)
	}
	var cl [19]int
	for _, sym := range []int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}[:hclen] {
		cl[sym] = b.bits(3)
	}
	clh, err := dconfNewHuffman(cl[:])
	if err != nil {
		return nil, nil, err
	}
	lengths := make([]int, 0, hlit+hdist)
	for len(lengths) < hlit+hdist {
		if b.eof {
			return nil, nil, errors.New("DEFLATE stream ends inside code lengths")
		}
		sym, rep, l := b.decode(clh), 0, 0
		switch {
		case sym < 0:
			return nil, nil, errors.New("bad code length code")
		case sym < 16:
			rep, l = 1, sym
		case sym == 16:
			if len(lengths) == 0 {
				return nil, nil, errors.New("code length repeat with nothing to repeat")
			}
			rep, l = 3+b.bits(2), lengths[len(lengths)-1]
		case sym == 17:
			rep = 3 + b.bits(3)
		default:
			rep = 11 + b.bits(7)
		}
		if len(lengths)+rep > hlit+hdist {
			return nil, nil, errors.New("code lengths overrun")
		}
		for range rep {
			lengths = append(lengths, l)
		}
	}
	if lengths[256] == 0 {
		return nil, nil, errors.New("dynamic block without an end-of-block code")
	}
	if lit, err = dconfNewHuffman(lengths[:hlit]); err != nil {
		return nil, nil, err
	}
	if dist, err = dconfNewHuffman(lengths[hlit:]); err != nil {
		return nil, nil, err
	}
	return lit, dist, nil
}

// walkCodes walks the literals and length/distance pairs of a Huffman
// block up to its end-of-block code.
func (b *dconfBitReader) walkCodes(w *dconfWalk, lit, dist *dconfHuffman) error {
	for {
		sym := b.decode(lit)
		switch {
		case b.eof:
			return errors.New("DEFLATE stream ends inside a Huffman block")
		case sym < 0:
			return errors.New("bad literal/length code")
		case sym < 256:
			w.out++
		case sym == 256:
			return nil
		case sym > 285:
			return fmt.Errorf("literal/length code %d", sym)
		default:
			sym -= 257
			length := dconfLenBase[sym] + b.bits(dconfLenExtra[sym])
			d := b.decode(dist)
			if d < 0 || d >= 30 {
				return errors.New("bad distance code")
			}
			w.maxDist = max(w.maxDist, dconfDistBase[d]+b.bits(dconfDistExtra[d]))
			w.out += length
		}
	}
}

// dconfBitWriter writes bits least significant first, for hand-made DEFLATE.
type dconfBitWriter struct {
	p []byte
	n int // bits written
}

func (b *dconfBitWriter) bits(v, n int) {
	for i := range n {
		if b.n%8 == 0 {
			b.p = append(b.p, 0)
		}
		b.p[len(b.p)-1] |= byte(v>>i&1) << (b.n % 8)
		b.n++
	}
}

// code writes a Huffman code of n bits, most significant bit first.
func (b *dconfBitWriter) code(v, n int) {
	for i := n - 1; i >= 0; i-- {
		b.bits(v>>i&1, 1)
	}
}

// dconfFixedBlock is a compressed message as RFC 7692 sends it: a fixed
// Huffman block of literal 'a' (when lit is set), a back-reference of 3
// bytes at distance 1 and the end of block, then the header of the empty
// stored block of a sync flush, whose 00 00 ff ff is left off.
func dconfFixedBlock(lit bool) []byte {
	var b dconfBitWriter
	b.bits(0, 1) // not final
	b.bits(1, 2) // fixed Huffman
	if lit {
		b.code(0x30+'a', 8) // literals 0-143 are 00110000 up
	}
	b.code(257-256, 7) // length 3; codes 256-279 are 0000000 up
	b.code(0, 5)       // distance 1
	b.code(0, 7)       // end of block
	b.bits(0, 3)       // stored block, not final
	return b.p
}

// dconfBackBeforeStart is a compressed message whose first symbol refers to
// the byte before it, which with no context taken over does not exist.
func dconfBackBeforeStart() []byte { return dconfFixedBlock(false) }

// TestDeflateConformanceWalker checks dconfWalkDeflate against compress/flate: for
// each level, the walk of the output counts the input's length, finds no
// back-reference where the compressor makes none and the 3000-byte
// distance of dconfFar's repeats where it searches, and the output has stored
// and dynamic blocks. A hand-made fixed block walks to 4 bytes at distance
// 1, and a reserved block type or a bad stored block fails.
func TestDeflateConformanceWalker(t *testing.T) {
	inputs := map[string][]byte{
		"empty":         nil,
		"short text":    []byte("hello, hello, hello world"),
		"json":          dconfJSON(10000, 1),
		"prose":         dconfProse(10000, 1),
		"repeat far":    dconfFar(2*dconfFarUnit, 1),
		"random":        dconfRandom(10000, 2),
		"long repeated": confPattern(70000, true),
	}
	var blocks [3]int
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression, flate.HuffmanOnly} {
		for name, in := range inputs {
			var buf bytes.Buffer
			fw, _ := flate.NewWriter(&buf, level)
			_, _ = fw.Write(in)
			_ = fw.Flush()
			w, err := dconfWalkDeflate(buf.Bytes())
			if err != nil {
				t.Fatalf("level %d, %s: %v", level, name, err)
			}
			if w.out != len(in) {
				t.Errorf("level %d, %s: walk counts %d bytes, want %d", level, name, w.out, len(in))
			}
			switch {
			case level == flate.NoCompression || level == flate.HuffmanOnly:
				if w.maxDist != 0 {
					t.Errorf("level %d, %s: back-reference %d bytes back where there are none", level, name, w.maxDist)
				}
			case name == "repeat far" && w.maxDist != dconfFarUnit:
				t.Errorf("level %d, %s: farthest back-reference %d, want %d", level, name, w.maxDist, dconfFarUnit)
			case w.maxDist > 1<<15:
				t.Errorf("level %d, %s: back-reference %d bytes back", level, name, w.maxDist)
			}
			for i, n := range w.blocks {
				blocks[i] += n
			}
			// A final block ends the walk where it ends.
			buf.Reset()
			fw.Reset(&buf)
			_, _ = fw.Write(in)
			_ = fw.Close()
			if w2, err := dconfWalkDeflate(append(buf.Bytes(), 0xff, 0xff)); err != nil || w2.out != len(in) {
				t.Errorf("level %d, %s, closed: walk counts %d bytes (%v), want %d", level, name, w2.out, err, len(in))
			}
		}
	}
	if blocks[0] == 0 || blocks[2] == 0 {
		t.Errorf("compress/flate's output had %d stored and %d dynamic blocks; the walk should see both", blocks[0], blocks[2])
	}
	hand := append(dconfFixedBlock(true), dconfTail...)
	w, err := dconfWalkDeflate(hand)
	if err != nil || w.out != 4 || w.maxDist != 1 || w.blocks[1] != 1 {
		t.Errorf("hand-made fixed block: walk %+v, %v; want 4 bytes, distance 1, one fixed block", w, err)
	}
	if out, err := io.ReadAll(flate.NewReader(bytes.NewReader(append(hand, 0x01, 0x00, 0x00, 0xff, 0xff)))); err != nil || string(out) != "aaaa" {
		t.Errorf("hand-made fixed block inflates to %q (%v), want aaaa", out, err)
	}
	if _, err := dconfWalkDeflate([]byte{0x06, 0, 0, 0}); err == nil {
		t.Error("walk of a reserved block type succeeded")
	}
	if _, err := dconfWalkDeflate([]byte("\x00\x05\x00\x05\x00hello")); err == nil {
		t.Error("walk of a stored block with a bad NLEN succeeded")
	}
}

// TestDeflateConformanceClientHalf checks the client half of the extension against
// itself: with context takeover, messages compressed one after another
// inflate in order with the kept window, and a repeated message refers back
// into the one before; a window smaller than the compressor's is caught by
// the walk; with a small window agreed for the client's direction, the
// compressor makes no back-references.
func TestDeflateConformanceClientHalf(t *testing.T) {
	ag := dconfAgreed{on: true, serverBits: 15, clientBits: 15}
	z := newDconfCodec(ag, flate.DefaultCompression)
	msgs := [][]byte{dconfJSON(5000, 1), dconfJSON(5000, 1), dconfProse(300, 2), dconfFar(9000, 3), dconfProse(300, 2)}
	for i, m := range msgs {
		wire := z.compress(m)
		out, walk, err := z.inflate(wire)
		if err != nil || !bytes.Equal(out, m) {
			t.Fatalf("message %d: inflated %d bytes (%v), want %d", i, len(out), err, len(m))
		}
		if i == 1 && (walk.maxDist < len(m) || len(wire) > len(m)/10) {
			t.Errorf("repeated message: %d bytes compressed, farthest back-reference %d; want it to refer to the one before", len(wire), walk.maxDist)
		}
	}

	small := newDconfCodec(dconfAgreed{on: true, serverBits: 10, clientBits: 15}, flate.BestSpeed)
	if _, _, err := small.inflate(small.compress(dconfFar(9000, 4))); err == nil {
		t.Error("a back-reference 3000 bytes back passed a 1 KiB window")
	}

	for _, noCtx := range []bool{false, true} {
		tight := newDconfCodec(dconfAgreed{on: true, serverBits: 15, clientBits: 9, clientNoCtx: noCtx}, flate.BestSpeed)
		for _, m := range [][]byte{dconfFar(4000, 5), dconfFar(4000, 5)} {
			w, err := dconfWalkDeflate(append(tight.compress(m), dconfTail...))
			if err != nil || w.maxDist > 1<<9 || w.out != len(m) {
				t.Errorf("client window of 512 bytes, no context takeover %v: walk %+v, %v", noCtx, w, err)
			}
		}
	}
}
