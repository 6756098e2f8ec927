package engine

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// gateWait bounds how long a gate test waits for something that must
// happen.
const gateWait = 10 * time.Second

// waitRefusals waits until the server has counted want refusals for each
// reason given (the loops add theirs once a tick), and checks that every
// other reason stayed at zero.
func waitRefusals(t *testing.T, srv *Server, want map[string]uint64) {
	t.Helper()
	deadline := time.Now().Add(gateWait)
	for {
		got := srv.Refusals()
		ok := true
		for reason, n := range got {
			if n != want[reason] {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for reason, n := range got {
				if n != want[reason] {
					t.Errorf("refusals[%s] = %d, want %d", reason, n, want[reason])
				}
			}
			return
		}
		time.Sleep(10 * time.Millisecond) // polling a counter the loops publish each tick
	}
}

// gateDial opens a WebSocket to /echo with gorilla's client.
func gateDial(t *testing.T, addr, query string, h http.Header) (*gws.Conn, *http.Response, error) {
	t.Helper()
	d := gws.Dialer{HandshakeTimeout: gateWait}
	c, resp, err := d.Dial("ws://"+addr+"/echo"+query, h)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, resp, err
}

// gateDialFrom is gateDial from a given loopback source address.
func gateDialFrom(t *testing.T, addr, source string) (*gws.Conn, error) {
	t.Helper()
	d := gws.Dialer{
		HandshakeTimeout: gateWait,
		NetDial: func(network, a string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
			return nd.Dial(network, a)
		},
	}
	c, _, err := d.Dial("ws://"+addr+"/echo", nil)
	if c != nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// gateEcho checks that c still exchanges messages.
func gateEcho(t *testing.T, c *gws.Conn, msg string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(gateWait))
	if err := c.WriteMessage(gws.TextMessage, []byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	_, p, err := c.ReadMessage()
	if err != nil || string(p) != msg {
		t.Fatalf("echo of %q: %q, %v", msg, p, err)
	}
}

// gateWantClose reads from c until the server's close frame and checks its

// gateRefusedAtAccept checks that a dial was refused before any HTTP answer.
func gateRefusedAtAccept(t *testing.T, c *gws.Conn, err error, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: connected; want it closed at accept", what)
	}
	if errors.Is(err, gws.ErrBadHandshake) {
		t.Fatalf("%s: %v; want the connection closed before any answer", what, err)
	}
}

// TestConnectionCaps: past MaxConnsPerIP from one address, or past
// MaxConnections in all, a connection is closed at accept with no answer;
// other addresses are served, and a closed connection makes room again.
func TestConnectionCaps(t *testing.T) {
	t.Parallel()
	t.Run("per address", func(t *testing.T) {
		srv, addr := startServer(t, Config{MaxConnsPerIP: 2})
		a, err := gateDialFrom(t, addr, "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gateDialFrom(t, addr, "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		c, err := gateDialFrom(t, addr, "127.0.0.1")
		gateRefusedAtAccept(t, c, err, "third connection from 127.0.0.1")
		other, err := gateDialFrom(t, addr, "127.0.0.2")
		if err != nil {
			t.Fatalf("another address: %v", err)
		}
		gateEcho(t, other, "other")
		gateEcho(t, a, "first")
		a.Close()
		// The server sees the close on its loop; until then the
		// address still holds two connections.
		deadline := time.Now().Add(gateWait)
		for srv.Active() > 2 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		c, err = gateDialFrom(t, addr, "127.0.0.1")
		if err != nil {
			t.Fatalf("after a close: %v", err)
		}
		gateEcho(t, c, "again")
		waitRefusals(t, srv, map[string]uint64{"ip_connections": 1})
	})
	t.Run("global", func(t *testing.T) {
		srv, addr := startServer(t, Config{MaxConnections: 2})
		for i := range 2 {
			if _, err := gateDialFrom(t, addr, fmt.Sprintf("127.0.0.%d", i+1)); err != nil {
				t.Fatal(err)
			}
		}
		c, err := gateDialFrom(t, addr, "127.0.0.3")
		gateRefusedAtAccept(t, c, err, "third connection")
		waitRefusals(t, srv, map[string]uint64{"max_connections": 1})
	})
}

// TestHandshakeBurst: one address opening connections faster than its
// handshake rate is refused at accept past its burst; another address is
// not affected.
func TestHandshakeBurst(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, Config{HandshakeRatePerIP: security.Rate{PerSecond: 1, Burst: 3}})
	start := time.Now()
	refused := 0
	for i := range 6 {
		c, err := gateDialFrom(t, addr, "127.0.0.1")
		if i < 3 && err != nil {
			t.Fatalf("connection %d, within the burst: %v", i, err)
		}
		if err != nil {
			gateRefusedAtAccept(t, c, err, "past the burst")
			refused++
		}
	}
	if time.Since(start) < time.Second && refused != 3 {
		t.Fatalf("%d of 3 connections past the burst refused within a second", refused)
	}
	if refused == 0 {
		t.Fatal("no connection past the burst was refused")
	}
	c, err := gateDialFrom(t, addr, "127.0.0.2")
	if err != nil {
		t.Fatalf("another address: %v", err)
	}
	gateEcho(t, c, "fine")
	waitRefusals(t, srv, map[string]uint64{"handshake_rate": uint64(refused)})
}

// testAuthenticator verifies the tests' tokens (enginetest.Sign), with
// leeway.
func testAuthenticator(t *testing.T, leeway time.Duration) *security.Authenticator {
	t.Helper()
	a, err := security.NewAuthenticator(security.AuthConfig{
		Secret: enginetest.Secret, Issuer: enginetest.Issuer, Audience: enginetest.Audience, Leeway: leeway,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// subjectEcho answers each message with the connection's subject.
type subjectEcho struct{}

func (subjectEcho) OnOpen(*Conn) {}
func (subjectEcho) OnMessage(c *Conn, op codec.OpCode, _ []byte) {
	_ = c.Write(codec.OpText, []byte("subject="+c.Subject()))
}
func (subjectEcho) OnClose(*Conn, codec.StatusCode, string) {}

// TestAuthRefusals: each bad or missing token is answered 401 with a
// WWW-Authenticate challenge before any upgrade, and counted by reason; a
// good token from the header, the query or the protocol is upgraded and
// its subject kept on the connection.
func TestAuthRefusals(t *testing.T) {
	t.Parallel()
	srv, addr := startServer(t, Config{
		Auth:   testAuthenticator(t, time.Second),
		Routes: map[string]Handler{"/echo": subjectEcho{}},
	})
	now := time.Now()
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "alice", "iss": "https://issuer.example", "aud": "wssd", "exp": now.Add(time.Hour).Unix()}
		if edit != nil {
			edit(c)
		}
		return c
	}
	good := enginetest.Sign(t, claims(nil))
	none := func() string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	otherKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(nil)).SignedString([]byte("another secret, 32 bytes or more!!"))
	if err != nil {
		t.Fatal(err)
	}
	const challenge = `Bearer realm="wssd"`
	const invalid = `Bearer realm="wssd", error="invalid_token", error_description="`
	for _, tc := range []struct {
		name   string
		header string // Authorization
		reason string // refusal counted
	}{
		{"no token", "", "auth_missing"},
		{"not bearer", "Basic " + good, "auth_missing"},
		{"garbled", "Bearer not.a.token", "auth_malformed"},
		{"two parts", "Bearer abc.def", "auth_malformed"},
		{"bad signature", "Bearer " + otherKey, "auth_signature"},
		{"alg none", "Bearer " + none, "auth_algorithm"},
		{"expired", "Bearer " + enginetest.Sign(t, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })), "auth_expired"},
		{"not yet valid", "Bearer " + enginetest.Sign(t, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })), "auth_not_yet_valid"},
		{"no expiry", "Bearer " + enginetest.Sign(t, claims(func(c jwt.MapClaims) { delete(c, "exp") })), "auth_no_expiry"},
		{"wrong issuer", "Bearer " + enginetest.Sign(t, claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), "auth_issuer"},
		{"wrong audience", "Bearer " + enginetest.Sign(t, claims(func(c jwt.MapClaims) { c["aud"] = "other" })), "auth_audience"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var extra []string
			if tc.header != "" {
				extra = append(extra, "Authorization: "+tc.header)
			}
			nc := httpDial(t, addr)
			if _, err := io.WriteString(nc, httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil, extra...)...)); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(nc)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			got := resp.Header.Get("WWW-Authenticate")
			if tc.reason == "auth_missing" && got != challenge ||
				tc.reason != "auth_missing" && !strings.HasPrefix(got, invalid) {
				t.Errorf("WWW-Authenticate %q", got)
			}
			body, _ := io.ReadAll(resp.Body)
			if want := "unauthorized: " + strings.TrimPrefix(tc.reason, "auth_") + "\n"; string(body) != want {
				t.Errorf("body %q, want %q", body, want)
			}
			if tok := strings.TrimPrefix(tc.header, "Bearer "); len(tok) > 8 && strings.Contains(string(body)+resp.Header.Get("WWW-Authenticate"), tok) {
				t.Errorf("the answer repeats the token")
			}
			if resp.Header.Get("Upgrade") != "" {
				t.Errorf("a refusal with an Upgrade header")
			}
			httpWantEOF(t, br)
		})
	}
	t.Run("good", func(t *testing.T) {
		for _, via := range []string{"header", "query", "protocol"} {
			h := http.Header{}
			query := ""
			switch via {
			case "header":
				h.Set("Authorization", "Bearer "+good)
			case "query":
				query = "?room=1&token=" + good
			case "protocol":
				h.Set("Sec-WebSocket-Protocol", "bearer, "+good)
			}
			c, resp, err := gateDial(t, addr, query, h)
			if err != nil {
				t.Fatalf("%s: %v (%v)", via, err, resp)
			}
			if got, want := resp.Header.Get("Sec-WebSocket-Protocol"), map[bool]string{true: "bearer"}[via == "protocol"]; got != want {
				t.Errorf("%s: Sec-WebSocket-Protocol %q, want %q", via, got, want)
			}
			_ = c.SetReadDeadline(time.Now().Add(gateWait))
			if err := c.WriteMessage(gws.TextMessage, []byte("who")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "subject=alice" {
				t.Fatalf("%s: %q, %v; want the subject", via, p, err)
			}
		}
	})
	waitRefusals(t, srv, map[string]uint64{
		"auth_missing": 2, "auth_malformed": 2, "auth_signature": 1, "auth_algorithm": 1, "auth_expired": 1,
		"auth_not_yet_valid": 1, "auth_no_expiry": 1, "auth_issuer": 1, "auth_audience": 1,
	})
}

