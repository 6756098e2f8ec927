package engine

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	cws "github.com/coder/websocket"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// zjson returns n bytes of JSON text of the pub/sub kind.
func zjson(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, `{"topic":"prices.%d","bid":%d.%02d,"qty":%d},`, i%7, 1000+i*37%9000, i%100, i*13%500)
	}
	return b.Bytes()[:n]
}

// zserve starts a server with cfg and an admin handler on its metrics,
// over ws:// or (tlsOn) wss://.
func zserve(t *testing.T, cfg Config, tlsOn bool) (*Server, confAddr, string) {
	t.Helper()
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewSet()
	}
	var srv *Server
	var addr confAddr
	if tlsOn {
		var hp string
		var ccfg *tls.Config
		srv, hp, ccfg = startTLSServer(t, cfg)
		addr = confAddr{hostport: hp, tls: ccfg}
	} else {
		var hp string
		srv, hp = startServer(t, cfg)
		addr = confAddr{hostport: hp}
	}
	admin := httptest.NewServer(srv.AdminHandler(AdminOptions{}))
	t.Cleanup(admin.Close)
	return srv, addr, admin.URL
}

func (a confAddr) url(path string) string {
	if a.tls != nil {
		return "wss://" + a.hostport + path
	}
	return "ws://" + a.hostport + path
}

// TestDeflateGorilla: gorilla/websocket, which offers permessage-deflate
// without context takeover, exchanges compressed messages with the server
// over ws:// and wss://: its own are inflated, and the echoes of those at
// or above the threshold come compressed.
func TestDeflateGorilla(t *testing.T) {
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[tlsOn], func(t *testing.T) {
			_, addr, admin := zserve(t, Config{MaxMessageSize: 4 << 20, Deflate: &Deflate{Threshold: 64}}, tlsOn)
			d := gws.Dialer{EnableCompression: true, TLSClientConfig: addr.tls, HandshakeTimeout: enginetest.Wait}
			c, resp, err := d.Dial(addr.url("/echo"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if ext != "permessage-deflate; server_no_context_takeover; client_no_context_takeover" {
				t.Fatalf("Sec-WebSocket-Extensions: %q", ext)
			}
			sizes := []int{0, 10, 63, 300, 1000, 70000, 1<<20 + 7}
			compressedOut := 0
			for _, n := range sizes {
				for _, op := range []int{gws.TextMessage, gws.BinaryMessage} {
					msg := zjson(n)
					if err := c.WriteMessage(op, msg); err != nil {
						t.Fatal(err)
					}
					gotOp, got, err := interopGorillaRead(c)
					if err != nil || gotOp != op || !bytes.Equal(got, msg) {
						t.Fatalf("echo of %d bytes: op %d, %d bytes, %v", n, gotOp, len(got), err)
					}
					if n >= 64 {
						compressedOut++
					}
				}
			}
			s := enginetest.Scrape(t, admin)
			if got := s[`wssd_deflate_connections_total`]; got != 1 {
				t.Errorf("connections with deflate: %v", got)
			}
			// gorilla compresses every message it sends.
			if got := s[`wssd_deflate_messages_total{direction="received"}`]; got != float64(2*len(sizes)) {
				t.Errorf("compressed messages received: %v, want %d", got, 2*len(sizes))
			}
			if got := s[`wssd_deflate_messages_total{direction="sent"}`]; got != float64(compressedOut) {
				t.Errorf("compressed messages sent: %v, want %d", got, compressedOut)
			}
			wire, plain := s[`wssd_deflate_bytes_total{direction="sent",form="compressed"}`], s[`wssd_deflate_bytes_total{direction="sent",form="plain"}`]
			if wire == 0 || wire*3 > plain {
				t.Errorf("sent %v bytes compressed for %v of JSON", wire, plain)
			}
		})
	}
}

