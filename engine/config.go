package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"runtime"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/security"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxMessageSize   = codec.DefaultMaxMessage
	DefaultMaxFragments     = codec.DefaultMaxFragments
	DefaultMaxHeaderBytes   = 8 << 10
	DefaultMaxRequestBody   = 1 << 20
	DefaultCloseTimeout     = 5 * time.Second
	DefaultHandshakeTime    = 5 * time.Second
	DefaultPingInterval     = 30 * time.Second
	DefaultPongTimeout      = 15 * time.Second
	DefaultTLSWorkers       = 1024
	DefaultTLSQueue         = 4096
	DefaultTLSWorkerIdle    = time.Second
	DefaultTLSShare         = 8 // the default TLSSlotsPerIP is 1/8 of the TLS workers
	DefaultMaxJSONSize      = 64 << 10
	DefaultReassemblyBudget = 256 << 20
)

// DefaultDrainTimeout is how long a drain may take by default: a bound
// for the context given to Server.Shutdown, which Config does not hold.
const DefaultDrainTimeout = 10 * time.Second

// Config is the server's configuration. It is validated once by New and
// never changes after that. The zero value of each field is safe and
// bounded; a listener and Routes must be set.
//
// The timeouts are deadlines on the event loops' timing wheels, which tick
// every 100 ms: each fires no sooner than configured and at most 200 ms
// later, plus however long the event loop takes to get to it.
type Config struct {
	// Listen is the host:port of the wss:// listener; TLS must be set
	// with it.
	Listen string
	// TLS is the wss:// listener's TLS configuration. It is used as is
	// (see security.ServerTLS for the server's policy) and must not be
	// changed after New.
	TLS *tls.Config
	// ListenPlain is the host:port of the plain ws:// listener, for
	// deployments behind a TLS-terminating load balancer.
	ListenPlain string
	// ReusePort opens the listeners with SO_REUSEPORT, so that several
	// processes can listen on the same port; the kernel spreads new
	// connections over them.
	ReusePort bool
	// ProxyProtocol lists the networks of the load balancers trusted to
	// send the PROXY protocol (version 1 or 2), on both listeners; nil:
	// none. A connection from one of them must start with a header,
	// read before anything else (before the TLS handshake for wss://),
	// and is then the client's it names for every gate, log and metric
	// that goes by address; one without a valid header is refused
	// (proxy_header). A connection from anywhere else that starts with a
	// header is refused (proxy_untrusted): the header is a claim only a
	// trusted balancer may make. The total connection cap is taken at
	// accept, the per-address cap and handshake rate once the header
	// is read.
	ProxyProtocol []netip.Prefix
	// TrustedProxies lists the networks of the HTTP proxies in front of
	// the ws:// listener (ListenPlain) whose X-Forwarded-For is believed;
	// nil: none. On a connection from one of them, each request's client
	// is the rightmost address of X-Forwarded-For that is not itself a
	// trusted proxy (a header that does not parse leaves the proxy's own
	// address): Conn's RemoteAddr and the logs go by it, and a WebSocket
	// upgrade is admitted by the per-address cap and handshake rate for
	// it (429 past them); the total cap is taken at accept. A proxy
	// carries many clients' requests over one connection, so the
	// address is the request's, not the connection's.
	TrustedProxies []netip.Prefix
	// HandshakeTimeout bounds the opening of a connection: the TLS
	// handshake and the HTTP upgrade together, from accept to the 101. A
	// connection that has not upgraded by then is closed. On the route of
	// an HTTPHandler it bounds the wait for the first request, head and
	// body, from accept, and for each next one on a connection kept alive,
	// from the answer to the last; not the wait for an answer, which is
	// the handler's. 0 means DefaultHandshakeTime.
	HandshakeTimeout time.Duration
	// TLSWorkers bounds the TLS handshakes that run at once: each runs in
	// one of at most this many goroutines, so that a handshake flood takes
	// at most this much CPU and memory. The goroutines start as sockets
	// come and end after TLSWorkerIdle with nothing to do. 0 means
	// DefaultTLSWorkers.
	TLSWorkers int
	// TLSWorkerIdle is how long a TLS worker with nothing to do waits for
	// a socket before it ends. 0 means DefaultTLSWorkerIdle.
	TLSWorkerIdle time.Duration
	// TLSQueue bounds the accepted connections that wait for a TLS worker.
	// One that finds the queue full is closed at once. 0 means
	// DefaultTLSQueue.
	TLSQueue int
	// TLSSlotsPerIP bounds the connections one client address (IPv6: one
	// /64) has in the TLS workers and their queue at once, whatever the
	// connection caps are: a connection past it is closed at accept,
	// counted as the refusal tls_ip_share. An address that opens
	// connections and stalls their handshakes thus holds at most this
	// many workers, and the rest of the world still gets handshakes. 0
	// means TLSWorkers/DefaultTLSShare (128 by default), but no fewer
	// than 8 or half the workers, whichever is fewer, and at least 1.
	TLSSlotsPerIP int
	// Loops is the number of event loops; 0 means one per CPU.
	Loops int
	// MaxMessageSize bounds a message's payload (all fragments together).
	// A frame that declares more is refused with close code 1009 before its
	// payload is read. 0 means DefaultMaxMessageSize.
	MaxMessageSize int64
	// MaxFragments bounds the frames of one message: a message in more is
	// refused with 1009 at the frame past the limit. 0 means
	// DefaultMaxFragments.
	MaxFragments int
	// ReassemblyBudget bounds the memory of partial messages, over all
	// connections together: data frames that have not all arrived and
	// the fragments of messages, counted by their payload size (a frame is
	// buffered in a buffer of its own size; the fragments of one message
	// in one that grows by a quarter at a time). Each event loop holds
	// an equal share of it, which must fit a message of MaxMessageSize. A
	// frame that does not fit fails its connection with 1009 "message
	// buffers full", counted as the refusal reassembly_budget; messages
	// that arrive whole in one read need none of it. 0 means
	// DefaultReassemblyBudget, or MaxMessageSize times 4 per loop if that
	// is more.
	ReassemblyBudget int64
	// MaxHeaderBytes bounds the HTTP request head. A longer one is answered
	// with 431 and a close. 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxRequestBody bounds the body of a request on the route of an
	// HTTPHandler (a long-polling transport's POST, say), which is read
	// whole, by its Content-Length or its chunks (Transfer-Encoding:
	// chunked), before ServeHTTP is called. A request that declares more
	// is answered 413 and closed before its body is read, and a chunked
	// one as soon as its chunk sizes add up to more, or its body on the
	// wire (chunk lines and trailers included) to more than
	// MaxRequestBody and MaxHeaderBytes, counted as the refusal
	// body_too_large; a malformed chunked body is answered 400 and closed
	// (bad_chunked_body). It also bounds, with MaxHeaderBytes, what a
	// client may send ahead while its request waits for an answer: a
	// connection with more waiting is closed (request_flood). 0 means
	// DefaultMaxRequestBody.
	MaxRequestBody int64
	// MaxOutbound bounds the bytes queued for a connection that does not
	// read: a message that finds more than this queued gets SlowConsumer's
	// policy. 0 means twice MaxMessageSize plus 1 MiB, so that any one
	// message can always be queued behind a full socket. Pongs do not
	// queue: while bytes wait, the server owes the peer one pong, for its
	// latest ping, and writes it once the queue is empty or ahead of the
	// next message. A KeyUpdate a TLS 1.3 peer asks for goes out in
	// front of the next record, one for any number of requests. Over TLS
	// 1.2, what crypto/tls writes on its own while reading cannot be
	// dropped: a peer that makes it write past MaxOutbound is closed as a
	// slow consumer, whatever SlowConsumer says.
	MaxOutbound int
	// SlowConsumer is what a message to a connection past MaxOutbound
	// gets: SlowClose (the default) closes the connection with 1008 "slow
	// consumer"; SlowDrop drops the message and counts it. Either way the
	// memory a client that stops reading holds stays under MaxOutbound
	// plus one message.
	SlowConsumer SlowPolicy
	// CloseTimeout is how long a closing connection has to answer the
	// server's close frame and to take the bytes queued for it before its
	// socket is closed anyway. 0 means DefaultCloseTimeout.
	CloseTimeout time.Duration
	// PingInterval is how long an open connection may stay silent (no byte
	// from the peer) before the server sends it a ping. 0 means
	// DefaultPingInterval; a negative value sends no pings.
	PingInterval time.Duration
	// PongTimeout is how long the peer has, after a ping, to send anything
	// at all (a pong, normally). Past it the connection is closed without
	// a close frame: a peer that does not answer would not read one, and
	// this is how a connection whose peer vanished without a FIN (a
	// half-open TCP connection) is found. 0 means DefaultPongTimeout.
	PongTimeout time.Duration
	// IdleTimeout closes an open connection with 1001 "idle timeout" when
	// no data message (text or binary) has gone either way for this long;
	// pings and pongs do not count. 0 disables it.
	IdleTimeout time.Duration
	// Origins, when set, is the allowlist of web origins that may open
	// connections (see security.Origins): a request from any other origin
	// is answered 403 before the upgrade. nil allows every origin.
	//
	// On the route of an HTTPHandler the same gate applies to every
	// request, and the answers to a request from an allowed origin let
	// that origin's pages read them, cookies included (CORS, with
	// credentials; see Conn.Respond). With Origins nil that is any
	// page on the web: set it wherever such a route carries what only
	// the user's own pages should read.
	Origins *security.Origins
	// Auth, when set, requires a valid token on every upgrade: from the
	// Authorization header ("Bearer <token>"), else the Sec-WebSocket-
	// Protocol header (the protocols "bearer" and the token, for browsers,
	// which cannot set headers; the server then selects "bearer"), else
	// the "token" query parameter. A request without a valid token is
	// answered 401 with a WWW-Authenticate challenge. The token's subject
	// is the connection's Subject; when the token expires (exp plus the
	// leeway) the connection is closed with 1008 "token expired".
	//
	// On the route of an HTTPHandler a request, upgrade or not, that
	// carries a token in one of those places must carry a valid one (401
	// otherwise), and one without a token passes, with no Identity: its
	// protocol may take a token from its own messages (Server.VerifyToken).
	Auth *security.Authenticator

	// MaxConnections bounds the connections held at once, from accept
	// (TLS handshakes included) to close. MaxConnsPerIP bounds those of one
	// client address (IPv6: one /64), and HandshakeRatePerIP how fast one
	// address may open them (a token bucket: PerSecond, with Burst). A
	// connection past any of them is closed at accept, before a byte is
	// read or a TLS handshake spent on it. Zero values: no limit.
	MaxConnections     int64
	MaxConnsPerIP      int
	HandshakeRatePerIP security.Rate
	// MaxIdleAddrs bounds the client addresses remembered only for their
	// handshake rate; 0 means security.DefaultMaxIdleAddrs.
	MaxIdleAddrs int

	// MessageRate and ByteRate are each open connection's token buckets,
	// charged frame by frame as frames arrive, each with a burst: messages
	// a second (a data message, a ping or a pong; the continuation frames
	// of a message are bounded by MaxFragments instead), and bytes a
	// second as on the wire (every frame's header and payload, so that
	// empty frames are not free). Past either, RatePolicy applies. Zero: no
	// limit.
	MessageRate security.Rate
	ByteRate    security.Rate
	// RatePolicy is what a frame past the rate gets: RateClose (the
	// default) closes the connection with 1008 "rate limit exceeded";
	// RateDrop drops its message whole (a ping is not answered) and
	// counts it, once per message.
	RatePolicy RatePolicy

	// JSONRoutes names the routes that accept only JSON text messages,
	// each with the schema its messages must meet (nil: any JSON). On
	// them a binary message is refused with 1003 (a type of data the
	// route cannot accept, RFC 6455 7.4.1), text that is not JSON with
	// 1007 (data not consistent with the message's type), and JSON nested
	// deeper than MaxJSONDepth or against the schema with 1008 (policy),
	// each with a reason that says what was wrong; InvalidMessage may
	// turn the close into an error reply. A route whose Handler is a
	// JSONHandler is a JSON route with its Schema unless named here.
	JSONRoutes map[string]*security.Schema
	// Deflate turns on the permessage-deflate extension (RFC 7692), on
	// the routes it names; nil declines every offer. See Deflate.
	Deflate *Deflate
	// MaxJSONDepth bounds the nesting of a JSON message, checked before it
	// is parsed; 0 means security.DefaultMaxDepth.
	MaxJSONDepth int
	// MaxJSONSize bounds a message on a JSON route, below MaxMessageSize:
	// a larger one is refused with 1009 as soon as its frame header says
	// so, like any message over MaxMessageSize. It also bounds what the
	// loop's parser may keep after a message (a parsed document takes up
	// to some 32 times its size). 0 means DefaultMaxJSONSize.
	MaxJSONSize int64
	// InvalidMessage is what a message that fails validation on a JSON
	// route gets: InvalidClose (the default) closes the connection,
	// InvalidReply answers an error message and keeps it.
	InvalidMessage InvalidPolicy

	// Metrics, when set, receives the server's metrics (see the README
	// for the list): a scrape should call Server.FlushMetrics, then write
	// the set (Server.AdminHandler does both), off the event loops (the
	// outbound gauges ask each loop for a sample when theirs is over a
	// second old). nil: no metrics.
	Metrics *metrics.Set

	// Clock is the time the deadlines go by; nil means the system's.
	Clock Clock

	// Routes maps a request path to the handler of the WebSocket
	// connections upgraded on it. A handler that is an HTTPHandler also
	// answers the requests on its path that are not upgrades; one that is
	// a SubtreeHandler, those on the paths under it too, unless a route
	// is their path (see SubtreeHandler). The routes' paths are the
	// connections' routes in JSONRoutes, Deflate.Routes and the logs.
	Routes map[string]Handler
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// RatePolicy is what a message past a connection's rate limit gets.
type RatePolicy uint8

const (
	// RateClose closes the connection with 1008 "rate limit exceeded".
	RateClose RatePolicy = iota
	// RateDrop drops the message and counts it; the connection stays.
	RateDrop
)

// SlowPolicy is what a message to a connection that does not read gets.
type SlowPolicy uint8

const (
	// SlowClose closes the connection with 1008 "slow consumer".
	SlowClose SlowPolicy = iota
	// SlowDrop drops the message and counts it; the connection stays.
	SlowDrop
)

// InvalidPolicy is what a message that fails validation gets.
type InvalidPolicy uint8

const (
	// InvalidClose closes the connection with a code and a reason that
	// say what was wrong.
	InvalidClose InvalidPolicy = iota
	// InvalidReply answers {"op":"error","code":…,"message":…} with the
	// same reason (see AppendErrorReply), drops the message and keeps the
	// connection.
	InvalidReply
)

// withDefaults returns c with its zero values replaced, or an error.
func (c Config) withDefaults() (Config, error) {
	if c.ListenPlain == "" && c.Listen == "" {
		return c, errors.New("engine: no listener configured")
	}
	if (c.Listen != "") != (c.TLS != nil) {
		return c, errors.New("engine: the wss:// listener needs a TLS config, and a TLS config a listener")
	}
	if len(c.Routes) == 0 {
		return c, errors.New("engine: no routes configured")
	}
	for path, h := range c.Routes {
		if len(path) == 0 || path[0] != '/' || h == nil {
			return c, fmt.Errorf("engine: bad route %q", path)
		}
	}
	if c.Loops < 0 || c.MaxMessageSize < 0 || c.MaxHeaderBytes < 0 || c.MaxOutbound < 0 || c.CloseTimeout < 0 ||
		c.HandshakeTimeout < 0 || c.TLSWorkers < 0 || c.TLSQueue < 0 || c.PongTimeout < 0 || c.IdleTimeout < 0 ||
		c.MaxConnections < 0 || c.MaxConnsPerIP < 0 || c.MaxIdleAddrs < 0 || c.MaxJSONDepth < 0 || c.MaxJSONSize < 0 ||
		c.MaxFragments < 0 || c.ReassemblyBudget < 0 || c.TLSSlotsPerIP < 0 || c.TLSWorkerIdle < 0 || c.MaxRequestBody < 0 {
		return c, errors.New("engine: negative limit in config")
	}
	for path := range c.JSONRoutes {
		if c.Routes[path] == nil {
			return c, fmt.Errorf("engine: JSON route %q is not a route", path)
		}
	}
	for path, h := range c.Routes {
		if jh, ok := h.(JSONHandler); ok {
			if _, set := c.JSONRoutes[path]; !set {
				c.JSONRoutes = maps.Clone(c.JSONRoutes)
				if c.JSONRoutes == nil {
					c.JSONRoutes = map[string]*security.Schema{}
				}
				c.JSONRoutes[path] = jh.Schema()
			}
		}
	}
	proxy := make([]netip.Prefix, 0, len(c.ProxyProtocol))
	for _, p := range c.ProxyProtocol {
		if !p.IsValid() {
			return c, errors.New("engine: invalid network in ProxyProtocol")
		}
		proxy = append(proxy, p.Masked())
	}
	c.ProxyProtocol = proxy
	trusted := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, p := range c.TrustedProxies {
		if !p.IsValid() {
			return c, errors.New("engine: invalid network in TrustedProxies")
		}
		trusted = append(trusted, p.Masked())
	}
	c.TrustedProxies = trusted
	var err error
	if c.Deflate, err = c.Deflate.withDefaults(c.Routes); err != nil {
		return c, err
	}
	if c.RatePolicy > RateDrop || c.InvalidMessage > InvalidReply || c.SlowConsumer > SlowDrop {
		return c, errors.New("engine: unknown policy in config")
	}
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxJSONSize == 0 {
		c.MaxJSONSize = DefaultMaxJSONSize
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxFragments == 0 {
		c.MaxFragments = DefaultMaxFragments
	}
	if c.ReassemblyBudget == 0 {
		c.ReassemblyBudget = max(DefaultReassemblyBudget, 4*c.MaxMessageSize*int64(c.Loops))
	}
	if c.ReassemblyBudget/int64(c.Loops) < c.MaxMessageSize {
		return c, fmt.Errorf("engine: a reassembly budget of %d bytes over %d loops does not fit a message of %d bytes per loop",
			c.ReassemblyBudget, c.Loops, c.MaxMessageSize)
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxRequestBody == 0 {
		c.MaxRequestBody = DefaultMaxRequestBody
	}
	if c.MaxOutbound == 0 {
		c.MaxOutbound = int(2*c.MaxMessageSize) + 1<<20
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTime
	}
	if c.PingInterval == 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PongTimeout == 0 {
		c.PongTimeout = DefaultPongTimeout
	}
	if c.TLSWorkers == 0 {
		c.TLSWorkers = DefaultTLSWorkers
	}
	if c.TLSQueue == 0 {
		c.TLSQueue = DefaultTLSQueue
	}
	if c.TLSWorkerIdle == 0 {
		c.TLSWorkerIdle = DefaultTLSWorkerIdle
	}
	if c.Clock == nil {
		c.Clock = systemClock{}
	}
	if c.TLSSlotsPerIP == 0 {
		c.TLSSlotsPerIP = max(c.TLSWorkers/DefaultTLSShare, min(8, c.TLSWorkers/2), 1)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
