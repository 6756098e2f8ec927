package engine

// RFC 6455 conformance of the /echo route, case group by case group of the
// Autobahn TestSuite (see CONFORMANCE.md), without compression. The client
// here is written from the RFC, not from the code under test: it sends a
// hand-written upgrade request and hand-masked frames, and reads the
// server's frames with gobwas/ws. Every read and write has a deadline, so a
// server that does not answer fails the test instead of hanging it.

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
)

// confWait bounds every read and write of the test client.
const confWait = 10 * time.Second

// First-byte bits of a hand-built frame, as on the wire.
const (
	cfFin  byte = 0x80
	cfRsv1 byte = 0x40
	cfRsv2 byte = 0x20
	cfRsv3 byte = 0x10

	cfCont   byte = 0x0
	cfText   byte = 0x1
	cfBinary byte = 0x2
	cfClose  byte = 0x8
	cfPing   byte = 0x9
	cfPong   byte = 0xa
)

// confNoStatus stands for a close frame with an empty payload, which RFC 6455
// section 7.1.5 reports as 1005 ("no status code present").
const confNoStatus ws.StatusCode = 1005

// confBigLimit is the MaxMessageSize of the servers that take the 16 MiB
// messages of group 9.
const confBigLimit = 16<<20 + 4<<10

// --- frames, built by hand -------------------------------------------------

// confAppendHeader appends a frame header with first byte b0, a payload length
// of n in its shortest form and, when key is not nil, the mask bit and key.
func confAppendHeader(dst []byte, b0 byte, n uint64, key *[4]byte) []byte {
	var maskBit byte
	if key != nil {
		maskBit = 0x80
	}
	dst = append(dst, b0)
	switch {
	case n <= 125:
		dst = append(dst, maskBit|byte(n))
	case n <= 0xffff:
		dst = append(dst, maskBit|126, byte(n>>8), byte(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, maskBit|127), n)
	}
	if key != nil {
		dst = append(dst, key[:]...)
	}
	return dst
}

// confKey returns a random masking key.
func confKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

// confMask XORs p with key in place (RFC 6455 section 5.3).
func confMask(p []byte, key [4]byte) {
	k := binary.LittleEndian.Uint32(key[:])
	k8 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i%4]
	}
}

// confBuildFrame builds one client frame with first byte b0 (FIN, RSV and
// opcode bits), masked with a random key when masked is set.
func confBuildFrame(b0 byte, payload []byte, masked bool) []byte {
	var key *[4]byte
	if masked {
		k := confKey()
		key = &k
	}
	b := confAppendHeader(make([]byte, 0, 14+len(payload)), b0, uint64(len(payload)), key)
	start := len(b)
	b = append(b, payload...)
	if key != nil {
		confMask(b[start:], *key)
	}
	return b
}

// confFrame builds one masked client frame with first byte b0.
func confFrame[P string | []byte](b0 byte, payload P) []byte {
	return confBuildFrame(b0, []byte(payload), true)
}

// confHeaderOnly builds only the header of a masked frame declaring n bytes of
// payload, for tests that never send the payload.
func confHeaderOnly(b0 byte, n uint64) []byte {
	k := confKey()
	return confAppendHeader(nil, b0, n, &k)
}

// confFragmentList splits p into masked frames of at most size bytes: the first
// has opcode op, the others are continuations, and the last has FIN set.
func confFragmentList(op byte, p []byte, size int) [][]byte {
	if len(p) == 0 {
		return [][]byte{confFrame(cfFin|op, p)}
	}
	var frames [][]byte
	for i := 0; i < len(p); i += size {
		b0 := cfCont
		if i == 0 {
			b0 = op
		}
		end := min(i+size, len(p))
		if end == len(p) {
			b0 |= cfFin
		}
		frames = append(frames, confFrame(b0, p[i:end]))
	}
	return frames
}

// confFragments is confFragmentList joined into one byte string.
func confFragments(op byte, p []byte, size int) []byte {
	return confCat(confFragmentList(op, p, size)...)
}

