// Package adminapi is wssd's server API for backends: publish to a topic,
// disconnect a token subject's connections, and read counts, as HTTP and
// JSON behind a bearer key. It is meant for the admin listener, beside
// the engine's /metrics (engine.Server.AdminHandler), never for clients.
//
// Every answer is JSON; an error is
//
//	{"error": {"code": "invalid_topic", "message": "..."}}
//
// with 400 (a body that is not one JSON object of the call's form, a bad
// topic, subject, close code or reason), 401 (no key or a wrong one, with
// a WWW-Authenticate: Bearer challenge), 404 (no such call), 405 (with
// Allow), 413 (a body over Config.MaxBody) or 503 (the broker or the event
// loops could not take it).
package adminapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
)

// Prefix is where the API's calls are: Prefix+"publish", and so on.
const Prefix = "/api/v1/"

// MinKeyLen is the shortest key New takes, in bytes.
const MinKeyLen = 32

// DefaultMaxBody is Config.MaxBody's default, and its least.
const DefaultMaxBody = 64 << 10

// Config configures the API.
type Config struct {
	// Key is what a request's Authorization: Bearer must carry; at least
	// MinKeyLen bytes.
	Key []byte
	// Server is whose connections are counted and closed.
	Server *engine.Server
	// Hub is where publications go (and so, through its broker, to other
	// processes); nil: publish answers 404 and the topics count 0.
	Hub *pubsub.Hub
	// MaxBody bounds a request's body, in bytes: a larger one gets 413.
	// Less than DefaultMaxBody means DefaultMaxBody.
	MaxBody int64
	// Logger gets a line per publish and disconnect (never the key);
	// nil: slog.Default().
	Logger *slog.Logger
}

// API is the API's HTTP handler: it serves the paths under Prefix.
type API struct {
	cfg    Config
	keySum [sha256.Size]byte
	calls  map[string]call
}

// call is one of the API's paths.
type call struct {
	method string
	serve  func(a *API, w http.ResponseWriter, r *http.Request)
}

// New returns the API for cfg. It refuses a key shorter than MinKeyLen.
// Safe for concurrent use.
func New(cfg Config) (*API, error) {
	if len(cfg.Key) < MinKeyLen {
		return nil, fmt.Errorf("adminapi: the key is %d bytes; it must be at least %d", len(cfg.Key), MinKeyLen)
	}
	if cfg.Server == nil {
		return nil, errors.New("adminapi: no server")
	}
	cfg.MaxBody = max(cfg.MaxBody, DefaultMaxBody)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	a := &API{cfg: cfg, keySum: sha256.Sum256(cfg.Key)}
	a.calls = map[string]call{
		Prefix + "disconnect": {http.MethodPost, (*API).disconnect},
		Prefix + "stats":      {http.MethodGet, (*API).stats},
	}
	if cfg.Hub != nil {
		a.calls[Prefix+"publish"] = call{http.MethodPost, (*API).publish}
	}
	return a, nil
}

// ServeHTTP answers one call: the key first, whatever the path, so that
// no caller without it learns which paths there are. Safe for concurrent
// use.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.authorized(w, r) {
		return
	}
	c, ok := a.calls[r.URL.Path]
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such call")
		return
	}
	if r.Method != c.method {
		w.Header().Set("Allow", c.method)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "this call takes "+c.method)
		return
	}
	c.serve(a, w, r)
}

// authorized reports whether r carries the key, and answers 401 if not.
// The keys are compared by their SHA-256 sums, in constant time, so that
// neither the key's bytes nor its length show in how long the answer
// takes.
func (a *API) authorized(w http.ResponseWriter, r *http.Request) bool {
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wssd"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "an Authorization: Bearer header with the API key is needed")
		return false
	}
	scheme, key, _ := strings.Cut(values[0], " ")
	sum := sha256.Sum256([]byte(strings.TrimSpace(key)))
	if len(values) == 1 && strings.EqualFold(scheme, "Bearer") && subtle.ConstantTimeCompare(sum[:], a.keySum[:]) == 1 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="wssd", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", "the API key is wrong")
	return false
}
