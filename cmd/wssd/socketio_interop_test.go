package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wssd/wssd/security"
)

// The Socket.IO interop harness: npm's socket.io-client (Node, and its
// browser bundle in Chromium) against a Socket.IO v5 / Engine.IO v4 server
// over https://, each client in its own process and trusting only the CA it
// is given. The scripts and the reference server (npm's socket.io) are in
// testdata/interop/socketio; their headers say what each checks.
//
// To run the clients against a server, describe it with a sioTarget and
// pick scenarios:
//
//	runSocketIOClients(t, sioTarget{URL: "https://localhost:" + port, CA: ca, Log: p.stderr},
//		sioTransport("websocket"), sioTransport("polling"), sioTransport("default"),
//		sioConnectError("Invalid namespace", "--namespace", "/nope"),
//		sioReconnect(restart), sioMany(1000), sioBrowser(page))
//
// The packages come from testdata/interop/node (npm ci there; make interop
// does it); the browser scenario needs Chromium and certutil (make interop
// installs them).

// socketIODir holds the Socket.IO client scripts, the page and the
// reference server.
var socketIODir = filepath.Join(interopDir, "socketio")

// sioTarget is a Socket.IO server under test, as the clients see it.
type sioTarget struct {
	// URL is the server's origin, https://localhost:PORT: the clients add
	// the default path /socket.io/ themselves, and a namespace's name.
	URL string
	// CA is the PEM file of the CA the clients trust, the only one.
	CA string
	// Log returns the server's log so far, shown when a client fails; nil
	// if there is none to show.
	Log func() string
	// Args are options added to every client.mjs run, before the
	// scenario's own (which win): "--token", T for a server that wants an
	// auth token; "--header", "Name: value"; "--query", "k=v".
	Args []string
}

func (s sioTarget) log() string {
	if s.Log == nil {
		return "(none)"
	}
	return s.Log()
}

// sioScenario is one check of a Socket.IO server by real clients; a
// constructor below makes each.
type sioScenario struct {
	name string
	run  func(t *testing.T, s sioTarget)
}

// runSocketIOClients runs each scenario against s, as subtests of t named
// after them, one after the other.
func runSocketIOClients(t *testing.T, s sioTarget, scenarios ...sioScenario) {
	t.Helper()
	requireSocketIOPackages(t)
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, s) })
	}
}

func requireSocketIOPackages(t *testing.T) {
	t.Helper()
	for _, pkg := range []string{"socket.io-client", "socket.io", "playwright-core"} {
		if _, err := os.Stat(filepath.Join(interopDir, "node", "node_modules", pkg)); err != nil {
			t.Fatalf("%s is not installed (npm ci in %s/node; make interop does it): %v", pkg, interopDir, err)
		}
	}
}

// sioTransport is client.mjs websocket, polling or default (polling, then
// the upgrade, which must happen): on one connection, the reference
// behaviour of server.mjs --app conformance, both ways, text and binary:
//
//   - on connection to "/", the server emits "auth" with the handshake's
//     auth object ({} without --token, {"token": T} with it);
//   - "message" (any arguments): the server emits "message-back" with the
//     same arguments;
//   - "message-with-ack" (arguments, ack): the server acks with the same
//     arguments;
//   - "ping-me" (arguments): the server emits "ask" with the same
//     arguments and an ack; the client acks ("pong", ...arguments); the
//     server emits "ask-result" with exactly the ack's arguments;
//   - namespace "/custom" (same connection): on connection the server
//     emits "auth" only; "/nope": connect_error "Invalid namespace".
//
// It also checks that the server is refused without the CA. args are
// client.mjs options (--token T, --origin O, ...).
func sioTransport(transport string, args ...string) sioScenario {
	return sioScenario{
		name: strings.TrimSpace("socket.io-client " + transport + " " + strings.Join(args, " ")),
		run: func(t *testing.T, s sioTarget) {
			sioClient(t, s, 60*time.Second, transport, args...)
		},
	}
}