func confCat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// confClosePayload is the payload of a close frame: a status code and a reason.
func confClosePayload(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// confPattern returns n bytes of text (the unit Autobahn uses) or of binary.
func confPattern(n int, binaryData bool) []byte {
	unit := []byte("BAsd7&jh23")
	if binaryData {
		unit = make([]byte, 256)
		for i := range unit {
			unit[i] = byte(255 - i)
		}
	}
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

// --- messages, as read from the server -------------------------------------

// confMessage is a complete data message or a control frame from the server.
type confMessage struct {
	op      ws.OpCode
	payload []byte
}

func confMsg[P string | []byte](op ws.OpCode, payload P) confMessage {
	return confMessage{op: op, payload: []byte(payload)}
}

func (m confMessage) String() string {
	if m.op == ws.OpClose {
		code, reason := confCloseFields(m.payload)
		return fmt.Sprintf("close frame (code %d, reason %q)", code, reason)
	}
	if len(m.payload) > 64 {
		return fmt.Sprintf("opcode %d, %d bytes", m.op, len(m.payload))
	}
	return fmt.Sprintf("opcode %d, payload %q", m.op, m.payload)
}

// confCloseFields splits a close payload; an empty one gives confNoStatus.
func confCloseFields(p []byte) (ws.StatusCode, string) {
	if len(p) < 2 {
		return confNoStatus, string(p)
	}
	return ws.StatusCode(binary.BigEndian.Uint16(p)), string(p[2:])
}

// --- the client ------------------------------------------------------------

// confClient is one WebSocket client connection to the server's /echo.
type confClient struct {
	t    testing.TB
	conn net.Conn
	br   *bufio.Reader
	// deflate: permessage-deflate was agreed, so a data message's first
	// frame may have RSV1.
	deflate bool
}

// confAddr is where a conformance client connects: a host:port, and the
// TLS configuration of a wss:// client (nil for ws://).
type confAddr struct {
	hostport string
	tls      *tls.Config
}

// confEach runs test against a server started with cfg, once over ws://
// and once over wss://: the codec, the close handshake and the limits must
// behave the same over both.
func confEach(t *testing.T, cfg Config, test func(t *testing.T, addr confAddr)) {
	serveEach(t, cfg, func(t *testing.T, _ *Server, addr confAddr) { test(t, addr) })
}

// serveEach runs test against a server started with cfg, once over ws://
// and once over wss://.
func serveEach(t *testing.T, cfg Config, test func(t *testing.T, srv *Server, addr confAddr)) {
	t.Run("ws", func(t *testing.T) {
		srv, addr := startServer(t, cfg)
		test(t, srv, confAddr{hostport: addr})
	})
	t.Run("wss", func(t *testing.T) {
		srv, addr, ccfg := startTLSServer(t, cfg)
		test(t, srv, confAddr{hostport: addr, tls: ccfg})
	})
}

// confDial opens a TCP connection to addr and runs the opening handshake
// (RFC 6455 section 4.1) for /echo, checking the server's 101 response.
func confDial(t testing.TB, addr confAddr) *confClient {
	t.Helper()
	return confDialBuffer(t, addr, 0)
}

// confDialBuffer is confDial with the socket's receive buffer fixed at
// rcvbuf bytes when rcvbuf > 0. It is set before the connection is made, so
// the window TCP advertises fits it.
func confDialBuffer(t testing.TB, addr confAddr, rcvbuf int) *confClient {
	t.Helper()
	c, resp := confUpgrade(t, addr, rcvbuf)
	if ext := resp.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("server negotiated extensions %q that the client did not offer", ext)
	}
	return c
}

// confUpgrade opens a connection to addr as confDialBuffer does, with a
// Sec-WebSocket-Extensions line for each of offers, and returns the 101's
// header beside the client.
func confUpgrade(t testing.TB, addr confAddr, rcvbuf int, offers ...string) (*confClient, http.Header) {
	t.Helper()
	conn := confConnect(t, addr, rcvbuf)
	c := &confClient{t: t, conn: conn, br: bufio.NewReaderSize(conn, 64<<10)}

	var nonce [16]byte
	binary.LittleEndian.PutUint64(nonce[:], rand.Uint64())
	binary.LittleEndian.PutUint64(nonce[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(nonce[:])
	req := "GET /echo HTTP/1.1\r\n" +
		"Host: " + addr.hostport + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n"
	for _, o := range offers {
		req += "Sec-WebSocket-Extensions: " + o + "\r\n"
	}
	if err := c.send([]byte(req+"\r\n"), 0); err != nil {
		t.Fatalf("write upgrade request: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(confWait))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade response status %d to offers %q, want 101", resp.StatusCode, offers)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Fatalf("Upgrade header %q, want websocket", got)
	}
	if !confHasToken(resp.Header, "Connection", "upgrade") {
		t.Fatalf("Connection header %q lacks the upgrade token", resp.Header.Values("Connection"))
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), confAccept(key); got != want {
		t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	return c, resp.Header
}

// confConnect opens a TCP connection to addr, with the TLS handshake done
// for wss://, and the socket's receive buffer fixed at rcvbuf bytes when
// rcvbuf > 0. It is closed when the test ends.
func confConnect(t testing.TB, addr confAddr, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: confWait}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var err error
			if cerr := rc.Control(func(fd uintptr) {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); cerr != nil {
				return cerr
			}
			return err
		}
	}
	var conn net.Conn
	conn, err := d.Dial("tcp", addr.hostport)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if addr.tls != nil {
		tc := tls.Client(conn, addr.tls)
		_ = tc.SetDeadline(time.Now().Add(confWait))
		if err := tc.Handshake(); err != nil {
			t.Fatalf("TLS handshake: %v", err)
		}
		_ = tc.SetDeadline(time.Time{})
		conn = tc
	}
	return conn
}

// confAccept is the Sec-WebSocket-Accept value for key (RFC 6455 section 4.2.2).
func confAccept(key string) string {
	sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// confHasToken reports whether header name of h lists token.
func confHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// send writes b, in writes of at most chop bytes when chop > 0.
func (c *confClient) send(b []byte, chop int) error {
	_ = c.conn.SetWriteDeadline(time.Now().Add(confWait))
	if chop <= 0 {
		chop = max(len(b), 1)
	}
	for len(b) > 0 {
		n := min(chop, len(b))
		if _, err := c.conn.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}

// mustSend is send for writes the server must take.
func (c *confClient) mustSend(b []byte, chop int) {
	c.t.Helper()
	if err := c.send(b, chop); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// readFrame reads one server frame, which RFC 6455 requires to be unmasked,
// with no RSV bit but RSV1 on the first frame of a data message with
// permessage-deflate (RFC 7692 section 6), and a control frame to be whole
// and at most 125 bytes.
func (c *confClient) readFrame() (ws.Header, []byte, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(confWait))
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		return h, nil, err
	}
	switch {
	case h.Masked:
		return h, nil, errors.New("server frame is masked")
	case h.Rsv2() || h.Rsv3() || h.Rsv1() && !c.deflate:
		return h, nil, fmt.Errorf("server frame has RSV bits %03b", h.Rsv)
	case h.Rsv1() && (h.OpCode.IsControl() || h.OpCode == ws.OpContinuation):
		return h, nil, fmt.Errorf("server frame with opcode %d has RSV1 (RFC 7692 section 6)", h.OpCode)
	case h.OpCode.IsReserved():
		return h, nil, fmt.Errorf("server frame has reserved opcode %d", h.OpCode)
	case h.OpCode.IsControl() && (!h.Fin || h.Length > 125):
		return h, nil, fmt.Errorf("server control frame not whole or over 125 bytes (%d)", h.Length)
	case h.Length > 2*confBigLimit:
		return h, nil, fmt.Errorf("server frame declares %d bytes", h.Length)
	}
	p := make([]byte, h.Length)
	if n, err := io.ReadFull(c.br, p); err != nil {
		return h, nil, fmt.Errorf("got %d of the %d payload bytes of an opcode %d frame: %w", n, h.Length, h.OpCode, err)
	}
	return h, p, nil
}

// next reads the next message (reassembled if the server fragmented it) or
// control frame.
func (c *confClient) next() (confMessage, error) {
	h, p, err := c.readFrame()
	if err != nil {
		return confMessage{}, err
	}
	if h.OpCode == ws.OpContinuation {
		return confMessage{}, errors.New("server sent a continuation with no message to continue")
	}
	m := confMessage{op: h.OpCode, payload: p}
	for !h.Fin {
		h, p, err = c.readFrame()
		if err != nil {
			return confMessage{}, err
		}
		if h.OpCode != ws.OpContinuation {
			// Legal for control frames, but this server never fragments.
			return confMessage{}, fmt.Errorf("server sent opcode %d inside a fragmented message", h.OpCode)
		}
		m.payload = append(m.payload, p...)
	}
	if m.op == ws.OpText && !utf8.Valid(m.payload) {
		return confMessage{}, errors.New("server sent invalid UTF-8 in a text message")
	}
	return m, nil
}

// expect reads the next message and checks it is want.
func (c *confClient) expect(want confMessage) {
	c.t.Helper()
	got, err := c.next()
	if err != nil {
		c.t.Fatalf("waiting for %v: %v", want, err)
	}
	if got.op != want.op || !bytes.Equal(got.payload, want.payload) {
		c.t.Fatalf("got %v, want %v%s", got, want, confFirstDiff(got.payload, want.payload))
	}
}

func confFirstDiff(got, want []byte) string {
	if len(got) <= 64 && len(want) <= 64 {
		return ""
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf(" (first difference at byte %d)", i)
		}
	}
	return fmt.Sprintf(" (lengths %d and %d)", len(got), len(want))
}

// expectClose reads frames until a close frame arrives and checks that its
// status code is one of want (confNoStatus: an empty payload); any other
// frame before it is an error. Then the server must close the TCP
// connection (RFC 6455 section 7.1.1: the server closes it first).
func (c *confClient) expectClose(want ...ws.StatusCode) {
	c.t.Helper()
	for {
		m, err := c.next()
		if err != nil {
			c.t.Fatalf("waiting for a close frame with code %v: %v", want, err)
		}
		if m.op != ws.OpClose {
			c.t.Errorf("got %v where a close frame with code %v was expected", m, want)
			continue
		}
		if len(m.payload) == 1 {
			c.t.Errorf("server close frame has a 1-byte payload")
		}
		code, reason := confCloseFields(m.payload)
		if !slices.Contains(want, code) {
			c.t.Errorf("server closed with code %d (reason %q), want %v", code, reason, want)
		}
		if !utf8.ValidString(reason) {
			c.t.Errorf("server close reason %q is not valid UTF-8", reason)
		}
		break
	}
	c.expectEOF()
}

// expectEOF checks that the server closes the TCP connection and sends
// nothing more. A reset counts as closed: the server may close with unread
// client bytes in its socket.
func (c *confClient) expectEOF() {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(confWait))
	var buf [256]byte
	n, err := c.br.Read(buf[:])
	switch {
	case n > 0:
		c.t.Errorf("server sent %d more bytes after its close frame: %q", n, buf[:n])
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	case confIsTimeout(err):
		c.t.Errorf("server did not close the TCP connection within %v of the close frame", confWait)
	default:
		c.t.Errorf("after the close frame: %v, want EOF", err)
	}
}

func confIsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// closeNormally runs the closing handshake from the client side: the server
// must echo code 1000 and close TCP.
func (c *confClient) closeNormally() {
	c.t.Helper()
	c.mustSend(confFrame(cfFin|cfClose, confClosePayload(1000, "")), 0)
	c.expectClose(1000)
}

// --- scripted exchanges ----------------------------------------------------

// confStep is one move of a confScript: send is written (in writes of chop
// bytes when chop > 0), then the frames of want must arrive, in order,
// before the next step's bytes are written.
type confStep struct {
	send []byte
	chop int
	want []confMessage
}

// confScript is one conformance case on a fresh connection.
type confScript struct {
	name  string
	steps []confStep
	// close lists the codes the server's close frame may carry after the
	// last step (confNoStatus: an empty payload); the server must then close
	// TCP. Empty: the server must stay open, and the client closes with 1000.
	close []ws.StatusCode
}

// confRunAll runs each script as a subtest named after it.
func confRunAll(t *testing.T, addr confAddr, scripts []confScript) {
	t.Helper()
	for _, s := range scripts {
		t.Run(s.name, func(t *testing.T) { confRun(t, addr, s) })
	}
}

// confRun runs one script on a new connection to addr.
func confRun(t *testing.T, addr confAddr, s confScript) {
	c := confDial(t, addr)
	for i, st := range s.steps {
		err := c.send(st.send, st.chop)
		if err != nil && len(s.close) == 0 {
			t.Fatalf("step %d: write: %v", i, err)
		}
		for _, w := range st.want {
			c.expect(w)
		}
		if err != nil {
			// The server failed the connection while bytes it did not
			// need were still being sent: expect its close frame.
			break
		}
	}
	if len(s.close) == 0 {
		c.closeNormally()
		return
	}
	c.expectClose(s.close...)
}

// confCodes lists the close codes a script accepts.
func confCodes(c ...ws.StatusCode) []ws.StatusCode { return c }

// --- 1.1 / 1.2 ---------------------------------------------------------------

// TestConformanceEcho covers groups 1.1 and 1.2: text and binary messages
// at each payload-length form boundary are echoed unchanged, also when the
// frame arrives in 997-byte chops.
func TestConformanceEcho(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		var scripts []confScript
		for _, op := range []byte{cfText, cfBinary} {
			kind := map[byte]string{cfText: "text", cfBinary: "binary"}[op]
			for _, n := range []int{0, 125, 126, 127, 128, 65535, 65536} {
				p := confPattern(n, op == cfBinary)
				scripts = append(scripts, confScript{
					name: fmt.Sprintf("%s %d", kind, n),
					steps: []confStep{{
						send: confFrame(cfFin|op, p),
						want: []confMessage{confMsg(ws.OpCode(op), p)},
					}},
				})
			}
			p := confPattern(65536, op == cfBinary)
			scripts = append(scripts, confScript{
				name: kind + " 65536 in 997-byte chops",
				steps: []confStep{{
					send: confFrame(cfFin|op, p),
					chop: 997,
					want: []confMessage{confMsg(ws.OpCode(op), p)},
				}},
			})
		}
		confRunAll(t, addr, scripts)
	})
}

