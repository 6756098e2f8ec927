package main

import (
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// configValues are a value for every flag, other than the command line's
// defaults, as a configuration file writes it (TOML) and as the command
// line does. TestConfigFile checks that every flag is here.
var configValues = []struct{ flag, toml, arg string }{
	{"listen", `"127.0.0.1:9443"`, "127.0.0.1:9443"},
	{"listen-plain", `"127.0.0.1:9000"`, "127.0.0.1:9000"},
	{"proxy-protocol", `["10.0.0.0/8", "192.0.2.7"]`, "10.0.0.0/8,192.0.2.7"},
	{"trusted-proxies", `["10.1.0.0/16"]`, "10.1.0.0/16"},
	{"reuseport", `true`, "true"},
	{"loops", `4`, "4"},
	{"cert", `"c.pem"`, "c.pem"},
	{"key", `"k.pem"`, "k.pem"},
	{"data-dir", `"d"`, "d"},
	{"tls-curves", `["x25519", "p256"]`, "x25519,p256"},
	{"tls-workers", `8`, "8"},
	{"tls-queue", `16`, "16"},
	{"tls-slots-per-ip", `3`, "3"},
	{"max-message-size", `2048`, "2048"},
	{"max-fragments", `64`, "64"},
	{"reassembly-budget", `1000000`, "1000000"},
	{"max-connections", `100000`, "100000"},
	{"max-conns-per-ip", `50`, "50"},
	{"handshake-rate-per-ip", `"5:20"`, "5:20"},
	{"rate-messages", `100`, "100"},
	{"rate-bytes", `65536`, "65536"},
	{"rate-burst", `2`, "2s"}, // a number of seconds
	{"rate-policy", `"drop"`, "drop"},
	{"max-outbound", `100000`, "100000"},
	{"slow-consumer", `"drop"`, "drop"},
	{"handshake-timeout", `"1s"`, "1s"},
	{"close-timeout", `"2s"`, "2s"},
	{"drain-timeout", `3.5`, "3.5s"},
	{"ping-interval", `"20s"`, "20s"},
	{"pong-timeout", `"5s"`, "5s"},
	{"idle-timeout", `"10m"`, "10m"},
	{"allowed-origins", `["https://app.example.com", "https://*.example.net"]`, "https://app.example.com,https://*.example.net"},
	{"auth-public-key", `"pub.pem"`, "pub.pem"},
	{"auth-issuer", `"https://id.example"`, "https://id.example"},
	{"auth-audience", `"chat"`, "chat"},
	{"auth-leeway", `"5s"`, "5s"},
	{"schema", `"s.json"`, "s.json"},
	{"invalid-message", `"reply"`, "reply"},
	{"max-json-depth", `8`, "8"},
	{"max-json-size", `4096`, "4096"},
	{"anonymous-publish", `true`, "true"},
	{"max-subscriptions", `9`, "9"},
	{"broker", `"nats://127.0.0.1:4222"`, "nats://127.0.0.1:4222"},
	{"broker-prefix", `"app."`, "app."},
	{"socketio-path", `"/sio/"`, "/sio/"},
	{"socketio-app", `"conformance"`, "conformance"},
	{"socketio-ping-interval", `"300ms"`, "300ms"},
	{"socketio-ping-timeout", `"200ms"`, "200ms"},
	{"socketio-max-payload", `1000`, "1000"},
	{"socketio-connect-timeout", `"1s"`, "1s"},
	{"sockjs-path", `"/sjs"`, "/sjs"},
	{"sockjs-heartbeat", `"2s"`, "2s"},
	{"sockjs-disconnect-delay", `"3s"`, "3s"},
	{"sockjs-response-limit", `4096`, "4096"},
	{"sockjs-cookie-needed", `true`, "true"},
	{"sockjs-websocket", `false`, "false"},
	{"sockjs-client-url", `"https://localhost/sockjs.min.js"`, "https://localhost/sockjs.min.js"},
	{"deflate", `false`, "false"},
	{"deflate-routes", `["/echo", "/ws"]`, "/echo,/ws"},
	{"deflate-threshold", `0`, "0"},
	{"deflate-level", `9`, "9"},
	{"deflate-context-takeover", `true`, "true"},
	{"deflate-window-bits", `10`, "10"},
	{"admin", `"127.0.0.1:9191"`, "127.0.0.1:9191"},
	{"admin-key-file", `"api.key"`, "api.key"},
	{"pprof", `true`, "true"},
	{"log-level", `"debug"`, "debug"},
	{"log-format", `"json"`, "json"},
}

// notInFiles are the flags a configuration file does not set: the file
// itself, and what ends the program at once.
var notInFiles = map[string]bool{"config": true, "version": true}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wssd.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConfigFile: every flag can be set from a file, to what the same
// value on the command line sets; the command line wins over the file.
func TestConfigFile(t *testing.T) {
	var o options
	var raw rawFlags
	fs := newFlagSet(&o, &raw, io.Discard)
	have := map[string]bool{"auth-secret-file": true} // beside auth-public-key, an error: below
	for _, v := range configValues {
		have[v.flag] = true
	}
	var missing []string
	fs.VisitAll(func(f *flag.Flag) {
		if !have[f.Name] && !notInFiles[f.Name] {
			missing = append(missing, f.Name)
		}
	})
	if len(missing) > 0 {
		t.Fatalf("flags with no value in configValues (add them): %s", strings.Join(missing, ", "))
	}

	var file strings.Builder
	var args []string
	file.WriteString("# every flag\n\n")
	for _, v := range configValues {
		file.WriteString(v.flag + " = " + v.toml + "\n")
		args = append(args, "--"+v.flag+"="+v.arg)
	}
	path := writeConfig(t, file.String())
	fromFile, err := parseFlags([]string{"--config", path}, io.Discard)
	if err != nil {
		t.Fatalf("from the file: %v", err)
	}
	fromArgs, err := parseFlags(args, io.Discard)
	if err != nil {
		t.Fatalf("from the command line: %v", err)
	}
	fromFile.configFile = ""
	if !reflect.DeepEqual(fromFile, fromArgs) {
		t.Fatalf("from the file:\n%+v\nfrom the command line:\n%+v", fromFile, fromArgs)
	}

	// The other key of auth.
	o, err = parseFlags([]string{"--config", writeConfig(t, "auth-secret-file = \"secret\"\n")}, io.Discard)
	if err != nil || o.authSecretFile != "secret" {
		t.Errorf("auth-secret-file: %q, %v", o.authSecretFile, err)
	}

	// The command line wins, before or after --config.
	for _, a := range [][]string{{"--loops", "7", "--config", path}, {"--config", path, "--loops=7"}} {
		o, err := parseFlags(a, io.Discard)
		if err != nil || o.loops != 7 || o.maxSubscriptions != 9 {
			t.Errorf("%q: loops %d, max-subscriptions %d, %v", a, o.loops, o.maxSubscriptions, err)
		}
	}
}

// TestConfigFileErrors: a key that is not a flag, or a value its flag
// refuses, is an error that names the key and its line.
func TestConfigFileErrors(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"loops = 2\nlisten-plian = \":8080\"\n", "line 2: listen-plian: not a flag"},
		{"# a comment\n\nloops = \"many\"\n", "line 3: loops = many"},
		{"loops = 2\nping-interval = \"soon\"\n", "line 2: ping-interval = soon"},
		{"config = \"other.toml\"\n", "line 1: config: not a flag"},
		{"[deflate]\nthreshold = 1\n", "deflate: a table"},
		{"loops = 2\nloops = 3\n", "line 2"},
		{"listen = [[\"a\"]]\n", "line 1: listen: an array of arrays"},
		{"listen = 1979-05-27\n", "line 1: listen: a date"},
		{"log-level = \"loud\"\n", "line 1: log-level = loud"},
		{"deflate-level = 12\n", "--deflate-level"},
	} {
		_, err := parseFlags([]string{"--config", writeConfig(t, tc.text)}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error with %q", tc.text, err, tc.want)
		}
	}
	if _, err := parseFlags([]string{"--config", filepath.Join(t.TempDir(), "none.toml")}, io.Discard); err == nil {
		t.Error("a missing file was taken")
	}
}

