package sockjs

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/security"
)

// The defaults of Config, those of the reference server.
const (
	DefaultHeartbeatDelay  = 25 * time.Second
	DefaultDisconnectDelay = 5 * time.Second
	DefaultResponseLimit   = 128 << 10
	DefaultMaxQueued       = 1 << 20
	DefaultClientURL       = "https://cdn.jsdelivr.net/npm/sockjs-client@1/dist/sockjs.min.js"
)

// Config configures a Server.
type Config struct {
	// Handler is the application: what it does with sessions and their
	// messages. Required.
	Handler Handler
	// Name tells the server's series apart in the metrics (the label
	// service): the route's path, say. Servers on one engine need names
	// of their own.
	Name string
	// HeartbeatDelay is how often a session whose client is listening
	// gets a heartbeat frame, so that proxies see traffic.
	HeartbeatDelay time.Duration
	// DisconnectDelay is how long a session of the HTTP transports waits
	// for the client's next receiving request before it ends, and how
	// long a closed one answers with its close frame before it is
	// forgotten.
	DisconnectDelay time.Duration
	// ResponseLimit is how many bytes a streaming response carries before
	// it ends, so that the browser frees what it has read; the client
	// then makes another.
	ResponseLimit int
	// MaxQueued bounds the bytes of messages waiting for an HTTP
	// transport's next receiving request: a client past it is a slow
	// consumer, and its session ends.
	MaxQueued int
	// CookieNeeded sets the JSESSIONID cookie on the HTTP transports'
	// answers (echoing the client's), for load balancers whose sticky
	// sessions need it, and says so in /info.
	CookieNeeded bool
	// NoWebSocket turns the WebSocket transports off: /info says so, and
	// their URLs answer 404.
	NoWebSocket bool
	// ClientURL is where the iframe page (for the transports that need
	// one) loads the client library from.
	ClientURL string
}

// Server is the SockJS protocol on one route: an engine.SubtreeHandler
// (every path under the route is the protocol's), an engine.Protocol and
// an engine.Ticker. Make one with New and serve it on its path.
type Server struct {
	cfg   Config
	srv   *engine.Server
	loops []*loopState
	index index
	auth  bool

	perIP    *security.Shares // HTTP sessions per client address (engine Config.MaxConnsPerIP, or none)
	authWait time.Duration    // how long a session has to send its token

	iframe []byte // the iframe page
	etag   string // its entity tag

	metrics *serverMetrics
	refused [numRefusals]atomic.Uint64 // as of each loop's last tick
}

// New returns a server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.Handler == nil {
		return nil, errors.New("sockjs: Config.Handler is nil")
	}
	if cfg.HeartbeatDelay == 0 {
		cfg.HeartbeatDelay = DefaultHeartbeatDelay
	}
	if cfg.DisconnectDelay == 0 {
		cfg.DisconnectDelay = DefaultDisconnectDelay
	}
	if cfg.ResponseLimit == 0 {
		cfg.ResponseLimit = DefaultResponseLimit
	}
	if cfg.MaxQueued == 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.ClientURL == "" {
		cfg.ClientURL = DefaultClientURL
	}
	if cfg.HeartbeatDelay < 0 || cfg.DisconnectDelay < 0 || cfg.ResponseLimit < 0 || cfg.MaxQueued < 0 {
		return nil, errors.New("sockjs: negative Config value")
	}
	s := &Server{cfg: cfg}
	s.index.init()
	s.iframe = iframePage(cfg.ClientURL)
	sum := sha256.Sum256(s.iframe)
	s.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	return s, nil
}

// ServesSubtree makes every path under the server's route its own
// (engine.SubtreeHandler).
func (s *Server) ServesSubtree() {}

