package engine

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/enginetest"
)

// TestCloseSubject: CloseSubject closes, with the code and reason given,
// the open connections of one token subject on every route and loop, and
// no other; Connections counts them by listener.
func TestCloseSubject(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, Config{
		Auth:    testAuthenticator(t, time.Second),
		Routes:  map[string]Handler{"/echo": subjectEcho{}, "/other": subjectEcho{}},
		Metrics: metrics.NewSet(),
	})
	dial := func(path, sub string) *gws.Conn {
		tok := enginetest.Sign(t, jwt.MapClaims{"sub": sub, "iss": enginetest.Issuer, "aud": enginetest.Audience,
			"exp": time.Now().Add(time.Hour).Unix()})
		return enginetest.Dial(t, "ws://"+addr+path, http.Header{"Authorization": {"Bearer " + tok}}, nil)
	}
	echo := func(c *gws.Conn, want string) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(enginetest.Wait))
		if err := c.WriteMessage(gws.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
	// Two loops, three connections of alice's (so both loops have some,
	// whichever way the connections are spread), on two routes.
	alice := []*gws.Conn{dial("/echo", "alice"), dial("/other", "alice"), dial("/echo", "alice")}
	bob := dial("/echo", "bob")
	for _, c := range alice {
		echo(c, "subject=alice") // upgraded and open
	}
	echo(bob, "subject=bob")
	if got := srv.Connections(); got.WS != 4 || got.WSS != 0 || got.Sockets != 4 {
		t.Errorf("Connections() = %+v; want 4 ws and 4 sockets", got)
	}

	ctx := context.Background()
	if _, err := srv.CloseSubject(ctx, "alice", codec.StatusNoStatus, ""); !errors.Is(err, ErrCloseCode) {
		t.Errorf("close code 1005: %v; want ErrCloseCode", err)
	}
	if n, err := srv.CloseSubject(ctx, "", codec.StatusPolicyViolation, ""); n != 0 || err != nil {
		t.Errorf("empty subject: %d, %v; want 0, nil", n, err)
	}
	if n, err := srv.CloseSubject(ctx, "carol", codec.StatusPolicyViolation, ""); n != 0 || err != nil {
		t.Errorf("subject without connections: %d, %v; want 0, nil", n, err)
	}
	n, err := srv.CloseSubject(ctx, "alice", 4001, "kicked")
	if n != 3 || err != nil {
		t.Fatalf("CloseSubject(alice) = %d, %v; want 3, nil", n, err)
	}
	for _, c := range alice {
		enginetest.WantClose(t, c, 4001, "kicked")
	}
	echo(bob, "subject=bob")
	// The closed ones are not open any more: none is counted again.
	if n, err := srv.CloseSubject(ctx, "alice", 4001, "kicked"); n != 0 || err != nil {
		t.Errorf("again: %d, %v; want 0, nil", n, err)
	}
}
