package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/prometheus/common/expfmt"
	"golang.org/x/sys/unix"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/engine/pubsub/natsbroker"
	"github.com/wssd/wssd/engine/socketio"
	"github.com/wssd/wssd/engine/sockjs"
	"github.com/wssd/wssd/security"
)

// wait bounds every blocking step of these tests.
const wait = 10 * time.Second

func TestParseFlags(t *testing.T) {
	defaults := options{
		listen:         ":8443",
		listenPlain:    "",
		dataDir:        "wssd-data",
		curves:         security.DefaultCurves,
		handshake:      engine.DefaultHandshakeTime,
		tlsWorkers:     engine.DefaultTLSWorkers,
		tlsQueue:       engine.DefaultTLSQueue,
		loops:          0,
		maxMessageSize: engine.DefaultMaxMessageSize,
		maxFragments:   engine.DefaultMaxFragments,
		drainTimeout:   engine.DefaultDrainTimeout,
		closeTimeout:   engine.DefaultCloseTimeout,
		pingInterval:   engine.DefaultPingInterval,
		pongTimeout:    engine.DefaultPongTimeout,
		logLevel:       slog.LevelInfo,
		authLeeway:     security.DefaultLeeway,
		rateBurst:      time.Second,
		maxJSONDepth:   security.DefaultMaxDepth,
		maxJSONSize:    engine.DefaultMaxJSONSize,
		admin:          "127.0.0.1:9469",
		logFormat:      "text",

		maxSubscriptions: pubsub.DefaultMaxSubscriptions,
		brokerPrefix:     natsbroker.DefaultPrefix,

		deflate:           true,
		deflateThreshold:  engine.DefaultDeflateThreshold,
		deflateLevel:      codec.DefaultDeflateLevel,
		deflateWindowBits: engine.DefaultTakeoverWindowBits,

		sioPath:           socketio.DefaultPath,
		sioApp:            "pubsub",
		sioPingInterval:   socketio.DefaultPingInterval,
		sioPingTimeout:    socketio.DefaultPingTimeout,
		sioMaxPayload:     socketio.DefaultMaxPayload,
		sioConnectTimeout: socketio.DefaultConnectTimeout,

		sjsPath:          "/sockjs",
		sjsHeartbeat:     sockjs.DefaultHeartbeatDelay,
		sjsDisconnect:    sockjs.DefaultDisconnectDelay,
		sjsResponseLimit: sockjs.DefaultResponseLimit,
		sjsWebSocket:     true,
		sjsClientURL:     sockjs.DefaultClientURL,
	}
	// with returns the defaults changed by set.
	with := func(set func(o *options)) options {
		o := defaults
		set(&o)
		return o
	}
	cases := []struct {
		name    string
		args    []string
		want    options
		wantErr bool
	}{
		{
			name: "defaults",
			args: nil,
			want: defaults,
		},
		{
			name: "every flag",
			args: []string{"--listen", "127.0.0.1:9443", "--listen-plain", "127.0.0.1:9000", "--cert", "c.pem", "--key", "k.pem",
				"--data-dir", "d", "--tls-curves", "x25519,p256", "--handshake-timeout", "1s", "--tls-workers", "8", "--tls-queue", "16",
				"--tls-slots-per-ip", "3", "--max-fragments", "64", "--reassembly-budget", "1000000",
				"--loops", "4", "--max-message-size", "2048", "--drain-timeout", "3s", "--close-timeout", "2s",
				"--ping-interval", "20s", "--pong-timeout", "5s", "--idle-timeout", "10m", "--log-level", "debug",
				"--auth-public-key", "pub.pem", "--auth-issuer", "https://id.example", "--auth-audience", "chat", "--auth-leeway", "5s",
				"--max-connections", "100000", "--max-conns-per-ip", "50", "--handshake-rate-per-ip", "5:20",
				"--rate-messages", "100", "--rate-bytes", "65536", "--rate-burst", "2s", "--rate-policy", "drop",
				"--schema", "s.json", "--invalid-message", "reply", "--max-json-depth", "8", "--max-json-size", "4096",
				"--admin", "127.0.0.1:9191", "--pprof", "--log-format", "json", "--reuseport",
				"--anonymous-publish", "--max-subscriptions", "9", "--max-outbound", "100000", "--slow-consumer", "drop",
				"--broker", "nats://127.0.0.1:4222", "--broker-prefix", "app.",
				"--socketio-path", "/sio/", "--socketio-app", "conformance", "--socketio-ping-interval", "300ms",
				"--socketio-ping-timeout", "200ms", "--socketio-max-payload", "1000", "--socketio-connect-timeout", "1s",
				"--deflate=false", "--deflate-routes", "/echo,/ws", "--deflate-threshold", "0", "--deflate-level", "9",
				"--deflate-context-takeover", "--deflate-window-bits", "10",
				"--sockjs-path", "/sjs", "--sockjs-heartbeat", "2s", "--sockjs-disconnect-delay", "3s", "--sockjs-response-limit", "4096",
				"--sockjs-cookie-needed", "--sockjs-websocket=false", "--sockjs-client-url", "https://localhost/s.js"},
			want: options{
				listen:         "127.0.0.1:9443",
				listenPlain:    "127.0.0.1:9000",
				certFile:       "c.pem",
				keyFile:        "k.pem",
				dataDir:        "d",
				curves:         []tls.CurveID{tls.X25519, tls.CurveP256},
				handshake:      time.Second,
				tlsWorkers:     8,
				tlsQueue:       16,
				tlsPerIP:       3,
				loops:          4,
				maxMessageSize: 2048,
				maxFragments:   64,
				reassembly:     1000000,
				drainTimeout:   3 * time.Second,
				closeTimeout:   2 * time.Second,
				pingInterval:   20 * time.Second,
				pongTimeout:    5 * time.Second,
				idleTimeout:    10 * time.Minute,
				logLevel:       slog.LevelDebug,
				authPublicKey:  "pub.pem",
				authIssuer:     "https://id.example",
				authAudience:   "chat",
				authLeeway:     5 * time.Second,
				maxConns:       100000,
				maxConnsPerIP:  50,
				handshakeRate:  security.Rate{PerSecond: 5, Burst: 20},
				rateMessages:   100,
				rateBytes:      65536,
				rateBurst:      2 * time.Second,
				ratePolicy:     engine.RateDrop,
				schemaFile:     "s.json",
				invalidMessage: engine.InvalidReply,
				maxJSONDepth:   8,
				maxJSONSize:    4096,
				admin:          "127.0.0.1:9191",
				pprof:          true,
				logFormat:      "json",
				reusePort:      true,

				anonPublish:      true,
				maxSubscriptions: 9,
				maxOutbound:      100000,
				slowConsumer:     engine.SlowDrop,
				broker:           "nats://127.0.0.1:4222",
				brokerPrefix:     "app.",

				deflateRoutes:     []string{"/echo", "/ws"},
				deflateLevel:      9,
				deflateTakeover:   true,
				deflateWindowBits: 10,

				sioPath:           "/sio/",
				sioApp:            "conformance",
				sioPingInterval:   300 * time.Millisecond,
				sioPingTimeout:    200 * time.Millisecond,
				sioMaxPayload:     1000,
				sioConnectTimeout: time.Second,

				sjsPath:          "/sjs",
				sjsHeartbeat:     2 * time.Second,
				sjsDisconnect:    3 * time.Second,
				sjsResponseLimit: 4096,
				sjsCookieNeeded:  true,
				sjsClientURL:     "https://localhost/s.js",
			},
		},
		{name: "deflate level 0", args: []string{"--deflate-level", "0"}, wantErr: true},
		{name: "deflate window bits 16", args: []string{"--deflate-window-bits", "16"}, wantErr: true},
		{name: "negative deflate threshold", args: []string{"--deflate-threshold", "-1"}, wantErr: true},
		{name: "no Socket.IO", args: []string{"--socketio-path", ""}, want: with(func(o *options) { o.sioPath = "" })},
		{name: "unknown Socket.IO app", args: []string{"--socketio-app", "chat"}, wantErr: true},
		{name: "Socket.IO on /ws", args: []string{"--socketio-path", "/ws"}, wantErr: true},
		{name: "zero Socket.IO ping", args: []string{"--socketio-ping-interval", "0s"}, wantErr: true},
		{
			name: "handshake rate without a burst",
			args: []string{"--handshake-rate-per-ip", "7", "--auth-secret-file", "secret"},
			want: with(func(o *options) { o.handshakeRate, o.authSecretFile = security.Rate{PerSecond: 7, Burst: 7}, "secret" }),
		},
		{name: "bad handshake rate", args: []string{"--handshake-rate-per-ip", "fast"}, wantErr: true},
		{name: "zero handshake rate", args: []string{"--handshake-rate-per-ip", "0:5"}, wantErr: true},
		{name: "zero handshake burst", args: []string{"--handshake-rate-per-ip", "5:0"}, wantErr: true},
		{name: "both auth keys", args: []string{"--auth-secret-file", "a", "--auth-public-key", "b"}, wantErr: true},
		{name: "issuer without a key", args: []string{"--auth-issuer", "x"}, wantErr: true},
		{name: "unknown rate policy", args: []string{"--rate-policy", "ignore"}, wantErr: true},
		{name: "unknown slow-consumer policy", args: []string{"--slow-consumer", "wait"}, wantErr: true},
		{name: "zero subscriptions", args: []string{"--max-subscriptions", "0"}, wantErr: true},
		{name: "negative outbound", args: []string{"--max-outbound", "-1"}, wantErr: true},
		{name: "zero fragments", args: []string{"--max-fragments", "0"}, wantErr: true},
		{name: "negative reassembly budget", args: []string{"--reassembly-budget", "-1"}, wantErr: true},
		{name: "negative TLS share", args: []string{"--tls-slots-per-ip", "-1"}, wantErr: true},
		{name: "broker not a NATS URL", args: []string{"--broker", "http://x"}, wantErr: true},
		{name: "unknown invalid-message policy", args: []string{"--invalid-message", "log"}, wantErr: true},
		{name: "negative rate", args: []string{"--rate-messages", "-1"}, wantErr: true},
		{name: "zero rate burst", args: []string{"--rate-burst", "0s"}, wantErr: true},
		{name: "negative max connections", args: []string{"--max-connections", "-5"}, wantErr: true},
		{name: "unknown log format", args: []string{"--log-format", "xml"}, wantErr: true},
		{name: "pprof without admin", args: []string{"--admin", "", "--pprof"}, wantErr: true},
		{name: "no admin", args: []string{"--admin", ""}, want: with(func(o *options) { o.admin = "" })},
		{name: "admin key without admin", args: []string{"--admin", "", "--admin-key-file", "k"}, wantErr: true},
		{name: "admin key", args: []string{"--admin-key-file", "k"}, want: with(func(o *options) { o.adminKeyFile = "k" })},
		{
			name: "single dash and = forms",
			args: []string{"-loops=2", "-log-level=WARN"},
			want: with(func(o *options) { o.loops, o.logLevel = 2, slog.LevelWarn }),
		},
		{
			name: "zero drain timeout",
			args: []string{"--drain-timeout", "0s"},
			want: with(func(o *options) { o.drainTimeout = 0 }),
		},
		{
			name: "allowed origins",
			args: []string{"--allowed-origins", "https://app.example.com, https://*.example.net"},
			want: with(func(o *options) {
				o.origins, _ = security.ParseOrigins([]string{"https://app.example.com", "https://*.example.net"})
			}),
		},
		{
			name:    "bad origin",
			args:    []string{"--allowed-origins", "app.example.com"},
			wantErr: true,
		},
		{
			name: "no pings",
			args: []string{"--ping-interval", "0"},
			want: with(func(o *options) { o.pingInterval = 0 }),
		},
		{
			name:    "zero pong timeout",
			args:    []string{"--pong-timeout", "0s"},
			wantErr: true,
		},
		{
			name:    "negative idle timeout",
			args:    []string{"--idle-timeout", "-1s"},
			wantErr: true,
		},
		{
			name: "plain only",
			args: []string{"--listen", "", "--listen-plain", ":8080"},
			want: with(func(o *options) { o.listen, o.listenPlain = "", ":8080" }),
		},
		{
			name:    "no listener",
			args:    []string{"--listen", ""},
			wantErr: true,
		},
		{
			name:    "cert without key",
			args:    []string{"--cert", "c.pem"},
			wantErr: true,
		},
		{
			name:    "unknown curve",
			args:    []string{"--tls-curves", "X448"},
			wantErr: true,
		},
		{
			name:    "zero max message size",
			args:    []string{"--max-message-size", "0"},
			wantErr: true,
		},
		{
			name:    "negative max message size",
			args:    []string{"--max-message-size", "-1"},
			wantErr: true,
		},
		{
			name:    "zero close timeout",
			args:    []string{"--close-timeout", "0s"},
			wantErr: true,
		},
		{
			name:    "negative loops",
			args:    []string{"--loops", "-1"},
			wantErr: true,
		},
		{
			name:    "loops not a number",
			args:    []string{"--loops", "many"},
			wantErr: true,
		},
		{
			name:    "negative drain timeout",
			args:    []string{"--drain-timeout", "-1s"},
			wantErr: true,
		},
		{
			name:    "drain timeout without a unit",
			args:    []string{"--drain-timeout", "10"},
			wantErr: true,
		},
		{
			name:    "unknown log level",
			args:    []string{"--log-level", "loud"},
			wantErr: true,
		},
		{
			name:    "unknown flag",
			args:    []string{"--listen-tls", ":8443"},
			wantErr: true,
		},
		{
			name:    "positional argument",
			args:    []string{"--loops", "1", "extra"},
			wantErr: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("parseFlags(%q) = %+v, nil; want an error", tc.args, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tc.args, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseFlags(%q) = %+v; want %+v", tc.args, got, tc.want)
			}
		})
	}
}

