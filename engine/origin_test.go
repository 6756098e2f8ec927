package engine

import (
	"bufio"
	"io"
	"net/http"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/security"
)

// TestOriginAllowlist: with an allowlist, a request from another origin is
// answered 403 before any upgrade; listed origins, subdomains of a pattern
// and requests without an Origin (not from a browser) are upgraded.
func TestOriginAllowlist(t *testing.T) {
	t.Parallel()
	origins, err := security.ParseOrigins([]string{"https://app.example.com", "https://*.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Config{Origins: origins})
	cases := []struct {
		origin string // "" for none
		want   int
	}{
		{"https://app.example.com", http.StatusSwitchingProtocols},
		{"https://app.example.com:443", http.StatusSwitchingProtocols},
		{"https://chat.example.net", http.StatusSwitchingProtocols},
		{"", http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"https://app.example.com.evil.example", http.StatusForbidden},
		{"http://app.example.com", http.StatusForbidden},
		{"https://app.example.com:8443", http.StatusForbidden},
		{"https://app.example.com.", http.StatusForbidden},
		{"https://evilapp.example.com", http.StatusForbidden},
		{"https://example.net", http.StatusForbidden},
		{"null", http.StatusForbidden},
	}
	for _, c := range cases {
		var extra []string
		if c.origin != "" {
			extra = append(extra, "Origin: "+c.origin)
		}
		nc := httpDial(t, addr)
		if _, err := io.WriteString(nc, httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil, extra...)...)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("origin %q: %v", c.origin, err)
		}
		if resp.StatusCode != c.want {
			t.Errorf("origin %q: status %d; want %d", c.origin, resp.StatusCode, c.want)
		}
		if c.want == http.StatusForbidden {
			body, _ := io.ReadAll(resp.Body)
			if string(body) != "origin not allowed\n" {
				t.Errorf("origin %q: body %q", c.origin, body)
			}
			httpWantEOF(t, br)
		}
		nc.Close()
	}
}

// TestOriginGorilla: a real client that sets Origin is refused or served
// by the allowlist.
func TestOriginGorilla(t *testing.T) {
	t.Parallel()
	origins, err := security.ParseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	_, addr := startServer(t, Config{Origins: origins})
	d := gws.Dialer{HandshakeTimeout: httpWait}
	_, resp, err := d.Dial("ws://"+addr+"/echo", http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v, %v; want a 403 refusal", resp, err)
	}
	c, _, err := d.Dial("ws://"+addr+"/echo", http.Header{"Origin": {"https://app.example.com"}})
	if err != nil {
		t.Fatalf("listed origin: %v", err)
	}
	defer c.Close()
	if err := c.WriteMessage(gws.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hi" {
		t.Fatalf("echo: %q, %v", p, err)
	}
}