// sioMany is client.mjs many n: n polling-only clients at once, in one
// process, each with its own connection, each connecting and doing one
// "message-with-ack" round trip (acked with its arguments), then all
// disconnecting. The server's heartbeat must leave room for one busy
// process: CONFORMANCE.md's 300 ms interval and 200 ms timeout do not for
// 1000 clients on two cores.
func sioMany(n int, args ...string) sioScenario {
	return sioScenario{
		name: fmt.Sprintf("socket.io-client many %d", n),
		run: func(t *testing.T, s sioTarget) {
			out := sioClient(t, s, 90*time.Second, "many", append([]string{strconv.Itoa(n)}, args...)...)
			if m := regexp.MustCompile(`(\d+) clients connected, acked and disconnected in (\d+) ms`).FindStringSubmatch(out); m != nil {
				t.Logf("%s clients in %s ms", m[1], m[2])
			}
		},
	}
}

// sioConnectError is client.mjs connect-error want: connecting (once, no
// retries) must fail with a connect_error whose message is want: the
// server's CONNECT_ERROR message ("Invalid namespace" with "--namespace",
// "/nope"; a refused token), or "xhr poll error" (polling) or "websocket
// error" (websocket) for a refusal at the HTTP level, with
// "--description", "403" to check the status (polling reports it; Node's
// ws says "Unexpected server response: 403").
func sioConnectError(want string, args ...string) sioScenario {
	return sioScenario{
		name: strings.TrimSpace("socket.io-client connect-error " + want + " " + strings.Join(args, " ")),
		run: func(t *testing.T, s sioTarget) {
			sioClient(t, s, 30*time.Second, "connect-error", append([]string{want}, args...)...)
		},
	}
}

// sioTutorial is tutorial.cjs: Socket.IO's "get started" client, with the
// server's URL from the command line and the CA in NODE_EXTRA_CA_CERTS:
// it emits "message" "Hello, world!" and wants a "message" "Hello from the
// server!" back (server.mjs --app tutorial).
func sioTutorial() sioScenario {
	return sioScenario{
		name: "socket.io-client tutorial",
		run: func(t *testing.T, s sioTarget) {
			modules, err := filepath.Abs(filepath.Join(interopDir, "node", "node_modules"))
			if err != nil {
				t.Fatal(err)
			}
			env := clientEnv("NODE_EXTRA_CA_CERTS="+s.CA, "NODE_PATH="+modules)
			c := startNode(t, 30*time.Second, env, filepath.Join(socketIODir, "tutorial.cjs"), s.URL)
			if out := c.wait(t, s); !strings.Contains(out, "message: Hello from the server!") {
				t.Fatalf("tutorial.cjs exited 0 without the server's answer:\n%s", out)
			}
		},
	}
}

var (
	sioConnectedRE   = regexp.MustCompile(`(?m)^connected (\S+)$`)
	sioReconnectedRE = regexp.MustCompile(`(?m)^reconnected (\S+)$`)
)

// sioReconnect is client.mjs reconnect: the client connects, does a
// "message" round trip and prints "connected ID"; then restart is called,
// which must stop the server and start it again on the same port; the
// client must reconnect by itself (a server that sends a DISCONNECT packet
// for "/" as it stops prevents that) and do a round trip again.
func sioReconnect(restart func(t *testing.T), args ...string) sioScenario {
	return sioScenario{
		name: strings.TrimSpace("socket.io-client reconnect " + strings.Join(args, " ")),
		run: func(t *testing.T, s sioTarget) {
			c := startSIOClient(t, s, 60*time.Second, "reconnect", args...)
			first := c.waitLine(t, s, sioConnectedRE)
			restart(t)
			out := c.wait(t, s)
			m := sioReconnectedRE.FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("client.mjs reconnect exited 0 without a reconnected line:\n%s", out)
			}
			t.Logf("connected as %s, reconnected as %s", first, m[1])
		},
	}
}

