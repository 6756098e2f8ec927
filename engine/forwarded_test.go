package engine

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
)

// addrRecorder is an echo that keeps the address of each connection it
// opens.
type addrRecorder struct {
	Echo
	mu    sync.Mutex
	addrs []string
}

func (h *addrRecorder) OnOpen(c *Conn) {
	h.mu.Lock()
	h.addrs = append(h.addrs, c.RemoteAddr().(*net.TCPAddr).IP.String())
	h.mu.Unlock()
}

// nth waits for the n-th connection (from 1) to open and returns its
// address: the 101 may reach the client before OnOpen runs.
func (h *addrRecorder) nth(t *testing.T, n int) string {
	t.Helper()
	enginetest.WaitFor(t, "the connection to open", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return len(h.addrs) >= n
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.addrs[n-1]
}

// TestForwardedFor: behind a trusted HTTP proxy, a request's client is the
// rightmost address of X-Forwarded-For that is not a trusted proxy; the
// per-address cap counts it (429 past it); from anyone else, or with a
// header that does not parse, the address is the connection's own.
func TestForwardedFor(t *testing.T) {
	h := &addrRecorder{}
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	srv, addr := startServer(t, Config{TrustedProxies: trusted, MaxConnsPerIP: 1, Routes: map[string]Handler{"/echo": h}})
	dial := func(xff ...string) (*gws.Conn, int) {
		t.Helper()
		hd := http.Header{}
		for _, v := range xff {
			hd.Add("X-Forwarded-For", v)
		}
		d := gws.Dialer{HandshakeTimeout: enginetest.Wait}
		c, resp, err := d.Dial("ws://"+addr+"/echo", hd)
		if err != nil {
			if resp != nil {
				return nil, resp.StatusCode
			}
			t.Fatalf("dial: %v", err)
		}
		t.Cleanup(func() { c.Close() })
		return c, resp.StatusCode
	}
	opened := 0
	for _, tc := range []struct {
		xff  []string
		want string
	}{
		{[]string{"203.0.113.5"}, "203.0.113.5"},
		{[]string{"198.51.100.1, 203.0.113.6"}, "203.0.113.6"},        // the leftmost is the client's claim
		{[]string{"203.0.113.7, 127.0.0.9"}, "203.0.113.7"},           // a trusted hop is skipped
		{[]string{"198.51.100.2", "203.0.113.8:4711"}, "203.0.113.8"}, // several lines, in order; a port
		{[]string{"[2001:db8::1]:80"}, "2001:db8::1"},                 // IPv6 with a port
		{[]string{"127.0.0.7, 127.0.0.8"}, "127.0.0.7"},               // all trusted: the leftmost
	} {
		if _, status := dial(tc.xff...); status != http.StatusSwitchingProtocols {
			t.Fatalf("%q: %d", tc.xff, status)
		}
		opened++
		if got := h.nth(t, opened); got != tc.want {
			t.Errorf("%q: RemoteAddr %s, want %s", tc.xff, got, tc.want)
		}
	}
	// The cap counts the client: 203.0.113.5 has its one connection.
	if _, status := dial("203.0.113.5"); status != http.StatusTooManyRequests {
		t.Errorf("a second connection for 203.0.113.5: %d, want 429", status)
	}
	enginetest.WaitFor(t, "the refusal", func() bool { return srv.Refusals()["ip_connections"] == 1 })
	// A header that does not parse: the proxy's own address (which has
	// room: no connection counted for it yet).
	if _, status := dial("203.0.113.5, not-an-address"); status != http.StatusSwitchingProtocols {
		t.Fatalf("malformed: %d", status)
	}
	if got := h.nth(t, opened+1); got != "127.0.0.1" {
		t.Errorf("malformed: RemoteAddr %s, want the proxy's", got)
	}
}

// TestForwardedForUntrusted: from a source that is not a trusted proxy,
// X-Forwarded-For is ignored: the address and the cap are the socket's.
func TestForwardedForUntrusted(t *testing.T) {
	h := &addrRecorder{}
	_, addr := startServer(t, Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		MaxConnsPerIP: 1, Routes: map[string]Handler{"/echo": h}})
	d := gws.Dialer{HandshakeTimeout: enginetest.Wait}
	c, _, err := d.Dial("ws://"+addr+"/echo", http.Header{"X-Forwarded-For": {"203.0.113.5"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := h.nth(t, 1); got != "127.0.0.1" {
		t.Errorf("RemoteAddr %s, want 127.0.0.1", got)
	}
	// The socket's address has its one connection: refused at accept.
	if c2, _, err := d.Dial("ws://"+addr+"/echo", http.Header{"X-Forwarded-For": {"203.0.113.6"}}); err == nil {
		c2.Close()
		t.Error("a second connection from 127.0.0.1 past the cap")
	}
	if _, err := New(Config{ListenPlain: "127.0.0.1:0", Routes: map[string]Handler{"/echo": Echo{}},
		TrustedProxies: []netip.Prefix{{}}}); err == nil {
		t.Error("an invalid network was accepted")
	}
}
