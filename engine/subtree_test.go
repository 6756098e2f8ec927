package engine

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// subRoute is the SubtreeHandler of the subtree tests: it answers a plain
// request with its name, the connection's route and the request's path,
// and accepts an upgrade, after which it echoes; OnOpen sends its name and
// the connection's route to opened.
type subRoute struct {
	Echo
	name   string
	opened chan string
}

func (*subRoute) ServesSubtree() {}

func (h *subRoute) OnOpen(c *Conn) { h.opened <- h.name + " " + c.Path() }

func (h *subRoute) ServeHTTP(c *Conn, r *Request) {
	if r.Upgrade {
		if err := c.Accept(); err != nil {
			panic(err)
		}
		return
	}
	_ = c.Respond(http.StatusOK, "text/plain", "", fmt.Appendf(nil, "%s route=%s path=%s", h.name, c.Path(), r.Path()))
}

// subtreeServer is a config with subtrees under one another, beside exact
// routes under them, and the opened channel their handlers share.
func subtreeServer(cfg Config) (Config, chan string) {
	opened := make(chan string, 16)
	sub := func(name string) *subRoute { return &subRoute{name: name, opened: opened} }
	cfg.Routes = map[string]Handler{
		"/sockjs":           sub("outer"),
		"/sockjs/echo":      sub("echo"),
		"/sockjs/echo/info": newHXRoute(), // an exact route, an HTTPHandler's
		"/app/":             sub("app"),
		"/app/admin":        Echo{}, // an exact route, a WebSocket's only
		"/tie":              sub("tie"),
		"/tie/":             sub("tie/"),
		"/echo":             Echo{}, // no subtree
	}
	return cfg, opened
}

// TestSubtreeRoutes: a SubtreeHandler takes its path and the paths under
// it; a route that is the path wins, and of two subtrees the longer
// route; a path that only begins with a subtree's (/sockjs/echoes under
// /sockjs/echo) is not under it. The connection's route is the route's
// path, the request's path the request's.
func TestSubtreeRoutes(t *testing.T) {
	t.Parallel()
	cfg, _ := subtreeServer(Config{})
	_, addr := startServer(t, cfg)
	slashes := strings.Repeat("/", 6000)
	for _, tc := range []struct{ target, want string }{
		{"/sockjs/echo", "echo route=/sockjs/echo path=/sockjs/echo"},
		{"/sockjs/echo/", "echo route=/sockjs/echo path=/sockjs/echo/"},
		{"/sockjs/echo/000/abc/xhr_streaming?t=1", "echo route=/sockjs/echo path=/sockjs/echo/000/abc/xhr_streaming"},
		{"/sockjs/echo/info", "GET /sockjs/echo/info sid=- subject=- upgrade=false body="},
		{"/sockjs/echo/info/x", "echo route=/sockjs/echo path=/sockjs/echo/info/x"},
		{"/sockjs/echoes", "outer route=/sockjs path=/sockjs/echoes"},
		{"/sockjs", "outer route=/sockjs path=/sockjs"},
		{"/sockjs/", "outer route=/sockjs path=/sockjs/"},
		{"/sockjs" + slashes, "outer route=/sockjs path=/sockjs" + slashes},
		{"http://wssd.test/sockjs/echo/x", "echo route=/sockjs/echo path=/sockjs/echo/x"},
		{"/app/", "app route=/app/ path=/app/"},
		{"/app/x/y", "app route=/app/ path=/app/x/y"},
		{"/app/admin/x", "app route=/app/ path=/app/admin/x"},
		{"/tie", "tie route=/tie path=/tie"},
		{"/tie/", "tie/ route=/tie/ path=/tie/"},
		{"/tie/x", "tie/ route=/tie/ path=/tie/x"},
	} {
		t.Run(tc.target[:min(len(tc.target), 40)], func(t *testing.T) {
			c := hxDial(t, confAddr{hostport: addr})
			c.send(hxGet(tc.target))
			c.want("GET", 200, tc.want, false)
			// And again on the connection kept: the route is each
			// request's.
			c.send(hxGet("/sockjs/other"))
			c.want("GET", 200, "outer route=/sockjs path=/sockjs/other", false)
			c.send(hxGet(tc.target))
			c.want("GET", 200, tc.want, false)
		})
	}
	for _, tc := range []struct {
		target string
		status int
	}{
		{"/sockjsx", http.StatusNotFound},
		{"/app", http.StatusNotFound},
		{"/echo/x", http.StatusNotFound},
		{"/" + slashes, http.StatusNotFound},
		{"/app/admin", http.StatusUpgradeRequired}, // the exact route's answer
	} {
		t.Run(tc.target[:min(len(tc.target), 40)], func(t *testing.T) {
			httpWantAnswer(t, addr, hxGet(tc.target), "GET", tc.status, "", "")
		})
	}
}

// TestSubtreeUpgrade: an upgrade under a subtree reaches the handler's
// Accept and OnOpen on the subtree's route, and the route is what
// Deflate.Routes and JSONRoutes name: permessage-deflate is agreed under
// /sockjs/echo, not under /sockjs; messages under /app/ are JSON's.
func TestSubtreeUpgrade(t *testing.T) {
	t.Parallel()
	cfg, opened := subtreeServer(Config{Deflate: &Deflate{Routes: []string{"/sockjs/echo"}}, JSONRoutes: map[string]*security.Schema{"/app/": nil}})
	hxEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		scheme := "ws://"
		if addr.tls != nil {
			scheme = "wss://"
		}
		d := gws.Dialer{EnableCompression: true, TLSClientConfig: addr.tls, HandshakeTimeout: enginetest.Wait}
		for _, tc := range []struct {
			target, opened string
			deflate        bool
		}{
			{"/sockjs/echo/000/abc/websocket", "echo /sockjs/echo", true},
			{"/sockjs/echo", "echo /sockjs/echo", true},
			{"/sockjs/other/websocket", "outer /sockjs", false},
			{"/app/ws", "app /app/", false},
		} {
			ws, resp, err := d.Dial(scheme+addr.hostport+tc.target, nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.target, err)
			}
			if got := <-opened; got != tc.opened {
				t.Errorf("%s: OnOpen of %q; want %q", tc.target, got, tc.opened)
			}
			if ext := resp.Header.Get("Sec-WebSocket-Extensions"); (ext != "") != tc.deflate {
				t.Errorf("%s: Sec-WebSocket-Extensions %q; want permessage-deflate: %v", tc.target, ext, tc.deflate)
			}
			if err := ws.WriteMessage(gws.TextMessage, []byte(`{"to":"`+tc.target+`"}`)); err != nil {
				t.Fatal(err)
			}
			if _, got, err := ws.ReadMessage(); err != nil || string(got) != `{"to":"`+tc.target+`"}` {
				t.Fatalf("%s: echo %q, %v", tc.target, got, err)
			}
			if tc.target == "/app/ws" {
				if err := ws.WriteMessage(gws.BinaryMessage, []byte("{}")); err != nil {
					t.Fatal(err)
				}
				enginetest.WantClose(t, ws, gws.CloseUnsupportedData, "binary messages not accepted")
			}
			ws.Close()
		}
	})
}