// sioPubSub runs client.mjs pubsub on topic twice: a subscriber, then,
// once it has printed "subscribed", a client that subscribes and
// publishes {"n": 1}; both must get "message" {"topic": topic, "data":
// {"n": 1}}. The server's events: "subscribe" {topic} and "publish"
// {topic, data}, each acked null on success or {code, message} when
// refused; "message" {topic, data} to each subscriber.
func sioPubSub(topic string, args ...string) sioScenario {
	return sioScenario{
		name: strings.TrimSpace("socket.io-client pubsub " + topic + " " + strings.Join(args, " ")),
		run: func(t *testing.T, s sioTarget) {
			sub := startSIOClient(t, s, 30*time.Second, "pubsub", append([]string{topic}, args...)...)
			sub.waitLine(t, s, regexp.MustCompile(`(?m)^subscribed$`))
			pub := sioClient(t, s, 30*time.Second, "pubsub", append([]string{topic, "publish"}, args...)...)
			got := sub.wait(t, s)
			want := map[string]any{"topic": topic, "data": map[string]any{"n": 1.0}}
			for who, out := range map[string]string{"subscriber": got, "publisher": pub} {
				if m := lastJSONLine(out); !reflect.DeepEqual(m, want) {
					t.Errorf("the %s got %v; want %v\n%s", who, m, want, out)
				}
			}
		},
	}
}

// lastJSONLine returns the last line of out that is a JSON object, decoded.
func lastJSONLine(out string) map[string]any {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var m map[string]any
		if json.Unmarshal([]byte(lines[i]), &m) == nil {
			return m
		}
	}
	return nil
}

// sioBrowser is browser.mjs: headless Chromium opens page.html, served by
// page (another origin than the server's), which runs socket.io-client's
// browser bundle on websocket, polling and default (with the upgrade):
// connection, "auth" {}, "message" -> "message-back", "message-with-ack"
// with binary arguments, "ping-me" -> "ask" -> "ask-result". Without the
// CA it must fail. The server must answer the page's polling requests
// with CORS headers for page.Origin (Access-Control-Allow-Origin), and let
// that Origin through if it checks origins.
func sioBrowser(page *sioPage) sioScenario {
	return sioScenario{
		name: "socket.io-client in Chromium",
		run: func(t *testing.T, s sioTarget) {
			if _, err := os.Stat("/usr/bin/chromium"); err != nil && os.Getenv("WSSD_CHROMIUM") == "" {
				t.Fatalf("Chromium is not installed (make interop installs it): %v", err)
			}
			c := startNode(t, 90*time.Second, clientEnv(), filepath.Join(socketIODir, "browser.mjs"), page.URL(s.URL), s.CA)
			c.wait(t, s)
		},
	}
}

// sioPage serves page.html and socket.io-client's browser bundle
// (socket.io.min.js) at http://localhost:PORT: an origin of its own, and a
// secure context for Chromium without a certificate.
type sioPage struct {
	// Origin is the page's origin, for the server's CORS answers and
	// origin checks.
	Origin string
}

// startSIOPage starts the page's server; it is stopped when the test ends.
func startSIOPage(t *testing.T) *sioPage {
	t.Helper()
	return &sioPage{Origin: servePages(t, map[string]string{
		"/page.html":        filepath.Join(socketIODir, "page.html"),
		"/socket.io.min.js": filepath.Join(interopDir, "node", "node_modules", "socket.io-client", "dist", "socket.io.min.js"),
	})}
}

// servePages serves files (URL path to file) at http://localhost:PORT,
// until the test ends, and returns that origin.
func servePages(t *testing.T, files map[string]string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f, ok := files[r.URL.Path]; ok {
			http.ServeFile(w, r, f)
			return
		}
		if r.URL.Path == "/favicon.ico" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return "http://localhost:" + port
}

// URL is the page's address for the Socket.IO server at server.
func (p *sioPage) URL(server string) string {
	return p.Origin + "/page.html?" + url.Values{"url": {server}}.Encode()
}

// sioClient runs client.mjs scenario to its end against s and returns its
// output; it fails t, with that output and the server's log, unless the
// client exits 0 within timeout.
func sioClient(t *testing.T, s sioTarget, timeout time.Duration, scenario string, args ...string) string {
	t.Helper()
	return startSIOClient(t, s, timeout, scenario, args...).wait(t, s)
}

