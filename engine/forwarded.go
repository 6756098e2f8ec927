package engine

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/wssd/wssd/security"
)

// X-Forwarded-For, on the ws:// listener behind HTTP proxies
// (Config.TrustedProxies).

// trustedProxy reports whether addr is in Config.TrustedProxies. Safe for
// concurrent use.
func (s *Server) trustedProxy(addr netip.Addr) bool {
	addr = addr.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// forwardedClient returns the client a request from a trusted proxy names:
// the rightmost address of its X-Forwarded-For lines (in order) that is
// not a trusted proxy itself, or, when every one is, the leftmost. ok is
// false without the field, or when an address in it does not parse: the
// request is then the proxy's own.
func (s *Server) forwardedClient(r *request) (addr netip.Addr, ok bool) {
	var hops []netip.Addr
	for elem := range r.Elements("x-forwarded-for") {
		a, good := parseHop(elem)
		if !good {
			return netip.Addr{}, false
		}
		hops = append(hops, a)
	}
	if len(hops) == 0 {
		return netip.Addr{}, false
	}
	for i := len(hops) - 1; i >= 0; i-- {
		if !s.trustedProxy(hops[i]) {
			return hops[i], true
		}
	}
	return hops[0], true
}

// parseHop parses one X-Forwarded-For element: an address, or an address
// and a port as some proxies write them ("192.0.2.1:4711",
// "[2001:db8::1]:4711").
func parseHop(b []byte) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(string(b)); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(string(b)); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// forwarded makes the request's client, as a trusted proxy's
// X-Forwarded-For names it, the connection's address while the request is
// served. Called on the loop, for each request on a proxyForwarded
// connection.
func (c *Conn) forwarded(r *request) {
	if a, ok := c.loop.srv.forwardedClient(r); ok {
		c.remote = net.TCPAddrFromAddrPort(netip.AddrPortFrom(a, 0))
		return
	}
	c.remote = c.gc.RemoteAddr()
}

// admitForwarded admits a WebSocket upgrade from behind a trusted proxy by
// its client's address, and answers 429 when the per-address cap or the
// handshake rate refuses it. Called on the loop.
func (c *Conn) admitForwarded() bool {
	if c.proxy != proxyForwarded {
		return true
	}
	lim := c.loop.srv.limits.Load()
	if lim == nil {
		return true
	}
	addr := remoteAddr(c)
	adm, why := lim.AdmitHeld(c.adm, addr, c.loop.now())
	c.adm = adm
	if why == security.Admitted {
		return true
	}
	c.refused(acceptRefusal(why))
	c.respond(http.StatusTooManyRequests, "Retry-After: 1\r\n", "too many connections from this address\n")
	return false
}
