package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssd/wssd/security"
)

// The SockJS interop harness: npm's sockjs-client (Node, and its browser
// bundle in Chromium) against a SockJS 0.3 server over https://, each
// client in its own process and trusting only the CA it is given. The
// server has two services under one path (wssd's --sockjs-path): echo,
// which sends each message back, and ws, wssd's /ws pub/sub protocol, one
// JSON text per SockJS message. The scripts and the reference server (npm's
// sockjs) are in testdata/interop/sockjs; their headers say what each
// checks.
//
// The packages come from testdata/interop/node (npm ci there; make interop
// does it); the browser runs need Chromium and certutil (make interop
// installs them).

// sockJSDir holds the SockJS client scripts, the page and the reference
// server.
var sockJSDir = filepath.Join(interopDir, "sockjs")

// sjsNodeTransports are the transports sockjs-client 1.6.1 has in Node:
// the others need a document (jsonp-polling, htmlfile, the iframe-* ones)
// or Internet Explorer (xdr-*).
var sjsNodeTransports = []string{"websocket", "xhr-streaming", "xhr-polling", "eventsource"}

// sjsBrowserTransports are the transports sockjs-client 1.6.1 has in
// Chromium for a page of another origin than the server's: the iframe-*
// ones load the server's iframe.html, which loads the bundle from the
// server's sockjs_url (the page's server here), and run the transport
// inside it, of the server's origin. htmlfile itself needs a page of the
// server's origin (sjsSameOrigin).
var sjsBrowserTransports = []string{
	"websocket", "xhr-streaming", "xhr-polling", "eventsource", "jsonp-polling",
	"iframe-eventsource", "iframe-htmlfile", "iframe-xhr-polling",
}

// sjsTarget is a SockJS server under test, as the clients see it.
type sjsTarget struct {
	// URL is where its services are, https://localhost:PORT/sockjs: the
	// clients add /echo and /ws.
	URL string
	// WS is its plain WebSocket /ws route, wss://localhost:PORT/ws, where
	// a publication must reach the SockJS subscribers too; "" if it has
	// none.
	WS string
	// CA is the PEM file of the CA the clients trust, the only one.
	CA string
	// Log returns the server's log so far, shown when a client fails.
	Log func() string
	// Token, if set, is what every client authenticates with.
	Token string
	// RefusedCode is the SockJS close code the server refuses a session
	// with (a wrong token); 0 for any.
	RefusedCode int
	// Page is the page's server; nil to skip the browser runs.
	Page *sjsPage
	// UnescapedHTMLFile says the server writes htmlfile frames into
	// their script as they are (npm's sockjs does), so a message holding
	// "</script>" cannot go over htmlfile.
	UnescapedHTMLFile bool
}

func (s sjsTarget) log() string {
	if s.Log == nil {
		return "(none)"
	}
	return s.Log()
}

func requireSockJSPackages(t *testing.T) {
	t.Helper()
	for _, pkg := range []string{"sockjs-client", "sockjs", "ws", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(interopDir, "node", "node_modules", pkg)); err != nil {
			t.Fatalf("%s is not installed (npm ci in %s/node; make interop does it): %v", pkg, interopDir, err)
		}
	}
}

// runSockJSClients runs, as subtests of t, client.mjs on each Node
// transport with --app echo and --app pubsub (with s.Token: in the query,
// and as the first message), and, with s.Token, --app refused with a wrong
// one; then browser.mjs with every Chromium transport, if s.Page is set.
func runSockJSClients(t *testing.T, s sjsTarget) {
	t.Helper()
	requireSockJSPackages(t)
	for _, transport := range sjsNodeTransports {
		for _, app := range []string{"echo", "pubsub"} {
			t.Run(fmt.Sprintf("sockjs-client %s %s", transport, app), func(t *testing.T) {
				sjsClient(t, s, transport, app)
			})
			if s.Token != "" {
				t.Run(fmt.Sprintf("sockjs-client %s %s token message", transport, app), func(t *testing.T) {
					sjsClient(t, s, transport, app, "--token-in", "message")
				})
			}
		}
	}
	if s.Token != "" {
		for _, transport := range []string{"websocket", "xhr-polling"} {
			for _, in := range []string{"query", "message"} {
				t.Run(fmt.Sprintf("sockjs-client %s refused token %s", transport, in), func(t *testing.T) {
					sjsClient(t, s, transport, "refused", "--token", "wrong", "--token-in", in)
				})
			}
		}
	}
	if s.Page != nil {
		t.Run("sockjs-client in Chromium", func(t *testing.T) {
			sjsBrowser(t, s, s.Page.URL(s, sjsBrowserTransports))
		})
	}
}