// Attach gives the server its engine: called by engine.New.
func (s *Server) Attach(es *engine.Server) error {
	if s.srv != nil {
		return errors.New("sockjs: the server serves another engine already")
	}
	s.srv = es
	ec := es.Config()
	s.auth = ec.Auth != nil
	s.authWait = ec.HandshakeTimeout
	if s.authWait <= 0 {
		s.authWait = 5 * time.Second
	}
	s.loops = make([]*loopState, es.Loops())
	for i := range s.loops {
		s.loops[i] = &loopState{s: s, sessions: map[string]*Session{}}
	}
	var err error
	if s.perIP, err = security.NewShares(security.SharePer(ec.MaxConnsPerIP)); err != nil {
		return err
	}
	if set := ec.Metrics; set != nil {
		s.metrics = newServerMetrics(s, set)
	}
	if a, ok := s.cfg.Handler.(attacher); ok {
		a.attach(es)
	}
	return nil
}

// attacher is an application of the package's that sizes itself for the
// engine.
type attacher interface{ attach(es *engine.Server) }

// Start starts nothing of its own.
func (s *Server) Start() error { return nil }

// Stop does nothing: the sessions ended with the loops.
func (s *Server) Stop() {}

// loopState is the server's on one event loop, touched only there.
type loopState struct {
	s        *Server
	loop     *engine.Loop                // set when first used on the loop, and read there
	shared   atomic.Pointer[engine.Loop] // the same, for other loops
	sessions map[string]*Session         // the HTTP sessions whose home this is

	rd      *reader // what clients send
	out     []byte  // a frame being written
	wrapped []byte  // and as its transport wraps it

	flushes    []*Session // sessions whose receiver is to be answered (flushLater)
	spare      []*Session // the list's other buffer
	flushAllFn func()     // ls.flushAll, made once

	counts loopCounts
	logged [numRefusals]int64 // the tick of each reason's last log line
}

// loopOf returns the state on l. Called on l.
func (s *Server) loopOf(l *engine.Loop) *loopState {
	ls := s.loops[l.Index()]
	if ls.loop == nil {
		ls.loop = l
		ls.shared.Store(l)
		ls.rd = newReader()
		ls.flushAllFn = ls.flushAll
	}
	return ls
}

// Reload puts a new per-address cap on the HTTP sessions from the next one
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

// Refusals returns how many sessions and messages have been refused, by
// reason (the label of wssd_sockjs_refusals_total), as of each loop's
// last tick. Safe for concurrent use.
func (s *Server) Refusals() map[string]uint64 {
	m := make(map[string]uint64, numRefusals)
	for i, name := range refusalNames {
		m[name] = s.refused[i].Load()
	}
	return m
}

// index maps the id of each session of the HTTP transports to its home
// loop. The client chooses a session's id, so the id cannot name the
// home, as an Engine.IO session's does: the index is consulted once per
// HTTP request, under one of its shards' locks, and never on a message's
// path. WebSocket sessions are not in it: their connection is their
// session.
type index struct {
	seed   maphash.Seed
	shards [indexShards]indexShard
}

const indexShards = 64

type indexShard struct {
	mu sync.Mutex
	m  map[string]int
}

func (x *index) init() {
	x.seed = maphash.MakeSeed()
	for i := range x.shards {
		x.shards[i].m = map[string]int{}
	}
}

func (x *index) shard(id []byte) *indexShard {
	return &x.shards[maphash.Bytes(x.seed, id)%indexShards]
}

// home returns the home loop of session id, if it has one. Safe for
// concurrent use.
func (x *index) home(id []byte) (int, bool) {
	sh := x.shard(id)
	sh.mu.Lock()
	h, ok := sh.m[string(id)]
	sh.mu.Unlock()
	return h, ok
}

// claim makes loop the home of session id, unless it has one, and
// returns its home. Safe for concurrent use.
func (x *index) claim(id string, loop int) int {
	sh := x.shard([]byte(id))
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if h, ok := sh.m[id]; ok {
		return h
	}
	sh.m[id] = loop
	return loop
}

// drop forgets session id. Safe for concurrent use.
func (x *index) drop(id string) {
	sh := x.shard([]byte(id))
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}