// TestRunFlagErrors: run exits 2 on bad flags and 0 on --help, without
// starting a server.
func TestRunFlagErrors(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{
			name:     "help",
			args:     []string{"--help"},
			wantCode: 0,
			wantOut:  "Usage: wssd",
		},
		{
			name:     "bad value",
			args:     []string{"--max-message-size", "0"},
			wantCode: 2,
			wantOut:  "wssd:",
		},
		{
			name:     "unknown flag",
			args:     []string{"--nope"},
			wantCode: 2,
			wantOut:  "flag provided but not defined",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if code := run(tc.args, &out, &out); code != tc.wantCode {
				t.Errorf("run(%q) = %d; want %d\n%s", tc.args, code, tc.wantCode, out.String())
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Errorf("run(%q) printed %q; want it to contain %q", tc.args, out.String(), tc.wantOut)
			}
		})
	}
}

// process is a running wssd binary.
type process struct {
	cmd       *exec.Cmd
	listening chan string   // the ws:// URL it logged it listens on
	exited    chan struct{} // closed when it has exited; err is then set
	logged    chan struct{} // signalled after each line of stderr
	err       error

	mu  sync.Mutex
	log bytes.Buffer // its stderr
}

var listeningRE = regexp.MustCompile(`msg=listening .*ws=(ws://\S+)`)

