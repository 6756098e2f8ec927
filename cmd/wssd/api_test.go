package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
)

// adminBase waits for the process to log its admin listener and returns
// its base URL.
func adminBase(t *testing.T, p *process) string {
	t.Helper()
	return strings.TrimSuffix(p.waitLog(t, adminRE), "/metrics")
}

// apiCall makes a request to a server API and returns the status, the
// header and the body.
func apiCall(t *testing.T, method, url, key, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	c := http.Client{Timeout: wait}
	resp, err := c.Do(req)
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

// TestBinaryAPI runs the server API of the built binary: two processes
// share topics through NATS, with token auth; a publication made on one's
// API reaches a /ws subscriber of the other; a wrong key gets 401; a
// disconnect on the other closes the subject's connection with its code.
// Without --admin-key-file the API is not there, and a short key is
// refused at start.
func TestBinaryAPI(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	const key = "a key of more than thirty-two bytes for the API test"
	const secret = "a secret of more than thirty-two bytes, for tests"
	keyFile, shortFile, secretFile := filepath.Join(dir, "key"), filepath.Join(dir, "short"), filepath.Join(dir, "secret")
	for file, content := range map[string]string{keyFile: key + "\n", shortFile: "  too short to be a key  \n", secretFile: secret} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("short key", func(t *testing.T) {
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--admin-key-file", shortFile)
		if code := p.waitExit(t, wait); code != 2 {
			t.Errorf("exit code %d; want 2\n%s", code, p.stderr())
		}
		if log := p.stderr(); !strings.Contains(log, "the key is 21 bytes, trimmed; it must be at least 32") || strings.Contains(log, "too short to be") {
			t.Errorf("log lacks the reason, or holds the key:\n%s", log)
		}
	})

	t.Run("off without a key", func(t *testing.T) {
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0")
		admin := adminBase(t, p)
		for _, path := range []string{"/api/v1/stats", "/api/v1/publish"} {
			if st, _, body := apiCall(t, http.MethodGet, admin+path, key, ""); st != http.StatusNotFound {
				t.Errorf("%s: %d %s; want 404", path, st, body)
			}
		}
	})

	ns := enginetest.StartNATS(t, -1)
	var procs []*process
	var admins, bases []string
	for range 2 {
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--loops", "2",
			"--broker", ns.ClientURL(), "--auth-secret-file", secretFile, "--admin-key-file", keyFile)
		admins = append(admins, adminBase(t, p))
		bases = append(bases, strings.TrimSuffix(p.waitListening(t), "/echo"))
		procs = append(procs, p)
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "topics": map[string]any{"subscribe": []string{"news.>"}},
	}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{HandshakeTimeout: wait}
	sub, _, err := d.Dial(bases[1]+"/ws", http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, procs[1].stderr())
	}
	defer sub.Close()
	_ = sub.SetReadDeadline(time.Now().Add(wait))
	read := func(want string) {
		t.Helper()
		if _, got, err := sub.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %s", got, err, want)
		}
	}
	if err := sub.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscribe","topic":"news.sport","id":1}`)); err != nil {
		t.Fatal(err)
	}
	read(`{"op":"ack","id":1}`) // NATS has the second process's interest

	st, _, body := apiCall(t, http.MethodPost, admins[0]+"/api/v1/publish", key, `{"topic":"news.sport","data":{"score":[2,1]}}`)
	if st != http.StatusOK {
		t.Fatalf("publish: %d %s\n%s", st, body, procs[0].stderr())
	}
	read(`{"op":"message","topic":"news.sport","data":{"score":[2,1]}}`)

	st, h, body := apiCall(t, http.MethodPost, admins[0]+"/api/v1/publish", strings.ToUpper(key), `{"topic":"news.sport","data":1}`)
	var e struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal([]byte(body), &e); st != http.StatusUnauthorized || err != nil || e.Error.Code != "unauthorized" ||
		!strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer ") {
		t.Errorf("wrong key: %d %v %s; want 401, a Bearer challenge and a JSON error", st, h, body)
	}

	st, _, body = apiCall(t, http.MethodGet, admins[1]+"/api/v1/stats", key, "")
	var stats struct {
		Connections struct{ WS int }
		Topics      int
	}
	if err := json.Unmarshal([]byte(body), &stats); st != http.StatusOK || err != nil || stats.Connections.WS != 1 || stats.Topics != 1 {
		t.Errorf("stats: %d %s; want one ws connection and one topic", st, body)
	}

	st, _, body = apiCall(t, http.MethodPost, admins[1]+"/api/v1/disconnect", key, `{"subject":"alice","code":4001,"reason":"account closed"}`)
	if st != http.StatusOK || body != `{"disconnected":1}`+"\n" {
		t.Fatalf("disconnect: %d %s", st, body)
	}
	_, _, err = sub.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Text != "account closed" {
		t.Errorf("after the disconnect: %v; want close 4001 \"account closed\"", err)
	}
	procs[1].waitLog(t, regexp.MustCompile(`msg="api disconnect" subject=alice code=4001 connections=1`))
	for _, p := range procs {
		if log := p.stderr(); strings.Contains(log, key) {
			t.Errorf("the log holds the key:\n%s", log)
		}
	}
}
