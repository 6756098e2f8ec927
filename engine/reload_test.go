package engine

import (
	"net/http"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

func mustOrigins(t *testing.T, o ...string) *security.Origins {
	t.Helper()
	p, err := security.ParseOrigins(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReload: new origins and connection caps apply to new connections;
// connections open before stay open and echo; the new rates apply to their
// next frames; a Live that cannot be put in force changes nothing.
func TestReload(t *testing.T) {
	appA, appB := "https://a.example", "https://b.example"
	srv, addr := startServer(t, Config{Origins: mustOrigins(t, appA), MaxConnsPerIP: 10})
	dial := func(origin string) (*gws.Conn, int, error) {
		d := gws.Dialer{HandshakeTimeout: enginetest.Wait}
		c, resp, err := d.Dial("ws://"+addr+"/echo", http.Header{"Origin": {origin}})
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		if c != nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, status, err
	}
	echo := func(c *gws.Conn, msg string) error {
		if err := c.WriteMessage(gws.TextMessage, []byte(msg)); err != nil {
			return err
		}
		_, got, err := interopGorillaRead(c)
		if err == nil && string(got) != msg {
			t.Fatalf("echo %q, want %q", got, msg)
		}
		return err
	}
	old, _, err := dial(appA)
	if err != nil {
		t.Fatal(err)
	}
	if _, status, _ := dial(appB); status != http.StatusForbidden {
		t.Fatalf("origin B before the reload: %d", status)
	}

	live := srv.Live()
	if live.Origins == nil || live.MaxConnsPerIP != 10 {
		t.Fatalf("Live %+v", live)
	}
	live.Origins = mustOrigins(t, appB)
	if err := srv.Reload(live); err != nil {
		t.Fatal(err)
	}
	if _, status, _ := dial(appA); status != http.StatusForbidden {
		t.Errorf("origin A after the reload: %d, want 403", status)
	}
	fresh, _, err := dial(appB)
	if err != nil {
		t.Fatalf("origin B after the reload: %v", err)
	}
	live.MaxConnsPerIP = 2
	if err := srv.Reload(live); err != nil {
		t.Fatal(err)
	}
	// Two open (and the refused ones, until they are gone): the new cap
	// refuses another, at accept.
	if c, _, err := dial(appB); err == nil {
		c.Close()
		t.Error("a third connection from the address past the new cap")
	}
	if err := echo(old, "old"); err != nil {
		t.Errorf("the connection open before the reload: %v", err)
	}
	if err := echo(fresh, "new"); err != nil {
		t.Error(err)
	}

	// A bad Live changes nothing.
	bad := live
	bad.MaxConnsPerIP = -1
	if err := srv.Reload(bad); err == nil {
		t.Fatal("a negative cap was put in force")
	}
	if got := srv.Live(); got.MaxConnsPerIP != 2 || got.Origins != live.Origins {
		t.Fatalf("after a refused Reload: %+v", got)
	}

	// A message rate, new: the open connections' next frames meet it.
	live.MessageRate = security.Rate{PerSecond: 1, Burst: 1}
	if err := srv.Reload(live); err != nil {
		t.Fatal(err)
	}
	var closed error
	for i := 0; i < 5 && closed == nil; i++ {
		closed = echo(old, "x")
	}
	if ce, ok := closed.(*gws.CloseError); !ok || ce.Code != 1008 {
		t.Fatalf("past the new rate: %v, want close 1008", closed)
	}
	enginetest.WaitFor(t, "the refusal", func() bool { return srv.Refusals()["rate_messages"] == 1 })
}

// TestReloadCapsFromNone: caps put in force on a server started without
// any apply to new connections, and the connections open before release
// nothing when they end.
func TestReloadCapsFromNone(t *testing.T) {
	srv, addr := startServer(t, Config{})
	before := enginetest.Dial(t, "ws://"+addr+"/echo", nil, nil)
	if err := srv.Reload(Live{MaxConnections: 1}); err != nil {
		t.Fatal(err)
	}
	one := enginetest.Dial(t, "ws://"+addr+"/echo", nil, nil)
	d := gws.Dialer{HandshakeTimeout: enginetest.Wait}
	if c, _, err := d.Dial("ws://"+addr+"/echo", nil); err == nil {
		c.Close()
		t.Fatal("a second connection past MaxConnections 1")
	}
	before.Close()
	one.Close()
	enginetest.WaitFor(t, "room for one again", func() bool {
		c, _, err := d.Dial("ws://"+addr+"/echo", nil)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