// start runs bin with args and collects its stderr. The process is killed
// when the test ends if it is still running.
func start(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	if !slices.Contains(args, "--admin") {
		// Tests run several servers at once: none may take the
		// default admin port.
		args = append(args, "--admin", "127.0.0.1:0")
	}
	return startProcess(t, bin, args...)
}

// startProcess runs bin with args, as start does, without adding a flag.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{
		cmd:       exec.Command(bin, args...),
		listening: make(chan string, 1),
		exited:    make(chan struct{}),
		logged:    make(chan struct{}, 1),
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.log.WriteString(line + "\n")
			p.mu.Unlock()
			select {
			case p.logged <- struct{}{}:
			default:
			}
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case p.listening <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		// Wait only once stderr is fully read, as exec requires.
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *process) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// waitListening returns the URL the process logged it listens on: it is
// then accepting connections.
func (p *process) waitListening(t *testing.T) string {
	t.Helper()
	select {
	case u := <-p.listening:
		return u
	case <-p.exited:
		t.Fatalf("wssd exited before listening: %v\n%s", p.err, p.stderr())
	case <-time.After(wait):
		t.Fatalf("wssd did not log that it listens\n%s", p.stderr())
	}
	return ""
}

// waitExit waits for the process to exit and returns its exit code.
func (p *process) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(timeout):
		t.Fatalf("wssd did not exit within %v\n%s", timeout, p.stderr())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee) && ee.Exited():
		return ee.ExitCode()
	default:
		t.Fatalf("wssd ended abnormally: %v\n%s", p.err, p.stderr())
		return -1
	}
}