// sjsClient runs client.mjs on transport with app against s, with
// NODE_EXTRA_CA_CERTS set to s.CA, and checks the result it prints. args
// (--token-in, or --token for a wrong one) come last and win.
func sjsClient(t *testing.T, s sjsTarget, transport, app string, args ...string) {
	t.Helper()
	argv := []string{filepath.Join(sockJSDir, "client.mjs"), "--url", s.URL, "--transport", transport, "--app", app}
	if s.WS != "" && app == "pubsub" {
		argv = append(argv, "--ws-url", s.WS)
	}
	if s.Token != "" {
		argv = append(argv, "--token", s.Token)
	}
	argv = append(argv, args...)
	out := startNode(t, 60*time.Second, clientEnv("NODE_EXTRA_CA_CERTS="+s.CA), argv...).wait(t, s)
	res := lastJSONLine(out)
	if res["transport"] != transport || res["app"] != app {
		t.Fatalf("client.mjs exited 0 without its result line for %s %s:\n%s", transport, app, out)
	}
	if app == "refused" && s.RefusedCode != 0 && res["code"] != float64(s.RefusedCode) {
		t.Errorf("refused with %v %v; want %d", res["code"], res["reason"], s.RefusedCode)
	}
}

// sjsBrowser runs browser.mjs on pageURL (a page.html for s, with its
// transports): headless Chromium, first without the CA (which must fail),
// then trusting it.
func sjsBrowser(t *testing.T, s sjsTarget, pageURL string) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err != nil && os.Getenv("WSSD_CHROMIUM") == "" {
		t.Fatalf("Chromium is not installed (make interop installs it): %v", err)
	}
	startNode(t, 180*time.Second, clientEnv(), filepath.Join(sockJSDir, "browser.mjs"), pageURL, s.CA).wait(t, s)
}

// sjsPage serves page.html and sockjs-client's browser bundle
// (sockjs.min.js) at http://localhost:PORT: another origin than the
// server's, and a secure context for Chromium without a certificate.
type sjsPage struct {
	// Origin is the page's origin, for the server's CORS answers and
	// origin checks.
	Origin string
}

func startSJSPage(t *testing.T) *sjsPage {
	t.Helper()
	return &sjsPage{Origin: servePages(t, sjsPageFiles())}
}

// sjsPageFiles are page.html and the bundle, by URL path.
func sjsPageFiles() map[string]string {
	return map[string]string{
		"/page.html":     filepath.Join(sockJSDir, "page.html"),
		"/sockjs.min.js": filepath.Join(interopDir, "node", "node_modules", "sockjs-client", "dist", "sockjs.min.js"),
	}
}

// Bundle is the URL of sockjs-client's bundle: the server's iframe.html
// must load it (its sockjs_url) for the iframe-* transports, since the
// iframe's sockjs-client must be the page's version.
func (p *sjsPage) Bundle() string {
	return p.Origin + "/sockjs.min.js"
}

// URL is the page's address for s, running transports.
func (p *sjsPage) URL(s sjsTarget, transports []string) string {
	return sjsPageURL(p.Origin, s, transports)
}

// sjsPageURL is the address of page.html at origin for s, running
// transports.
func sjsPageURL(origin string, s sjsTarget, transports []string) string {
	q := url.Values{"url": {s.URL}, "transports": {strings.Join(transports, ",")}}
	if s.WS != "" {
		q.Set("ws", s.WS)
	}
	if s.Token != "" {
		q.Set("token", s.Token)
	}
	if s.UnescapedHTMLFile {
		q.Set("unescaped-htmlfile", "")
	}
	return origin + "/page.html?" + q.Encode()
}

