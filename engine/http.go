package engine

import (
	"bytes"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gobwas/ws"

	"github.com/wssd/wssd/codec"
)

// readUpgrade waits for the whole request head, then answers it: a 101 and
// the open state, or an HTTP response and a close. Called on the loop.
func (c *Conn) readUpgrade() {
	in := c.in
	limit := c.loop.srv.cfg.MaxHeaderBytes
	b, err := in.Peek(min(in.InboundBuffered(), limit))
	if err != nil {
		return
	}
	n, err := codec.RequestHeadLen(b, c.scanned, limit)
	if err != nil {
		c.respond(http.StatusRequestHeaderFieldsTooLarge, "", "request header too large\n")
		return
	}
	if n == 0 {
		c.scanned = len(b)
		return
	}
	c.handleRequest(b[:n])
	if c.state == stateOpen {
		_, _ = in.Discard(n)
	}
}

// handleRequest routes a complete request head. Called on the loop.
func (c *Conn) handleRequest(head []byte) {
	rl, err := codec.ParseRequestLine(head)
	if err != nil {
		c.respond(http.StatusBadRequest, "", "malformed request line\n")
		return
	}
	c.headOnly = string(rl.Method) == http.MethodHead
	if string(rl.Method) != http.MethodGet {
		c.respond(http.StatusMethodNotAllowed, "Allow: GET\r\n", "method not allowed\n")
		return
	}
	srv := c.loop.srv
	path := rl.Path()
	h := srv.cfg.Routes[string(path)]
	if h == nil {
		if string(path) == "/" {
			c.respondPage()
			return
		}
		c.respond(http.StatusNotFound, "", "not found\n")
		return
	}
	l := c.loop
	l.req.reset()
	_, resp, err := codec.Upgrade(&l.upgrader, head, l.scratch[:0])
	l.scratch = resp
	if err != nil {
		c.refuseUpgrade(err)
		return
	}
	if srv.cfg.Auth != nil && !c.authenticate() {
		return
	}
	if err := c.send(resp); err != nil {
		return
	}
	c.state = stateOpen
	c.path = string(path)
	c.handler = h
	if c.validator = l.validators[c.path]; c.validator != nil {
		c.rd.MaxMessage = min(c.rd.MaxMessage, srv.cfg.MaxJSONSize)
	}
	now := l.now()
	if srv.msgLimit != nil {
		srv.msgLimit.Fill(&c.msgBucket, now)
	}
	if srv.byteLimit != nil {
		srv.byteLimit.Fill(&c.byteBucket, now)
	}
	c.observeUpgrade(http.StatusSwitchingProtocols)
	c.born = srv.nanos()
	if l.req.hasOrigin {
		c.origin = string(l.req.origin)
	}
	l.counts.opened[c.listener()]++
	c.opened()
	c.logOpened()
	h.OnOpen(c)
}

// refuseUpgrade answers a request the Upgrader refused. Called on the loop.
func (c *Conn) refuseUpgrade(err error) {
	switch {
	case errors.Is(err, ws.ErrHandshakeBadUpgrade), errors.Is(err, ws.ErrHandshakeBadConnection):
		// Not a WebSocket request at all (a browser visiting the URL,
		// say): tell it which protocol this resource speaks.
		c.respond(http.StatusUpgradeRequired, "Upgrade: websocket\r\n", "this resource speaks WebSocket only\n")
	case errors.Is(err, ws.ErrHandshakeUpgradeRequired):
		c.respond(http.StatusUpgradeRequired, "Sec-WebSocket-Version: 13\r\n", "unsupported Sec-WebSocket-Version\n")
	case errors.Is(err, errOriginRefused):
		c.refused(refOrigin)
		c.respond(http.StatusForbidden, "", "origin not allowed\n")
	default:
		status := http.StatusBadRequest
		var rej *ws.ConnectionRejectedError
		if errors.As(err, &rej) && rej.StatusCode() != 0 {
			status = rej.StatusCode()
		}
		c.respond(status, "", err.Error()+"\n")
	}
}

// respond writes a complete HTTP response with a text body and closes the
// connection. extra holds whole header lines. Called on the loop.
func (c *Conn) respond(status int, extra, body string) {
	c.writeResponse(status, "text/plain; charset=utf-8", extra, body)
}

func (c *Conn) respondPage() {
	c.writeResponse(http.StatusOK, "text/html; charset=utf-8", "", echoPage)
}

func (c *Conn) writeResponse(status int, contentType, extra, body string) {
	l := c.loop
	b := append(l.scratch[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nDate: "...)
	b = time.Now().UTC().AppendFormat(b, http.TimeFormat)
	b = append(b, "\r\nContent-Type: "...)
	b = append(b, contentType...)
	b = append(b, "\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\nConnection: close\r\n"...)
	b = append(b, extra...)
	b = append(b, "\r\n"...)
	if !c.headOnly {
		b = append(b, body...)
	}
	l.scratch = b
	c.observeUpgrade(status)
	_ = c.send(b)
	c.shut()
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
