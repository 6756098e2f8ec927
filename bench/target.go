package bench

import (
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
)

// Target is the server a run measures: any RFC 6455 server at a ws:// or
// wss:// URL; for the socketio scenario, a Socket.IO server, whose URL
// may also be http:// or https:// (the same as ws:// and wss://).
type Target struct {
	URL     *url.URL
	Addr    string      // host:port to dial
	TLS     *tls.Config // nil for ws:// and http://
	header  string      // the request head's extra lines, each ending in CRLF
	headers [][2]string // the same, as names and values (socketio polling)
}

// TargetOptions are the flags that shape how the target is reached.
type TargetOptions struct {
	CAFile   string   // PEM file of the CA to trust, besides the system's
	Insecure bool     // do not verify the server's certificate
	Headers  []string // extra request header lines, "Name: value"
	Origin   string   // the Origin header
	Resume   bool     // keep TLS sessions for resumption (one cache per process)
}

// NewTarget parses rawURL and the options.
func NewTarget(rawURL string, o TargetOptions) (*Target, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	t := &Target{URL: u}
	port := u.Port()
	switch u.Scheme {
	case "ws", "http":
		if port == "" {
			port = "80"
		}
	case "wss", "https":
		if port == "" {
			port = "443"
		}
		cfg := &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: o.Insecure, NextProtos: []string{"http/1.1"}}
		if o.CAFile != "" {
			pem, err := os.ReadFile(o.CAFile)
			if err != nil {
				return nil, err
			}
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("%s: no certificate in it", o.CAFile)
			}
			cfg.RootCAs = pool
		}
		if o.Resume {
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1 << 16)
		}
		t.TLS = cfg
	default:
		return nil, fmt.Errorf("%s: the scheme must be ws or wss (socketio: or http, https)", rawURL)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("%s: no host", rawURL)
	}
	t.Addr = net.JoinHostPort(u.Hostname(), port)
	var h strings.Builder
	for _, line := range o.Headers {
		name, value, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(line, "\r\n") {
			return nil, fmt.Errorf("header %q is not Name: value", line)
		}
		h.WriteString(strings.TrimSpace(name) + ": " + strings.TrimSpace(value) + "\r\n")
		t.headers = append(t.headers, [2]string{strings.TrimSpace(name), strings.TrimSpace(value)})
	}
	if o.Origin != "" {
		if strings.ContainsAny(o.Origin, "\r\n") {
			return nil, errors.New("bad origin")
		}
		h.WriteString("Origin: " + o.Origin + "\r\n")
		t.headers = append(t.headers, [2]string{"Origin", o.Origin})
	}
	t.header = h.String()
	return t, nil
}

// appendRequest appends the upgrade request with key, and the extensions
// offered, if any, to dst.
func (t *Target) appendRequest(dst []byte, key, extensions string) []byte {
	path := t.URL.RequestURI()
	dst = append(dst, "GET "...)
	dst = append(dst, path...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, t.URL.Host...)
	dst = append(dst, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	dst = append(dst, key...)
	dst = append(dst, "\r\n"...)
	if extensions != "" {
		dst = append(dst, "Sec-WebSocket-Extensions: "...)
		dst = append(dst, extensions...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, t.header...)
	return append(dst, "\r\n"...)
}

// acceptFor returns the Sec-WebSocket-Accept a server must answer key with.
func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// webSocket reports whether the target's scheme is ws or wss, that of a
// WebSocket server.
func (t *Target) webSocket() bool {
	return t.URL.Scheme == "ws" || t.URL.Scheme == "wss"
}

// socketIO is the target of a Socket.IO session's requests on transport
// ("websocket" or "polling"): the URL's path, or /socket.io/ when it has
// none, and its query with EIO=4 and the transport; ws or wss for
// WebSocket, http or https for polling.
func (t *Target) socketIO(transport string) *Target {
	st := *t
	u := *t.URL
	secure := u.Scheme == "wss" || u.Scheme == "https"
	switch {
	case transport == "polling" && secure:
		u.Scheme = "https"
	case transport == "polling":
		u.Scheme = "http"
	case secure:
		u.Scheme = "wss"
	default:
		u.Scheme = "ws"
	}
	if u.Path == "" || u.Path == "/" {
		u.Path, u.RawPath = "/socket.io/", ""
	}
	q := u.Query()
	q.Set("EIO", "4")
	q.Set("transport", transport)
	u.RawQuery = q.Encode()
	st.URL = &u
	return &st
}