// --- 2 -------------------------------------------------------------------

// confTenPings returns ten pings with distinct payloads and the pongs that
// answer them.
func confTenPings() ([]byte, []confMessage) {
	var pings [][]byte
	var pongs []confMessage
	for i := range 10 {
		p := fmt.Sprintf("payload-%d", i)
		pings = append(pings, confFrame(cfFin|cfPing, p))
		pongs = append(pongs, confMsg(ws.OpPong, p))
	}
	return confCat(pings...), pongs
}

// TestConformancePingPong covers group 2: a ping's payload (up to 125
// bytes) comes back in a pong, a longer ping fails the connection, an
// unsolicited pong is ignored, and pings in a burst or in chops are all
// answered in order.
func TestConformancePingPong(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		bin := "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
		p125 := strings.Repeat("\xfe", 125)
		pings, pongs := confTenPings()
		confRunAll(t, addr, []confScript{
			{
				name: "2.1 empty ping",
				steps: []confStep{{
					send: confFrame(cfFin|cfPing, ""),
					want: []confMessage{confMsg(ws.OpPong, "")},
				}},
			},
			{
				name: "2.2 ping with text payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfPing, "Hello, world!"),
					want: []confMessage{confMsg(ws.OpPong, "Hello, world!")},
				}},
			},
			{
				name: "2.3 ping with binary payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfPing, bin),
					want: []confMessage{confMsg(ws.OpPong, bin)},
				}},
			},
			{
				name: "2.4 ping with 125-byte payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfPing, p125),
					want: []confMessage{confMsg(ws.OpPong, p125)},
				}},
			},
			{
				name: "2.5 ping with 126-byte payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfPing, p125+"\xfe"),
				}},
				close: confCodes(1002),
			},
			{
				name: "2.6 125-byte ping in 1-byte chops",
				steps: []confStep{{
					send: confFrame(cfFin|cfPing, p125),
					chop: 1,
					want: []confMessage{confMsg(ws.OpPong, p125)},
				}},
			},
			{
				name: "2.7 unsolicited empty pong",
				steps: []confStep{{
					send: confFrame(cfFin|cfPong, ""),
				}},
			},
			{
				name: "2.8 unsolicited pong with payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfPong, "unsolicited pong payload"),
				}},
			},
			{
				name: "2.9 unsolicited pong then ping",
				steps: []confStep{{
					send: confCat(confFrame(cfFin|cfPong, "unsolicited pong payload"), confFrame(cfFin|cfPing, "ping payload")),
					want: []confMessage{confMsg(ws.OpPong, "ping payload")},
				}},
			},
			{
				name: "2.10 ten pings in a burst",
				steps: []confStep{{
					send: pings,
					want: pongs,
				}},
			},
			{
				name: "2.11 ten pings in 1-byte chops",
				steps: []confStep{{
					send: pings,
					chop: 1,
					want: pongs,
				}},
			},
		})
	})
}

