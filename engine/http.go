package engine

import (
	"bytes"
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/wssd/wssd/engine/http1"
)

// readRequest reads the requests at the front of the inbound buffer and
// answers them, one at a time, for as long as the connection reads
// requests: a request on a WebSocket route is answered with a 101, after
// which frames follow, or with an HTTP response and a close; one on an
// HTTPHandler's route goes to the handler, and nothing more is read until
// it has answered (what comes meanwhile waits in the buffer, up to a
// bound). Called on the loop.
func (c *Conn) readRequest() {
	for c.state == stateUpgrade {
		if hx := c.hx; hx != nil && hx.pending {
			c.checkFlood()
			return
		}
		if !c.readOne() {
			return
		}
	}
}

// readOne reads the request at the front of the inbound buffer once its
// head has all come (on an HTTPHandler's route, its body too), and
// answers it or hands it to the handler. It reports whether the request
// was taken and the connection reads on. Called on the loop.
func (c *Conn) readOne() bool {
	in := c.in
	l := c.loop
	limit := l.srv.cfg.MaxHeaderBytes
	buffered := in.InboundBuffered()
	hx := c.hx
	if hx != nil {
		hx.route, hx.cors = false, false
	}
	var b []byte
	var n int
	if hx != nil && hx.need > 0 {
		// The head was read and checked, its body was not all there:
		// it is parsed again once the body is.
		if buffered < hx.need {
			return false
		}
		n = hx.head
		b, _ = in.Peek(hx.need)
		hx.head, hx.need = 0, 0
	} else if hx != nil && hx.chunked.buf != nil {
		// A chunked body is coming in pieces (chunked.go): the head
		// is parsed again, from the exchange, once it has all come.
		if !hx.chunked.readMore(in) {
			return false
		}
		b, n = hx.chunked.buf, hx.chunked.head
	} else {
		var err error
		b, err = in.Peek(min(buffered, limit))
		if err != nil {
			return false
		}
		n, err = http1.HeadLen(b, int(c.scanned), limit)
		if err != nil {
			c.refuseRequest(err)
			return false
		}
		if n == 0 {
			c.scanned = int32(min(len(b), math.MaxInt32))
			return false
		}
		c.scanned = 0
	}
	defer func() { l.req.Request = http1.Request{} }() // it points into the read buffer
	var err error
	l.req.Request, err = http1.Parse(b[:n])
	if err != nil {
		c.refuseRequest(err)
		return false
	}
	r := &l.req
	if c.proxy == proxyForwarded {
		c.forwarded(r)
	}
	c.headOnly = string(r.Method) == http.MethodHead
	c.id, c.expires = nil, 0
	path := r.Path()
	h := l.srv.route(r, path)
	hh, ok := h.(HTTPHandler)
	if !ok {
		c.handleRequest(r, path, h)
		if c.state != stateClosed {
			_, _ = in.Discard(n)
		}
		return false // answered, and closed or upgraded
	}
	size, ok := c.checkHTTP(r)
	if !ok {
		return false
	}
	if size < 0 {
		return c.readChunked(hh, r, b, n)
	}
	if total := n + size; total > len(b) {
		if total > buffered {
			c.hx.head, c.hx.need = n, total
			if r.Minor >= 1 && r.HasToken("expect", "100-continue") {
				// The client waits for a word before it sends the body
				// (RFC 9110 section 10.1.1).
				l.scratch = append(l.scratch[:0], "HTTP/1.1 100 Continue\r\n\r\n"...)
				_ = c.send(l.scratch)
			}
			return false
		}
		b, _ = in.Peek(total)
		l.req.Request, _ = http1.Parse(b[:n]) // it parsed a moment ago
	}
	c.serveHTTP(hh, r, b[n:n+size])
	if c.state == stateClosed {
		return false
	}
	_, _ = in.Discard(n + size)
	return c.state == stateUpgrade
}

// handleRequest answers a request on a route whose Handler takes only
// WebSocket upgrades, on the page at / or on no route (h nil). Called on
// the loop.
func (c *Conn) handleRequest(r *request, path []byte, h Handler) {
	if string(r.Method) != http.MethodGet {
		c.refuseRequest(http1.ErrMethod)
		return
	}
	srv := c.loop.srv
	if h == nil {
		if string(path) == "/" {
			c.respondPage()
			return
		}
		c.logNotFound(path)
		c.respond(http.StatusNotFound, "", "not found\n")
		return
	}
	if err := http1.CheckUpgrade(&r.Request); err != nil {
		c.refuseRequest(err)
		return
	}
	if !c.allowOrigin(r) {
		return
	}
	var protocol string
	if srv.cfg.Auth != nil {
		var ok bool
		if protocol, ok = c.authenticate(r); !ok {
			return
		}
	}
	if !c.admitForwarded() {
		return
	}
	c.setPath(r)
	_ = c.open(h, r.Key, protocol, r.Origin, srv.negotiateDeflate(&r.Request, c.path))
}

// setPath keeps the path of the route the connection's request is on:
// the request's, or that of the subtree route it is under. Called on the
// loop.
func (c *Conn) setPath(r *request) {
	if r.route != "" {
		c.path = r.route
		return
	}
	if path := r.Path(); c.path != string(path) {
		c.path = string(path)
	}
}