// TestBinary builds wssd once and runs it end to end.
func TestBinary(t *testing.T) {
	bin := buildBinary(t)

	// The listener takes port 0 and the test reads the port the kernel
	// chose from the "listening" log line, so no port can be taken by
	// someone else between choosing and binding it.
	signals := []struct {
		name string
		sig  os.Signal
	}{
		{
			name: "SIGTERM",
			sig:  syscall.SIGTERM,
		},
		{
			name: "SIGINT",
			sig:  syscall.SIGINT,
		},
	}
	for _, tc := range signals {
		t.Run(tc.name+" drains", func(t *testing.T) {
			const drainTimeout = 5 * time.Second
			p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--loops", "2", "--drain-timeout", drainTimeout.String())
			url := p.waitListening(t)
			d := websocket.Dialer{HandshakeTimeout: wait}
			c, _, err := d.Dial(url, nil)
			if err != nil {
				t.Fatalf("dial %s: %v\n%s", url, err, p.stderr())
			}
			defer c.Close()
			if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte("hello wssd")); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.ReadMessage(); err != nil || string(got) != "hello wssd" {
				t.Fatalf("read = %q, %v; want the echo", got, err)
			}

			if err := p.cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			// gorilla's default close handler answers the close frame.
			_, _, err = c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
				t.Errorf("read after %s: %v; want close 1001", tc.name, err)
			}
			if code := p.waitExit(t, drainTimeout+wait); code != 0 {
				t.Errorf("exit code %d; want 0\n%s", code, p.stderr())
			}
			log := p.stderr()
			if !strings.Contains(log, "msg=draining") || !strings.Contains(log, "msg=stopped") {
				t.Errorf("log lacks the draining and stopped lines:\n%s", log)
			}
			if strings.Contains(log, "drain timed out") {
				t.Errorf("drain timed out although the client answered:\n%s", log)
			}
		})
	}

	t.Run("security gates from flags", func(t *testing.T) {
		dir := t.TempDir()
		secret := filepath.Join(dir, "secret")
		schema := filepath.Join(dir, "schema.json")
		if err := os.WriteFile(secret, []byte("a secret of more than thirty-two bytes, for tests\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schema, []byte(`{"type":"object","required":["op"],"properties":{"op":{"const":"say"}}}`), 0o600); err != nil {
			t.Fatal(err)
		}
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--loops", "1",
			"--auth-secret-file", secret, "--auth-audience", "chat", "--schema", schema,
			"--rate-messages", "1", "--rate-burst", "5s", "--max-conns-per-ip", "3")
		url := p.waitListening(t)
		d := websocket.Dialer{HandshakeTimeout: wait}
		if _, resp, err := d.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("without a token: %v, %v; want 401\n%s", resp, err, p.stderr())
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"sub": "dave", "aud": "chat", "exp": time.Now().Add(time.Hour).Unix(),
		}).SignedString([]byte("a secret of more than thirty-two bytes, for tests"))
		if err != nil {
			t.Fatal(err)
		}
		c, _, err := d.Dial(url+"?token="+tok, nil)
		if err != nil {
			t.Fatalf("with a token: %v\n%s", err, p.stderr())
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"op":"say"}`)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != `{"op":"say"}` {
			t.Fatalf("valid message: %q, %v; want the echo", got, err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"op":"shout"}`)); err != nil {
			t.Fatal(err)
		}
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || !strings.HasPrefix(ce.Text, "schema: ") {
			t.Fatalf("invalid message: %v; want close 1008 with the schema's reason", err)
		}
		p.waitLog(t, regexp.MustCompile(`reason=schema`))
		if log := p.stderr(); !strings.Contains(log, "reason=auth_missing") || strings.Contains(log, tok) {
			t.Errorf("log lacks the refusals, or holds the token:\n%s", log)
		}
	})

	t.Run("admin endpoints and JSON logs", func(t *testing.T) {
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--loops", "1",
			"--admin", "127.0.0.1:0", "--log-format", "json")
		adminURL := p.waitLog(t, regexp.MustCompile(`"msg":"admin listening","url":"(http://[^"]+)/metrics"`))
		p.waitLog(t, regexp.MustCompile(`"msg":"listening"`))
		url := regexp.MustCompile(`"ws":"(ws://[^"]+)"`).FindStringSubmatch(p.stderr())
		if url == nil {
			t.Fatalf("no ws URL logged:\n%s", p.stderr())
		}
		c, _, err := websocket.DefaultDialer.Dial(url[1]+"?token=secret-in-the-query", nil)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(wait))
		_, _, _ = c.ReadMessage()
		c.Close()
		closed := p.waitLog(t, regexp.MustCompile(`\{[^\n]*"msg":"connection closed"[^\n]*\}`))
		var line map[string]any
		if err := json.Unmarshal([]byte(closed), &line); err != nil {
			t.Fatalf("%v: %s", err, closed)
		}
		for k, want := range map[string]any{"listener": "ws", "route": "/echo", "msgs_in": 1.0, "msgs_out": 1.0, "bytes_in": 2.0,
			"bytes_out": 2.0, "code": 1000.0, "closed_by": "client"} {
			if line[k] != want {
				t.Errorf("close line %s = %v, want %v: %s", k, line[k], want, closed)
			}
		}
		if strings.Contains(p.stderr(), "secret-in-the-query") {
			t.Errorf("the log holds the query's token:\n%s", p.stderr())
		}
		for path, want := range map[string]int{"/metrics": 200, "/healthz": 200, "/readyz": 200, "/debug/pprof/": 404} {
			resp, err := http.Get(adminURL + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
			}
			if path == "/metrics" {
				var parser expfmt.TextParser
				fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
				if err != nil {
					t.Errorf("/metrics does not parse: %v", err)
				}
				n := 0
				for name, f := range fams {
					if strings.HasPrefix(name, "wssd_") {
						n++
						if f.GetHelp() == "" {
							t.Errorf("/metrics: %s has no HELP text", name)
						}
					}
				}
				if fams["wssd_loop_lag_seconds"] == nil || n < 30 {
					t.Errorf("/metrics: %d wssd_ families, loop lag among them: %v", n, fams["wssd_loop_lag_seconds"] != nil)
				}
			}
			if path == "/metrics" && (!strings.Contains(string(body), "# TYPE wssd_connections_opened_total counter") ||
				!strings.Contains(string(body), `wssd_connections_opened_total{listener="ws"} 1`) ||
				!strings.Contains(string(body), "process_resident_memory_bytes")) {
				t.Errorf("/metrics lacks the expected series:\n%s", body)
			}
		}
	})

	t.Run("survives running out of file descriptors", func(t *testing.T) {
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--loops", "2")
		url := p.waitListening(t)
		// Lower the running server's descriptor limit so that a few
		// hundred connections exhaust it.
		lim := unix.Rlimit{Cur: 64, Max: 64}
		if err := unix.Prlimit(p.cmd.Process.Pid, unix.RLIMIT_NOFILE, &lim, nil); err != nil {
			t.Skipf("cannot lower the server's descriptor limit: %v", err)
		}
		addr := strings.TrimSuffix(strings.TrimPrefix(url, "ws://"), "/echo")
		var flood []net.Conn
		defer func() {
			for _, c := range flood {
				c.Close()
			}
		}()
		for i := 0; i < 200; i++ {
			c, err := net.DialTimeout("tcp", addr, wait)
			if err != nil {
				break // the backlog is full: exhausted all the same
			}
			flood = append(flood, c)
		}
		// Wait for the server to say it ran out.
		timeout := time.After(wait)
		for !strings.Contains(p.stderr(), "level=WARN") {
			select {
			case <-p.logged:
			case <-p.exited:
				t.Fatalf("wssd exited when out of descriptors: %v\n%s", p.err, p.stderr())
			case <-timeout:
				t.Fatalf("no warning after %d connections with a limit of 64\n%s", len(flood), p.stderr())
			}
		}
		for _, c := range flood {
			c.Close()
		}
		flood = nil

		// Once the server has closed the flood's connections it serves
		// again. Until then a new connection may still be refused (closed
		// at once), so each refusal is followed by another try.
		d := websocket.Dialer{HandshakeTimeout: wait}
		var c *websocket.Conn
		var err error
		for deadline := time.Now().Add(wait); time.Now().Before(deadline); {
			if c, _, err = d.Dial(url, nil); err == nil {
				break
			}
		}
		if err != nil {
			t.Fatalf("dial after the flood: %v\n%s", err, p.stderr())
		}
		defer c.Close()
		if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := c.ReadMessage(); err != nil || string(got) != "still here" {
			t.Fatalf("echo after the flood = %q, %v\n%s", got, err, p.stderr())
		}
	})

	// A port another process listens on: exit 1, with the flag to change,
	// and no development CA made.
	for _, flagName := range []string{"--listen", "--listen-plain", "--admin"} {
		t.Run("port in use for "+flagName+" exits 1", func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			taken := l.Addr().String()
			dataDir := filepath.Join(t.TempDir(), "data")
			args := map[string]string{"--listen": "127.0.0.1:0", "--listen-plain": "", "--admin": "127.0.0.1:0"}
			args[flagName] = taken
			p := startProcess(t, bin, "--listen", args["--listen"], "--listen-plain", args["--listen-plain"],
				"--admin", args["--admin"], "--data-dir", dataDir)
			if code := p.waitExit(t, wait); code != 1 {
				t.Errorf("exit code %d; want 1\n%s", code, p.stderr())
			}
			want := "hint=\"another process listens on " + taken + " (ss -ltnp shows which); stop it, or give " + flagName + " another address\""
			if log := p.stderr(); !strings.Contains(log, "msg=\"cannot listen\" flag="+flagName) || !strings.Contains(log, want) {
				t.Errorf("log lacks the reason and the hint %s:\n%s", want, log)
			}
			if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
				entries, _ := os.ReadDir(dataDir)
				t.Errorf("--data-dir was made (%v, %d entries); want nothing written before the ports are had", err, len(entries))
			}
		})
	}

	t.Run("bad flag exits 2", func(t *testing.T) {
		p := start(t, bin, "--loops", "-1")
		if code := p.waitExit(t, wait); code != 2 {
			t.Errorf("exit code %d; want 2\n%s", code, p.stderr())
		}
	})
}

