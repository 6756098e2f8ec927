package engine

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
)

// TestConnectionLogs: a connection's open and close lines carry its remote
// address, listener, route, origin and subject, and the close line how
// long it lasted, what went each way and how it ended; no line holds the
// token, whichever way it came.
func TestConnectionLogs(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	_, addr := startServer(t, Config{Loops: 1, Auth: testAuthenticator(t, time.Second), Logger: log})
	tok := enginetest.Sign(t, jwt.MapClaims{"sub": "erin", "iss": "https://issuer.example", "aud": "wssd", "exp": time.Now().Add(time.Hour).Unix()})
	for _, via := range []string{"query", "protocol"} {
		h := http.Header{"Origin": {"https://app.example.com"}}
		query := ""
		if via == "query" {
			query = "?token=" + tok
		} else {
			h.Set("Sec-WebSocket-Protocol", "bearer, "+tok)
		}
		c, _, err := gateDial(t, addr, query, h)
		if err != nil {
			t.Fatal(err)
		}
		gateEcho(t, c, "abc")
		gateEcho(t, c, "defg")
		if err := c.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, "done"), time.Now().Add(gateWait)); err != nil {
			t.Fatal(err)
		}
		gateWantCloseOnly(t, c, gws.CloseNormalClosure, "done")
	}
	lineWith := func(msg string, n int) map[string]any {
		t.Helper()
		deadline := time.Now().Add(gateWait)
		for {
			var found []map[string]any
			for _, l := range strings.Split(out.String(), "\n") {
				var m map[string]any
				if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
					found = append(found, m)
				}
			}
			if len(found) > n {
				return found[n]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no line %d %q in:\n%s", n, msg, out.String())
			}
			time.Sleep(10 * time.Millisecond) // the loop logs the close after the client has seen it
		}
	}
	for i := range 2 {
		for _, msg := range []string{"connection opened", "connection closed"} {
			m := lineWith(msg, i)
			for k, want := range map[string]any{"listener": "ws", "route": "/echo", "origin": "https://app.example.com", "subject": "erin"} {
				if m[k] != want {
					t.Errorf("%s line %d: %s = %v, want %v", msg, i, k, m[k], want)
				}
			}
			if _, ok := m["deflate"]; ok {
				t.Errorf("%s line %d: deflate without the extension", msg, i)
			}
			if r, _ := m["remote"].(string); !strings.HasPrefix(r, "127.0.0.1:") {
				t.Errorf("%s line %d: remote %v", msg, i, m["remote"])
			}
		}
		m := lineWith("connection closed", i)
		for k, want := range map[string]any{"msgs_in": 2.0, "msgs_out": 2.0, "bytes_in": 7.0, "bytes_out": 7.0,
			"code": 1000.0, "reason": "done", "closed_by": "client"} {
			if m[k] != want {
				t.Errorf("close line %d: %s = %v, want %v", i, k, m[k], want)
			}
		}
		if d, ok := m["duration"].(float64); !ok || d <= 0 {
			t.Errorf("close line %d: duration %v", i, m["duration"])
		}
	}
	if strings.Contains(out.String(), tok) || strings.Contains(out.String(), strings.Split(tok, ".")[2]) {
		t.Errorf("the log holds the token:\n%s", out.String())
	}
}

// TestNotFoundLog: a request for a path no route serves is logged with
// the remote address and the path, never the query; a burst writes one
// line, and the first line a second later says how many were left out.
func TestNotFoundLog(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	cfg, clk := clocked(Config{Loops: 1, Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	srv, addr := startServer(t, cfg)
	miss := func() {
		t.Helper()
		d := gws.Dialer{HandshakeTimeout: gateWait}
		c, resp, err := d.Dial("ws://"+addr+"/sockets/?EIO=4&transport=websocket&token=query-secret", nil)
		if c != nil {
			c.Close()
		}
		if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Fatalf("dial: %v, %v; want 404", resp, err)
		}
	}
	lines := func() []map[string]any {
		var found []map[string]any
		for _, l := range strings.Split(out.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "not found" {
				found = append(found, m)
			}
		}
		return found
	}
	for range 5 {
		miss() // its line, if any, is written before the answer
	}
	got := lines()
	if len(got) != 1 {
		t.Fatalf("%d lines for 5 requests in a second, want 1:\n%s", len(got), out.String())
	}
	if r, _ := got[0]["remote"].(string); got[0]["path"] != "/sockets/" || !strings.HasPrefix(r, "127.0.0.1:") || got[0]["suppressed"] != nil {
		t.Errorf("first line %v", got[0])
	}

	clk.Advance(time.Second)
	settle(srv)
	miss()
	got = lines()
	if len(got) != 2 || got[1]["path"] != "/sockets/" || got[1]["suppressed"] != 4.0 {
		t.Fatalf("after a second: %v; want a second line with suppressed 4", got)
	}
	if s := out.String(); strings.Contains(s, "query-secret") || strings.Contains(s, "EIO") {
		t.Errorf("the log holds the query:\n%s", s)
	}
}
