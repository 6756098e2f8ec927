package engine

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
)

// whoami writes each new connection its address, as the server sees it.
type whoami struct{ Echo }

func (whoami) OnOpen(c *Conn) { _ = c.Write(codec.OpText, []byte(c.RemoteAddr().String())) }

// proxyV1 is a version 1 header from src to 127.0.0.1:443.
func proxyV1(src string) []byte {
	a := netip.MustParseAddrPort(src)
	proto, dst := "TCP4", "127.0.0.1"
	if a.Addr().Is6() {
		proto, dst = "TCP6", "::1"
	}
	return []byte("PROXY " + proto + " " + a.Addr().String() + " " + dst + " " +
		itoa(int(a.Port())) + " 443\r\n")
}

// proxyV2 is a version 2 PROXY header from src to 127.0.0.1:443 (or
// [::1]:443), with a TLV; cmd 0 is LOCAL.
func proxyV2(cmd byte, src string) []byte {
	a := netip.MustParseAddrPort(src)
	b := []byte("\r\n\r\n\x00\r\nQUIT\n")
	var block []byte
	fam := byte(0x11)
	if a.Addr().Is4() {
		s, d := a.Addr().As4(), [4]byte{127, 0, 0, 1}
		block = append(append(block, s[:]...), d[:]...)
	} else {
		fam = 0x21
		s, d := a.Addr().As16(), netip.IPv6Loopback().As16()
		block = append(append(block, s[:]...), d[:]...)
	}
	block = binary.BigEndian.AppendUint16(block, a.Port())
	block = binary.BigEndian.AppendUint16(block, 443)
	block = append(block, 0x04, 0, 2, 0, 0) // a NOOP TLV
	b = append(b, 0x20|cmd, fam)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)))
	return append(b, block...)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// proxyServer is a server with the listener of scheme ("ws" or "wss"),
// the whoami route, and cfg's PROXY protocol and gates.
type proxyServer struct {
	srv  *Server
	url  string
	ccfg *tls.Config
}

func startProxyServer(t *testing.T, scheme string, cfg Config) proxyServer {
	t.Helper()
	cfg.Routes = map[string]Handler{"/who": whoami{}}
	if scheme == "wss" {
		srv, addr, ccfg := startTLSServer(t, cfg)
		return proxyServer{srv, "wss://" + addr + "/who", ccfg}
	}
	srv, addr := startServer(t, cfg)
	return proxyServer{srv: srv, url: "ws://" + addr + "/who"}
}

// dial connects as a balancer would, writing hdr (if any) first, and
// returns the connection and the address the server greeted it with.
func (p proxyServer) dial(t *testing.T, hdr []byte) (*gws.Conn, string, error) {
	t.Helper()
	d := gws.Dialer{
		HandshakeTimeout: gateWait,
		TLSClientConfig:  p.ccfg,
		NetDial: func(network, addr string) (net.Conn, error) {
			nc, err := net.Dial(network, addr)
			if err == nil && hdr != nil {
				_, err = nc.Write(hdr)
			}
			return nc, err
		},
	}
	c, _, err := d.Dial(p.url, nil)
	if err != nil {
		return nil, "", err
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(gateWait))
	_, who, err := c.ReadMessage()
	return c, string(who), err
}