// --- 3 -------------------------------------------------------------------

// TestConformanceReservedBits covers group 3: a frame with any RSV bit set
// fails the connection with 1002 when no extension was negotiated, also
// right after a valid echo and on control frames, and what follows the bad
// frame (a ping) is not answered.
func TestConformanceReservedBits(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		hello := confMsg(ws.OpText, "Hello, world!")
		confRunAll(t, addr, []confScript{
			{
				name: "3.1 text with RSV1",
				steps: []confStep{{
					send: confFrame(cfFin|cfRsv1|cfText, "Hello, world!"),
				}},
				close: confCodes(1002),
			},
			{
				name: "3.2 text, text with RSV2, ping",
				steps: []confStep{{
					send: confCat(
						confFrame(cfFin|cfText, "Hello, world!"),
						confFrame(cfFin|cfRsv2|cfText, "Hello, world!"),
						confFrame(cfFin|cfPing, ""),
					),
					want: []confMessage{hello},
				}},
				close: confCodes(1002),
			},
			{
				name: "3.3 RSV3 right after a valid echo",
				steps: []confStep{
					{
						send: confFrame(cfFin|cfText, "Hello, world!"),
						want: []confMessage{hello},
					},
					{
						send: confCat(confFrame(cfFin|cfRsv3|cfText, "Hello, world!"), confFrame(cfFin|cfPing, "")),
					},
				},
				close: confCodes(1002),
			},
			{
				name: "3.4 text, text with RSV1+RSV2, ping in 1-byte chops",
				steps: []confStep{{
					send: confCat(
						confFrame(cfFin|cfText, "Hello, world!"),
						confFrame(cfFin|cfRsv1|cfRsv2|cfText, "Hello, world!"),
						confFrame(cfFin|cfPing, ""),
					),
					chop: 1,
					want: []confMessage{hello},
				}},
				close: confCodes(1002),
			},
			{
				name: "3.5 binary with RSV1+RSV3",
				steps: []confStep{{
					send: confFrame(cfFin|cfRsv1|cfRsv3|cfBinary, "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
				}},
				close: confCodes(1002),
			},
			{
				name: "3.6 ping with RSV2+RSV3",
				steps: []confStep{{
					send: confFrame(cfFin|cfRsv2|cfRsv3|cfPing, "\x00\xff\xfe\xfd\xfc\xfb\x00\xff"),
				}},
				close: confCodes(1002),
			},
			{
				name: "3.7 close with all RSV bits",
				steps: []confStep{{
					send: confFrame(cfFin|cfRsv1|cfRsv2|cfRsv3|cfClose, confClosePayload(1000, "")),
				}},
				close: confCodes(1002),
			},
		})
	})
}

// --- 4 -------------------------------------------------------------------

// TestConformanceReservedOpcodes covers group 4: a frame with a reserved
// data opcode (3-7) or control opcode (11-15) fails the connection with
// 1002, alone or after a valid echo, and a ping sent after it is not
// answered.
func TestConformanceReservedOpcodes(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		var scripts []confScript
		for _, op := range []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15} {
			scripts = append(scripts,
				confScript{
					name: fmt.Sprintf("opcode %d alone", op),
					steps: []confStep{{
						send: confFrame(cfFin|op, ""),
					}},
					close: confCodes(1002),
				},
				confScript{
					name: fmt.Sprintf("text, opcode %d with payload, ping", op),
					steps: []confStep{{
						send: confCat(
							confFrame(cfFin|cfText, "Hello, world!"),
							confFrame(cfFin|op, "reserved opcode payload"),
							confFrame(cfFin|cfPing, ""),
						),
						want: []confMessage{confMsg(ws.OpText, "Hello, world!")},
					}},
					close: confCodes(1002),
				},
			)
		}
		confRunAll(t, addr, scripts)
	})
}

// --- 5 -------------------------------------------------------------------

