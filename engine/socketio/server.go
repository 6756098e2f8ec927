package socketio

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/security"
)

// DefaultPath is where Socket.IO clients look for the server.
const DefaultPath = "/socket.io/"

// The defaults of Config, those of the reference server.
const (
	DefaultPingInterval   = 25 * time.Second
	DefaultPingTimeout    = 20 * time.Second
	DefaultMaxPayload     = 1_000_000
	DefaultConnectTimeout = 45 * time.Second
	DefaultMaxPackets     = 1024
)

// Config configures a Server.
type Config struct {
	// PingInterval is how often the server pings a session, and
	// PingTimeout how long it waits for the pong before it ends the
	// session: a client that is gone, polling or not, is found within
	// their sum.
	PingInterval, PingTimeout time.Duration
	// MaxPayload bounds a packet the client sends, and a polling body
	// either way, in bytes; the client is told it in the handshake. The
	// engine's MaxMessageSize and MaxRequestBody bound it too.
	MaxPayload int
	// ConnectTimeout ends a session that has not connected to a
	// namespace within it.
	ConnectTimeout time.Duration
	// MaxPackets bounds the packets that wait for a polling client's
	// next request; MaxPayload bounds their bytes. A session past either
	// is a slow consumer: it is ended, as the engine ends a WebSocket
	// connection that does not read.
	MaxPackets int
	// Hub holds the rooms: a room is the hub's topic of the same name,
	// so a publication reaches /ws subscribers and Socket.IO sockets
	// alike, and other processes through the hub's broker. The hub must
	// serve a route of the same server. nil: Join fails with ErrNoHub.
	Hub *pubsub.Hub
}

// Errors of the package.
var (
	ErrNoHub   = errors.New("socketio: no hub for rooms")
	ErrStarted = errors.New("socketio: the server has started")
)

// Server is Engine.IO v4 and Socket.IO v5 on the engine's loops: the
// handler of its route (engine.HTTPHandler: the polling transport and the
// upgrade to WebSocket), an engine.Protocol and an engine.Ticker. Make
// one with New, declare its namespaces and events with Of, and serve it on
// DefaultPath (engine.Config.Routes).
type Server struct {
	cfg    Config
	srv    *engine.Server
	loops  []*loopState
	nsps   map[string]*Namespace
	auth   bool // the engine has Config.Auth: CONNECT needs a token
	open   []byte
	wsOpen []byte

	perIP *security.Shares // polling sessions per client address (engine Config.MaxConnsPerIP, or none)

	metrics *serverMetrics
	refused [numRefusals]atomic.Uint64 // as of each loop's last tick
	started bool
}

// New returns a server for cfg, with the main namespace "/".
func New(cfg Config) (*Server, error) {
	if cfg.PingInterval == 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = DefaultMaxPayload
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxPackets == 0 {
		cfg.MaxPackets = DefaultMaxPackets
	}
	if cfg.PingInterval < 0 || cfg.PingTimeout < 0 || cfg.MaxPayload < 0 || cfg.ConnectTimeout < 0 || cfg.MaxPackets < 0 {
		return nil, errors.New("socketio: negative Config value")
	}
	s := &Server{cfg: cfg, nsps: map[string]*Namespace{}}
	s.Of("/")
	return s, nil
}

// Of returns the namespace called name, making it on first use. A client
// that connects to a namespace not declared gets "Invalid namespace".
// Namespaces are declared before the server starts.
func (s *Server) Of(name string) *Namespace {
	if n := s.nsps[name]; n != nil {
		return n
	}
	if s.started {
		panic(ErrStarted)
	}
	n := &Namespace{s: s, name: name, events: map[string]EventHandler{}}
	s.nsps[name] = n
	return n
}

// Attach gives the server its engine: called by engine.New.
func (s *Server) Attach(es *engine.Server) error {
	if s.srv != nil {
		return errors.New("socketio: the server serves another engine already")
	}
	s.srv = es
	ec := es.Config()
	s.auth = ec.Auth != nil
	s.loops = make([]*loopState, es.Loops())
	for i := range s.loops {
		s.loops[i] = &loopState{s: s, sessions: map[string]*session{}}
	}
	var err error
	if s.perIP, err = security.NewShares(security.SharePer(ec.MaxConnsPerIP)); err != nil {
		return err
	}
	s.open = s.appendOpen(nil, true)
	s.wsOpen = s.appendOpen(nil, false)
	if set := ec.Metrics; set != nil {
		s.metrics = newServerMetrics(s, set)
	}
	return nil
}

// Start starts nothing of its own: the hub, if any, is the hub's route's.
func (s *Server) Start() error {
	s.started = true
	return nil
}