// TestAuthKeyConfusion: with a public key configured, a token signed with
// HMAC using that public key's PEM text as the secret (the classic
// forgery) is refused 401 as an algorithm not accepted; a token signed
// with the private key is upgraded.
func TestAuthKeyConfusion(t *testing.T) {
	t.Parallel()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	auth, err := security.NewAuthenticator(security.AuthConfig{PublicKey: pubPEM})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, Config{Auth: auth})
	claims := jwt.MapClaims{"sub": "mallory", "exp": time.Now().Add(time.Hour).Unix()}
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	_, resp, err := gateDial(t, addr, "", http.Header{"Authorization": {"Bearer " + forged}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("forged token: %v, %v; want 401", resp, err)
	}
	good, err := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gateDial(t, addr, "", http.Header{"Authorization": {"Bearer " + good}}); err != nil {
		t.Fatalf("ES256 token: %v", err)
	}
	waitRefusals(t, srv, map[string]uint64{"auth_algorithm": 1})
}

// TestTokenExpiry: a connection is closed with 1008 "token expired" when
// its token expires (its exp plus the leeway), not before, over ws:// and
// wss://.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	const leeway = 500 * time.Millisecond
	cfg, clk := clocked(Config{Auth: testAuthenticator(t, leeway), PingInterval: -1})
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		// exp is in whole seconds, an hour away on the server's clock
		// (the token is verified on the system's).
		exp := clk.Now().Add(time.Hour).Truncate(time.Second)
		tok := enginetest.Sign(t, jwt.MapClaims{"sub": "bob", "iss": enginetest.Issuer, "aud": enginetest.Audience, "exp": exp.Unix()})
		nc := confConnect(t, addr, 0)
		req := httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil, "Authorization: Bearer "+tok)...)
		if _, err := io.WriteString(nc, req); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		_ = nc.SetReadDeadline(time.Now().Add(gateWait))
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v, %v", resp, err)
		}
		c := &confClient{t: t, conn: nc, br: br}
		before(t, srv, clk, exp.Add(leeway).Sub(clk.Now()), "token expiry", func(e Expiries) bool { return e.Token > 0 })
		after(clk)
		_ = nc.SetReadDeadline(time.Now().Add(gateWait))
		m, err := c.next()
		if err != nil || m.op != codec.OpClose {
			t.Fatalf("got %v, %v; want a close frame", m, err)
		}
		code, reason := confCloseFields(m.payload)
		if code != codec.StatusPolicyViolation || reason != "token expired" {
			t.Fatalf("closed with %d %q; want 1008 \"token expired\"", code, reason)
		}
		c.mustSend(confFrame(cfFin|cfClose, confClosePayload(1008, "")), 0)
		c.expectEOF()
		waitRefusals(t, srv, map[string]uint64{"token_expired": 1})
		if e := srv.Expiries(); e.Token != 1 {
			t.Errorf("token expiries %d, want 1", e.Token)
		}
	})
}