// TestInteropSockJS runs npm's sockjs-client, in Node on each of its
// transports and in Chromium on each of its own, against npm's sockjs (the
// reference server, server.mjs: it checks the harness) and against the
// built binary's --sockjs-path: echo, pub/sub (with a publication from a
// plain WebSocket on /ws, for wssd), and tokens in the query or the first
// message. Like TestInterop, it runs with WSSD_INTEROP=1 (make interop).
func TestInteropSockJS(t *testing.T) {
	if os.Getenv("WSSD_INTEROP") != "1" {
		t.Skip("set WSSD_INTEROP=1 to run npm sockjs-client (Node, Chromium) against npm's sockjs and wssd: make interop installs them and runs this test")
	}
	requireSockJSPackages(t)
	page := startSJSPage(t)

	t.Run("reference", func(t *testing.T) {
		files, _, err := security.DevCertificates(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		target := func(ref *sioRef) sjsTarget {
			return sjsTarget{
				URL: "https://" + net.JoinHostPort("localhost", ref.port) + "/sockjs",
				CA:  files.CA, Log: ref.log, Page: page, UnescapedHTMLFile: true,
			}
		}
		statics := []string{}
		for at, file := range sjsPageFiles() {
			abs, err := filepath.Abs(file)
			if err != nil {
				t.Fatal(err)
			}
			statics = append(statics, "--static", at+"="+abs)
		}

		t.Run("anonymous", func(t *testing.T) {
			ref := startRef(t, filepath.Join(sockJSDir, "server.mjs"), files, append([]string{"--sockjs-url", page.Bundle()}, statics...)...)
			s := target(ref)
			runSockJSClients(t, s)
			// htmlfile's frames call into the page, which must then be
			// of the server's origin: server.mjs serves it too.
			t.Run("sockjs-client in Chromium, same origin", func(t *testing.T) {
				origin := "https://" + net.JoinHostPort("localhost", ref.port)
				sjsBrowser(t, s, sjsPageURL(origin, s, []string{"htmlfile", "xhr-streaming", "xhr-polling"}))
			})
			ref.stop(t)
		})

		t.Run("token", func(t *testing.T) {
			ref := startRef(t, filepath.Join(sockJSDir, "server.mjs"), files, "--sockjs-url", page.Bundle(), "--token", "s3cret")
			s := target(ref)
			s.Token, s.RefusedCode = "s3cret", 4001
			runSockJSClients(t, s)
			ref.stop(t)
		})
	})

	t.Run("wssd", func(t *testing.T) {
		bin := os.Getenv("WSSD_INTEROP_BIN")
		if bin == "" {
			bin = buildBinary(t)
		}
		dataDir := t.TempDir()
		// The iframe-* transports run in the server's iframe.html: their
		// requests carry the server's own origin, which is listed with
		// the page's. Its port is chosen before wssd starts, to list it.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		ln.Close()
		start := func(t *testing.T, args ...string) (*sioWSSD, sjsTarget) {
			t.Helper()
			w := &sioWSSD{owner: t, bin: bin, dataDir: dataDir, port: port, args: append([]string{
				"--sockjs-path", "/sockjs", "--sockjs-client-url", page.Bundle(),
				"--allowed-origins", page.Origin + ",https://localhost:" + port,
			}, args...)}
			w.start(t)
			return w, sjsTarget{
				URL: "https://localhost:" + port + "/sockjs", WS: "wss://localhost:" + port + "/ws",
				CA: filepath.Join(dataDir, "dev-ca.pem"), Log: w.p.stderr, Page: page,
			}
		}

		t.Run("anonymous", func(t *testing.T) {
			w, s := start(t, "--anonymous-publish")
			runSockJSClients(t, s)
			w.stop(t)
		})

		t.Run("token", func(t *testing.T) {
			secret := []byte("0123456789abcdef0123456789abcdef")
			file := filepath.Join(t.TempDir(), "secret")
			if err := os.WriteFile(file, secret, 0o600); err != nil {
				t.Fatal(err)
			}
			w, s := start(t, "--auth-secret-file", file)
			s.Token = signSockJSToken(t, secret)
			runSockJSClients(t, s)
			w.stop(t)
		})
	})
}

// signSockJSToken signs a token for an hour with secret, which may
// subscribe and publish to the topics under "sockjs.", where the clients'
// are.
func signSockJSToken(t *testing.T, secret []byte) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "sockjs", "exp": time.Now().Add(time.Hour).Unix(),
		"topics": map[string]any{"subscribe": []string{"sockjs.>"}, "publish": []string{"sockjs.>"}},
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