// TestConformanceFragmentation covers group 5: fragmented control frames
// and continuations with nothing to continue fail with 1002, as does a new
// data frame before the last fragment; fragmented text and binary come back
// as one message; a ping between fragments is answered at once, before the
// message's last fragment has been sent.
func TestConformanceFragmentation(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		frag1 := confFrame(cfText, "fragment1")
		frag2 := confFrame(cfFin|cfCont, "fragment2")
		ping := confFrame(cfFin|cfPing, "ping payload")
		pong := confMsg(ws.OpPong, "ping payload")
		joined := confMsg(ws.OpText, "fragment1fragment2")
		strayFin := confCat(confFrame(cfFin|cfCont, "non-continuation payload"), confFrame(cfFin|cfText, "Hello, world!"))
		strayMore := confCat(confFrame(cfCont, "non-continuation payload"), confFrame(cfFin|cfText, "Hello, world!"))
		confRunAll(t, addr, []confScript{
			{
				name: "5.1 ping in two fragments",
				steps: []confStep{{
					send: confCat(confFrame(cfPing, "fragment1"), confFrame(cfFin|cfCont, "fragment2")),
				}},
				close: confCodes(1002),
			},
			{
				name: "5.2 pong in two fragments",
				steps: []confStep{{
					send: confCat(confFrame(cfPong, "fragment1"), confFrame(cfFin|cfCont, "fragment2")),
				}},
				close: confCodes(1002),
			},
			{
				name: "5.x ping without FIN, alone",
				steps: []confStep{{
					send: confFrame(cfPing, "no fin"),
				}},
				close: confCodes(1002),
			},
			{
				name: "5.3 text in two fragments",
				steps: []confStep{{
					send: confCat(frag1, frag2),
					want: []confMessage{joined},
				}},
			},
			{
				name: "5.4 text in two fragments, one write each",
				steps: []confStep{
					{
						send: frag1,
					},
					{
						send: frag2,
						want: []confMessage{joined},
					},
				},
			},
			{
				name: "5.5 text in two fragments, 1-byte chops",
				steps: []confStep{{
					send: confCat(frag1, frag2),
					chop: 1,
					want: []confMessage{joined},
				}},
			},
			{
				name: "5.6 ping between two text fragments",
				steps: []confStep{{
					send: confCat(frag1, ping, frag2),
					want: []confMessage{pong, joined},
				}},
			},
			{
				name: "5.7 ping between fragments answered before the last fragment is sent",
				steps: []confStep{
					{
						send: confCat(frag1, ping),
						want: []confMessage{pong},
					},
					{
						send: frag2,
						want: []confMessage{joined},
					},
				},
			},
			{
				name: "5.8 ping between two text fragments, 1-byte chops",
				steps: []confStep{{
					send: confCat(frag1, ping, frag2),
					chop: 1,
					want: []confMessage{pong, joined},
				}},
			},
			{
				name: "5.9 continuation with FIN and nothing to continue",
				steps: []confStep{{
					send: strayFin,
				}},
				close: confCodes(1002),
			},
			{
				name: "5.11 continuation with FIN and nothing to continue, 1-byte chops",
				steps: []confStep{{
					send: strayFin,
					chop: 1,
				}},
				close: confCodes(1002),
			},
			{
				name: "5.12 continuation without FIN and nothing to continue",
				steps: []confStep{{
					send: strayMore,
				}},
				close: confCodes(1002),
			},
			{
				name: "5.14 continuation without FIN and nothing to continue, 1-byte chops",
				steps: []confStep{{
					send: strayMore,
					chop: 1,
				}},
				close: confCodes(1002),
			},
			{
				name: "5.15 continuation after a finished fragmented message",
				steps: []confStep{{
					send: confCat(frag1, frag2, confFrame(cfCont, "fragment3"), confFrame(cfFin|cfCont, "fragment4")),
					want: []confMessage{joined},
				}},
				close: confCodes(1002),
			},
			{
				name: "5.16 continuations first, then text",
				steps: []confStep{{
					send: confCat(confFrame(cfCont, "fragment1"), confFrame(cfFin|cfCont, "fragment2"), confFrame(cfFin|cfText, "fragment3")),
				}},
				close: confCodes(1002),
			},
			{
				name: "5.18 new text frame before the last fragment",
				steps: []confStep{{
					send: confCat(frag1, confFrame(cfFin|cfText, "fragment2")),
				}},
				close: confCodes(1002),
			},
			{
				name: "5.18 new binary frame before the last fragment",
				steps: []confStep{{
					send: confCat(confFrame(cfBinary, "fragment1"), confFrame(cfFin|cfBinary, "fragment2")),
				}},
				close: confCodes(1002),
			},
			{
				name: "5.19 five text fragments with pings answered as they come",
				steps: []confStep{
					{
						send: confFrame(cfText, "fragment1"),
					},
					{
						send: confCat(confFrame(cfCont, "fragment2"), confFrame(cfFin|cfPing, "pongme 1!")),
						want: []confMessage{confMsg(ws.OpPong, "pongme 1!")},
					},
					{
						send: confFrame(cfCont, "fragment3"),
					},
					{
						send: confCat(confFrame(cfCont, "fragment4"), confFrame(cfFin|cfPing, "pongme 2!")),
						want: []confMessage{confMsg(ws.OpPong, "pongme 2!")},
					},
					{
						send: confFrame(cfFin|cfCont, "fragment5"),
						want: []confMessage{confMsg(ws.OpText, "fragment1fragment2fragment3fragment4fragment5")},
					},
				},
			},
			{
				name: "binary in three fragments, the middle one empty",
				steps: []confStep{{
					send: confCat(confFrame(cfBinary, "\x00\x01"), confFrame(cfCont, ""), confFrame(cfFin|cfCont, "\xfe\xff")),
					want: []confMessage{confMsg(ws.OpBinary, "\x00\x01\xfe\xff")},
				}},
			},
		})
	})
}

// --- 6 -------------------------------------------------------------------

// confUTF8Sample is a text payload from Autobahn's group 6 (after Markus Kuhn's
// UTF-8 decoder stress test).
type confUTF8Sample struct {
	name  string
	text  string
	valid bool
}

var confKosme = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5" // κόσμε

