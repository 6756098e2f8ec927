package engine

import (
	"cmp"
	"slices"
	"strings"
)

// Routes are paths, looked up whole: a request's path is its route's when
// Config.Routes has it. A route whose handler is a SubtreeHandler takes the
// paths under it as well, when no route has the path itself: a route path
// p without a "/" at its end takes p and the paths that begin with p+"/"
// (not those that begin with p and go on otherwise); one with a "/" at its
// end takes the paths that begin with it (p is one of them). Of two
// subtrees that take a path, the one with the longer route path serves it.
//
// The lookup stays what it was for a path that is a route: one map lookup.
// Only a path that is none (a request under a subtree, or on no route) is
// compared with the subtrees' prefixes, which New sorts once, longest
// first: at most one comparison per subtree route, however long the path.

// SubtreeHandler is an HTTPHandler that serves its route's path and every
// path under it: with Routes["/sockjs/echo"] = h, h takes /sockjs/echo,
// /sockjs/echo/ and /sockjs/echo/any/thing (upgrades included), but not
// /sockjs/echoes; with Routes["/app/"] = h, /app/ and /app/any/thing, but
// not /app. An exact route wins over a subtree; of two subtrees, the longer
// path wins. The connection's route (in the logs, for Config.JSONRoutes and
// Deflate.Routes, Conn.Path) is the route's path, not the request's:
// Request.Path gives the request's.
type SubtreeHandler interface {
	HTTPHandler
	// ServesSubtree marks the handler as one that serves the paths
	// under its route. It is never called.
	ServesSubtree()
}

// subtree is a SubtreeHandler's route, for the paths under it.
type subtree struct {
	prefix string // what the paths under the route begin with: its path, ended by "/"
	route  string // the route's path, the key in Config.Routes
	h      Handler
}

// subtreesOf returns the routes whose handlers are SubtreeHandlers, in the
// order the lookup tries them: the longest prefix first and, of a route
// "/p" and a route "/p/", which share theirs, the longer path.
func subtreesOf(routes map[string]Handler) []subtree {
	var subs []subtree
	for path, h := range routes {
		if _, ok := h.(SubtreeHandler); !ok {
			continue
		}
		prefix := path
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		subs = append(subs, subtree{prefix: prefix, route: path, h: h})
	}
	slices.SortFunc(subs, func(a, b subtree) int {
		if c := cmp.Compare(len(b.prefix), len(a.prefix)); c != 0 {
			return c
		}
		return cmp.Compare(len(b.route), len(a.route))
	})
	return subs
}

// route returns the handler of the route that serves path (see the top of
// subtree.go), or nil when none does, and notes in r.route the path of
// the subtree route that serves it ("" when its route is the path
// itself). Called on the loop.
func (s *Server) route(r *request, path []byte) Handler {
	r.route = ""
	if h := s.cfg.Routes[string(path)]; h != nil {
		return h
	}
	for i := range s.subtrees {
		sub := &s.subtrees[i]
		if len(path) >= len(sub.prefix) && string(path[:len(sub.prefix)]) == sub.prefix {
			r.route = sub.route
			return sub.h
		}
	}
	return nil
}