// waitBalanced waits until every connection has gone and checks that each
// admission was released: the gate holds no connection and no address.
func waitBalanced(t *testing.T, srv *Server) {
	t.Helper()
	deadline := time.Now().Add(gateWait)
	for srv.Active() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	lim := srv.limits.Load()
	if srv.Active() != 0 || lim.Conns() != 0 || lim.Addrs() != 0 {
		t.Fatalf("after every close: %d active, the gate holds %d connections and %d addresses",
			srv.Active(), lim.Conns(), lim.Addrs())
	}
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// TestProxyProtocol: behind a trusted balancer, versions 1 and 2 of the
// header name the connection's address, for the handler and for the
// per-address cap, over ws:// and wss://; every admission is released.
func TestProxyProtocol(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			p := startProxyServer(t, scheme, Config{ProxyProtocol: loopback, MaxConnsPerIP: 1, MaxConnections: 100})
			var conns []*gws.Conn
			for _, c := range []struct {
				hdr  []byte
				want string
			}{
				{proxyV1("203.0.113.1:4001"), "203.0.113.1:4001"},
				{proxyV2(1, "203.0.113.2:4002"), "203.0.113.2:4002"},
				{proxyV1("[2001:db8::1]:4003"), "[2001:db8::1]:4003"},
				{proxyV2(1, "[2001:db8:1::1]:4004"), "[2001:db8:1::1]:4004"},
				{proxyV2(0, "203.0.113.9:9"), "127.0.0.1:"}, // LOCAL: the balancer's own
				{[]byte("PROXY UNKNOWN\r\n"), "127.0.0.1:"},
			} {
				conn, who, err := p.dial(t, c.hdr)
				if err != nil {
					t.Fatalf("%q: %v", c.hdr, err)
				}
				if who != c.want && !(c.want == "127.0.0.1:" && len(who) > len(c.want) && who[:len(c.want)] == c.want) {
					t.Fatalf("%q: the server sees %s; want %s", c.hdr, who, c.want)
				}
				if c.want != "127.0.0.1:" {
					conns = append(conns, conn)
					continue
				}
				// The balancer's own address has a cap of one too: wait
				// until the server has seen this one go.
				conn.Close()
				deadline := time.Now().Add(gateWait)
				for p.srv.Active() > int64(len(conns)) && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
			}
			// The cap counts the header's address, not the balancer's.
			conn, _, err := p.dial(t, proxyV1("203.0.113.1:5000"))
			if err == nil {
				t.Fatalf("a second connection naming 203.0.113.1: admitted, %v", conn.RemoteAddr())
			}
			for _, c := range conns {
				gateEcho(t, c, "still here")
				c.Close()
			}
			waitRefusals(t, p.srv, map[string]uint64{"ip_connections": 1})
			waitBalanced(t, p.srv)
		})
	}
}

// TestProxyProtocolRefused: a header from a source that is not trusted is
// refused, a connection from a trusted one without a header or with a bad
// one too; a connection from elsewhere without a header is served.
func TestProxyProtocolRefused(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"ws", "wss"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			t.Run("untrusted", func(t *testing.T) {
				t.Parallel()
				p := startProxyServer(t, scheme, Config{ProxyProtocol: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
					MaxConnsPerIP: 10})
				for _, hdr := range [][]byte{proxyV1("203.0.113.1:4001"), proxyV2(1, "203.0.113.2:4002")} {
					if _, who, err := p.dial(t, hdr); err == nil {
						t.Fatalf("%q from 127.0.0.1: served as %s", hdr, who)
					}
				}
				c, who, err := p.dial(t, nil)
				if err != nil || who[:len("127.0.0.1:")] != "127.0.0.1:" {
					t.Fatalf("without a header: %q, %v", who, err)
				}
				c.Close()
				waitRefusals(t, p.srv, map[string]uint64{"proxy_untrusted": 2})
				waitBalanced(t, p.srv)
			})
			t.Run("trusted", func(t *testing.T) {
				t.Parallel()
				p := startProxyServer(t, scheme, Config{ProxyProtocol: loopback, MaxConnsPerIP: 10})
				for _, hdr := range [][]byte{
					nil, // no header: the request or the ClientHello comes first
					[]byte("PROXY TCP4 203.0.113.1 127.0.0.1 4001\r\n"),
					[]byte("PROXY TCP4 203.0.113.1 127.0.0.1 4001 443\n"),
					[]byte("PROXY TCP6 203.0.113.1 127.0.0.1 4001 443\r\n"),
					append(proxyV2(1, "203.0.113.2:4002")[:12], 0x22, 0x11, 0, 0),
				} {
					if _, who, err := p.dial(t, hdr); err == nil {
						t.Fatalf("%q: served as %s", hdr, who)
					}
				}
				waitRefusals(t, p.srv, map[string]uint64{"proxy_header": 5})
				waitBalanced(t, p.srv)
			})
		})
	}
}

func TestProxyProtocolConfig(t *testing.T) {
	if _, err := New(Config{ListenPlain: "127.0.0.1:0", Routes: map[string]Handler{"/": Echo{}},
		ProxyProtocol: []netip.Prefix{{}}}); err == nil {
		t.Fatal("New accepted an invalid network")
	}
}