// TestConfigReload: SIGHUP over a running server reads the configuration
// file again. New origins and caps apply to new connections, an open
// connection is untouched, the log says what changed and what needs a
// restart; a file that does not read keeps the configuration in force.
func TestConfigReload(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "wssd.toml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	appA, appB := "https://a.example", "https://b.example"
	write(`listen = ""
listen-plain = "127.0.0.1:0"
allowed-origins = ["` + appA + `"]
max-conns-per-ip = 10
`)
	p := start(t, bin, "--config", path, "--data-dir", dir)
	url := p.waitListening(t)
	dial := func(origin string) (*websocket.Conn, int) {
		d := websocket.Dialer{HandshakeTimeout: wait}
		c, resp, err := d.Dial(url, http.Header{"Origin": {origin}})
		if err != nil {
			if resp != nil {
				return nil, resp.StatusCode
			}
			return nil, -1
		}
		t.Cleanup(func() { c.Close() })
		return c, resp.StatusCode
	}
	old, status := dial(appA)
	if status != http.StatusSwitchingProtocols {
		t.Fatalf("origin A at start: %d", status)
	}
	if _, status := dial(appB); status != http.StatusForbidden {
		t.Fatalf("origin B at start: %d", status)
	}

	write(`listen = ""
listen-plain = "127.0.0.1:0"
allowed-origins = ["` + appB + `"]
max-conns-per-ip = 20
max-message-size = 4096
log-level = "warn"
`)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	line := p.waitLog(t, regexp.MustCompile(`msg="configuration reloaded".*`))
	for _, want := range []string{"changed=allowed-origins,log-level,max-conns-per-ip", "need_restart=max-message-size"} {
		if !strings.Contains(line, want) {
			t.Errorf("reload line %q lacks %q", line, want)
		}
	}
	if _, status := dial(appA); status != http.StatusForbidden {
		t.Errorf("origin A after the reload: %d, want 403", status)
	}
	if _, status := dial(appB); status != http.StatusSwitchingProtocols {
		t.Errorf("origin B after the reload: %d, want 101", status)
	}
	if err := old.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	_ = old.SetReadDeadline(time.Now().Add(wait))
	if _, got, err := old.ReadMessage(); err != nil || string(got) != "still here" {
		t.Fatalf("the connection open before the reload: %q, %v", got, err)
	}

	write("loops = \"many\"\n")
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// The log level is warn now: the refusal is an error, and shows.
	p.waitLog(t, regexp.MustCompile(`configuration reload refused; keeping the current one.*line 1: loops`))
	if _, status := dial(appB); status != http.StatusSwitchingProtocols {
		t.Errorf("origin B after a bad file: %d, want 101", status)
	}
	if _, status := dial(appA); status != http.StatusForbidden {
		t.Errorf("origin A after a bad file: %d, want 403", status)
	}
}