var confUTF8Samples = []confUTF8Sample{
	{
		name:  "6.2 Hello-µ@ßöäüàá-UTF-8!!",
		text:  "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!",
		valid: true,
	},
	{
		name:  "6.5 kosme",
		text:  confKosme,
		valid: true,
	},
	{
		name:  "6.6 kosme cut after 1 byte",
		text:  confKosme[:1],
		valid: false,
	},
	{
		name:  "6.6 kosme cut after 2 bytes",
		text:  confKosme[:2],
		valid: true,
	},
	{
		name:  "6.6 kosme cut after 3 bytes",
		text:  confKosme[:3],
		valid: false,
	},
	{
		name:  "6.6 kosme cut after 4 bytes",
		text:  confKosme[:4],
		valid: false,
	},
	{
		name:  "6.6 kosme cut after 7 bytes",
		text:  confKosme[:7],
		valid: true,
	},
	{
		name:  "6.6 kosme cut after 10 bytes",
		text:  confKosme[:10],
		valid: false,
	},
	{
		name:  "6.3 kosme with a surrogate",
		text:  confKosme + "\xed\xa0\x80edited",
		valid: false,
	},
	{
		name:  "6.7 U+0000",
		text:  "\x00",
		valid: true,
	},
	{
		name:  "6.7 U+0080",
		text:  "\xc2\x80",
		valid: true,
	},
	{
		name:  "6.7 U+0800",
		text:  "\xe0\xa0\x80",
		valid: true,
	},
	{
		name:  "6.7 U+10000",
		text:  "\xf0\x90\x80\x80",
		valid: true,
	},
	{
		name:  "6.8 first 5-byte form",
		text:  "\xf8\x88\x80\x80\x80",
		valid: false,
	},
	{
		name:  "6.8 first 6-byte form",
		text:  "\xfc\x84\x80\x80\x80\x80",
		valid: false,
	},
	{
		name:  "6.9 U+007F",
		text:  "\x7f",
		valid: true,
	},
	{
		name:  "6.9 U+07FF",
		text:  "\xdf\xbf",
		valid: true,
	},
	{
		name:  "6.9 U+FFFF noncharacter",
		text:  "\xef\xbf\xbf",
		valid: true,
	},
	{
		name:  "6.9 U+10FFFF noncharacter",
		text:  "\xf4\x8f\xbf\xbf",
		valid: true,
	},
	{
		name:  "6.10 U+1FFFFF above U+10FFFF",
		text:  "\xf7\xbf\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.10 last 5-byte form",
		text:  "\xfb\xbf\xbf\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.10 last 6-byte form",
		text:  "\xfd\xbf\xbf\xbf\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.11 U+D7FF",
		text:  "\xed\x9f\xbf",
		valid: true,
	},
	{
		name:  "6.11 U+E000",
		text:  "\xee\x80\x80",
		valid: true,
	},
	{
		name:  "6.11 U+FFFD",
		text:  "\xef\xbf\xbd",
		valid: true,
	},
	{
		name:  "6.11 U+110000",
		text:  "\xf4\x90\x80\x80",
		valid: false,
	},
	{
		name:  "6.11 F5 lead",
		text:  "\xf5\x80\x80\x80",
		valid: false,
	},
	{
		name:  "6.12 lone continuation 80",
		text:  "\x80",
		valid: false,
	},
	{
		name:  "6.12 lone continuation BF",
		text:  "\xbf",
		valid: false,
	},
	{
		name:  "6.12 three continuations",
		text:  "\x80\xbf\x80",
		valid: false,
	},
	{
		name:  "6.12 all 64 continuation bytes",
		text:  confContinuationBytes(),
		valid: false,
	},
	{
		name:  "6.12 continuation after valid text",
		text:  "Hello\x80",
		valid: false,
	},
	{
		name:  "6.13 2-byte leads each followed by a space",
		text:  confLeadsWithSpaces(0xc0, 0xdf),
		valid: false,
	},
	{
		name:  "6.13 3-byte leads each followed by a space",
		text:  confLeadsWithSpaces(0xe0, 0xef),
		valid: false,
	},
	{
		name:  "6.13 4-byte leads each followed by a space",
		text:  confLeadsWithSpaces(0xf0, 0xf7),
		valid: false,
	},
	{
		name:  "6.13 5- and 6-byte leads each followed by a space",
		text:  confLeadsWithSpaces(0xf8, 0xfd),
		valid: false,
	},
	{
		name:  "6.14 2-byte sequence missing its last byte",
		text:  "\xdf",
		valid: false,
	},
	{
		name:  "6.14 3-byte sequence missing its last byte",
		text:  "\xef\xbf",
		valid: false,
	},
	{
		name:  "6.14 4-byte sequence missing its last byte",
		text:  "\xf4\x8f\xbf",
		valid: false,
	},
	{
		name:  "6.14 truncated sequence then ASCII",
		text:  "\xe2\x82 euro",
		valid: false,
	},
	{
		name:  "6.15 truncated sequences concatenated",
		text:  "\xc0\xe0\x80\xf0\x80\x80\xf8\x80\x80\x80\xfc\x80\x80\x80\x80\xdf\xef\xbf\xf7\xbf\xbf\xfb\xbf\xbf\xbf\xfd\xbf\xbf\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.16 FE",
		text:  "\xfe",
		valid: false,
	},
	{
		name:  "6.16 FF",
		text:  "\xff",
		valid: false,
	},
	{
		name:  "6.16 FE FE FF FF",
		text:  "\xfe\xfe\xff\xff",
		valid: false,
	},
	{
		name:  "6.17 overlong 2-byte slash",
		text:  "\xc0\xaf",
		valid: false,
	},
	{
		name:  "6.17 overlong 3-byte slash",
		text:  "\xe0\x80\xaf",
		valid: false,
	},
	{
		name:  "6.17 overlong 4-byte slash",
		text:  "\xf0\x80\x80\xaf",
		valid: false,
	},
	{
		name:  "6.17 overlong 5-byte slash",
		text:  "\xf8\x80\x80\x80\xaf",
		valid: false,
	},
	{
		name:  "6.18 maximum overlong 2-byte",
		text:  "\xc1\xbf",
		valid: false,
	},
	{
		name:  "6.18 maximum overlong 3-byte",
		text:  "\xe0\x9f\xbf",
		valid: false,
	},
	{
		name:  "6.18 maximum overlong 4-byte",
		text:  "\xf0\x8f\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.19 overlong 2-byte NUL",
		text:  "\xc0\x80",
		valid: false,
	},
	{
		name:  "6.19 overlong 3-byte NUL",
		text:  "\xe0\x80\x80",
		valid: false,
	},
	{
		name:  "6.19 overlong 4-byte NUL",
		text:  "\xf0\x80\x80\x80",
		valid: false,
	},
	{
		name:  "6.20 surrogate U+D800",
		text:  "\xed\xa0\x80",
		valid: false,
	},
	{
		name:  "6.20 surrogate U+DB7F",
		text:  "\xed\xad\xbf",
		valid: false,
	},
	{
		name:  "6.20 surrogate U+DC00",
		text:  "\xed\xb0\x80",
		valid: false,
	},
	{
		name:  "6.20 surrogate U+DFFF",
		text:  "\xed\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.21 surrogate pair U+D800 U+DC00",
		text:  "\xed\xa0\x80\xed\xb0\x80",
		valid: false,
	},
	{
		name:  "6.21 surrogate pair U+DBFF U+DFFF",
		text:  "\xed\xaf\xbf\xed\xbf\xbf",
		valid: false,
	},
	{
		name:  "6.22 U+FFFE noncharacter",
		text:  "\xef\xbf\xbe",
		valid: true,
	},
	{
		name:  "6.22 U+FDD0 noncharacter",
		text:  "\xef\xb7\x90",
		valid: true,
	},
	{
		name:  "6.22 U+FDEF noncharacter",
		text:  "\xef\xb7\xaf",
		valid: true,
	},
	{
		name:  "6.22 U+1FFFE noncharacter",
		text:  "\xf0\x9f\xbf\xbe",
		valid: true,
	},
	{
		name:  "6.22 U+10FFFE noncharacter",
		text:  "\xf4\x8f\xbf\xbe",
		valid: true,
	},
	{
		name:  "6.23 U+FEFF byte order mark",
		text:  "\xef\xbb\xbf",
		valid: true,
	},
}

func confContinuationBytes() string {
	var b []byte
	for c := 0x80; c <= 0xbf; c++ {
		b = append(b, byte(c))
	}
	return string(b)
}

func confLeadsWithSpaces(from, to byte) string {
	var b []byte
	for c := int(from); c <= int(to); c++ {
		b = append(b, byte(c), ' ')
	}
	return string(b)
}

// confCanContinue reports whether p is the start of some valid UTF-8 text:
// valid itself, or valid once one to three continuation bytes are appended.
// Only the first appended byte can be restricted (after an E0, ED, F0 or F4
// lead), so trying every continuation byte there and 80 after it is enough.
func confCanContinue(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	for n := 1; n <= 3; n++ {
		for c := 0x80; c <= 0xbf; c++ {
			q := append(bytes.Clone(p), byte(c))
			q = append(q, bytes.Repeat([]byte{0x80}, n-1)...)
			if utf8.Valid(q) {
				return true
			}
		}
	}
	return false
}

// confBadAt returns the index of the byte at which invalid text p is known to
// be invalid: the first byte that no valid text can have there, or the last
// byte when p is only an unfinished sequence.
func confBadAt(p []byte) int {
	for i := range p {
		if !confCanContinue(p[:i+1]) {
			return i
		}
	}
	return len(p) - 1
}