// startSIOClient starts client.mjs scenario against s. Its command line:
// the URL, the CA, the scenario, the positional arguments that lead args
// (a count, a message, a topic), s.Args, then the rest of args, so that
// the scenario's options win over the target's.
func startSIOClient(t *testing.T, s sioTarget, timeout time.Duration, scenario string, args ...string) *nodeProc {
	t.Helper()
	argv := []string{filepath.Join(socketIODir, "client.mjs"), s.URL, s.CA, scenario}
	i := 0
	for i < len(args) && !strings.HasPrefix(args[i], "--") {
		i++
	}
	argv = append(argv, args[:i]...)
	argv = append(argv, s.Args...)
	argv = append(argv, args[i:]...)
	return startNode(t, timeout, clientEnv(), argv...)
}

// nodeProc is a node process in its own process group, with its stdout
// and stderr collected together.
type nodeProc struct {
	cmd     *exec.Cmd
	cancel  context.CancelFunc
	ctx     context.Context
	timeout time.Duration
	began   time.Time
	done    chan struct{} // closed once it has exited; err is then set
	err     error

	mu    sync.Mutex
	out   bytes.Buffer
	wrote chan struct{} // signalled after each write to out
}

func (c *nodeProc) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(b)
	c.mu.Unlock()
	select {
	case c.wrote <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (c *nodeProc) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *nodeProc) String() string {
	return strings.Join(c.cmd.Args, " ")
}

// startNode runs node with args and env; it is killed, with its process
// group, after timeout or when the test ends.
func startNode(t *testing.T, timeout time.Duration, env []string, args ...string) *nodeProc {
	t.Helper()
	c, err := launchNode(timeout, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.kill)
	return c
}

// launchNode runs node with args and env; it is killed, with its process
// group, after timeout or by kill.
func launchNode(timeout time.Duration, env []string, args ...string) (*nodeProc, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	c := &nodeProc{cancel: cancel, ctx: ctx, timeout: timeout, done: make(chan struct{}), wrote: make(chan struct{}, 1)}
	c.cmd = exec.CommandContext(ctx, "node", args...)
	c.cmd.Env = env
	// Its own process group, so that a timeout also kills a browser it
	// started.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.cmd.Cancel = func() error { return syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL) }
	c.cmd.WaitDelay = 5 * time.Second
	c.cmd.Stdout = c
	c.cmd.Stderr = c
	c.began = time.Now()
	if err := c.cmd.Start(); err != nil {
		cancel()
		if errors.Is(err, exec.ErrNotFound) {
			return nil, errors.New("node not found: make interop needs Node.js 20 or later")
		}
		return nil, err
	}
	go func() {
		c.err = c.cmd.Wait()
		cancel()
		close(c.done)
	}()
	return c, nil
}

// kill kills the process group unless the process has exited, and waits
// for the exit.
func (c *nodeProc) kill() {
	c.cancel()
	<-c.done
}

// serverLog is a server whose log a client's failure shows: a sioTarget,
// a sjsTarget.
type serverLog interface {
	// log returns the server's log so far.
	log() string
}

// waitLine waits until the process has printed a line matching re and
// returns its first submatch (or the match). It fails t, with the output
// and the server's log, if the process exits or times out first.
func (c *nodeProc) waitLine(t *testing.T, s serverLog, re *regexp.Regexp) string {
	t.Helper()
	for {
		if m := re.FindStringSubmatch(c.output()); m != nil {
			return m[len(m)-1]
		}
		select {
		case <-c.wrote:
		case <-c.done:
			if m := re.FindStringSubmatch(c.output()); m != nil {
				return m[len(m)-1]
			}
			t.Fatalf("%s ended (%v) without printing a line matching %v:\n%s\nserver log:\n%s", c, c.err, re, c.output(), s.log())
		}
	}
}

// wait waits for the process to exit and returns its output. It fails t,
// with that output and the server's log, unless the exit status is 0.
func (c *nodeProc) wait(t *testing.T, s serverLog) string {
	t.Helper()
	<-c.done
	took := time.Since(c.began).Round(time.Millisecond)
	out := c.output()
	var ee *exec.ExitError
	switch {
	case c.err == nil:
		t.Logf("%s passed in %v:\n%s", c, took, out)
	case errors.Is(c.ctx.Err(), context.DeadlineExceeded):
		t.Fatalf("%s killed after %v:\n%s\nserver log:\n%s", c, c.timeout, out, s.log())
	case errors.As(c.err, &ee):
		t.Fatalf("%s failed (%v) after %v:\n%s\nserver log:\n%s", c, c.err, took, out, s.log())
	default:
		t.Fatalf("%s: %v\n%s", c, c.err, out)
	}
	return out
}