// TestDeflateOff: without Config.Deflate, or on a route it does not name,
// an offer is declined, and the messages go uncompressed both ways.
func TestDeflateOff(t *testing.T) {
	routes := map[string]Handler{"/echo": Echo{}, "/other": Echo{}}
	for name, cfg := range map[string]Config{
		"no deflate":      {Routes: routes},
		"another route's": {Routes: routes, Deflate: &Deflate{Routes: []string{"/other"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, addr, admin := zserve(t, cfg, false)
			d := gws.Dialer{EnableCompression: true, HandshakeTimeout: enginetest.Wait}
			c, resp, err := d.Dial(addr.url("/echo"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if ext := resp.Header.Values("Sec-WebSocket-Extensions"); len(ext) != 0 {
				t.Fatalf("Sec-WebSocket-Extensions: %q", ext)
			}
			msg := zjson(5000)
			if err := c.WriteMessage(gws.TextMessage, msg); err != nil {
				t.Fatal(err)
			}
			if _, got, err := interopGorillaRead(c); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("echo: %d bytes, %v", len(got), err)
			}
			if v, ok := enginetest.Scrape(t, admin)[`wssd_deflate_messages_total{direction="sent"}`]; ok && v != 0 {
				t.Fatalf("%v compressed messages sent", v)
			}
		})
	}
	if _, err := New(Config{ListenPlain: "127.0.0.1:0", Routes: routes, Deflate: &Deflate{Routes: []string{"/nowhere"}}}); err == nil {
		t.Fatal("a deflate route that is not a route was accepted")
	}
	for _, d := range []Deflate{{Level: 10}, {WindowBits: 7}, {WindowBits: 16}, {Threshold: -1}} {
		if _, err := New(Config{ListenPlain: "127.0.0.1:0", Routes: routes, Deflate: &d}); err == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}

// zclient is a raw client that negotiated permessage-deflate: what it
// sends is crafted by the test.
type zclient struct {
	conn net.Conn
	br   *bufio.Reader
	ext  string
}

// zdial opens a connection to /echo offering ext.
func zdial(t *testing.T, addr confAddr, ext string) *zclient {
	t.Helper()
	c, h := confUpgrade(t, addr, 0, ext)
	return &zclient{conn: c.conn, br: c.br, ext: h.Get("Sec-WebSocket-Extensions")}
}

// send writes a masked frame with RSV1 as given.
func (z *zclient) send(t *testing.T, fin bool, op codec.OpCode, rsv1 bool, p []byte) {
	t.Helper()
	b := codec.AppendMaskedFrame(nil, fin, op, p, [4]byte{1, 2, 3, 4})
	if rsv1 {
		b[0] |= 0x40
	}
	_ = z.conn.SetWriteDeadline(time.Now().Add(confWait))
	if _, err := z.conn.Write(b); err != nil {
		t.Fatal(err)
	}
}

// closeCode reads frames until a close, and returns its code.
func (z *zclient) closeCode(t *testing.T) codec.StatusCode {
	t.Helper()
	_ = z.conn.SetReadDeadline(time.Now().Add(confWait))
	r := codec.Reader{FromServer: true, MaxMessage: 1 << 30, Deflate: true}
	for {
		var hb [codec.MaxHeaderSize]byte
		if _, err := z.br.Read(hb[:2]); err != nil {
			t.Fatalf("read: %v", err)
		}
		n := 2
		switch hb[1] & 0x7f {
		case 126:
			n += 2
		case 127:
			n += 8
		}
		if _, err := z.br.Read(hb[2:n]); n > 2 && err != nil {
			t.Fatal(err)
		}
		h, _, err := codec.ParseHeader(hb[:n])
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, h.Length)
		if _, err := ioReadFull(z.br, p); err != nil {
			t.Fatal(err)
		}
		if err := r.Check(h); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == codec.OpClose {
			code, _, _ := codec.ParseClose(p)
			return code
		}
	}
}

func ioReadFull(r *bufio.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := r.Read(p[n:])
		n += k
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// zbomb returns a compressed payload of about 1 MiB that inflates to
// 1000 MiB of zeros.
func zbomb() []byte {
	var c bytes.Buffer
	w, _ := flate.NewWriter(&c, flate.BestCompression)
	_, _ = w.Write(make([]byte, 1<<20))
	_ = w.Flush()
	b := bytes.Repeat(c.Bytes(), 1000)
	return b[:len(b)-4]
}

// rss returns the process's resident memory, in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// TestDeflateBomb: a frame of 1 MiB that would inflate to 1000 MiB closes
// its connection with 1009 and is counted, having inflated no more than
// the limit: twenty of them, over ws:// and wss://, leave the server's
// resident memory where it was, within a bound far below one bomb's worth.
func TestDeflateBomb(t *testing.T) {
	bomb := zbomb()
	for _, tlsOn := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[tlsOn], func(t *testing.T) {
			srv, addr, _ := zserve(t, Config{MaxMessageSize: 1 << 20, Deflate: &Deflate{}}, tlsOn)
			// One first, so that the loops' buffers exist before the
			// memory is read.
			z := zdial(t, addr, "permessage-deflate")
			z.send(t, true, codec.OpBinary, true, bomb)
			if code := z.closeCode(t); code != codec.StatusMessageTooBig {
				t.Fatalf("closed with %d, want 1009", code)
			}
			before := rss(t)
			for range 20 {
				z := zdial(t, addr, "permessage-deflate")
				z.send(t, true, codec.OpBinary, true, bomb)
				if code := z.closeCode(t); code != codec.StatusMessageTooBig {
					t.Fatalf("closed with %d, want 1009", code)
				}
			}
			grew := rss(t) - before
			t.Logf("resident memory grew by %d KiB over 20 bombs", grew>>10)
			if grew > 200<<20 {
				t.Fatalf("resident memory grew by %d MiB over 20 bombs of 1000 MiB", grew>>20)
			}
			enginetest.WaitFor(t, "21 refusals", func() bool { return srv.Refusals()["inflated_too_big"] == 21 })
		})
	}
}

// zrecorder is an echo that keeps the connections it opens.
type zrecorder struct {
	Echo
	mu    sync.Mutex
	conns []*Conn
}

func (h *zrecorder) OnOpen(c *Conn) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

func (h *zrecorder) all() []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Conn(nil), h.conns...)
}

