// Command wssd is the WebSocket server. It reads its flags, builds an
// engine.Config and runs the engine until SIGINT or SIGTERM, then drains;
// SIGHUP reloads the certificate. "wssd certs" makes development
// certificates.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"golang.org/x/sys/unix"

	"github.com/wssd/wssd/cmd/internal/buildinfo"
	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/engine/pubsub/natsbroker"
	"github.com/wssd/wssd/engine/socketio"
	"github.com/wssd/wssd/engine/sockjs"
	"github.com/wssd/wssd/security"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "certs" {
		os.Exit(runCerts(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// defaultAdmin is --admin's default: loopback, on a port that neither
// Prometheus (9090) nor its Pushgateway or Alertmanager take. (Prometheus's
// list of exporter ports gives 9469 to script_exporter.)
const defaultAdmin = "127.0.0.1:9469"

// options are the command line's settings.
type options struct {
	configFile string

	listen         string
	listenPlain    string
	certFile       string
	keyFile        string
	dataDir        string
	curves         []tls.CurveID
	handshake      time.Duration
	tlsWorkers     int
	tlsQueue       int
	tlsPerIP       int
	loops          int
	maxMessageSize int64
	maxFragments   int
	reassembly     int64
	drainTimeout   time.Duration
	closeTimeout   time.Duration
	pingInterval   time.Duration
	pongTimeout    time.Duration
	idleTimeout    time.Duration
	origins        *security.Origins
	logLevel       slog.Level

	authSecretFile string
	authPublicKey  string
	authIssuer     string
	authAudience   string
	authLeeway     time.Duration
	maxConns       int64
	maxConnsPerIP  int
	handshakeRate  security.Rate
	rateMessages   int64
	rateBytes      int64
	rateBurst      time.Duration
	ratePolicy     engine.RatePolicy
	schemaFile     string
	invalidMessage engine.InvalidPolicy
	maxJSONDepth   int
	maxJSONSize    int64
	admin          string
	adminKeyFile   string
	pprof          bool
	logFormat      string
	reusePort      bool
	proxyProtocol  []netip.Prefix
	trustedProxies []netip.Prefix

	anonPublish      bool
	maxSubscriptions int
	maxOutbound      int
	slowConsumer     engine.SlowPolicy
	broker           string
	brokerPrefix     string

	deflate           bool
	deflateRoutes     []string
	deflateThreshold  int
	deflateLevel      int
	deflateTakeover   bool
	deflateWindowBits int

	sioPath           string
	sioApp            string
	sioPingInterval   time.Duration
	sioPingTimeout    time.Duration
	sioMaxPayload     int
	sioConnectTimeout time.Duration

	sjsPath          string
	sjsHeartbeat     time.Duration
	sjsDisconnect    time.Duration
	sjsResponseLimit int
	sjsCookieNeeded  bool
	sjsWebSocket     bool
	sjsClientURL     string

	version bool
}

// rawFlags are the flags' values that parseFlags checks and converts
// into options.
type rawFlags struct {
	curves, origins, handshakeRate string
	proxyProtocol                  string
	trustedProxies                 string
	ratePolicy, invalid, slow      string
	deflateRoutes                  string
}

// newFlagSet registers wssd's flags: their values go to o and raw.
func newFlagSet(o *options, raw *rawFlags, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("wssd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.configFile, configFlag, "", "TOML `file` whose keys are these flags' names (listen = \":443\"); flags given here win over it")
	fs.StringVar(&o.listen, "listen", ":8443", "`addr`ess (host:port) of the wss:// listener; empty for none")
	fs.StringVar(&o.listenPlain, "listen-plain", "", "`addr`ess (host:port) of a plain ws:// listener, for use behind a TLS-terminating load balancer; empty for none")
	fs.StringVar(&o.certFile, "cert", "", "certificate chain `file` (PEM, leaf first) for wss://; without it, a development certificate is made in --data-dir")
	fs.StringVar(&o.keyFile, "key", "", "private key `file` (PEM) of --cert")
	fs.StringVar(&o.dataDir, "data-dir", "wssd-data", "`dir`ectory for the development CA and certificate")
	fs.StringVar(&raw.curves, "tls-curves", "default", "TLS key exchanges, by preference: e.g. X25519MLKEM768,X25519,P256, or default")
	fs.DurationVar(&o.handshake, "handshake-timeout", engine.DefaultHandshakeTime, "how long a new connection has to finish its TLS handshake and HTTP upgrade")
	fs.IntVar(&o.tlsWorkers, "tls-workers", engine.DefaultTLSWorkers, "TLS handshakes that may run at once")
	fs.IntVar(&o.tlsQueue, "tls-queue", engine.DefaultTLSQueue, "accepted connections that may wait for a TLS handshake; more are refused")
	fs.IntVar(&o.tlsPerIP, "tls-slots-per-ip", 0, "TLS handshakes (running or queued) one IPv4 address or IPv6 /64 may have at once; more are refused. 0: an eighth of --tls-workers, at least 8 or half of them")
	fs.IntVar(&o.loops, "loops", 0, "number of event loops (0: one per CPU)")
	fs.Int64Var(&o.maxMessageSize, "max-message-size", engine.DefaultMaxMessageSize, "largest message accepted, in `bytes`; larger ones are refused with close code 1009")
	fs.IntVar(&o.maxFragments, "max-fragments", engine.DefaultMaxFragments, "most frames one message may come in; more are refused with close code 1009")
	fs.Int64Var(&o.reassembly, "reassembly-budget", 0, "`bytes` that partial messages (frames not all arrived, fragments) may hold over all connections; the frame past it closes its connection (1009). 0: 256 MiB, or 4 largest messages per event loop if more")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", engine.DefaultDrainTimeout, "on SIGINT/SIGTERM, how long to wait for clients to finish the close handshake")
	fs.DurationVar(&o.closeTimeout, "close-timeout", engine.DefaultCloseTimeout, "how long a closing connection has to answer the close frame and take what is queued for it")
	fs.DurationVar(&o.pingInterval, "ping-interval", engine.DefaultPingInterval, "ping a connection that has been silent this long; 0 for no pings")
	fs.DurationVar(&o.pongTimeout, "pong-timeout", engine.DefaultPongTimeout, "close a connection that sends nothing this long after a ping")
	fs.DurationVar(&o.idleTimeout, "idle-timeout", 0, "close (1001) a connection with no data message either way for this long; 0 for never")
	fs.StringVar(&raw.origins, "allowed-origins", "", "comma-separated web origins whose pages may connect, e.g. https://app.example.com,https://*.example.com; others get 403. Empty: any")
	fs.TextVar(&o.logLevel, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&o.admin, "admin", defaultAdmin, "`addr`ess (host:port) of the admin listener: /metrics, /healthz, /readyz; empty for none")
	fs.StringVar(&o.adminKeyFile, "admin-key-file", "", "`file` holding the bearer key (at least 32 bytes, e.g. openssl rand -base64 48) of the server API under /api/v1/ on the admin listener; empty: no API")
	fs.StringVar(&raw.trustedProxies, "trusted-proxies", "", "comma-separated networks of HTTP proxies in front of --listen-plain whose X-Forwarded-For names the client (for the logs and the per-address caps); empty: none")
	fs.StringVar(&raw.proxyProtocol, "proxy-protocol", "", "comma-separated networks of load balancers trusted to send the PROXY protocol (v1 or v2), e.g. 10.0.0.0/8; their connections must start with it, and a header from anyone else is refused. Empty: off")
	fs.BoolVar(&o.reusePort, "reuseport", false, "listen with SO_REUSEPORT, so that several wssd processes share the ports (the kernel spreads connections)")
	fs.BoolVar(&o.pprof, "pprof", false, "serve the Go profiler under /debug/pprof/ on the admin listener")
	fs.StringVar(&o.authSecretFile, "auth-secret-file", "", "require a JWT signed with the HMAC secret in this `file` (HS256/384/512)")
	fs.StringVar(&o.authPublicKey, "auth-public-key", "", "require a JWT signed with the key of this PEM `file` (RSA: RS/PS256-512; ECDSA: its curve's ES; Ed25519: EdDSA)")
	fs.StringVar(&o.authIssuer, "auth-issuer", "", "with auth, the token's iss must be this")
	fs.StringVar(&o.authAudience, "auth-audience", "", "with auth, the token's aud must include this")
	fs.DurationVar(&o.authLeeway, "auth-leeway", security.DefaultLeeway, "with auth, clock skew allowed on the token's exp, nbf and iat")
	fs.Int64Var(&o.maxConns, "max-connections", 0, "connections held at once, TLS handshakes included; more are closed at accept. 0: no limit")
	fs.IntVar(&o.maxConnsPerIP, "max-conns-per-ip", 0, "connections held at once from one IPv4 address or IPv6 /64; more are closed at accept. 0: no limit")
	fs.StringVar(&raw.handshakeRate, "handshake-rate-per-ip", "", "new connections a second from one IPv4 address or IPv6 /64, as `rate[:burst]` (burst defaults to the rate); more are closed at accept. Empty: no limit")
	fs.Int64Var(&o.rateMessages, "rate-messages", 0, "messages (and pings and pongs) a second each connection may send; 0: no limit")
	fs.Int64Var(&o.rateBytes, "rate-bytes", 0, "bytes a second each connection may send, frame headers included, counted as each frame arrives; 0: no limit")
	fs.DurationVar(&o.rateBurst, "rate-burst", time.Second, "how much of --rate-messages and --rate-bytes a connection may save up and spend at once, as a `duration` of each rate")
	fs.StringVar(&raw.ratePolicy, "rate-policy", "close", "past a rate limit: close (1008 \"rate limit exceeded\") or drop (the message, counted)")
	fs.StringVar(&o.schemaFile, "schema", "", "JSON Schema `file` (the subset in the README) every text message on /echo must meet; /echo then accepts only JSON text")
	fs.StringVar(&raw.invalid, "invalid-message", "close", "a message that fails --schema: close (1007/1008 with the reason) or reply (an error message; the connection stays)")
	fs.IntVar(&o.maxJSONDepth, "max-json-depth", security.DefaultMaxDepth, "with --schema, deepest nesting of a JSON message, checked before parsing")
	fs.Int64Var(&o.maxJSONSize, "max-json-size", engine.DefaultMaxJSONSize, "with --schema, largest JSON message in `bytes` (at most --max-message-size); larger ones are refused with 1009")
	fs.BoolVar(&o.anonPublish, "anonymous-publish", false, "without auth, let clients publish on /ws (they may always subscribe); with auth, the token's topics claim decides")
	fs.IntVar(&o.maxSubscriptions, "max-subscriptions", pubsub.DefaultMaxSubscriptions, "topics one connection may subscribe to on /ws")
	fs.IntVar(&o.maxOutbound, "max-outbound", 0, "`bytes` that may wait to be written to a client that reads slower than it is sent to; past them --slow-consumer applies. 0: twice --max-message-size plus 1 MiB")
	fs.StringVar(&raw.slow, "slow-consumer", "close", "a message to a client past --max-outbound: close (1008 \"slow consumer\") or drop (the message, counted)")
	fs.StringVar(&o.broker, "broker", "", "NATS `URL` (nats://host:4222, or a comma list of a cluster's) through which wssd processes and hosts share topics; empty: topics stay in this process")
	fs.StringVar(&o.brokerPrefix, "broker-prefix", natsbroker.DefaultPrefix, "subject `prefix` of topics on the broker; processes that share topics share it")
	fs.BoolVar(&o.deflate, "deflate", true, "accept clients' permessage-deflate offers (RFC 7692): messages compressed both ways, by default with no window kept between messages, so an idle connection costs no more; --deflate=false declines them")
	fs.StringVar(&raw.deflateRoutes, "deflate-routes", "", "comma-separated `paths` (/echo, /ws, the Socket.IO path) on which --deflate applies; empty: all")
	fs.IntVar(&o.deflateThreshold, "deflate-threshold", engine.DefaultDeflateThreshold, "with --deflate, messages shorter than this many `bytes` are sent uncompressed")
	fs.IntVar(&o.deflateLevel, "deflate-level", codec.DefaultDeflateLevel, "with --deflate, the compression `level`, 1 (fastest) to 9 (smallest)")
	fs.BoolVar(&o.deflateTakeover, "deflate-context-takeover", false, "with --deflate, let connections keep their compression windows between messages where clients allow it: smaller messages, for up to 2 × 2^--deflate-window-bits bytes per connection, idle or not")
	fs.IntVar(&o.deflateWindowBits, "deflate-window-bits", engine.DefaultTakeoverWindowBits, "with --deflate-context-takeover, each window kept is at most 2^`bits` bytes, 9 to 15")
	fs.StringVar(&o.sioPath, "socketio-path", socketio.DefaultPath, "`path` of the Socket.IO (Engine.IO v4, Socket.IO v5) server; empty for none")
	fs.StringVar(&o.sioApp, "socketio-app", "pubsub", "what the Socket.IO server does: pubsub (the /ws protocol in events: subscribe, unsubscribe, publish) or conformance (the reference echo behaviour of the protocol's test suite)")
	fs.DurationVar(&o.sioPingInterval, "socketio-ping-interval", socketio.DefaultPingInterval, "how often a Socket.IO session is pinged")
	fs.DurationVar(&o.sioPingTimeout, "socketio-ping-timeout", socketio.DefaultPingTimeout, "how long after a ping a Socket.IO session without a pong ends")
	fs.IntVar(&o.sioMaxPayload, "socketio-max-payload", socketio.DefaultMaxPayload, "largest Socket.IO packet, and polling body, in `bytes`")
	fs.DurationVar(&o.sioConnectTimeout, "socketio-connect-timeout", socketio.DefaultConnectTimeout, "how long a Socket.IO session has to connect to a namespace")
	fs.StringVar(&o.sjsPath, "sockjs-path", "/sockjs", "`path` under which the SockJS services are: PATH/echo (echo) and PATH/ws (the /ws pub/sub protocol); empty for none")
	fs.DurationVar(&o.sjsHeartbeat, "sockjs-heartbeat", sockjs.DefaultHeartbeatDelay, "how often a listening SockJS client gets a heartbeat frame")
	fs.DurationVar(&o.sjsDisconnect, "sockjs-disconnect-delay", sockjs.DefaultDisconnectDelay, "how long a SockJS session of the HTTP transports waits for its client's next request before it ends")
	fs.IntVar(&o.sjsResponseLimit, "sockjs-response-limit", sockjs.DefaultResponseLimit, "`bytes` a SockJS streaming response carries before it ends and the client makes another")
	fs.BoolVar(&o.sjsCookieNeeded, "sockjs-cookie-needed", false, "set the JSESSIONID cookie on SockJS's HTTP transports, for load balancers whose sticky sessions need it")
	fs.BoolVar(&o.sjsWebSocket, "sockjs-websocket", true, "offer SockJS's WebSocket transports")
	fs.StringVar(&o.sjsClientURL, "sockjs-client-url", sockjs.DefaultClientURL, "`URL` of the SockJS client library the iframe page (of the iframe transports) loads")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() { printUsage(fs) }
	return fs
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o, _, err := parseFlagSet(args, stderr)
	return o, err
}

// parseFlagSet is parseFlags, and the flag set with every flag's value,
// the configuration file's included.
func parseFlagSet(args []string, stderr io.Writer) (options, *flag.FlagSet, error) {
	var o options
	var raw rawFlags
	fs := newFlagSet(&o, &raw, stderr)
	o, err := finishFlags(fs, &o, &raw, args)
	return o, fs, err
}

// finishFlags parses args into o and raw, through fs, which was made for
// them, reads the configuration file, and checks and converts the values.
func finishFlags(fs *flag.FlagSet, o *options, raw *rawFlags, args []string) (options, error) {
	if err := fs.Parse(args); err != nil {
		return *o, err
	}
	if o.version {
		return *o, nil
	}
	if fs.NArg() > 0 {
		return *o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.configFile != "" {
		given := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if err := applyConfigFile(fs, o.configFile, given); err != nil {
			return *o, err
		}
	}
	curves, origins, handshakeRate := raw.curves, raw.origins, raw.handshakeRate
	ratePolicy, invalid, slow, deflateRoutes := raw.ratePolicy, raw.invalid, raw.slow, raw.deflateRoutes
	if o.maxMessageSize <= 0 || o.loops < 0 || o.drainTimeout < 0 || o.closeTimeout <= 0 ||
		o.handshake <= 0 || o.tlsWorkers <= 0 || o.tlsQueue <= 0 || o.pongTimeout <= 0 ||
		o.pingInterval < 0 || o.idleTimeout < 0 {
		return *o, errors.New("--max-message-size, --close-timeout, --handshake-timeout, --pong-timeout, --tls-workers and --tls-queue must be positive; --loops, --drain-timeout, --ping-interval and --idle-timeout not negative")
	}
	if o.maxFragments <= 0 || o.reassembly < 0 || o.tlsPerIP < 0 {
		return *o, errors.New("--max-fragments must be positive; --reassembly-budget and --tls-slots-per-ip not negative")
	}
	if o.authLeeway < 0 || o.maxConns < 0 || o.maxConnsPerIP < 0 || o.rateMessages < 0 || o.rateBytes < 0 ||
		o.rateBurst <= 0 || o.maxJSONDepth <= 0 || o.maxJSONSize <= 0 {
		return *o, errors.New("--rate-burst, --max-json-depth and --max-json-size must be positive; --auth-leeway, --max-connections, --max-conns-per-ip, --rate-messages and --rate-bytes not negative")
	}
	if o.sioApp != "pubsub" && o.sioApp != "conformance" {
		return *o, fmt.Errorf("--socketio-app: %q is not pubsub or conformance", o.sioApp)
	}
	if o.sioPingInterval <= 0 || o.sioPingTimeout <= 0 || o.sioMaxPayload <= 0 || o.sioConnectTimeout <= 0 {
		return *o, errors.New("--socketio-ping-interval, --socketio-ping-timeout, --socketio-max-payload and --socketio-connect-timeout must be positive")
	}
	if o.sioPath != "" && (o.sioPath[0] != '/' || o.sioPath == "/echo" || o.sioPath == pubsub.DefaultRoute) {
		return *o, fmt.Errorf("--socketio-path: %q is not a path of its own", o.sioPath)
	}
	if o.sjsHeartbeat <= 0 || o.sjsDisconnect <= 0 || o.sjsResponseLimit <= 0 {
		return *o, errors.New("--sockjs-heartbeat, --sockjs-disconnect-delay and --sockjs-response-limit must be positive")
	}
	if p := o.sjsPath; p != "" && (p[0] != '/' || p == "/" || strings.HasSuffix(p, "/") || p == "/echo" || p == pubsub.DefaultRoute ||
		o.sioPath != "" && (strings.HasPrefix(o.sioPath, p+"/") || o.sioPath == p)) {
		return *o, fmt.Errorf("--sockjs-path: %q is not a path of its own (one that does not end in /)", o.sjsPath)
	}
	if deflateRoutes != "" {
		o.deflateRoutes = strings.Split(deflateRoutes, ",")
	}
	if o.deflateThreshold < 0 || o.deflateLevel < 1 || o.deflateLevel > 9 || o.deflateWindowBits < 9 || o.deflateWindowBits > 15 {
		return *o, errors.New("--deflate-threshold must not be negative, --deflate-level be 1 to 9 and --deflate-window-bits 9 to 15")
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return *o, fmt.Errorf("--log-format: %q is not text or json", o.logFormat)
	}
	if o.pprof && o.admin == "" {
		return *o, errors.New("--pprof needs --admin")
	}
	if o.adminKeyFile != "" && o.admin == "" {
		return *o, errors.New("--admin-key-file needs --admin")
	}
	if o.authSecretFile != "" && o.authPublicKey != "" {
		return *o, errors.New("--auth-secret-file and --auth-public-key: give one")
	}
	if (o.authIssuer != "" || o.authAudience != "") && o.authSecretFile == "" && o.authPublicKey == "" {
		return *o, errors.New("--auth-issuer and --auth-audience need --auth-secret-file or --auth-public-key")
	}
	switch ratePolicy {
	case "close":
		o.ratePolicy = engine.RateClose
	case "drop":
		o.ratePolicy = engine.RateDrop
	default:
		return *o, fmt.Errorf("--rate-policy: %q is not close or drop", ratePolicy)
	}
	switch slow {
	case "close":
		o.slowConsumer = engine.SlowClose
	case "drop":
		o.slowConsumer = engine.SlowDrop
	default:
		return *o, fmt.Errorf("--slow-consumer: %q is not close or drop", slow)
	}
	if o.maxSubscriptions <= 0 || o.maxOutbound < 0 {
		return *o, errors.New("--max-subscriptions must be positive; --max-outbound not negative")
	}
	if o.broker != "" && !strings.HasPrefix(o.broker, "nats://") && !strings.HasPrefix(o.broker, "tls://") {
		return *o, fmt.Errorf("--broker: %q is not a nats:// or tls:// URL", o.broker)
	}
	switch invalid {
	case "close":
		o.invalidMessage = engine.InvalidClose
	case "reply":
		o.invalidMessage = engine.InvalidReply
	default:
		return *o, fmt.Errorf("--invalid-message: %q is not close or reply", invalid)
	}
	if handshakeRate != "" {
		r, err := parseRate(handshakeRate)
		if err != nil {
			return *o, fmt.Errorf("--handshake-rate-per-ip: %w", err)
		}
		o.handshakeRate = r
	}
	if o.listen == "" && o.listenPlain == "" {
		return *o, errors.New("no listener: set --listen or --listen-plain")
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return *o, errors.New("--cert and --key go together")
	}
	var err error
	if o.curves, err = security.ParseCurves(curves); err != nil {
		return *o, fmt.Errorf("--tls-curves: %w", err)
	}
	if origins != "" {
		if o.origins, err = security.ParseOrigins(strings.Split(origins, ",")); err != nil {
			return *o, fmt.Errorf("--allowed-origins: %w", err)
		}
	}
	if o.proxyProtocol, err = parseNetworks(raw.proxyProtocol); err != nil {
		return *o, fmt.Errorf("--proxy-protocol: %w", err)
	}
	if o.trustedProxies, err = parseNetworks(raw.trustedProxies); err != nil {
		return *o, fmt.Errorf("--trusted-proxies: %w", err)
	}
	return *o, nil
}

// parseNetworks parses a comma-separated list of networks (CIDR), a bare
// address being its own; empty is none.
func parseNetworks(s string) ([]netip.Prefix, error) {
	if s == "" {
		return nil, nil
	}
	var nets []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("%q is not a network (CIDR) or an address", f)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		nets = append(nets, p.Masked())
	}
	return nets, nil
}

// parseRate parses "rate[:burst]", both positive integers; the burst
// defaults to the rate.
func parseRate(s string) (security.Rate, error) {
	rate, burst, hasBurst := strings.Cut(s, ":")
	var r security.Rate
	var err error
	if r.PerSecond, err = strconv.ParseInt(rate, 10, 64); err != nil || r.PerSecond <= 0 {
		return r, fmt.Errorf("%q: want rate[:burst], positive integers", s)
	}
	r.Burst = r.PerSecond
	if hasBurst {
		if r.Burst, err = strconv.ParseInt(burst, 10, 64); err != nil || r.Burst <= 0 {
			return r, fmt.Errorf("%q: want rate[:burst], positive integers", s)
		}
	}
	return r, nil
}

// connRate is a per-connection rate of --rate-messages or --rate-bytes
// with --rate-burst: the bucket holds rate × burst (at least 1).
func connRate(perSecond int64, burst time.Duration) security.Rate {
	if perSecond == 0 {
		return security.Rate{}
	}
	return security.Rate{PerSecond: perSecond, Burst: max(1, int64(float64(perSecond)*burst.Seconds()))}
}

// gates builds the gates configured by files: the token verifier and the
// message schema.
func gates(o options) (*security.Authenticator, map[string]*security.Schema, error) {
	var auth *security.Authenticator
	if o.authSecretFile != "" || o.authPublicKey != "" {
		ac, err := security.LoadAuthConfig(o.authSecretFile, o.authPublicKey)
		if err != nil {
			return nil, nil, err
		}
		ac.Issuer, ac.Audience, ac.Leeway = o.authIssuer, o.authAudience, o.authLeeway
		if auth, err = security.NewAuthenticator(ac); err != nil {
			return nil, nil, err
		}
	}
	var routes map[string]*security.Schema
	if o.schemaFile != "" {
		doc, err := os.ReadFile(o.schemaFile)
		if err != nil {
			return nil, nil, err
		}
		schema, err := security.CompileSchema(doc)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.schemaFile, err)
		}
		routes = map[string]*security.Schema{"/echo": schema}
	}
	return auth, routes, nil
}

// pingInterval is --ping-interval as engine.Config has it: 0 there means
// the default, and negative no pings.
func pingInterval(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

func run(args []string, stdout, stderr io.Writer) int {
	o, fs, err := parseFlagSet(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "wssd:", err)
		return 2
	}
	if o.version {
		fmt.Fprintln(stdout, buildinfo.Line("wssd"))
		return 0
	}
	var level slog.LevelVar
	level.Set(o.logLevel)
	log := newLogger(o, &level, stderr)
	running := flagValues(fs)

	// Metric types and help in the exposition: Prometheus and expfmt
	// read them.
	metrics.ExposeMetadata(true)
	// Subscribe before listening, so a signal sent as soon as the port is
	// open is a drain and not the default exit.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sig)

	// Every port is had, or known to be free, before the development
	// certificate is made: a server that cannot listen leaves no new CA
	// behind in --data-dir.
	var adminLn net.Listener
	if o.admin != "" {
		if adminLn, err = net.Listen("tcp", o.admin); err != nil {
			logBindError(log, err, "--admin", o.admin)
			return 1
		}
		defer adminLn.Close()
	}
	for _, l := range []struct{ flag, addr string }{{"--listen", o.listen}, {"--listen-plain", o.listenPlain}} {
		if l.addr == "" {
			continue
		}
		if err := listenCheck(l.addr, o.reusePort); err != nil {
			logBindError(log, err, l.flag, l.addr)
			return 1
		}
	}

	srv, cert, code, err := newServer(o, log, metrics.NewSet())
	if err != nil {
		msg := "bad configuration"
		if code == 1 {
			msg = "no certificate"
		}
		log.Error(msg, "err", err)
		return code
	}
	if adminLn != nil {
		h, err := adminHandler(srv, o, log)
		if err != nil {
			log.Error("bad configuration", "err", err)
			return 2
		}
		admin := newAdminServer(h, log)
		go func() { _ = admin.Serve(adminLn) }()
		log.Info("admin listening", "url", "http://"+adminLn.Addr().String()+"/metrics", "pprof", o.pprof, "api", o.adminKeyFile != "")
		defer admin.Close()
	}
	if err := srv.Start(); err != nil {
		// Taken since the check, or --listen and --listen-plain the same.
		var addr string
		if oe := (*net.OpError)(nil); errors.As(err, &oe) && oe.Addr != nil {
			addr = oe.Addr.String()
		}
		logBindError(log, err, "--listen or --listen-plain", addr)
		return 1
	}
	var urls []any
	if a := srv.TLSAddr(); a != nil {
		urls = append(urls, "wss", "wss://"+displayAddr(a)+"/echo")
	}
	if a := srv.PlainAddr(); a != nil {
		urls = append(urls, "ws", "ws://"+displayAddr(a)+"/echo")
	}
	log.Info("listening", urls...)
	checkFileLimit(log, o.maxConns)

	for waiting := true; waiting; {
		select {
		case <-srv.Done():
			log.Error("server stopped", "err", srv.Err())
			return 1
		case s := <-sig:
			if s == syscall.SIGHUP {
				reload(cert, log)
				reloadConfig(srv, args, running, &level, log)
				continue
			}
			log.Info("draining", "signal", s.String(), "connections", srv.Active(), "timeout", o.drainTimeout)
			waiting = false
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.drainTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Warn("drain timed out; remaining connections closed", "err", err)
	}
	log.Info("stopped")
	return 0
}

// logBindError logs that addr, set by flag, cannot be listened on, with a
// hint where there is one.
func logBindError(log *slog.Logger, err error, flag, addr string) {
	args := []any{"flag", flag, "addr", addr, "err", err}
	if hint := bindHint(err, flag, addr); hint != "" {
		args = append(args, "hint", hint)
	}
	log.Error("cannot listen", args...)
}

// newLogger returns the logger --log-format and --log-level ask for.
func newLogger(o options, level slog.Leveler, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if o.logFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// newAdminServer serves the admin endpoints with the bounds any HTTP
// server open to a network needs: a slow or oversized request cannot hold
// it. The write timeout leaves room for a 30-second CPU profile.
func newAdminServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      2 * time.Minute,
		IdleTimeout:       time.Minute,
		MaxHeaderBytes:    8 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// fileReserve is the descriptors wssd keeps for itself besides
// connections: listeners, epoll, logs, files read on reload.
const fileReserve = 64

// checkFileLimit logs the open-file limit, which bounds the connections a
// process can hold (one descriptor each), and warns when --max-connections
// cannot be reached under it. The Go runtime has already raised the soft
// limit to the hard one; raising the hard one is the host's business
// (ulimit -n, LimitNOFILE= in a systemd unit).
func checkFileLimit(log *slog.Logger, maxConns int64) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		log.Warn("cannot read the open-file limit", "err", err)
		return
	}
	room := int64(0)
	if lim.Cur > fileReserve {
		room = int64(min(lim.Cur-fileReserve, 1<<62))
	}
	if maxConns > room {
		log.Warn("--max-connections is above what the open-file limit allows; raise ulimit -n",
			"max_connections", maxConns, "open_file_limit", lim.Cur)
		return
	}
	log.Info("open-file limit", "limit", lim.Cur, "connections_at_most", room)
}

// displayAddr is addr as a person would type it: localhost for a listener
// on every interface or on loopback (the name the development certificate
// and browsers expect).
func displayAddr(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || !(tcp.IP.IsUnspecified() || tcp.IP.IsLoopback()) {
		return addr.String()
	}
	return net.JoinHostPort("localhost", strconv.Itoa(tcp.Port))
}

// loadCertificate loads --cert and --key, or without them makes sure
// --data-dir holds a development certificate and says how to trust it.
func loadCertificate(o options, log *slog.Logger) (*security.Certificate, error) {
	certFile, keyFile := o.certFile, o.keyFile
	if certFile == "" {
		files, created, err := security.DevCertificates(o.dataDir, security.DefaultDevHosts)
		if err != nil {
			return nil, err
		}
		verb := "using"
		if created {
			verb = "created"
		}
		ca := files.CA
		if abs, err := filepath.Abs(ca); err == nil {
			ca = abs
		}
		log.Info(verb+" a development certificate; clients must trust its CA",
			"ca", ca, "hosts", strings.Join(security.DefaultDevHosts, ","),
			"trust", "curl --cacert CA; NODE_EXTRA_CA_CERTS=CA; or add CA to the system or browser trust store")
		certFile, keyFile = files.Cert, files.Key
	}
	cert, err := security.LoadCertificate(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	leaf := cert.Leaf()
	log.Info("certificate", "file", certFile, "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return cert, nil
}

// reload reads the certificate files again on SIGHUP. A pair that does not
// load is refused and the current one stays.
func reload(cert *security.Certificate, log *slog.Logger) {
	if cert == nil {
		log.Info("SIGHUP: no certificate to reload")
		return
	}
	if err := cert.Reload(); err != nil {
		log.Error("certificate reload refused; keeping the current one", "err", err)
		return
	}
	leaf := cert.Leaf()
	log.Info("certificate reloaded", "subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
}

// runCerts is "wssd certs": it makes a development CA and a certificate for
// the given hosts, or reuses what is there.
func runCerts(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("wssd certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", "wssd-data", "`dir`ectory to write dev-ca.pem, dev-ca-key.pem, cert.pem and key.pem to")
	hosts := fs.String("hosts", strings.Join(security.DefaultDevHosts, ","), "comma-separated host names and IP addresses the certificate is for")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: wssd certs [--out DIR] [--hosts h1,h2,...]\n\nMakes a development CA and a certificate it signs, or reuses them.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var list []string
	for _, h := range strings.Split(*hosts, ",") {
		if h = strings.TrimSpace(h); h != "" {
			list = append(list, h)
		}
	}
	if len(list) == 0 || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "wssd certs: give --hosts and no arguments")
		return 2
	}
	files, created, err := security.DevCertificates(*out, list)
	if err != nil {
		fmt.Fprintln(stderr, "wssd certs:", err)
		return 1
	}
	state := "up to date"
	if created {
		state = "written"
	}
	fmt.Fprintf(stdout, "certificates %s in %s\n  CA to trust: %s\n  certificate: %s\n  key:         %s\n", state, *out, files.CA, files.Cert, files.Key)
	return 0
}

// newServer builds the server the options describe, with its metrics in
// set. On an error, code is the exit status: 2 for a bad configuration, 1
// for a certificate that cannot be loaded or made.
func newServer(o options, log *slog.Logger, set *metrics.Set) (srv *engine.Server, cert *security.Certificate, code int, err error) {
	var broker pubsub.Broker
	if o.broker != "" {
		broker = natsbroker.New(natsbroker.Config{URL: o.broker, Prefix: o.brokerPrefix, Logger: log, Metrics: set})
	}
	hub, err := pubsub.New(pubsub.Config{AnonymousPublish: o.anonPublish, MaxSubscriptions: o.maxSubscriptions, Broker: broker})
	if err != nil {
		return nil, nil, 2, err
	}
	auth, jsonRoutes, err := gates(o)
	if err != nil {
		return nil, nil, 2, err
	}
	routes := map[string]engine.Handler{"/echo": engine.Echo{}, pubsub.DefaultRoute: hub}
	if o.sioPath != "" {
		sio, err := newSocketIO(o, hub, log)
		if err != nil {
			return nil, nil, 2, err
		}
		routes[o.sioPath] = sio
	}
	if o.sjsPath != "" {
		for path, app := range map[string]sockjs.Handler{o.sjsPath + "/echo": sockjs.Echo{}, o.sjsPath + "/ws": sockjs.NewHub(hub)} {
			sj, err := sockjs.New(sockjs.Config{
				Handler:         app,
				Name:            path,
				HeartbeatDelay:  o.sjsHeartbeat,
				DisconnectDelay: o.sjsDisconnect,
				ResponseLimit:   o.sjsResponseLimit,
				CookieNeeded:    o.sjsCookieNeeded,
				NoWebSocket:     !o.sjsWebSocket,
				ClientURL:       o.sjsClientURL,
			})
			if err != nil {
				return nil, nil, 2, err
			}
			routes[path] = sj
		}
	}
	var tlsConfig *tls.Config
	if o.listen != "" {
		if cert, err = loadCertificate(o, log); err != nil {
			return nil, nil, 1, err
		}
		tlsConfig = security.ServerTLS(cert, o.curves)
	}
	srv, err = engine.New(engine.Config{
		Listen:             o.listen,
		TLS:                tlsConfig,
		HandshakeTimeout:   o.handshake,
		TLSWorkers:         o.tlsWorkers,
		TLSQueue:           o.tlsQueue,
		TLSSlotsPerIP:      o.tlsPerIP,
		ListenPlain:        o.listenPlain,
		ReusePort:          o.reusePort,
		ProxyProtocol:      o.proxyProtocol,
		TrustedProxies:     o.trustedProxies,
		Loops:              o.loops,
		MaxMessageSize:     o.maxMessageSize,
		MaxFragments:       o.maxFragments,
		ReassemblyBudget:   o.reassembly,
		CloseTimeout:       o.closeTimeout,
		PingInterval:       pingInterval(o.pingInterval),
		PongTimeout:        o.pongTimeout,
		IdleTimeout:        o.idleTimeout,
		Origins:            o.origins,
		Auth:               auth,
		MaxConnections:     o.maxConns,
		MaxConnsPerIP:      o.maxConnsPerIP,
		HandshakeRatePerIP: o.handshakeRate,
		MessageRate:        connRate(o.rateMessages, o.rateBurst),
		ByteRate:           connRate(o.rateBytes, o.rateBurst),
		RatePolicy:         o.ratePolicy,
		JSONRoutes:         jsonRoutes,
		MaxJSONDepth:       o.maxJSONDepth,
		MaxJSONSize:        o.maxJSONSize,
		InvalidMessage:     o.invalidMessage,
		MaxOutbound:        o.maxOutbound,
		SlowConsumer:       o.slowConsumer,
		Deflate:            deflateConfig(o),
		Metrics:            set,
		Routes:             routes,
		Logger:             log,
	})
	if err != nil {
		return nil, nil, 2, err
	}
	return srv, cert, 0, nil
}

// deflateConfig is the permessage-deflate configuration the flags ask for;
// nil with --deflate=false.
func deflateConfig(o options) *engine.Deflate {
	if !o.deflate {
		return nil
	}
	return &engine.Deflate{
		Routes:          o.deflateRoutes,
		Threshold:       max(o.deflateThreshold, 1),
		Level:           o.deflateLevel,
		ContextTakeover: o.deflateTakeover,
		WindowBits:      o.deflateWindowBits,
	}
}