// sioRef is a reference server, a server.mjs (npm's socket.io, or
// sockjs), over https:// with a development certificate.
type sioRef struct {
	script string // its server.mjs
	files  security.DevFiles
	args   []string
	port   string

	mu   sync.Mutex
	proc *nodeProc
	past string // the log of the runs before proc
}

var sioListeningRE = regexp.MustCompile(`(?m)^listening port=(\d+) `)

// startSIORef starts server.mjs with args (--app, --conformance, --cors
// and so on) on a port of its own; it is killed when t ends, even if a
// subtest restarted it.
func startSIORef(t *testing.T, files security.DevFiles, args ...string) *sioRef {
	t.Helper()
	return startRef(t, filepath.Join(socketIODir, "server.mjs"), files, args...)
}

// startRef starts the reference server script, as startSIORef does: it
// must print `listening port=PORT ` once it listens.
func startRef(t *testing.T, script string, files security.DevFiles, args ...string) *sioRef {
	t.Helper()
	r := &sioRef{script: script, files: files, args: args, port: "0"}
	r.start(t)
	t.Cleanup(func() {
		r.mu.Lock()
		p := r.proc
		r.mu.Unlock()
		p.kill()
	})
	return r
}

func (r *sioRef) start(t *testing.T) {
	t.Helper()
	argv := append([]string{r.script,
		"--cert", r.files.Cert, "--key", r.files.Key, "--port", r.port}, r.args...)
	// Its lifetime is the test's: stop, or the cleanup of startRef, ends
	// it.
	p, err := launchNode(time.Hour, clientEnv(), argv...)
	if err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	if r.proc != nil {
		r.past += r.proc.output() + "--- restarted ---\n"
	}
	r.proc = p
	r.mu.Unlock()
	r.port = p.waitLine(t, r.target(), sioListeningRE)
}

// log returns the server's output so far, over its restarts.
func (r *sioRef) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.past + r.proc.output()
}

// target is the server as the clients see it: https://localhost:PORT and
// the development CA.
func (r *sioRef) target() sioTarget {
	return sioTarget{URL: "https://" + net.JoinHostPort("localhost", r.port), CA: r.files.CA, Log: r.log}
}

// stop sends SIGTERM and checks that the server exits 0.
func (r *sioRef) stop(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	p := r.proc
	r.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not exit within 10 s of SIGTERM:\n%s", r.script, r.log())
	}
	if p.err != nil {
		t.Fatalf("%s exited with %v after SIGTERM; want 0:\n%s", r.script, p.err, r.log())
	}
}

// restart stops the server and starts it again on the same port.
func (r *sioRef) restart(t *testing.T) {
	t.Helper()
	r.stop(t)
	r.start(t)
}