// TestConformanceUTF8 covers group 6: text messages are checked for UTF-8
// (RFC 3629: overlong forms, surrogates and code points above U+10FFFF are
// invalid; noncharacters are valid), in one frame and split into one-byte
// fragments (so inside code points). Valid text is echoed; invalid text
// fails the connection with 1007 as soon as the bad byte has arrived: the
// fragments after it are never sent, so the server cannot wait for them.
func TestConformanceUTF8(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		scripts := []confScript{
			{
				name: "6.1.1 empty text",
				steps: []confStep{{
					send: confFrame(cfFin|cfText, ""),
					want: []confMessage{confMsg(ws.OpText, "")},
				}},
			},
			{
				name: "6.1.2 three empty fragments",
				steps: []confStep{{
					send: confCat(confFrame(cfText, ""), confFrame(cfCont, ""), confFrame(cfFin|cfCont, "")),
					want: []confMessage{confMsg(ws.OpText, "")},
				}},
			},
			{
				name: "6.1.3 empty, middle, empty fragments",
				steps: []confStep{{
					send: confCat(confFrame(cfText, ""), confFrame(cfCont, "middle"), confFrame(cfFin|cfCont, "")),
					want: []confMessage{confMsg(ws.OpText, "middle")},
				}},
			},
			{
				name: "6.2.2 split on code points",
				steps: []confStep{{
					send: confCat(confFrame(cfText, "Hello-\xc2\xb5@"), confFrame(cfCont, "\xc3\x9f\xc3\xb6"), confFrame(cfFin|cfCont, "!")),
					want: []confMessage{confMsg(ws.OpText, "Hello-\xc2\xb5@\xc3\x9f\xc3\xb6!")},
				}},
			},
			{
				name: "6.4.1 fail fast: bad code point in the second of three fragments",
				steps: []confStep{{
					send: confCat(confFrame(cfText, confKosme), confFrame(cfCont, "\xf4\x90\x80\x80")),
				}},
				close: confCodes(1007),
			},
			{
				name: "6.4.2 fail fast: bad continuation byte alone in the second fragment",
				steps: []confStep{{
					send: confCat(confFrame(cfText, confKosme+"\xf4"), confFrame(cfCont, "\x90")),
				}},
				close: confCodes(1007),
			},
			{
				name: "fail fast: surrogate in the fragment after a ping answered mid-message",
				steps: []confStep{
					{
						send: confCat(confFrame(cfText, "Hello "), confFrame(cfFin|cfPing, "still open")),
						want: []confMessage{confMsg(ws.OpPong, "still open")},
					},
					{
						send: confFrame(cfCont, "\xed\xa0\x80"),
					},
				},
				close: confCodes(1007),
			},
		}
		for _, s := range confUTF8Samples {
			p := []byte(s.text)
			if utf8.Valid(p) != s.valid {
				t.Fatalf("sample %q: valid is %v but utf8.Valid says %v", s.name, s.valid, !s.valid)
			}
			one := confScript{
				name: s.name + "/one frame",
				steps: []confStep{{
					send: confFrame(cfFin|cfText, p),
				}},
			}
			split := confScript{
				name: s.name + "/1-byte fragments",
				steps: []confStep{{
					send: confFragments(cfText, p, 1),
				}},
			}
			if s.valid {
				one.steps[0].want = []confMessage{confMsg(ws.OpText, p)}
				split.steps[0].want = []confMessage{confMsg(ws.OpText, p)}
			} else {
				one.close = confCodes(1007)
				split.steps[0].send = confCat(confFragmentList(cfText, p, 1)[:confBadAt(p)+1]...)
				split.close = confCodes(1007)
			}
			scripts = append(scripts, one, split)
		}
		confRunAll(t, addr, scripts)
	})
}

// --- 7 -------------------------------------------------------------------

// TestConformanceClose covers group 7: the server answers a close with a
// close carrying the same code and then closes TCP; data and pings after
// the client's close are ignored; a 1-byte or over-125-byte close payload or
// an invalid code fails with 1002, an invalid UTF-8 reason with 1007.
func TestConformanceClose(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		close1000 := confFrame(cfFin|cfClose, confClosePayload(1000, ""))
		big := confPattern(256<<10, false)
		scripts := []confScript{
			{
				name: "7.1.1 echo, then close",
				steps: []confStep{{
					send: confFrame(cfFin|cfText, "Hello World!"),
					want: []confMessage{confMsg(ws.OpText, "Hello World!")},
				}},
			},
			{
				name: "7.1.2 two closes",
				steps: []confStep{{
					send: confCat(close1000, close1000),
				}},
				close: confCodes(1000),
			},
			{
				name: "7.1.3 ping after close is not answered",
				steps: []confStep{{
					send: confCat(close1000, confFrame(cfFin|cfPing, "Hello World!")),
				}},
				close: confCodes(1000),
			},
			{
				name: "7.1.4 text after close is not echoed",
				steps: []confStep{{
					send: confCat(close1000, confFrame(cfFin|cfText, "Hello World!")),
				}},
				close: confCodes(1000),
			},
			{
				name: "7.1.5 close between fragments ends the message",
				steps: []confStep{{
					send: confCat(confFrame(cfText, "fragment1"), close1000, confFrame(cfFin|cfCont, "fragment2")),
				}},
				close: confCodes(1000),
			},
			{
				name: "7.1.6 256 KiB message, close, ping",
				steps: []confStep{{
					send: confCat(confFrame(cfFin|cfText, big), close1000, confFrame(cfFin|cfPing, "Hello World!")),
					want: []confMessage{confMsg(ws.OpText, big)},
				}},
				close: confCodes(1000),
			},
			{
				name: "7.3.1 empty close payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, ""),
				}},
				close: confCodes(confNoStatus, 1000),
			},
			{
				name: "7.3.2 1-byte close payload",
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, "\x03"),
				}},
				close: confCodes(1002),
			},
			{
				name: "7.3.4 close with code and reason",
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, confClosePayload(1000, "Hello World!")),
				}},
				close: confCodes(1000),
			},
			{
				name: "7.3.5 close with a 123-byte reason",
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, confClosePayload(1000, strings.Repeat("*", 123))),
				}},
				close: confCodes(1000),
			},
			{
				name: "7.3.6 close with a 124-byte reason",
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, confClosePayload(1000, strings.Repeat("*", 124))),
				}},
				close: confCodes(1002),
			},
			{
				name: "7.5.1 close reason with invalid UTF-8",
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, confClosePayload(1000, confKosme+"\xed\xa0\x80edited")),
				}},
				close: confCodes(1007),
			},
		}
		for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999} {
			scripts = append(scripts, confScript{
				name: fmt.Sprintf("7.7 valid code %d echoed", code),
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, confClosePayload(code, "")),
				}},
				close: confCodes(ws.StatusCode(code)),
			})
		}
		for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535} {
			scripts = append(scripts, confScript{
				name: fmt.Sprintf("7.9 invalid code %d", code),
				steps: []confStep{{
					send: confFrame(cfFin|cfClose, confClosePayload(code, "")),
				}},
				close: confCodes(1002),
			})
		}
		confRunAll(t, addr, scripts)
	})
}

// --- 9 and 10 ------------------------------------------------------------

