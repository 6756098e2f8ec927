package engine

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/security"
)

// Defaults for the zero values of Config.
const (
	DefaultMaxMessageSize = codec.DefaultMaxMessage
	DefaultMaxHeaderBytes = 8 << 10
	DefaultDrainTimeout   = 10 * time.Second
	DefaultCloseTimeout   = 5 * time.Second
	DefaultHandshakeTime  = 5 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultPongTimeout    = 15 * time.Second
	DefaultTLSWorkers     = 1024
	DefaultTLSQueue       = 4096
)

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
	// HandshakeTimeout bounds the opening of a connection: the TLS
	// handshake and the HTTP upgrade together, from accept to the 101. A
	// connection that has not upgraded by then is closed. 0 means
	// DefaultHandshakeTime.
	HandshakeTimeout time.Duration
	// TLSWorkers bounds the TLS handshakes that run at once: each runs in
	// one of this many goroutines, so that a handshake flood takes at most
	// this much CPU and memory. 0 means DefaultTLSWorkers.
	TLSWorkers int
	// TLSQueue bounds the accepted connections that wait for a TLS worker.
	// One that finds the queue full is closed at once. 0 means
	// DefaultTLSQueue.
	TLSQueue int
	// Loops is the number of event loops; 0 means one per CPU.
	Loops int
	// MaxMessageSize bounds a message's payload (all fragments together).
	// A frame that declares more is refused with close code 1009 before its
	// payload is read. 0 means DefaultMaxMessageSize.
	MaxMessageSize int64
	// MaxHeaderBytes bounds the HTTP request head. A longer one is answered
	// with 431 and a close. 0 means DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// MaxOutbound bounds the bytes queued for a connection that does not
	// read: a message that finds more than this queued closes the
	// connection with 1008. 0 means twice MaxMessageSize plus 1 MiB, so
	// that any one message can always be queued behind a full socket.
	MaxOutbound int
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
	Origins *security.Origins
	// Routes maps a request path to the handler of the WebSocket
	// connections upgraded on it.
	Routes map[string]Handler
	// Logger receives the server's log lines; nil means slog.Default().
	Logger *slog.Logger
}

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
		c.HandshakeTimeout < 0 || c.TLSWorkers < 0 || c.TLSQueue < 0 || c.PongTimeout < 0 || c.IdleTimeout < 0 {
		return c, errors.New("engine: negative limit in config")
	}
	if c.Loops == 0 {
		c.Loops = runtime.NumCPU()
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