// TestInteropSocketIONode runs every Socket.IO client scenario against
// the reference server, npm's socket.io, over https:// with a development
// CA: it checks the harness that wssd's Socket.IO tests use. Like
// TestInterop it runs only when asked to (make interop, or
// WSSD_INTEROP=1 once the packages are installed).
func TestInteropSocketIONode(t *testing.T) {
	if os.Getenv("WSSD_INTEROP") != "1" {
		t.Skip("set WSSD_INTEROP=1 to run the Socket.IO clients (npm socket.io-client, Chromium) against npm's socket.io: make interop installs them and runs this test")
	}
	requireSocketIOPackages(t)
	files, _, err := security.DevCertificates(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	page := startSIOPage(t)

	t.Run("conformance", func(t *testing.T) {
		ref := startSIORef(t, files, "--app", "conformance", "--conformance", "--cors", page.Origin)
		runSocketIOClients(t, ref.target(),
			sioTransport("websocket"),
			sioTransport("polling"),
			sioTransport("default"),
			sioConnectError("Invalid namespace", "--namespace", "/nope"),
			sioBrowser(page),
			sioReconnect(ref.restart),
		)
		ref.stop(t)
	})

	t.Run("defaults", func(t *testing.T) {
		// The default heartbeat (25 s, 20 s), which a thousand clients in
		// one process can keep.
		ref := startSIORef(t, files)
		runSocketIOClients(t, ref.target(),
			sioMany(1000),
			sioReconnect(ref.restart, "--transport", "polling"),
		)
		ref.stop(t)
	})

	t.Run("tutorial", func(t *testing.T) {
		ref := startSIORef(t, files, "--app", "tutorial")
		runSocketIOClients(t, ref.target(), sioTutorial())
		ref.proc.waitLine(t, ref.target(), regexp.MustCompile(`(?m)^user disconnected$`))
		if log := ref.log(); !strings.Contains(log, "a user connected\n") {
			t.Errorf("the tutorial server did not log a connection:\n%s", log)
		}
		ref.stop(t)
	})

	t.Run("pubsub", func(t *testing.T) {
		ref := startSIORef(t, files, "--app", "pubsub")
		runSocketIOClients(t, ref.target(), sioPubSub("news"), sioPubSub("news", "--transport", "polling"))
		ref.stop(t)
	})

	t.Run("refusals", func(t *testing.T) {
		ref := startSIORef(t, files, "--token", "s3cret", "--allowed-origin", page.Origin)
		evil := []string{"--token", "s3cret", "--origin", "https://evil.example"}
		refused := func(want string, args ...string) sioScenario {
			return sioConnectError(want, slices.Concat(evil, args)...)
		}
		runSocketIOClients(t, ref.target(),
			sioConnectError("invalid token"),
			sioConnectError("invalid token", "--token", "wrong"),
			refused("xhr poll error", "--transport", "polling", "--description", "403"),
			// engine.io refuses a websocket upgrade with 400, whatever
			// the reason.
			refused("websocket error", "--transport", "websocket", "--description", "400"),
			sioTransport("polling", "--token", "s3cret", "--origin", page.Origin),
			sioTransport("websocket", "--token", "s3cret"),
		)
		ref.stop(t)
	})
}

// sioWSSD is a wssd process serving Socket.IO over https:// on one port,
// which a restart keeps.
type sioWSSD struct {
	owner              *testing.T // the test the processes belong to, whichever subtest restarts them
	bin, dataDir, port string
	args               []string
	p                  *process
}

func startSIOWSSD(t *testing.T, bin, dataDir string, args ...string) *sioWSSD {
	t.Helper()
	w := &sioWSSD{owner: t, bin: bin, dataDir: dataDir, port: "0", args: args}
	w.start(t)
	return w
}

func (w *sioWSSD) start(t *testing.T) {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:" + w.port, "--listen-plain", "", "--data-dir", w.dataDir}, w.args...)
	w.p = start(w.owner, w.bin, args...)
	u, err := url.Parse(w.p.waitLog(t, wssRE))
	if err != nil {
		t.Fatal(err)
	}
	w.port = u.Port()
}

func (w *sioWSSD) target() sioTarget {
	return sioTarget{URL: "https://localhost:" + w.port, CA: filepath.Join(w.dataDir, "dev-ca.pem"), Log: w.p.stderr}
}

// stop drains the process with SIGTERM.
func (w *sioWSSD) stop(t *testing.T) {
	t.Helper()
	if err := w.p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.p.waitExit(t, 2*wait); code != 0 {
		t.Fatalf("wssd exited %d after SIGTERM\n%s", code, w.p.stderr())
	}
}

func (w *sioWSSD) restart(t *testing.T) {
	t.Helper()
	w.stop(t)
	w.start(t)
}

// TestInteropSocketIO runs npm's socket.io-client, in Node and in
// Chromium, against the built binary over https:// with its dev CA: the
// conformance application on each transport, namespaces, binary and acks
// both ways, reconnection after a restart, a thousand polling clients,
// the pub/sub events, the token in the auth object and the origin
// allowlist; and the tutorial's client against cmd/socketio-hello. Like
// TestInterop, it runs with WSSD_INTEROP=1 (make interop).
func TestInteropSocketIO(t *testing.T) {
	if os.Getenv("WSSD_INTEROP") != "1" {
		t.Skip("set WSSD_INTEROP=1 to run npm socket.io-client (Node, Chromium) against wssd: make interop installs them and runs this test")
	}
	requireSocketIOPackages(t)
	bin := os.Getenv("WSSD_INTEROP_BIN")
	if bin == "" {
		bin = buildBinary(t)
	}
	dataDir := t.TempDir()
	page := startSIOPage(t)

	t.Run("conformance", func(t *testing.T) {
		w := startSIOWSSD(t, bin, dataDir, "--socketio-app", "conformance",
			"--socketio-ping-interval", "300ms", "--socketio-ping-timeout", "200ms", "--socketio-connect-timeout", "1s")
		runSocketIOClients(t, w.target(),
			sioTransport("websocket"),
			sioTransport("polling"),
			sioTransport("default"),
			sioConnectError("Invalid namespace", "--namespace", "/nope"),
			sioBrowser(page),
			sioReconnect(w.restart),
		)
		w.stop(t)
	})

	t.Run("defaults", func(t *testing.T) {
		// A thousand clients from one address, each poll on a TLS
		// connection of its own: more TLS handshakes at once than
		// one address may hold by default, and more than one Node
		// process finishes within the default handshake timeout on a
		// slow machine (its side of each handshake waits its turn on
		// one thread, while the server's deadline runs from accept).
		w := startSIOWSSD(t, bin, dataDir, "--socketio-app", "conformance", "--tls-slots-per-ip", "4096", "--handshake-timeout", "60s")
		runSocketIOClients(t, w.target(),
			sioMany(1000),
			sioReconnect(w.restart, "--transport", "polling"),
		)
		w.stop(t)
	})

	t.Run("pubsub", func(t *testing.T) {
		w := startSIOWSSD(t, bin, dataDir, "--anonymous-publish")
		runSocketIOClients(t, w.target(), sioPubSub("news"), sioPubSub("news", "--transport", "polling"))
		w.stop(t)
	})

	t.Run("refusals", func(t *testing.T) {
		secret := filepath.Join(t.TempDir(), "secret")
		if err := os.WriteFile(secret, []byte("0123456789abcdef0123456789abcdef"), 0o600); err != nil {
			t.Fatal(err)
		}
		tok := signHS256(t, []byte("0123456789abcdef0123456789abcdef"))
		w := startSIOWSSD(t, bin, dataDir, "--socketio-app", "conformance",
			"--auth-secret-file", secret, "--allowed-origins", page.Origin)
		evil := []string{"--token", tok, "--origin", "https://evil.example"}
		refused := func(want string, args ...string) sioScenario {
			return sioConnectError(want, slices.Concat(evil, args)...)
		}
		runSocketIOClients(t, w.target(),
			sioConnectError("unauthorized: missing"),
			sioConnectError("unauthorized: malformed", "--token", "wrong"),
			refused("xhr poll error", "--transport", "polling", "--description", "403"),
			refused("websocket error", "--transport", "websocket", "--description", "Unexpected server response: 403"),
			sioTransport("polling", "--token", tok, "--origin", page.Origin),
			sioTransport("websocket", "--token", tok),
		)
		w.stop(t)
	})

	t.Run("tutorial", func(t *testing.T) {
		hello := filepath.Join(t.TempDir(), "socketio-hello")
		if out, err := exec.Command("go", "build", "-o", hello, "../socketio-hello").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		p := startProcess(t, hello, "--listen", addr, "--data-dir", dataDir)
		p.waitLog(t, regexp.MustCompile(`listening on https://`))
		_, port, _ := net.SplitHostPort(addr)
		target := sioTarget{URL: "https://localhost:" + port, CA: filepath.Join(dataDir, "dev-ca.pem"), Log: p.stderr}
		runSocketIOClients(t, target, sioTutorial())
		p.waitLog(t, regexp.MustCompile(`msg="user disconnected"`))
		if !strings.Contains(p.stderr(), `msg="a user connected"`) {
			t.Errorf("the example did not log a connection:\n%s", p.stderr())
		}
	})
}

// signHS256 signs a token for an hour with secret.
func signHS256(t *testing.T, secret []byte) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": "socketio", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
