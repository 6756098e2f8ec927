package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"

	"github.com/wssd/wssd/security"
)

// The PROXY protocol (Config.ProxyProtocol): a trusted load balancer's
// connection starts with a header naming the client, which is read before
// anything else and then stands for the connection's address. Its
// admission is taken in two steps: the total cap at accept (Hold), the
// per-address cap and handshake rate once the header has named the
// address (AdmitHeld); the one Admission is released once, by whoever
// holds the connection when it ends, as any other.
//
// For ws:// the header is read on the loop, from gnet's buffer, in front
// of the HTTP request (Conn.readProxy). For wss:// the TLS worker reads
// it from the socket, exactly its bytes and none past it, before
// crypto/tls reads the first record (readProxyHeader).

// proxyState is where a ws:// connection is with the PROXY protocol.
type proxyState uint8

const (
	proxyNone      proxyState = iota // done, or not in use
	proxyExpect                      // from a trusted balancer: a header must come first
	proxyCheck                       // from anyone else: refused if a header comes first
	proxyForwarded                   // from a trusted HTTP proxy: each request's X-Forwarded-For names its client
)

// proxyFor returns how a connection from nc's address is to be read:
// proxyNone when the server takes no PROXY protocol. Safe for concurrent
// use.
func (s *Server) proxyFor(nc net.Conn) proxyState {
	if len(s.cfg.ProxyProtocol) == 0 {
		return proxyNone
	}
	addr := remoteAddr(nc).Unmap()
	for _, p := range s.cfg.ProxyProtocol {
		if p.Contains(addr) {
			return proxyExpect
		}
	}
	return proxyCheck
}

// remoteAddr returns the IP address of a TCP socket's peer.
func remoteAddr(c interface{ RemoteAddr() net.Addr }) netip.Addr {
	a, _ := c.RemoteAddr().(*net.TCPAddr)
	if a == nil {
		return netip.Addr{}
	}
	return a.AddrPort().Addr()
}

// acceptRefusal is the refusal counted for why the accept gate refused a
// connection.
func acceptRefusal(why security.Refusal) Refusal {
	switch why {
	case security.RefusePerIP:
		return refIPConns
	case security.RefuseHandshakeRate:
		return refHandshakeRate
	}
	return refMaxConns
}

// readProxy reads the PROXY protocol header at the front of a ws://
// connection's input, or, for a connection not from a trusted balancer,
// makes sure its input does not start with one; it waits for more bytes
// while it cannot tell yet, under the handshake deadline. A connection
// refused is closed. Called on the loop, before the request is read.
func (c *Conn) readProxy() {
	b, _ := c.gc.Peek(c.gc.InboundBuffered())
	if c.proxy == proxyCheck {
		is, sure := security.IsProxyHeader(b)
		switch {
		case !sure:
		case is:
			c.refuseProxy(refProxyUntrusted)
		default:
			c.proxy = proxyNone
		}
		return
	}
	src, n, err := security.ParseProxyHeader(b)
	if err != nil {
		c.refuseProxy(refProxyHeader)
		return
	}
	if n == 0 {
		return
	}
	_, _ = c.gc.Discard(n)
	c.proxy = proxyNone
	addr := remoteAddr(c.gc).Unmap() // LOCAL or UNKNOWN: the balancer's own
	if src.IsValid() {
		c.remote, addr = net.TCPAddrFromAddrPort(src), src.Addr()
	}
	if lim := c.loop.srv.limits.Load(); lim != nil {
		adm, why := lim.AdmitHeld(c.adm, addr, c.loop.now())
		c.adm = adm
		if why != security.Admitted {
			c.refuseProxy(acceptRefusal(why))
		}
	}
}

// refuseProxy refuses a ws:// connection before its request, as the
// acceptor refuses one: no answer, a reset. Called on the loop.
func (c *Conn) refuseProxy(r Refusal) {
	c.refused(r)
	_ = c.gc.SetLinger(0)
	c.closeNow()
}

// readProxyTLS reads the PROXY protocol header of a wss:// connection from
// a trusted balancer, in a TLS worker, before its handshake, and admits the
// address it names: p.addr then holds that address's share of the TLS
// workers, and p.remote is the address. It reports false when the
// connection was refused: then it is closed, p's deadline is settled and
// its admission released. Called by a TLS worker.
func (s *Server) readProxyTLS(ctx context.Context, p *pendingTLS, rlog *refusalLog) bool {
	// Shutdown abandons a header being read as it does a handshake.
	stop := context.AfterFunc(ctx, func() { _ = p.nc.SetDeadline(longAgo) })
	src, err := readProxyHeader(p.nc)
	stop()
	refuse := func(r Refusal) bool {
		s.settle(p)
		s.release(p.adm)
		s.refuseAtAccept(p.nc, p.remote, r, s.clock(), rlog)
		return false
	}
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			// Counted as the handshake's expiry, or the server is
			// stopping.
			s.settle(p)
			s.release(p.adm)
			p.nc.Close()
			return false
		}
		return refuse(refProxyHeader)
	}
	addr := remoteAddr(p.nc).Unmap()
	if src.IsValid() {
		p.remote, addr = net.TCPAddrFromAddrPort(src), src.Addr()
	}
	if lim := s.limits.Load(); lim != nil {
		adm, why := lim.AdmitHeld(p.adm, addr, s.clock())
		p.adm = adm
		if why != security.Admitted {
			return refuse(acceptRefusal(why))
		}
	}
	if !s.tlsShares.Take(addr) {
		return refuse(refTLSShare)
	}
	p.addr = addr
	return true
}

// readProxyHeader reads a PROXY protocol header from r, and no byte past
// it: each read asks only for bytes that a valid header still surely
// has, so what follows (the TLS ClientHello) stays in the socket for
// crypto/tls. A version 2 header is read in two reads, its fixed part then
// the rest; a version 1 header one byte at a time past its shortest form.
func readProxyHeader(r io.Reader) (netip.AddrPort, error) {
	var b [security.MaxProxyV2]byte
	n, want := 0, len("PROXY UNKNOWN\r\n") // the shortest header; version 2's is 16 bytes
	for {
		m, err := io.ReadFull(r, b[n:want])
		n += m
		if err != nil {
			return netip.AddrPort{}, err
		}
		src, hn, err := security.ParseProxyHeader(b[:n])
		switch {
		case err != nil:
			return netip.AddrPort{}, err
		case hn == n:
			return src, nil
		case hn != 0:
			return netip.AddrPort{}, errors.New("engine: read past the PROXY header") // cannot happen
		}
		want = n + 1
		if b[0] != 'P' && n >= 16 {
			// The parser has checked the length against its bound.
			want = 16 + int(binary.BigEndian.Uint16(b[14:16]))
		}
	}
}

// firstBytes is a socket that keeps a copy of the first bytes read from
// it, for a wss:// connection not from a trusted balancer: if its
// handshake fails, they tell whether it was because a PROXY header came
// instead of a ClientHello.
type firstBytes struct {
	net.Conn
	b [12]byte
	n int
}

func (f *firstBytes) Read(p []byte) (int, error) {
	n, err := f.Conn.Read(p)
	f.n += copy(f.b[f.n:], p[:n])
	return n, err
}

// proxyHeader reports whether the bytes read so far started with a PROXY
// protocol header's signature.
func (f *firstBytes) proxyHeader() bool {
	is, _ := security.IsProxyHeader(f.b[:f.n])
	return is
}
