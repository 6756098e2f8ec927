package engine

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/gobwas/ws"
	gws "github.com/gorilla/websocket"
	"github.com/panjf2000/gnet/v2"

	"github.com/wssd/wssd/engine/tlsrec"
)

// metricValue returns the value of the series named exactly name in set,
// or -1 when it is not there.
func metricValue(set *metrics.Set, name string) float64 {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			for _, c := range v {
				if c < '0' || c > '9' {
					return -1
				}
				f = 10*f + float64(c-'0')
			}
			return f
		}
	}
	return -1
}

// TestTLSVersions: TLS 1.2 and TLS 1.3 clients are both served, each on
// its record path (crypto/tls's for 1.2, the server's own for 1.3), with
// messages from empty to many records long, in full and resumed
// handshakes, and counted apart.
func TestTLSVersions(t *testing.T) {
	set := metrics.NewSet()
	_, addr, ccfg := startTLSServer(t, Config{Metrics: set, MaxMessageSize: 1 << 20})
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		cfg := ccfg.Clone()
		cfg.MinVersion, cfg.MaxVersion = v, v
		// With a session cache the client gets a ticket, sealed before
		// the server's first record, and resumes the second time.
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
		d := gws.Dialer{TLSClientConfig: cfg, HandshakeTimeout: confWait}
		for resume := range 2 {
			c, _, err := d.Dial("wss://"+addr+"/echo", nil)
			if err != nil {
				t.Fatalf("TLS %x: dial: %v", v, err)
			}
			st := c.NetConn().(*tls.Conn).ConnectionState()
			if st.Version != v || st.DidResume != (resume == 1) {
				t.Fatalf("negotiated %x, resumed %v; want %x, %v", st.Version, st.DidResume, v, resume == 1)
			}
			for _, n := range []int{0, 1, 16<<10 - 10, 16 << 10, 100_000, 1 << 20} {
				msg := bytes.Repeat([]byte{byte(n)}, n)
				_ = c.SetWriteDeadline(time.Now().Add(confWait))
				_ = c.SetReadDeadline(time.Now().Add(confWait))
				if err := c.WriteMessage(gws.BinaryMessage, msg); err != nil {
					t.Fatal(err)
				}
				if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("TLS %x: echo of %d bytes: %d bytes, %v", v, n, len(got), err)
				}
			}
			c.Close()
		}
	}
	for _, name := range []string{
		`wssd_tls_sessions_total{version="1.2",records="crypto/tls"}`,
		`wssd_tls_sessions_total{version="1.3",records="wssd"}`,
	} {
		if got := metricValue(set, name); got != 2 {
			t.Errorf("%s = %v; want 2", name, got)
		}
	}
}

// TestTLSBadRecord: a record changed on the way (a bit flipped in its
// header, its ciphertext or its tag) ends the connection with a
// bad_record_mac alert, is counted, and none of it reaches the handler;
// what came before it did.
func TestTLSBadRecord(t *testing.T) {
	for _, where := range []string{"version", "ciphertext", "tag"} {
		t.Run(where, func(t *testing.T) {
			set := metrics.NewSet()
			srv, addr, ccfg := startTLSServer(t, Config{Metrics: set})
			c, raw, s := sealedClient(t, confAddr{hostport: addr, tls: ccfg}, 0)
			wire := s.seal(nil, recordApplication, confFrame(cfFin|cfText, "good"))
			at := len(wire)
			wire = s.seal(wire, recordApplication, confFrame(cfFin|cfText, "forged"))
			switch where {
			case "version":
				wire[at+2] ^= 0x01
			case "ciphertext":
				wire[at+7] ^= 0x80
			case "tag":
				wire[len(wire)-1] ^= 0x01
			}
			if _, err := raw.Write(wire); err != nil {
				t.Fatal(err)
			}
			c.expect(confMsg(ws.OpText, "good"))
			m, err := c.next()
			if err == nil || !strings.Contains(err.Error(), "bad record MAC") {
				t.Fatalf("after the changed record: %v, %v; want the bad_record_mac alert", m, err)
			}
			waitRefusals(t, srv, map[string]uint64{"tls_record": 1})
			if got := metricValue(set, `wssd_tls_alerts_total{alert="bad_record_mac",sent_by="server"}`); got != 1 {
				t.Errorf("bad_record_mac alerts counted: %v; want 1", got)
			}
		})
	}
}

// TestKeyUpdateFlood: a client asks for a KeyUpdate in every other record
// and never reads. However many it asks for, the server answers with one
// KeyUpdate, in front of the next record it sends (RFC 8446 section
// 4.6.3), so nothing waits in its queue, and the connection still works
// after: the client's tls.Conn takes the answer and then the echo.
func TestKeyUpdateFlood(t *testing.T) {
	t.Parallel() // a few seconds of the server's crypto, under the race detector
	srv, addr, ccfg := startTLSServer(t, Config{MaxOutbound: 64 << 10})
	c, raw, s := sealedClient(t, confAddr{hostport: addr, tls: ccfg}, 4096)
	pong := confFrame(cfFin|cfPong, "") // ignored by the server
	var wire []byte
	// One answer a request would be 27 bytes each: enough of them to fill
	// the largest send buffer the kernel gives a socket, and MaxOutbound
	// after it, twice over.
	batches := 2*(sendBufferMax(t)+64<<10)/(27*500) + 1
	for range batches {
		wire = wire[:0]
		for range 500 {
			wire = s.keyUpdate(t, wire)
			wire = s.seal(wire, recordApplication, pong)
		}
		_ = raw.SetWriteDeadline(time.Now().Add(3 * confWait))
		if _, err := raw.Write(wire); err != nil {
			t.Fatalf("the server stopped reading: %v", err)
		}
	}
	if _, err := raw.Write(s.seal(nil, recordApplication, confFrame(cfFin|cfText, "still here"))); err != nil {
		t.Fatal(err)
	}
	c.expect(confMsg(ws.OpText, "still here"))
	if r := srv.Refusals()["slow_consumer"]; r != 0 {
		t.Fatalf("%d slow consumers: the answers were not coalesced", r)
	}
}