// open answers an upgrade request that has passed the gates with its
// 101, and opens the connection as a WebSocket for h on the route c.path
// names: key is the request's Sec-WebSocket-Key, protocol the subprotocol
// the 101 selects ("" for none), origin its Origin (nil for none), ext
// the permessage-deflate agreement (0 for none). It returns the error of a
// write that failed, and the connection is then not open. Called on the
// loop.
func (c *Conn) open(h Handler, key []byte, protocol string, origin []byte, ext pmd) error {
	l := c.loop
	srv := l.srv
	var lines [160]byte
	l.scratch = http1.AppendUpgradeResponse(l.scratch[:0], key, protocol, appendExtensions(lines[:0], ext))
	if err := c.send(l.scratch); err != nil {
		return err
	}
	c.state = stateOpen
	if c.pmd = ext; ext != 0 {
		c.rd.Deflate = true
		l.dcounts.conns++
	}
	c.handler = h
	c.hx = nil // an open connection reads no more requests
	if c.validator = l.validators[c.path]; c.validator != nil {
		c.rd.MaxMessage = min(c.rd.MaxMessage, srv.cfg.MaxJSONSize)
	}
	now := l.now()
	if l := srv.msgLimit.Load(); l != nil {
		l.Fill(&c.msgBucket, now)
	}
	if l := srv.byteLimit.Load(); l != nil {
		l.Fill(&c.byteBucket, now)
	}
	c.observeUpgrade(http.StatusSwitchingProtocols)
	c.born = srv.nanos()
	if origin != nil {
		c.origin = string(origin)
	}
	l.counts.opened[c.listener()]++
	c.opened()
	c.logOpened()
	h.OnOpen(c)
	return nil
}

// refuseRequest answers a request the codec refused, with the status, the
// header lines and the reason its *http1.Error carries. Called on the
// loop.
func (c *Conn) refuseRequest(err error) {
	var he *http1.Error
	if !errors.As(err, &he) {
		c.respond(http.StatusInternalServerError, "", "internal error\n")
		return
	}
	c.respond(he.Status, he.Header, he.Reason+"\n")
}

// respond writes a complete HTTP response with a text body and closes the
// connection. extra holds whole header lines. Called on the loop.
func (c *Conn) respond(status int, extra, body string) {
	c.writeResponse(status, "text/plain; charset=utf-8", extra, body)
}

func (c *Conn) respondPage() {
	c.writeResponse(http.StatusOK, "text/html; charset=utf-8", "", echoPage)
}

// writeResponse writes the engine's own answer to a request, and closes
// the connection. Called on the loop.
func (c *Conn) writeResponse(status int, contentType, extra, body string) {
	l := c.loop
	b := c.appendHead(l.scratch[:0], status, contentType, len(body), extra, true)
	b = append(b, "\r\n"...)
	if !c.headOnly {
		b = append(b, body...)
	}
	l.scratch = b
	c.countAnswer(status)
	_ = c.send(b)
	c.shut()
}

// appendHead appends the status line and the header fields of an answer
// to the request being read or served, but not the blank line that ends
// them: Date, Content-Type unless contentType is "", Content-Length
// unless length is negative, the header lines in header, the CORS lines
// of a request on an HTTPHandler's route from an allowed origin, and
// Connection: close when closing.
func (c *Conn) appendHead(b []byte, status int, contentType string, length int, header string, closing bool) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\n"...)
	if contentType != "" {
		b = append(b, "Content-Type: "...)
		b = append(b, contentType...)
		b = append(b, "\r\n"...)
	}
	if length >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(length), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, header...)
	if hx := c.hx; hx != nil && hx.route && hx.cors {
		b = append(b, "Access-Control-Allow-Origin: "...)
		b = append(b, hx.origin...)
		b = append(b, "\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"...)
	}
	if closing {
		b = append(b, "Connection: close\r\n"...)
	}
	return b
}

// echoPage is served at / : it connects back to /echo and shows the echoes,
// so a browser is enough to see the server work.
var echoPage = string(bytes.TrimSpace([]byte(`
<!doctype html>
<html lang="en">
<meta charset="utf-8">
<title>wssd</title>
<style>body{font:15px/1.4 system-ui,sans-serif;max-width:40em;margin:2em auto}#log{white-space:pre-wrap;background:#f4f4f4;padding:1em}</style>
<h1>wssd</h1>
<p>This page opens a WebSocket to <code>/echo</code> on this server; what you send comes back.</p>
<form id="f"><input id="msg" value="hello" autocomplete="off"> <button>Send</button></form>
<p>Status: <span id="status">connecting</span></p>
<div id="log"></div>
<script>
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "/echo");
const status = document.getElementById("status");
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
ws.onopen = () => { status.textContent = "open"; ws.send("hello from the page"); };
ws.onmessage = (e) => { log("echo: " + e.data); document.title = "wssd: " + e.data; };
ws.onclose = (e) => { status.textContent = "closed (" + e.code + ")"; };
document.getElementById("f").onsubmit = (e) => { e.preventDefault(); ws.send(document.getElementById("msg").value); };
</script>
</html>
`)))
