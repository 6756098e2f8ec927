package adminapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

const testKey = "0123456789abcdef0123456789abcdef-api-key"

// fixture is a running server with a hub on /ws, the tests' token auth,
// and the API in front of it over HTTP.
type fixture struct {
	srv  *engine.Server
	addr string // the server's ws:// host:port
	api  string // the API's base URL
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	hub, err := pubsub.New(pubsub.Config{})
	if err != nil {
		t.Fatal(err)
	}
	auth, err := security.NewAuthenticator(security.AuthConfig{
		Secret: enginetest.Secret, Issuer: enginetest.Issuer, Audience: enginetest.Audience,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.New(engine.Config{
		ListenPlain: "127.0.0.1:0",
		Loops:       2,
		Auth:        auth,
		Metrics:     metrics.NewSet(),
		Routes:      map[string]engine.Handler{"/echo": engine.Echo{}, pubsub.DefaultRoute: hub},
		Logger:      enginetest.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, srv)
	api, err := New(Config{Key: []byte(testKey), Server: srv, Hub: hub, Logger: enginetest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)
	return &fixture{srv: srv, addr: srv.PlainAddr().String(), api: hs.URL}
}

// dial opens a /ws connection with a token for subject, which may
// subscribe to any topic.
func (f *fixture) dial(t *testing.T, subject string) *gws.Conn {
	t.Helper()
	tok := enginetest.Sign(t, jwt.MapClaims{"sub": subject, "iss": enginetest.Issuer, "aud": enginetest.Audience,
		"exp": time.Now().Add(time.Hour).Unix(), "topics": map[string]any{"subscribe": []string{">"}}})
	c := enginetest.Dial(t, "ws://"+f.addr+"/ws", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	_ = c.SetReadDeadline(time.Now().Add(enginetest.Wait))
	return c
}

// call makes a request to the API with the key (auth "" sends no
// Authorization) and returns the status, the header and the body.
func (f *fixture) call(t *testing.T, method, path, auth, body string) (int, http.Header, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.api+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// wantError checks an error answer: its status and its JSON body's code.
func wantError(t *testing.T, status int, h http.Header, body string, wantStatus int, wantCode string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal([]byte(body), &e); err != nil || status != wantStatus || e.Error.Code != wantCode || e.Error.Message == "" {
		t.Errorf("got %d %s; want %d with code %q", status, body, wantStatus, wantCode)
	}
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q; want application/json", ct)
	}
}

const bearer = "Bearer " + testKey

func TestKey(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		name, auth, challenge string
	}{
		{"none", "", `Bearer realm="wssd"`},
		{"wrong", "Bearer " + strings.Repeat("x", len(testKey)), `Bearer realm="wssd", error="invalid_token"`},
		{"prefix of the key", "Bearer " + testKey[:32], `Bearer realm="wssd", error="invalid_token"`},
		{"longer", bearer + "x", `Bearer realm="wssd", error="invalid_token"`},
		{"another scheme", "Basic " + testKey, `Bearer realm="wssd", error="invalid_token"`},
		{"scheme alone", "Bearer", `Bearer realm="wssd", error="invalid_token"`},
	} {
		for _, path := range []string{"stats", "publish", "nowhere"} {
			st, h, body := f.call(t, http.MethodGet, Prefix+path, tc.auth, "")
			wantError(t, st, h, body, http.StatusUnauthorized, "unauthorized")
			if got := h.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("%s, %s: WWW-Authenticate %q; want %q", tc.name, path, got, tc.challenge)
			}
		}
	}
	// The scheme is case-insensitive (RFC 9110 section 11.1); spaces
	// around the key do not count.
	for _, auth := range []string{bearer, "bearer " + testKey, "Bearer  " + testKey + " "} {
		if st, _, body := f.call(t, http.MethodGet, Prefix+"stats", auth, ""); st != http.StatusOK {
			t.Errorf("Authorization %q: %d %s; want 200", auth, st, body)
		}
	}
	if _, err := New(Config{Key: []byte(testKey[:MinKeyLen-1]), Server: f.srv}); err == nil {
		t.Error("New took a key of 31 bytes")
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	st, h, body := f.call(t, http.MethodGet, Prefix+"nowhere", bearer, "")
	wantError(t, st, h, body, http.StatusNotFound, "not_found")
	for path, allow := range map[string]string{"publish": "POST", "disconnect": "POST", "stats": "GET"} {
		method := http.MethodGet
		if allow == "GET" {
			method = http.MethodPost
		}
		st, h, body := f.call(t, method, Prefix+path, bearer, "")
		wantError(t, st, h, body, http.StatusMethodNotAllowed, "method_not_allowed")
		if h.Get("Allow") != allow {
			t.Errorf("%s %s: Allow %q; want %s", method, path, h.Get("Allow"), allow)
		}
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, tc := range []struct {
		path, body string
		status     int
		code       string
	}{
		{"publish", ``, 400, "invalid_json"},
		{"publish", `{"topic":"a","data":1`, 400, "invalid_json"},
		{"publish", `{"topic":"a","data":1}{}`, 400, "invalid_json"},
		{"publish", `{"topic":"a","data":1} 2`, 400, "invalid_json"},
		{"publish", `{"topic":"a","data":1,"extra":true}`, 400, "invalid_json"},
		{"publish", `["a",1]`, 400, "invalid_json"},
		{"publish", `{"topic":7,"data":1}`, 400, "invalid_json"},
		{"publish", "{\"topic\":\"a\",\"data\":\"\xff\"}", 400, "invalid_json"},
		{"publish", `{"topic":"a..b","data":1}`, 400, "invalid_topic"},
		{"publish", `{"topic":"","data":1}`, 400, "invalid_topic"},
		{"publish", `{"data":1}`, 400, "invalid_topic"},
		{"publish", `{"topic":"` + strings.Repeat("a", 129) + `","data":1}`, 400, "invalid_topic"},
		{"publish", `{"topic":"a"}`, 400, "invalid_request"},
		{"publish", `{"topic":"a","data":"` + strings.Repeat("x", DefaultMaxBody) + `"}`, 413, "too_large"},
		{"disconnect", `{"code":4000}`, 400, "invalid_request"},
		{"disconnect", `{"subject":"alice","code":1006}`, 400, "invalid_code"},
		{"disconnect", `{"subject":"alice","code":3000}`, 400, "invalid_code"},
		{"disconnect", `{"subject":"alice","code":5000}`, 400, "invalid_code"},
		{"disconnect", `{"subject":"alice","code":"4000"}`, 400, "invalid_json"},
		{"disconnect", `{"subject":"alice","reason":"` + strings.Repeat("r", 124) + `"}`, 400, "invalid_request"},
	} {
		st, h, body := f.call(t, http.MethodPost, Prefix+tc.path, bearer, tc.body)
		wantError(t, st, h, body, tc.status, tc.code)
	}

	// A body over the bound without a Content-Length (a pipe's length is
	// unknown: net/http sends it chunked) is cut where it passes it.
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, `{"topic":"a","data":"`+strings.Repeat("x", 2*DefaultMaxBody)+`"}`)
		pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, f.api+Prefix+"publish", pr)
	req.Header.Set("Authorization", bearer)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, resp.Header, string(b), 413, "too_large")
}

// TestCalls: a publication reaches a /ws subscriber; a disconnect closes
// the subject's connections with its code and reason, and no others;
// stats counts them.
func TestCalls(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sub := f.dial(t, "alice")
	if err := sub.WriteMessage(gws.TextMessage, []byte(`{"op":"subscribe","topic":"news.sport","id":1}`)); err != nil {
		t.Fatal(err)
	}
	read := func(c *gws.Conn, want string) {
		t.Helper()
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %s", got, err, want)
		}
	}
	read(sub, `{"op":"ack","id":1}`)
	other := f.dial(t, "bob")

	st, _, body := f.call(t, http.MethodPost, Prefix+"publish", bearer, `{"topic":"news.sport","data":{ "score" : [2, 1] }}`)
	if st != 200 || body != `{"published":true,"topic":"news.sport"}`+"\n" {
		t.Fatalf("publish: %d %s", st, body)
	}
	read(sub, `{"op":"message","topic":"news.sport","data":{"score":[2,1]}}`)

	st, _, body = f.call(t, http.MethodGet, Prefix+"stats", bearer, "")
	var got stats
	if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil {
		t.Fatalf("stats: %d %s", st, body)
	}
	if got.Connections.WS != 2 || got.Connections.WSS != 0 || got.Connections.Sockets != 2 || got.Topics != 1 || got.Loops != 2 {
		t.Errorf("stats %s; want 2 ws connections and sockets, 1 topic, 2 loops", body)
	}

	st, _, body = f.call(t, http.MethodPost, Prefix+"disconnect", bearer, `{"subject":"alice","code":4003,"reason":"banned"}`)
	if st != 200 || body != `{"disconnected":1}`+"\n" {
		t.Fatalf("disconnect: %d %s", st, body)
	}
	enginetest.WantClose(t, sub, 4003, "banned")
	st, _, body = f.call(t, http.MethodPost, Prefix+"disconnect", bearer, `{"subject":"bob"}`)
	if st != 200 || body != `{"disconnected":1}`+"\n" {
		t.Fatalf("disconnect: %d %s", st, body)
	}
	enginetest.WantClose(t, other, 1008, "")
}