// TestMessageRate: past its message or byte rate a connection is closed
// with 1008 "rate limit exceeded" (after the messages within its burst are
// answered); with RateDrop the excess is dropped, counted, and the
// connection stays.
func TestMessageRate(t *testing.T) {
	t.Parallel()
	t.Run("message flood", func(t *testing.T) {
		srv, addr := startServer(t, Config{MessageRate: security.Rate{PerSecond: 1, Burst: 5}})
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 20 {
			if err := c.WriteMessage(gws.TextMessage, fmt.Appendf(nil, "m%d", i)); err != nil {
				break // the server may have closed already
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(gateWait))
		for i := range 5 {
			if _, p, err := c.ReadMessage(); err != nil || string(p) != fmt.Sprintf("m%d", i) {
				t.Fatalf("message %d within the burst: %q, %v", i, p, err)
			}
		}
		enginetest.WantClose(t, c, gws.ClosePolicyViolation, "rate limit exceeded")
		waitRefusals(t, srv, map[string]uint64{"rate_messages": 1})
	})
	t.Run("byte flood", func(t *testing.T) {
		srv, addr := startServer(t, Config{ByteRate: security.Rate{PerSecond: 1000, Burst: 1000}})
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		big := strings.Repeat("x", 600)
		gateEcho(t, c, big) // 400 bytes left
		if err := c.WriteMessage(gws.TextMessage, []byte(big)); err != nil {
			t.Fatal(err)
		}
		enginetest.WantClose(t, c, gws.ClosePolicyViolation, "rate limit exceeded")
		waitRefusals(t, srv, map[string]uint64{"rate_bytes": 1})
	})
	t.Run("drop", func(t *testing.T) {
		srv, addr := startServer(t, Config{MessageRate: security.Rate{PerSecond: 1, Burst: 3}, RatePolicy: RateDrop})
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 8 {
			if err := c.WriteMessage(gws.TextMessage, fmt.Appendf(nil, "m%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(gateWait))
		for i := range 3 {
			if _, p, err := c.ReadMessage(); err != nil || string(p) != fmt.Sprintf("m%d", i) {
				t.Fatalf("message %d within the burst: %q, %v", i, p, err)
			}
		}
		waitRefusals(t, srv, map[string]uint64{"rate_messages": 5})
		// The connection stays: the close handshake (not rate limited)
		// is answered, and nothing dropped came back before it.
		if err := c.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, ""), time.Now().Add(gateWait)); err != nil {
			t.Fatal(err)
		}
		gateWantCloseOnly(t, c, gws.CloseNormalClosure, "")
	})
	t.Run("byte drop", func(t *testing.T) {
		// 10 bytes a second: the bucket barely refills during the test.
		srv, addr := startServer(t, Config{ByteRate: security.Rate{PerSecond: 10, Burst: 1000}, RatePolicy: RateDrop})
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		big := strings.Repeat("x", 600)
		gateEcho(t, c, big) // 400 bytes left
		if err := c.WriteMessage(gws.TextMessage, []byte(big)); err != nil {
			t.Fatal(err)
		}
		gateEcho(t, c, "small") // passes; the large one was dropped
		waitRefusals(t, srv, map[string]uint64{"rate_bytes": 1})
	})
}

// gateWantCloseOnly reads the next message of c and checks it is the
// server's close frame with code and reason.
func gateWantCloseOnly(t *testing.T, c *gws.Conn, code int, reason string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(gateWait))
	_, p, err := c.ReadMessage()
	var ce *gws.CloseError
	if !errors.As(err, &ce) || ce.Code != code || ce.Text != reason {
		t.Fatalf("got %q, %v; want close %d %q", p, err, code, reason)
	}
}

// TestGatesLeaveOthersAlone: while one client floods and is closed for it,
// and others are refused at the upgrade, another client on the same event
// loop exchanges every message, in order.
func TestGatesLeaveOthersAlone(t *testing.T) {
	t.Parallel()
	origins, err := security.ParseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	srv, addr := startServer(t, Config{Loops: 1, Origins: origins, MessageRate: security.Rate{PerSecond: 50, Burst: 200}})
	good, _, err := gateDial(t, addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	flooder, _, err := gateDial(t, addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 2000 {
			if flooder.WriteMessage(gws.TextMessage, fmt.Appendf(nil, "flood%d", i)) != nil {
				return
			}
		}
	}()
	refusedOrigins := 0
	go func() {
		defer wg.Done()
		for range 20 {
			_, resp, err := gateDial(t, addr, "", http.Header{"Origin": {"https://evil.example"}})
			if err != nil && resp != nil && resp.StatusCode == http.StatusForbidden {
				refusedOrigins++
			}
		}
	}()
	for i := range 100 {
		gateEcho(t, good, fmt.Sprintf("good%d", i))
	}
	wg.Wait()
	enginetest.WantClose(t, flooder, gws.ClosePolicyViolation, "rate limit exceeded")
	if refusedOrigins != 20 {
		t.Errorf("%d of 20 foreign origins refused with 403", refusedOrigins)
	}
	gateEcho(t, good, "still here")
	waitRefusals(t, srv, map[string]uint64{"rate_messages": 1, "origin": 20})
}

// gateSchema is the schema of the validation tests.
const gateSchema = `{
	"type": "object",
	"properties": {
		"op": {"enum": ["say", "ping"]},
		"text": {"type": "string", "maxLength": 10},
		"n": {"type": "integer", "minimum": 0}
	},
	"required": ["op"],
	"additionalProperties": false
}`

// TestJSONValidation: on a JSON route, each message that is not JSON, is
// nested too deep, or breaks the schema closes the connection with its
// code and the validator's reason; a binary message is refused with 1003;
// with InvalidReply the client is told why and the connection stays.
func TestJSONValidation(t *testing.T) {
	t.Parallel()
	schema, err := security.CompileSchema([]byte(gateSchema))
	if err != nil {
		t.Fatal(err)
	}
	v := security.NewValidator(schema, 0)
	reasonOf := func(msg string) string {
		if bad := v.Validate([]byte(msg)); bad != nil {
			return bad.Reason
		}
		return ""
	}
	deep := strings.Repeat(`{"op":`, 40) + `1` + strings.Repeat("}", 40)
	cases := []struct {
		name   string
		msg    string
		code   int
		reason string // refusal counted
	}{
		{"invalid JSON", `{"op":`, gws.CloseInvalidFramePayloadData, "invalid_json"},
		{"not JSON at all", `hello`, gws.CloseInvalidFramePayloadData, "invalid_json"},
		{"deep nesting", deep, gws.ClosePolicyViolation, "json_depth"},
		{"enum", `{"op":"shout"}`, gws.ClosePolicyViolation, "schema"},
		{"required", `{"text":"hi"}`, gws.ClosePolicyViolation, "schema"},
		{"maxLength", `{"op":"say","text":"far too long"}`, gws.ClosePolicyViolation, "schema"},
		{"type", `{"op":"say","text":7}`, gws.ClosePolicyViolation, "schema"},
		{"integer", `{"op":"say","n":1.5}`, gws.ClosePolicyViolation, "schema"},
		{"minimum", `{"op":"say","n":-1}`, gws.ClosePolicyViolation, "schema"},
		{"additionalProperties", `{"op":"say","extra":true}`, gws.ClosePolicyViolation, "schema"},
		{"not an object", `["op","say"]`, gws.ClosePolicyViolation, "schema"},
	}
	t.Run("close", func(t *testing.T) {
		srv, addr := startServer(t, Config{JSONRoutes: map[string]*security.Schema{"/echo": schema}})
		want := map[string]uint64{}
		for _, tc := range cases {
			c, _, err := gateDial(t, addr, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			gateEcho(t, c, `{"op":"say","text":"hi"}`)
			if err := c.WriteMessage(gws.TextMessage, []byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			reason := reasonOf(tc.msg)
			if reason == "" {
				t.Fatalf("%s: the validator passes %q", tc.name, tc.msg)
			}
			gateWantCloseOnly(t, c, tc.code, reason)
			want[tc.reason]++
		}
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(gws.BinaryMessage, []byte(`{"op":"say"}`)); err != nil {
			t.Fatal(err)
		}
		gateWantCloseOnly(t, c, gws.CloseUnsupportedData, "binary messages not accepted")
		want["binary_message"]++
		waitRefusals(t, srv, want)
	})
	t.Run("size", func(t *testing.T) {
		_, addr := startServer(t, Config{JSONRoutes: map[string]*security.Schema{"/echo": schema}, MaxJSONSize: 100})
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		fits := `{"op":"say","text":"` + strings.Repeat("x", 10) + `"}`
		gateEcho(t, c, fits)
		if err := c.WriteMessage(gws.TextMessage, []byte(`{"op":"say","text":"`+strings.Repeat("x", 100)+`"}`)); err != nil {
			t.Fatal(err)
		}
		gateWantCloseOnly(t, c, gws.CloseMessageTooBig, "message too big")
	})
	t.Run("reply", func(t *testing.T) {
		srv, addr := startServer(t, Config{JSONRoutes: map[string]*security.Schema{"/echo": schema}, InvalidMessage: InvalidReply})
		c, _, err := gateDial(t, addr, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]string{"invalid_json": "invalid_json", "json_depth": "too_deep", "schema": "schema"}
		for _, tc := range cases {
			if err := c.WriteMessage(gws.TextMessage, []byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(gateWait))
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			want := fmt.Sprintf(`{"op":"error","code":%q,"message":%q}`, kinds[tc.reason], reasonOf(tc.msg))
			if string(p) != want {
				t.Errorf("%s: reply %s, want %s", tc.name, p, want)
			}
		}
		gateEcho(t, c, `{"op":"ping"}`)
		waitRefusals(t, srv, map[string]uint64{"invalid_json": 2, "json_depth": 1, "schema": 8})
	})
}

// lockedBuffer is a log destination safe for the loops and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefusalLog: a refusal is logged with the remote address, the origin
// and the reason, never the token; a burst of refusals for one reason
// writes one line, and the next line says how many were left out.
func TestRefusalLog(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	log := slog.New(slog.NewJSONHandler(&out, nil))
	srv, addr := startServer(t, Config{Loops: 1, Auth: testAuthenticator(t, time.Second), Logger: log})
	expired := enginetest.Sign(t, jwt.MapClaims{"sub": "carol", "iss": "https://issuer.example", "aud": "wssd", "exp": time.Now().Add(-time.Hour).Unix()})
	for i := range 10 {
		h := http.Header{"Origin": {"https://app.example.com"}, "Authorization": {"Bearer " + expired}}
		query := ""
		if i%2 == 1 {
			h.Del("Authorization")
			query = "?token=" + expired
		}
		if _, resp, err := gateDial(t, addr, query, h); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial %d: %v, %v; want 401", i, resp, err)
		}
	}
	waitRefusals(t, srv, map[string]uint64{"auth_expired": 10})
	lines := refusalLines(out.String())
	if len(lines) != 1 {
		t.Fatalf("%d log lines for a burst of 10 refusals, want 1:\n%s", len(lines), out.String())
	}
	var line map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
		t.Fatal(err)
	}
	if line["msg"] != "refused" || line["reason"] != "auth_expired" || line["origin"] != "https://app.example.com" ||
		!strings.HasPrefix(fmt.Sprint(line["remote"]), "127.0.0.1:") {
		t.Errorf("log line %s lacks a field", lines[0])
	}
	if strings.Contains(out.String(), expired) || strings.Contains(out.String(), strings.Split(expired, ".")[2]) {
		t.Errorf("the log holds the token: %s", out.String())
	}

	// A second later, the next refusal is logged with the count left out.
	deadline := time.Now().Add(gateWait)
	for len(refusalLines(out.String())) < 2 && time.Now().Before(deadline) {
		_, _, _ = gateDial(t, addr, "", http.Header{"Authorization": {"Bearer " + expired}})
	}
	lines = refusalLines(out.String())
	if len(lines) < 2 || !strings.Contains(lines[1], `"suppressed":`) {
		t.Fatalf("second line %q; want a suppressed count", lines[len(lines)-1])
	}
}

// refusalLines returns the lines of a JSON log that are refusals.
func refusalLines(log string) []string {
	var lines []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, `"msg":"refused"`) {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestReusePort: with ReusePort, two servers listen on one port and the
// kernel spreads connections over both; without it, the port is taken.
func TestReusePort(t *testing.T) {
	t.Parallel()
	a, addr := startServer(t, Config{ReusePort: true})
	b, _ := startServer(t, Config{ReusePort: true, ListenPlain: addr})
	other, err := New(Config{ListenPlain: addr, Routes: map[string]Handler{"/echo": Echo{}}})
	if err != nil {
		t.Fatal(err)
	}
	if other.Start() == nil {
		_ = other.Shutdown(t.Context())
		t.Error("a server without ReusePort started on a port in use")
	}
	for range 40 {
		c, _, err := gateDial(t, addr, "", nil) // closed when the test ends
		if err != nil {
			t.Fatal(err)
		}
		gateEcho(t, c, "x")
	}
	if a.Active() == 0 || b.Active() == 0 || a.Active()+b.Active() != 40 {
		t.Fatalf("connections: %d and %d; want 40 spread over both", a.Active(), b.Active())
	}
}