// TestConformanceBigMessages covers group 9.1/9.2 and 9.3/9.4: text and
// binary messages of 64 KiB to 16 MiB in one frame, and 4 MiB messages in
// fragments of 4 KiB to 4 MiB, are echoed whole (with the server's limit
// raised to fit, as the suite is run). Autobahn's fragments of 64 bytes to
// 1 KiB are left out: tens of thousands of frames add run time, not cover.
func TestConformanceBigMessages(t *testing.T) {
	confEach(t, Config{MaxMessageSize: confBigLimit}, func(t *testing.T, addr confAddr) {
		for _, k := range confKinds {
			for i, size := range []int{64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20, 16 << 20} {
				t.Run(fmt.Sprintf("%s.%d %d KiB", k.bigGroup, i+1, size>>10), func(t *testing.T) {
					p := confPattern(size, k.op == cfBinary)
					c := confDial(t, addr)
					c.mustSend(confFrame(cfFin|k.op, p), 0)
					c.expect(confMsg(ws.OpCode(k.op), p))
					c.closeNormally()
				})
			}
			p := confPattern(4<<20, k.op == cfBinary)
			for i, size := range []int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20} {
				t.Run(fmt.Sprintf("%s.%d 4 MiB in %d KiB fragments", k.fragGroup, i+4, size>>10), func(t *testing.T) {
					c := confDial(t, addr)
					c.mustSend(confFragments(k.op, p, size), 0)
					c.expect(confMsg(ws.OpCode(k.op), p))
					c.closeNormally()
				})
			}
		}
	})
}

// confKinds are the data opcodes of group 9, with the numbers of the
// Autobahn case groups that send each.
var confKinds = []struct {
	op         byte
	bigGroup   string
	fragGroup  string
	chopGroup  string
	roundGroup string
}{
	{
		op:         cfText,
		bigGroup:   "9.1",
		fragGroup:  "9.3",
		chopGroup:  "9.5",
		roundGroup: "9.7",
	},
	{
		op:         cfBinary,
		bigGroup:   "9.2",
		fragGroup:  "9.4",
		chopGroup:  "9.6",
		roundGroup: "9.8",
	},
}

// TestConformanceChops covers group 9.5/9.6: a 1 MiB text or binary
// message whose frame arrives in chops of 64 bytes to 2 KiB is echoed
// whole.
func TestConformanceChops(t *testing.T) {
	confEach(t, Config{MaxMessageSize: confBigLimit}, func(t *testing.T, addr confAddr) {
		for _, k := range confKinds {
			p := confPattern(1<<20, k.op == cfBinary)
			for i, chop := range []int{64, 128, 256, 512, 1024, 2048} {
				t.Run(fmt.Sprintf("%s.%d %d-byte chops", k.chopGroup, i+1, chop), func(t *testing.T) {
					confRun(t, addr, confScript{
						steps: []confStep{{
							send: confFrame(cfFin|k.op, p),
							chop: chop,
							want: []confMessage{confMsg(ws.OpCode(k.op), p)},
						}},
					})
				})
			}
		}
	})
}

// TestConformanceRoundTrips covers group 9.7/9.8: 1000 text or binary
// messages of 0 bytes to 4 KiB sent one after the other on one connection,
// each echoed before the next is sent.
func TestConformanceRoundTrips(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		for _, k := range confKinds {
			for i, size := range []int{0, 16, 64, 256, 1024, 4096} {
				t.Run(fmt.Sprintf("%s.%d %d bytes", k.roundGroup, i+1, size), func(t *testing.T) {
					p := confPattern(size, k.op == cfBinary)
					want := confMsg(ws.OpCode(k.op), p)
					c := confDial(t, addr)
					for range 1000 {
						c.mustSend(confFrame(cfFin|k.op, p), 0)
						c.expect(want)
					}
					c.closeNormally()
				})
			}
		}
	})
}

// TestConformanceAutoFragmented covers group 10: a 64 KiB message the
// sender split into 1300-byte frames is echoed as one message.
func TestConformanceAutoFragmented(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		p := confPattern(64<<10, false)
		confRun(t, addr, confScript{
			steps: []confStep{{
				send: confFragments(cfText, p, 1300),
				want: []confMessage{confMsg(ws.OpText, p)},
			}},
		})
	})
}

// TestConformanceCloseAfterBigMessage is 7.1.6 with a 16 MiB message: the
// echo the server has queued when the client's close arrives must still be
// delivered whole, followed by the server's close frame, before the server
// closes TCP (RFC 6455 section 5.5.1: an endpoint that receives a close
// answers with a close, after the data it has already sent). The client's
// small receive buffer makes it a slow reader, so most of the echo is still
// queued in the server when the close is read.
func TestConformanceCloseAfterBigMessage(t *testing.T) {
	confEach(t, Config{MaxMessageSize: confBigLimit}, func(t *testing.T, addr confAddr) {
		p := confPattern(16<<20, true)
		c := confDialBuffer(t, addr, 8<<10)
		c.mustSend(confCat(confFrame(cfFin|cfBinary, p), confFrame(cfFin|cfClose, confClosePayload(1000, ""))), 0)
		c.expect(confMsg(ws.OpBinary, p))
		c.expectClose(1000)
	})
}

// --- limits ----------------------------------------------------------------

// TestConformanceLimits checks the default message size limit (1 MiB): a
// frame declaring more is refused with 1009 on its header alone, before any
// of its payload is sent; a fragmented message that grows past the limit is
// refused with 1009; a message of exactly the limit is echoed. It also
// checks that an unmasked client frame fails with 1002 (RFC 6455 section
// 5.1).
func TestConformanceLimits(t *testing.T) {
	confEach(t, Config{}, func(t *testing.T, addr confAddr) {
		const limit = DefaultMaxMessageSize
		half := confPattern(limit/2, true)
		confRunAll(t, addr, []confScript{
			{
				name: "text of exactly the limit",
				steps: []confStep{{
					send: confFrame(cfFin|cfText, confPattern(limit, false)),
					want: []confMessage{confMsg(ws.OpText, confPattern(limit, false))},
				}},
			},
			{
				name: "fragments adding up to exactly the limit",
				steps: []confStep{{
					send: confCat(confFrame(cfBinary, half), confFrame(cfFin|cfCont, half)),
					want: []confMessage{confMsg(ws.OpBinary, confCat(half, half))},
				}},
			},
			{
				name: "text frame declaring the limit plus one, header only",
				steps: []confStep{{
					send: confHeaderOnly(cfFin|cfText, limit+1),
				}},
				close: confCodes(1009),
			},
			{
				name: "binary frame declaring 2^62 bytes, header only",
				steps: []confStep{{
					send: confHeaderOnly(cfFin|cfBinary, 1<<62),
				}},
				close: confCodes(1009),
			},
			{
				name: "first fragment declaring the limit plus one, header only",
				steps: []confStep{{
					send: confHeaderOnly(cfBinary, limit+1),
				}},
				close: confCodes(1009),
			},
			{
				name: "fragments growing past the limit",
				steps: []confStep{{
					send: confCat(confFrame(cfBinary, half), confFrame(cfCont, half), confFrame(cfFin|cfCont, "x")),
				}},
				close: confCodes(1009),
			},
			{
				name: "unmasked text frame",
				steps: []confStep{{
					send: confBuildFrame(cfFin|cfText, []byte("Hello, world!"), false),
				}},
				close: confCodes(1002),
			},
			{
				name: "unmasked ping",
				steps: []confStep{{
					send: confBuildFrame(cfFin|cfPing, nil, false),
				}},
				close: confCodes(1002),
			},
		})
	})
}