// Stop does nothing: the sessions ended with the loops.
func (s *Server) Stop() {}

// appendOpen appends the open packet's data (without its type) for a
// session that may upgrade (polling) or not.
func (s *Server) appendOpen(dst []byte, upgrades bool) []byte {
	dst = append(dst, `{"sid":"`...)
	dst = append(dst, sidPlaceholder...)
	if upgrades {
		dst = append(dst, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		dst = append(dst, `","upgrades":[],"pingInterval":`...)
	}
	dst = strconv.AppendInt(dst, s.cfg.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, s.cfg.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, int64(s.cfg.MaxPayload), 10)
	return append(dst, '}')
}

// sidPlaceholder stands for the session id in the open packet's template;
// an id is as long.
const sidPlaceholder = "                      "

// sidLen is the length of a session id: 16 bytes in URL-safe base64.
const sidLen = 22

// newSID returns an unguessable session id whose first byte names the
// home loop: a request for the session, on whatever loop it arrives,
// finds its home without a table shared by the loops.
func newSID(home int) string {
	var b [16]byte
	b[0] = byte(home)
	_, _ = rand.Read(b[1:]) // crypto/rand does not fail (Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// homeOf returns the home loop's index that sid names, and false for
// what cannot be a session id of this server.
func (s *Server) homeOf(sid []byte) (int, bool) {
	if len(sid) != sidLen {
		return 0, false
	}
	var b [16]byte
	if n, err := base64.RawURLEncoding.Decode(b[:], sid); err != nil || n != 16 {
		return 0, false
	}
	if int(b[0]) >= len(s.loops) {
		return 0, false
	}
	return int(b[0]), true
}

// loopState is the server's on one event loop, touched only there.
type loopState struct {
	s        *Server
	loop     *engine.Loop                // set when first used on the loop, and read there
	shared   atomic.Pointer[engine.Loop] // the same, for other loops
	sessions map[string]*session         // the polling sessions whose home this is

	parser  fastjson.Parser // the packets' JSON
	out     []byte          // packets being written
	query   []byte          // a query parameter, decoded
	scratch []byte          // a polling body's binary packets, decoded

	flushes    []*session // sessions whose GET is to be answered (flushLater)
	spare      []*session // the list's other buffer
	flushAllFn func()     // ls.flushAll, made once
	pkt        []byte     // a Socket.IO packet being written
	args       []byte     // its arguments
	atts       [][]byte   // its attachments

	// The publication last encoded on this loop, to write it once to
	// every socket here in a room (Deliver).
	lastPub   *pubsub.Publication
	lastPkt   []byte
	lastFrame *engine.Prepared

	// Counted here, added to the metrics each tick.
	counts loopCounts
	logged [numRefusals]int64 // the tick of each reason's last log line
}

// loopCounts are what a loop counts between ticks.
type loopCounts struct {
	opened    [2]uint64 // sessions, by their first transport
	closed    uint64
	upgraded  uint64
	eventsIn  uint64
	eventsOut uint64
	polls     uint64
	refused   [numRefusals]uint64
}

// loopOf returns the state on l. Called on l.
func (s *Server) loopOf(l *engine.Loop) *loopState {
	ls := s.loops[l.Index()]
	if ls.loop == nil {
		ls.loop = l
		ls.shared.Store(l)
		ls.flushAllFn = ls.flushAll
	}
	return ls
}

// loopAt returns loop i, as other loops see it: nil when no request has
// reached it yet (so no session lives there). Safe for concurrent use.
func (s *Server) loopAt(i int) *engine.Loop { return s.loops[i].shared.Load() }

// Reload puts a new per-address cap on the polling sessions from the next one
// opened (engine.Reloader); the rates apply to every session's next
// message by themselves. Called by engine.Server.Reload.
func (s *Server) Reload(l engine.Live) { _ = s.perIP.SetPer(security.SharePer(l.MaxConnsPerIP)) }

// Tick adds what the loop counted to the metrics. Called on the loop by
// the engine (engine.Ticker).
func (s *Server) Tick(l *engine.Loop) {
	ls := s.loops[l.Index()]
	if m := s.metrics; m != nil {
		m.add(&ls.counts)
	}
	for i, n := range ls.counts.refused {
		if n != 0 {
			s.refused[i].Add(n)
		}
	}
	ls.counts = loopCounts{}
}

// Refusals returns how many sessions and packets have been refused, by
// reason (the label of wssd_socketio_refusals_total), as of each loop's
// last tick. Safe for concurrent use.
func (s *Server) Refusals() map[string]uint64 {
	m := make(map[string]uint64, numRefusals)
	for i, name := range refusalNames {
		m[name] = s.refused[i].Load()
	}
	return m
}