// TestCheckFileLimit: a --max-connections above the open-file limit is
// warned about; one below it is not.
func TestCheckFileLimit(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		maxConns int64
		warn     bool
	}{
		{0, false},
		{10, false},
		{int64(min(lim.Cur, 1<<40)) + 1, true},
	} {
		var out bytes.Buffer
		checkFileLimit(slog.New(slog.NewTextHandler(&out, nil)), tc.maxConns)
		if got := strings.Contains(out.String(), "level=WARN"); got != tc.warn {
			t.Errorf("max connections %d, limit %d: warned %v, want %v: %s", tc.maxConns, lim.Cur, got, tc.warn, out.String())
		}
	}
}

// TestBinaryPubSub runs two wssd processes that share topics through a
// NATS server: a client of one receives what a client of the other
// publishes, on /ws and on Socket.IO alike.
func TestBinaryPubSub(t *testing.T) {
	bin := buildBinary(t)
	ns := enginetest.StartNATS(t, -1)
	var bases []string
	for range 2 {
		p := start(t, bin, "--listen", "", "--listen-plain", "127.0.0.1:0", "--loops", "1",
			"--anonymous-publish", "--broker", ns.ClientURL())
		bases = append(bases, strings.TrimSuffix(p.waitListening(t), "/echo"))
		if !strings.Contains(p.stderr(), "msg=\"broker connected\"") {
			t.Errorf("no broker line in the log:\n%s", p.stderr())
		}
	}
	d := websocket.Dialer{HandshakeTimeout: wait}
	dial := func(url string) *websocket.Conn {
		c, _, err := d.Dial(url, nil)
		if err != nil {
			t.Fatalf("dial %s: %v", url, err)
		}
		t.Cleanup(func() { c.Close() })
		_ = c.SetReadDeadline(time.Now().Add(wait))
		return c
	}
	read := func(c *websocket.Conn, want string) {
		t.Helper()
		if _, got, err := c.ReadMessage(); err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %s", got, err, want)
		}
	}
	roundTrip := func(c *websocket.Conn, req, want string) {
		t.Helper()
		if err := c.WriteMessage(websocket.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
		read(c, want)
	}
	// A Socket.IO client on each process, on the WebSocket transport.
	sio := func(base string) *websocket.Conn {
		c := dial(base + socketio.DefaultPath + "?EIO=4&transport=websocket")
		if _, open, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(open), `0{"sid":`) {
			t.Fatalf("Socket.IO open packet %q, %v", open, err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(ok), `40{"sid":`) {
			t.Fatalf("Socket.IO CONNECT answer %q, %v", ok, err)
		}
		return c
	}
	sub, pub := dial(bases[0]+"/ws"), dial(bases[1]+"/ws")
	sioSub, sioPub := sio(bases[0]), sio(bases[1])
	roundTrip(sub, `{"op":"subscribe","topic":"greetings","id":1}`, `{"op":"ack","id":1}`)
	roundTrip(sioSub, `421["subscribe",{"topic":"greetings"}]`, `431[null]`)
	roundTrip(pub, `{"op":"publish","topic":"greetings","data":{"text":"hello"},"id":"p1"}`, `{"op":"ack","id":"p1"}`)
	read(sub, `{"op":"message","topic":"greetings","data":{"text":"hello"}}`)
	read(sioSub, `42["message",{"topic":"greetings","data":{"text":"hello"}}]`)
	roundTrip(sioPub, `427["publish",{"topic":"greetings","data":[1,"two"]}]`, `437[null]`)
	read(sub, `{"op":"message","topic":"greetings","data":[1,"two"]}`)
	read(sioSub, `42["message",{"topic":"greetings","data":[1,"two"]}]`)
}
