package enginetest

import (
	"crypto/tls"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Dial opens a WebSocket client connection to url (ws:// or wss://,
// trusting tlsConfig's roots) with the request header h, and closes it
// when the test ends. The client is gorilla/websocket's: written by
// others, it checks the server as any client would.
func Dial(t testing.TB, url string, h http.Header, tlsConfig *tls.Config) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: Wait, TLSClientConfig: tlsConfig}
	c, resp, err := d.Dial(url, h)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (HTTP status %d)", url, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// WantClose reads from c until the server's close frame, skipping data
// messages sent before it, and fails the test unless it carries code and
// reason.
func WantClose(t testing.TB, c *websocket.Conn, code int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(Wait))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: %v; want close %d %q", err, code, reason)
		}
		if ce.Code != code || ce.Text != reason {
			t.Fatalf("closed with %d %q; want %d %q", ce.Code, ce.Text, code, reason)
		}
		return
	}
}
