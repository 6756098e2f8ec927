package security

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Origins is an allowlist of the web origins (RFC 6454: scheme, host and
// port) whose pages may open WebSocket connections: the gate against
// cross-site WebSocket hijacking, where a page on another site opens a
// connection that carries the user's cookies.
//
// An entry is an origin as browsers send it, "https://app.example.com" or
// "http://localhost:8080": scheme, host and port must all match, with the
// scheme's default port implied when none is written. The one pattern is
// "https://*.example.com", which matches any subdomain of example.com at
// any depth, with that scheme and port, and not example.com itself. There
// is no substring or prefix matching: "https://example.com.evil.net" and
// "https://evilexample.com" match nothing above. A pattern over a public
// suffix ("https://*.com", "https://*.co.uk", "https://*.github.io"), a
// bare top-level name or an IP address is refused: it would let in sites
// that anyone can register. Entries are http or https origins, with a
// port from 1 to 65535 if one is written.
//
// A request without an Origin header is allowed: browsers always send one
// with a WebSocket request, so its absence means a client that is not a
// browser, which cross-site hijacking does not involve (such clients are
// for the token gate to judge). The origin "null" (sandboxed frames, local
// files) is refused unless the list names it.
type Origins struct {
	exact map[string]struct{} // canonical origins
	wild  []wildOrigin
}

type wildOrigin struct {
	scheme string
	suffix string // ".example.com"
	port   string
}

// ParseOrigins returns the allowlist of the given entries; see Origins.
func ParseOrigins(entries []string) (*Origins, error) {
	o := &Origins{exact: make(map[string]struct{})}
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "null" {
			o.exact["null"] = struct{}{}
			continue
		}
		if err := checkEntry(e); err != nil {
			return nil, err
		}
		scheme, host, port, ok := splitOrigin(e)
		if !ok {
			return nil, fmt.Errorf("security: origin %q is not scheme://host[:port]", e)
		}
		rest, wild := strings.CutPrefix(host, "*.")
		if rest == "" || strings.Contains(rest, "*") {
			return nil, fmt.Errorf("security: origin pattern %q: only a leading *. is allowed", e)
		}
		if wild {
			if err := checkWildcard(e, rest); err != nil {
				return nil, err
			}
			o.wild = append(o.wild, wildOrigin{scheme: scheme, suffix: "." + rest, port: port})
			continue
		}
		o.exact[canonical(scheme, host, port)] = struct{}{}
	}
	return o, nil
}

// checkEntry refuses, each with its own message, the two mistakes an
// entry that is otherwise scheme://host[:port] may hold: a scheme that no
// web page's origin has, and a port out of range.
func checkEntry(e string) error {
	scheme, rest, ok := strings.Cut(e, "://")
	if !ok || scheme == "" {
		return fmt.Errorf("security: origin %q is not scheme://host[:port]", e)
	}
	if s := strings.ToLower(scheme); s != "http" && s != "https" {
		return fmt.Errorf("security: origin %q: the scheme must be http or https (browsers send a page's origin with one of those)", e)
	}
	if _, p, err := net.SplitHostPort(strings.TrimSuffix(rest, "/")); err == nil {
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return fmt.Errorf("security: origin %q: the port must be a number from 1 to 65535", e)
		}
	}
	return nil
}

// checkWildcard refuses a pattern *.domain of entry e whose domain is a
// public suffix (as the Public Suffix List has it, where anyone may
// register names: com, co.uk, github.io), a bare top-level name or an IP
// address.
func checkWildcard(e, domain string) error {
	domain = strings.TrimRight(domain, ".") // "com." is com
	if net.ParseIP(domain) != nil {
		return fmt.Errorf("security: origin pattern %q: a wildcard needs a domain name, not an IP address", e)
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(domain); err == nil {
		return nil // a registrable name, or one under it
	}
	if strings.Contains("."+domain+".", "..") {
		return fmt.Errorf("security: origin pattern %q: %q is not a domain name", e, domain)
	}
	if _, icann := publicsuffix.PublicSuffix(domain); !icann && !strings.Contains(domain, ".") {
		// Not on the list: any one name is taken as a top-level one.
		return fmt.Errorf("security: origin pattern %q: a wildcard over a top-level name would allow any site under it", e)
	}
	return fmt.Errorf("security: origin pattern %q: %s is a public suffix, under which anyone may register a site; name your own domain", e, domain)
}

// Allow reports whether a request whose Origin header is origin may be
// upgraded. An allowed origin in canonical form, which is what browsers
// send, is found without allocating.
func (o *Origins) Allow(origin []byte) bool {
	if _, ok := o.exact[string(origin)]; ok {
		return true
	}
	scheme, host, port, ok := splitOrigin(string(origin))
	if !ok {
		return false
	}
	if _, ok := o.exact[canonical(scheme, host, port)]; ok {
		return true
	}
	for _, w := range o.wild {
		if w.scheme == scheme && w.port == port && len(host) > len(w.suffix) && strings.HasSuffix(host, w.suffix) {
			return true
		}
	}
	return false
}

// splitOrigin splits scheme://host[:port] into its parts, lowercased, with
// the scheme's default port filled in.
func splitOrigin(s string) (scheme, host, port string, ok bool) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return "", "", "", false
	}
	scheme = strings.ToLower(scheme)
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" || strings.ContainsAny(rest, "/?#@ \t") {
		return "", "", "", false
	}
	host, port = rest, ""
	if h, p, err := net.SplitHostPort(rest); err == nil {
		host, port = h, p
		if n, err := strconv.ParseUint(p, 10, 16); err != nil || n == 0 {
			return "", "", "", false
		}
	} else if strings.HasPrefix(rest, "[") != strings.HasSuffix(rest, "]") {
		return "", "", "", false
	}
	if port == "" {
		switch scheme {
		case "http", "ws":
			port = "80"
		case "https", "wss":
			port = "443"
		default:
			return "", "", "", false
		}
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	return scheme, host, port, host != ""
}

// canonical is an origin as browsers serialize it: no default port.
func canonical(scheme, host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if (port == "80" && (scheme == "http" || scheme == "ws")) || (port == "443" && (scheme == "https" || scheme == "wss")) {
		return scheme + "://" + host
	}
	return scheme + "://" + host + ":" + port
}