// onLoop runs f on c's loop and waits for it.
func onLoop(t *testing.T, c *Conn, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := c.Post(func() { f(); close(done) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(confWait):
		t.Fatal("the loop did not run the task")
	}
}

// TestDeflateIdleHoldsNothing: without context takeover, a connection that
// has sent and received compressed messages holds nothing for the
// extension but its agreement: no window, no buffer, no DEFLATE state,
// which is the loop's. With context takeover, it holds its windows, each
// within the budget.
func TestDeflateIdleHoldsNothing(t *testing.T) {
	h := &zrecorder{}
	_, addr, _ := zserve(t, Config{Loops: 1, Routes: map[string]Handler{"/echo": h},
		Deflate: &Deflate{ContextTakeover: true, WindowBits: 10}}, false)

	// gorilla forbids context takeover both ways.
	d := gws.Dialer{EnableCompression: true, HandshakeTimeout: enginetest.Wait}
	g, _, err := d.Dial(addr.url("/echo"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	// coder/websocket with context takeover offers plain
	// permessage-deflate: the server keeps its own window (its messages
	// then refer back into the ones before), not the client's, whose
	// window is 2^15 and over the budget.
	ctx, cancel := context.WithTimeout(context.Background(), confWait)
	defer cancel()
	cc, resp, err := cws.Dial(ctx, addr.url("/echo"), &cws.DialOptions{CompressionMode: cws.CompressionContextTakeover})
	if err != nil {
		t.Fatal(err)
	}
	defer cc.CloseNow()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "permessage-deflate; client_no_context_takeover" {
		t.Fatalf("coder/websocket got %q", ext)
	}
	for i := range 20 {
		msg := zjson(3000 + i*100)
		if err := g.WriteMessage(gws.TextMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, err := interopGorillaRead(g); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("gorilla echo %d: %v", i, err)
		}
		if err := cc.Write(ctx, cws.MessageText, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, err := cc.Read(ctx); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("coder echo %d: %v", i, err)
		}
	}
	conns := h.all()
	if len(conns) != 2 {
		t.Fatalf("%d connections", len(conns))
	}
	onLoop(t, conns[0], func() {
		for i, c := range conns {
			switch {
			case c.pmd == 0:
				t.Errorf("connection %d: no agreement", i)
			case i == 0 && c.z != nil:
				t.Errorf("gorilla's connection keeps windows: %d and %d bytes", cap(c.z.in), cap(c.z.out))
			case i == 1 && (c.z == nil || len(c.z.in) != 0 || cap(c.z.out) != 1<<10 || len(c.z.out) != 1<<10):
				t.Errorf("coder's connection keeps %+v; want its own window of 1 KiB and none of the client's", c.z)
			}
			if c.rd.Busy() || c.pong != nil {
				t.Errorf("connection %d holds a message or a pong", i)
			}
		}
	})
}

// TestDeflateFanOut: a Prepared message written to connections on two
// loops is compressed once, and every connection gets it compressed; a
// connection that asked for a smaller window gets one compressed for it.
func TestDeflateFanOut(t *testing.T) {
	h := &zrecorder{}
	_, addr, admin := zserve(t, Config{Loops: 2, Routes: map[string]Handler{"/echo": h}, Deflate: &Deflate{}}, false)
	const n = 30
	d := gws.Dialer{EnableCompression: true, HandshakeTimeout: enginetest.Wait}
	var clients []*gws.Conn
	for range n {
		c, _, err := d.Dial(addr.url("/echo"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	small := zdial(t, addr, "permessage-deflate; server_max_window_bits=9")
	if !strings.Contains(small.ext, "server_max_window_bits=9") {
		t.Fatalf("small window refused: %q", small.ext)
	}
	enginetest.WaitFor(t, "every connection open", func() bool { return len(h.all()) == n+1 })
	msg := zjson(20000)
	p := Prepare(codec.OpText, msg)
	for _, c := range h.all() {
		if err := c.Post(func() { _ = c.WritePrepared(p) }); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range clients {
		if _, got, err := interopGorillaRead(c); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("client %d: %d bytes, %v", i, len(got), err)
		}
	}
	// The one with a window of 2^9 inflates it with the standard library:
	// within its window or not, it must be the message.
	_ = small.conn.SetReadDeadline(time.Now().Add(confWait))
	var hb [4]byte
	if _, err := ioReadFull(small.br, hb[:]); err != nil || hb[0] != 0xc1 || hb[1] != 126 {
		t.Fatalf("small window's frame starts % x, %v", hb, err)
	}
	payload := make([]byte, int(hb[2])<<8|int(hb[3]))
	if _, err := ioReadFull(small.br, payload); err != nil {
		t.Fatal(err)
	}
	if got, err := codec.NewDecompressor().Append(nil, payload, 1<<20, nil); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("small window's message: %d bytes, %v", len(got), err)
	}
	s := enginetest.Scrape(t, admin)
	if got := s["wssd_deflate_compressions_total"]; got != 2 {
		t.Errorf("compressed %v times for %d connections, two window sizes", got, n+1)
	}
	if got := s[`wssd_deflate_messages_total{direction="sent"}`]; got != n+1 {
		t.Errorf("%v messages sent compressed, want %d", got, n+1)
	}
}

// TestDeflateByteRate: the byte rate is charged what a compressed message
// inflates to, not only its frames: a small frame of a large message is
// refused by it.
func TestDeflateByteRate(t *testing.T) {
	srv, addr, _ := zserve(t, Config{Deflate: &Deflate{}, ByteRate: security.Rate{PerSecond: 100 << 10, Burst: 100 << 10}}, false)
	z := zdial(t, addr, "permessage-deflate")
	c, _ := codec.NewCompressor(1)
	zeros := c.Append(nil, make([]byte, 1<<20), 15, nil) // 1 MiB in about 1 KiB
	z.send(t, true, codec.OpBinary, true, zeros)
	if code := z.closeCode(t); code != codec.StatusPolicyViolation {
		t.Fatalf("closed with %d, want 1008", code)
	}
	enginetest.WaitFor(t, "the refusal", func() bool { return srv.Refusals()["rate_bytes"] == 1 })
}

// TestDeflateAccept: an upgrade an HTTPHandler accepts, at once or later,
// negotiates permessage-deflate as a WebSocket route's does.
func TestDeflateAccept(t *testing.T) {
	h := newHXRoute()
	_, addr, admin := zserve(t, hxServer(h, Config{Deflate: &Deflate{}}), false)
	for _, mode := range []string{"now", "later"} {
		d := gws.Dialer{EnableCompression: true, HandshakeTimeout: enginetest.Wait}
		ws, resp, err := d.Dial(addr.url("/poll?mode="+mode), nil)
		if err != nil {
			t.Fatal(err)
		}
		if mode == "later" {
			if err := <-h.errs; err != nil {
				t.Fatalf("Accept: %v", err)
			}
		}
		if ext := resp.Header.Get("Sec-WebSocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
			t.Fatalf("%s: Sec-WebSocket-Extensions %q", mode, ext)
		}
		msg := zjson(4000)
		if err := ws.WriteMessage(gws.TextMessage, msg); err != nil {
			t.Fatal(err)
		}
		if _, got, err := interopGorillaRead(ws); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%s: echo %d bytes, %v", mode, len(got), err)
		}
		ws.Close()
	}
	if got := enginetest.Scrape(t, admin)[`wssd_deflate_messages_total{direction="sent"}`]; got != 2 {
		t.Fatalf("%v messages sent compressed, want 2", got)
	}
}

// TestDeflateIncompressibleAtLimit: a message of exactly MaxMessageSize
// that does not compress comes larger than that on the wire (zlib with a
// small memLevel adds a stored block header every few kilobytes), and is
// taken, as it would be uncompressed.
func TestDeflateIncompressibleAtLimit(t *testing.T) {
	const limit = 1 << 20
	_, addr, _ := zserve(t, Config{MaxMessageSize: limit, Deflate: &Deflate{}}, false)
	z := zdial(t, addr, "permessage-deflate")
	msg := make([]byte, limit)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range msg {
		msg[i] = byte(rnd.Uint32())
	}
	var c bytes.Buffer
	w, _ := flate.NewWriter(&c, flate.BestSpeed)
	for p := msg; len(p) > 0; p = p[min(len(p), 2048):] {
		_, _ = w.Write(p[:min(len(p), 2048)])
		_ = w.Flush()
	}
	payload := c.Bytes()[:c.Len()-4]
	if len(payload) <= limit {
		t.Fatalf("the message compressed to %d bytes: not over the limit", len(payload))
	}
	z.send(t, true, codec.OpBinary, true, payload)
	_ = z.conn.SetReadDeadline(time.Now().Add(confWait))
	var hb [10]byte
	if _, err := ioReadFull(z.br, hb[:2]); err != nil {
		t.Fatal(err)
	}
	if op := codec.OpCode(hb[0] & 0x0f); op != codec.OpBinary {
		t.Fatalf("answered with opcode %d, not the echo (%d bytes on the wire)", op, len(payload))
	}
}

// TestDeflateLogged: the connection lines of a connection that negotiated
// permessage-deflate say so.
func TestDeflateLogged(t *testing.T) {
	var out lockedBuffer
	_, addr, _ := zserve(t, Config{Loops: 1, Deflate: &Deflate{}, Logger: slog.New(slog.NewJSONHandler(&out, nil))}, false)
	d := gws.Dialer{EnableCompression: true, HandshakeTimeout: enginetest.Wait}
	c, _, err := d.Dial(addr.url("/echo"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	enginetest.WaitFor(t, "the opened line", func() bool { return strings.Contains(out.String(), "connection opened") })
	for _, l := range strings.Split(out.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "connection opened" && m["deflate"] != true {
			t.Fatalf("opened line without deflate: %s", l)
		}
	}
}
