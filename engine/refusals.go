package engine

import (
	"log/slog"
	"slices"
	"sync/atomic"
)

// Refusal is why a gate refused a connection or a message: a reason in
// the metrics (wssd_refusals_total{reason}) and the log. The core's are
// below; a protocol registers its own with NewRefusal.
type Refusal uint8

const (
	// At accept, before a byte is read: the socket is closed.
	refMaxConns Refusal = iota
	refIPConns
	refHandshakeRate
	refTLSQueue
	refTLSShare
	// Before anything else is read: the socket is closed.
	refProxyUntrusted
	refProxyHeader
	// Before the upgrade: an HTTP status.
	refOrigin
	refAuthMissing
	refAuthMalformed
	refAuthSignature
	refAuthAlgorithm
	refAuthExpired
	refAuthNotYetValid
	refAuthNoExpiry
	refAuthIssuer
	refAuthAudience
	refAuthInvalid
	refBodyTooLarge
	refBadChunked
	refRequestFlood
	// After the upgrade: a close code, or a dropped message.
	refTokenExpired
	refRateMessages
	refRateBytes
	refBinary
	refInvalidJSON
	refJSONDepth
	refSchema
	refSlowConsumer
	refSlowDrop
	refReassembly
	refTLSRecord
	refInflated
)

// maxRefusals bounds the reasons, the core's and the protocols', so that
// the per-loop counts are plain arrays.
const maxRefusals = 64

// refusalNames are the reasons' names, as metrics labels and log values:
// the core's, then the protocols' in the order they were registered.
var refusalNames = []string{
	refMaxConns:        "max_connections",
	refIPConns:         "ip_connections",
	refHandshakeRate:   "handshake_rate",
	refTLSQueue:        "tls_queue_full",
	refTLSShare:        "tls_ip_share",
	refProxyUntrusted:  "proxy_untrusted",
	refProxyHeader:     "proxy_header",
	refOrigin:          "origin",
	refAuthMissing:     "auth_missing",
	refAuthMalformed:   "auth_malformed",
	refAuthSignature:   "auth_signature",
	refAuthAlgorithm:   "auth_algorithm",
	refAuthExpired:     "auth_expired",
	refAuthNotYetValid: "auth_not_yet_valid",
	refAuthNoExpiry:    "auth_no_expiry",
	refAuthIssuer:      "auth_issuer",
	refAuthAudience:    "auth_audience",
	refAuthInvalid:     "auth_invalid",
	refBodyTooLarge:    "body_too_large",
	refBadChunked:      "bad_chunked_body",
	refRequestFlood:    "request_flood",
	refTokenExpired:    "token_expired",
	refRateMessages:    "rate_messages",
	refRateBytes:       "rate_bytes",
	refBinary:          "binary_message",
	refInvalidJSON:     "invalid_json",
	refJSONDepth:       "json_depth",
	refSchema:          "schema",
	refSlowConsumer:    "slow_consumer",
	refSlowDrop:        "slow_consumer_drop",
	refReassembly:      "reassembly_budget",
	refTLSRecord:       "tls_record",
	refInflated:        "inflated_too_big",
}

// refusalsClosed is set by the first New: from then on the reasons are
// fixed, since each server registers one counter per reason.
var refusalsClosed atomic.Bool

// NewRefusal registers a protocol's refusal reason, name (lower case and
// '_'), and returns it. Call it in a package-level variable declaration:
// it panics once a server has been made, on a name already taken, or past
// 64 reasons in all.
func NewRefusal(name string) Refusal {
	switch {
	case refusalsClosed.Load():
		panic("engine: NewRefusal(" + name + ") after New")
	case slices.Contains(refusalNames, name):
		panic("engine: refusal " + name + " registered twice")
	case len(refusalNames) == maxRefusals:
		panic("engine: too many refusal reasons")
	}
	refusalNames = append(refusalNames, name)
	return Refusal(len(refusalNames) - 1)
}

// numRefusals returns how many reasons there are. Once a server has been
// made, the count is fixed.
func numRefusals() int { return len(refusalNames) }

// String returns the reason's name.
func (r Refusal) String() string { return refusalNames[r] }

// Refusals returns how many connections and messages each gate has refused
// since the server started, by reason (every registered reason is
// present). The event loops add theirs once per tick, so a refusal shows
// here within 100 ms. Safe for concurrent use.
func (s *Server) Refusals() map[string]uint64 {
	m := make(map[string]uint64, numRefusals())
	for r := range Refusal(numRefusals()) {
		m[r.String()] = s.refused[r].Load()
	}
	return m
}

// refusalCounts is a loop's own refusal counts: plain integers, added to
// the server's atomics once per tick (one atomic per reason that moved,
// not one per refused message).
type refusalCounts [maxRefusals]uint64

func (c *refusalCounts) flush(to *[maxRefusals]atomic.Uint64) {
	for r, n := range c {
		if n != 0 {
			to[r].Add(n)
			c[r] = 0
		}
	}
}

// refusalLog writes at most one line a second per reason, saying how many
// it left out since the last, so that a flood does not flood the log. Each
// goroutine that refuses (an event loop, an acceptor) has its own.
type refusalLog struct {
	l  *slog.Logger
	by [maxRefusals]sampler
}

// ticksPerSecond is the wheels' clock rate.
const ticksPerSecond = int64(1e9 / tick)

// due reports whether a line for r may be written at now (the caller's
// clock, in ticks): none was in the last second. When not, the refusal
// is counted as left out. Callers check due before building the line's
// attributes, so a refusal that is not logged costs no allocation.
func (g *refusalLog) due(now int64, r Refusal) bool { return g.by[r].due(now) }

// write writes the line of a refusal that was due, with attrs, which never
// hold a token or a payload.
func (g *refusalLog) write(r Refusal, attrs ...any) {
	attrs = append(attrs, "reason", r.String())
	g.l.Warn("refused", g.by[r].appendSuppressed(attrs)...)
}

// sampler lets through at most one log line a second of one kind, and
// counts the ones it holds back. It belongs to one goroutine.
type sampler struct {
	last       int64 // tick of the last line; 0: none yet
	suppressed int
}

// due reports whether a line may be written at now (in ticks), and
// counts it as left out when not.
func (s *sampler) due(now int64) bool {
	if s.last != 0 && now-s.last < ticksPerSecond {
		s.suppressed++
		return false
	}
	s.last = now
	return true
}

// appendSuppressed appends to the attributes of a line that was due how
// many were left out before it, if any.
func (s *sampler) appendSuppressed(attrs []any) []any {
	if s.suppressed > 0 {
		attrs = append(attrs, "suppressed", s.suppressed)
		s.suppressed = 0
	}
	return attrs
}
