package engine

import (
	"context"
	"log/slog"
	"time"

	"github.com/wssd/wssd/codec"
)

// endedBy is who started the end of an open connection.
type endedBy uint8

const (
	closerNetwork endedBy = iota // neither: the connection was lost
	closerServer
	closerClient
)

var closerNames = [...]string{"network", "server", "client"}

// listener returns which listener the connection came in on.
func (c *Conn) listener() listener { return b2l(c.tls != nil) }

func b2l(secure bool) listener {
	if secure {
		return listenerWSS
	}
	return listenerWS
}

// logOpened writes the line of a connection that has upgraded. Called on
// the loop.
func (c *Conn) logOpened() {
	log := c.loop.srv.cfg.Logger
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	log.LogAttrs(context.Background(), slog.LevelInfo, "connection opened", c.logAttrs()...)
}

// logClosed writes the line of an upgraded connection that has ended: how
// long it lasted, what went each way, and how it ended. Called on the loop.
func (c *Conn) logClosed(code codec.StatusCode, reason string) {
	log := c.loop.srv.cfg.Logger
	if !log.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := append(c.logAttrs(),
		slog.Duration("duration", time.Duration(c.loop.srv.nanos()-c.born)),
		slog.Uint64("msgs_in", c.msgsIn),
		slog.Uint64("msgs_out", c.msgsOut),
		slog.Uint64("bytes_in", c.bytesIn),
		slog.Uint64("bytes_out", c.bytesOut),
		slog.Int("code", int(code)),
		slog.String("reason", reason),
		slog.String("closed_by", closerNames[c.closer]),
	)
	log.LogAttrs(context.Background(), slog.LevelInfo, "connection closed", attrs...)
}

// logAttrs are the fields every line about a connection has. The request's
// query (which may hold a token) is never logged: the route is the path.
func (c *Conn) logAttrs() []slog.Attr {
	attrs := make([]slog.Attr, 0, 13)
	attrs = append(attrs,
		slog.String("remote", c.remote.String()),
		slog.String("listener", listenerNames[c.listener()]),
		slog.String("route", c.path),
	)
	if c.origin != "" {
		attrs = append(attrs, slog.String("origin", c.origin))
	}
	if sub := c.Subject(); sub != "" {
		attrs = append(attrs, slog.String("subject", sub))
	}
	if c.pmd != 0 {
		attrs = append(attrs, slog.Bool("deflate", true))
	}
	return attrs
}

// maxLoggedPath bounds the path a 404 line shows.
const maxLoggedPath = 256

// logNotFound writes the line of a request for a path no route serves (a
// Socket.IO client pointed at the wrong path, a typo in a URL), sampled as
// the refusals' are: at most one line a second on each loop, and the next
// says how many were left out. The path is the request's without its
// query, which may hold a token. Called on the loop.
func (c *Conn) logNotFound(path []byte) {
	l := c.loop
	log := l.srv.cfg.Logger
	if !log.Enabled(context.Background(), slog.LevelInfo) || !l.notFound.due(l.now()) {
		return
	}
	if len(path) > maxLoggedPath {
		path = path[:maxLoggedPath]
	}
	attrs := []any{"remote", c.remote.String(), "path", string(path)}
	log.Info("not found", l.notFound.appendSuppressed(attrs)...)
}