// TestTLSCiphersCool: a connection's record layer lets go of its ciphers
// once it has been quiet for a few seconds, and builds them again for the
// next record.
func TestTLSCiphersCool(t *testing.T) {
	srv, addr, ccfg := startTLSServer(t, Config{})
	d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: confWait}
	c, _, err := d.Dial("wss://"+addr+"/echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo := func(msg string) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(confWait))
		if err := c.WriteMessage(gws.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != msg {
			t.Fatalf("echo: %q, %v", got, err)
		}
	}
	echo("warm")
	if n := hotLayers(t, srv); n != 1 {
		t.Fatalf("%d record layers hold ciphers after an echo; want 1", n)
	}
	deadline := time.Now().Add(confWait)
	for hotLayers(t, srv) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the quiet connection's ciphers were not let go")
		}
		time.Sleep(50 * time.Millisecond) // the loops sweep every coolSeconds
	}
	echo("cold")
}

// hotLayers counts the record layers that hold ciphers, on every loop.
func hotLayers(t *testing.T, srv *Server) int {
	t.Helper()
	n := 0
	for _, l := range srv.loopList() {
		done := make(chan int, 1)
		err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
			done <- len(l.hot)
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case k := <-done:
			n += k
		case <-time.After(confWait):
			t.Fatal("loop did not run the task")
		}
	}
	return n
}

// TestTLSCloseNotify: the end of a WebSocket connection over TLS 1.3 ends
// the TLS stream properly too: right after the server's close frame comes
// its close_notify, whether the client closed first or the server failed
// the connection. (crypto/tls's client takes a bare TCP end as a clean one
// too, so the client here reads the records with tlsrec.)
func TestTLSCloseNotify(t *testing.T) {
	_, addr, ccfg := startTLSServer(t, Config{})
	for _, how := range []string{"client closes", "server fails"} {
		t.Run(how, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			_ = nc.SetDeadline(time.Now().Add(confWait))
			tr := tlsrec.NewTransport(nc, true)
			cfg := ccfg.Clone()
			cfg.MinVersion = tls.VersionTLS13
			tc := tls.Client(tr, tr.ClientConfig(cfg))
			if err := tc.Handshake(); err != nil {
				t.Fatal(err)
			}
			st, err := tr.Finish(tc, false)
			if err != nil || st == nil {
				t.Fatalf("finish: %v", err)
			}
			send := func(b []byte) {
				if _, err := nc.Write(st.Seal(nil, b, nil)); err != nil {
					t.Fatal(err)
				}
			}
			var in []byte
			buf := make([]byte, 4096)
			// read reads records until want is in the plaintext, or the
			// TLS stream ends; it returns how it ended.
			read := func(want []byte) error {
				first, rest, err := st.Input(nil)
				for {
					in = append(append(in, first...), rest...)
					if err != nil || bytes.Contains(in, want) {
						return err
					}
					n, rerr := nc.Read(buf)
					if rerr != nil {
						return rerr
					}
					first, rest, err = st.Input(buf[:n])
				}
			}
			send([]byte(httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil)...)))
			if err := read([]byte("\r\n\r\n")); err != nil || !bytes.HasPrefix(in, []byte("HTTP/1.1 101 ")) {
				t.Fatalf("upgrade: %q, %v", in, err)
			}
			in = in[:0]
			var closeFrame []byte
			if how == "client closes" {
				send(confFrame(cfFin|cfClose, confClosePayload(1000, "bye")))
				closeFrame = confBuildFrame(cfFin|cfClose, confClosePayload(1000, "bye"), false)
			} else {
				send(confFrame(cfFin|0x3, "reserved opcode"))
				closeFrame = []byte{cfFin | cfClose}
			}
			err = read([]byte("never"))
			if !bytes.HasPrefix(in, closeFrame) || err != tlsrec.ErrCloseNotify {
				t.Fatalf("after the close: %x, %v; want the close frame %x, then close_notify", in, err, closeFrame)
			}
		})
	}
}

// sendBufferMax returns the most bytes the kernel buffers for a TCP
// socket's sends (net.ipv4.tcp_wmem's third value), or 4 MiB, Linux's
// default, when it cannot be read.
func sendBufferMax(t *testing.T) int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if err != nil {
		return 4 << 20
	}
	f := strings.Fields(string(b))
	if len(f) != 3 {
		t.Fatalf("tcp_wmem: %q", b)
	}
	n, err := strconv.Atoi(f[2])
	if err != nil {
		t.Fatalf("tcp_wmem: %q", b)
	}
	return n
}
