package bench

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/http1"
	"github.com/wssd/wssd/engine/tlsrec"
)

// The client side: connections on gnet event loops, as in the server (no
// goroutine per connection). A connection is dialed, and its TLS
// handshake run, by a dialer goroutine; then it is enrolled on a loop,
// which sends the upgrade request, reads the 101 and from then on reads
// and writes frames with wssd's codec (TLS 1.3 through the record layer
// tlsrec, as in the server; with --resume, or over TLS 1.2, through the
// tls.Conn over its tlsrec.Transport).

// connState is where a client connection is.
type connState uint8

const (
	cUpgrading connState = iota
	cJoining             // upgraded, the protocol's opening not done: pubsub: the subscription; socketio: the open packet and the CONNECT
	cOpen
	cClosing // a close frame was sent
	cClosed
)

// conn is one client connection. Touched only on its loop, after OnOpen.
type conn struct {
	gc         gnet.Conn
	loop       *cloop
	rec        *tlsrec.Stream // TLS 1.3 records
	tls        *tls.Conn      // or a tls.Conn, over tr
	tr         *tlsrec.Transport
	state      connState
	accept     string // the Sec-WebSocket-Accept expected
	connected  int64  // run nanos when TCP connected
	upgradedAt int64  // run nanos when the 101 came
	tail       []byte // decrypted bytes not parsed yet (wss://)
	scanned    int
	inText     bool    // inside a fragmented message
	sendAt     []int64 // run nanos each unanswered message was (meant to be) sent, oldest first
	mask       uint32
	ps         *psConn     // pubsub: the connection's part in it; nil in the other scenarios
	sio        *sioSession // socketio: the session's state; nil in the other scenarios
	z          *zConn      // permessage-deflate, when negotiated; nil otherwise
	prev       *conn
	next       *conn
}

// arrival is what a dialer hands to a loop with a socket.
type arrival struct {
	rec       *tlsrec.Stream
	tr        *tlsrec.Transport
	tc        *tls.Conn
	connected int64
	pubsub    bool   // the pubsub scenario
	publisher bool   // pubsub: a publisher, not a subscriber
	pubID     uint64 // pubsub: the publisher's id
	sio       bool   // the socketio scenario
}

// cloop is the per-loop state of the client.
type cloop struct {
	run     *run
	el      gnet.EventLoop
	head    *conn // open connections, newest first
	tail    *conn // the oldest open connection
	nOpen   int
	rr      *conn // open-loop sending: the next connection to send on
	next    int64 // open-loop: run nanos the next message is meant for
	scratch []byte
	sealed  []byte // records being written
	s       loopStats

	// permessage-deflate
	comp   *codec.Compressor
	decomp *codec.Decompressor
	zbuf   []byte // a message being compressed
	ibuf   []byte // a message being inflated

	// pubsub
	pubs    []*conn // open publishers
	pubRR   int     // the next of pubs to publish on
	pubNext int64   // run nanos the next publication is meant for
	body    []byte  // a request being built
	parser  fastjson.Parser
	fan     [][]fanEntry // by publisher id, then sequence number
}

// loopStats is what a loop counts; read by snapshot tasks on the loop.
type loopStats struct {
	established, dropped, closed, sent, received, errors uint64
	errs                                                 map[string]uint64
	latency, handshake, second                           *Histogram

	// pubsub
	publishers, subscribers, published, duplicates uint64
	ends                                           uint64 // end markers the subscribers got
	endSent, endReplied, endAcked                  uint64 // the publishers' end markers
	subscribe                                      *Histogram

	// What went over the sockets (TCP payload: TLS records for wss://)
	// and the data messages it carried, by direction.
	wireOut, wireIn   uint64 // bytes written to and read from the sockets
	msgsOut, msgsIn   uint64 // data messages sent and received (all of them, requests and acks included)
	plainOut, plainIn uint64 // their payloads, uncompressed
	zOut, zIn         uint64 // of them, compressed (RSV1)

	// permessage-deflate: the connections whose offer the server
	// agreed to, by its answer, and those it declined.
	zNegotiated, zDeclined uint64
	zAnswers               map[string]uint64
}

func newCloop(r *run, el gnet.EventLoop) *cloop {
	return &cloop{run: r, el: el, s: newLoopStats()}
}

// newLoopStats is a loopStats with nothing counted.
func newLoopStats() loopStats {
	return loopStats{errs: map[string]uint64{}, zAnswers: map[string]uint64{}, latency: NewHistogram(), handshake: NewHistogram(), second: NewHistogram(),
		subscribe: NewHistogram()}
}

func (l *cloop) add(c *conn) {
	c.next = l.head
	if l.head != nil {
		l.head.prev = c
	}
	l.head = c
	if l.tail == nil {
		l.tail = c
	}
	l.nOpen++
}

func (l *cloop) remove(c *conn) {
	if c.prev != nil {
		c.prev.next = c.next
	} else if l.head == c {
		l.head = c.next
	}
	if c.next != nil {
		c.next.prev = c.prev
	} else if l.tail == c {
		l.tail = c.prev
	}
	if l.rr == c {
		l.rr = c.next
	}
	c.prev, c.next = nil, nil
	l.nOpen--
}

func (l *cloop) fail(reason string) {
	l.s.errors++
	l.s.errs[reason]++
}

// open sends the upgrade request of a connection that has reached its
// loop. Called on the loop.
func (c *conn) open() {
	var k [16]byte
	binary.LittleEndian.PutUint64(k[:], rand.Uint64())
	binary.LittleEndian.PutUint64(k[8:], rand.Uint64())
	key := base64.StdEncoding.EncodeToString(k[:])
	c.accept = acceptFor(key)
	c.mask = rand.Uint32()
	l := c.loop
	l.scratch = l.run.target.appendRequest(l.scratch[:0], key, l.run.extensions())
	c.write(l.scratch)
}

func (c *conn) write(b []byte) {
	if c.rec != nil {
		l := c.loop
		l.sealed = c.rec.Seal(l.sealed[:0], b, nil)
		l.s.wireOut += uint64(len(l.sealed))
		_, _ = c.gc.Write(l.sealed)
		return
	}
	if c.tls != nil {
		_, _ = c.tls.Write(b) // counted by the transport's writer
		return
	}
	c.loop.s.wireOut += uint64(len(b))
	_, _ = c.gc.Write(b)
}

// traffic reads what has come in. Called on the loop.
func (c *conn) traffic() gnet.Action {
	switch {
	case c.rec != nil:
		raw, _ := c.gc.Peek(c.gc.InboundBuffered())
		_, _ = c.gc.Discard(len(raw)) // decrypted in place, or kept
		c.loop.s.wireIn += uint64(len(raw))
		first, rest, err := c.rec.Input(raw)
		b := rest
		if len(c.tail) > 0 || len(first) > 0 {
			c.tail = append(append(c.tail, first...), rest...)
			b = c.tail
		}
		n := c.parse(b)
		if len(c.tail) > 0 {
			c.tail = c.tail[:copy(c.tail, c.tail[n:])]
			if len(c.tail) == 0 {
				c.tail = nil
			}
		} else if n < len(b) {
			c.tail = append([]byte(nil), b[n:]...)
		}
		if err != nil && c.state != cClosed {
			c.lost("tls: " + errText(err))
		}
	case c.tls == nil:
		b, _ := c.gc.Peek(c.gc.InboundBuffered())
		n := c.parse(b)
		_, _ = c.gc.Discard(n)
		c.loop.s.wireIn += uint64(n)
	default:
		raw, _ := c.gc.Peek(c.gc.InboundBuffered())
		c.tr.SetInput(raw)
		var err error
		for {
			c.tail = slices.Grow(c.tail, 16<<10)
			n, rerr := c.tls.Read(c.tail[len(c.tail):cap(c.tail)])
			c.tail = c.tail[:len(c.tail)+n]
			if rerr != nil {
				if rerr != tlsrec.ErrWouldBlock {
					err = rerr
				}
				break
			}
		}
		consumed := c.tr.Consumed(raw)
		_, _ = c.gc.Discard(consumed)
		c.loop.s.wireIn += uint64(consumed)
		n := c.parse(c.tail)
		c.tail = c.tail[:copy(c.tail, c.tail[n:])]
		if len(c.tail) == 0 && cap(c.tail) > 64<<10 {
			c.tail = nil
		}
		if err != nil && c.state != cClosed {
			c.lost("tls: " + errText(err))
		}
	}
	if c.state == cClosed {
		return gnet.Close
	}
	return gnet.None
}

// parse handles what b holds and returns how many bytes it used. Called
// on the loop.
func (c *conn) parse(b []byte) int {
	used := 0
	if c.state == cUpgrading {
		n, err := http1.HeadLen(b, c.scanned, 16<<10)
		if err != nil {
			reason := "upgrade: response head too large"
			if errors.Is(err, http1.ErrBareLF) {
				reason = "upgrade: response line not ended by CRLF"
			}
			c.refused(reason)
			return len(b)
		}
		if n == 0 {
			c.scanned = len(b)
			return 0
		}
		if !c.upgraded(b[:n]) {
			return len(b)
		}
		used = n
	}
	for c.state == cJoining || c.state == cOpen || c.state == cClosing {
		h, hn, err := codec.ParseHeader(b[used:])
		if err != nil || h.Masked || h.Rsv != 0 && !c.compressedStart(h) {
			c.lost("protocol: bad frame from the server")
			return len(b)
		}
		if hn == 0 || len(b)-used-hn < int(h.Length) {
			break
		}
		p := b[used+hn : used+hn+int(h.Length)]
		used += hn + int(h.Length)
		c.frame(h, p)
	}
	return used
}

// upgraded checks the response head; it counts the connection as
// established (a subscriber: sends its subscription, and is established
// when it is acknowledged), or as failed and closes it. Called on the
// loop.
func (c *conn) upgraded(head []byte) bool {
	l := c.loop
	status := head
	if i := bytes.IndexByte(head, '\r'); i >= 0 {
		status = head[:i]
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101")) {
		code := "?"
		if f := bytes.Fields(status); len(f) > 1 {
			code = string(f[1])
		}
		c.refused("upgrade: status " + code)
		return false
	}
	if !bytes.Contains(head, []byte(c.accept)) {
		c.refused("upgrade: wrong Sec-WebSocket-Accept")
		return false
	}
	if err := c.negotiated(head); err != nil {
		c.refused(err.Error())
		return false
	}
	c.upgradedAt = l.run.nanos()
	if c.ps != nil && !c.ps.publisher {
		c.state = cJoining
		c.subscribe()
		return true
	}
	if c.sio != nil {
		c.state = cJoining // until the open packet and the CONNECT's answer
		c.sio.openAt = c.upgradedAt
		return true
	}
	c.ready(c.upgradedAt)
	return true
}

// ready counts a connection as established, at run nanos now: upgraded,
// and for a subscriber subscribed. Called on the loop.
func (c *conn) ready(now int64) {
	l := c.loop
	c.state = cOpen
	l.s.established++
	l.s.handshake.Record(time.Duration(c.upgradedAt - c.connected))
	l.add(c)
	if ps := c.ps; ps != nil {
		if ps.publisher {
			l.s.publishers++
			l.pubs = append(l.pubs, c)
			l.run.publishers.Add(1)
		} else {
			l.s.subscribers++
			l.s.subscribe.Record(time.Duration(now - c.upgradedAt))
		}
	}
	if c.sio != nil {
		l.s.subscribe.Record(time.Duration(now - c.sio.openAt))
	}
	l.run.opened(c)
	if !l.run.cfg.Scenario.KeepsConns() {
		c.leave()
	}
}

// joining is what a connection in cJoining is doing, for the reasons of
// its failures: "subscribe" or "socketio".
func (c *conn) joining() string {
	if c.sio != nil {
		return "socketio"
	}
	return "subscribe"
}

// refused ends a connection that did not upgrade: a failed connection.
func (c *conn) refused(reason string) {
	c.loop.run.failed(reason)
	c.state = cClosed
	_ = c.gc.Close()
}

// lost ends an open connection the server or the network ended.
func (c *conn) lost(reason string) {
	l := c.loop
	if c.state == cUpgrading {
		c.refused(reason)
		return
	}
	if c.state == cJoining {
		if what := c.joining(); !strings.HasPrefix(reason, what+": ") {
			reason = what + ": " + reason
		}
		c.refused(reason)
		return
	}
	if c.state == cOpen && !l.run.stopping.Load() {
		l.s.dropped++
		l.fail(reason)
	}
	c.end()
}

func (c *conn) end() {
	if c.state == cClosed {
		return
	}
	if c.state == cOpen || c.state == cClosing {
		l := c.loop
		l.remove(c)
		l.run.openNow.Add(-1)
		if c.ps != nil && c.ps.publisher {
			l.pubs = slices.DeleteFunc(l.pubs, func(p *conn) bool { return p == c })
		}
	}
	c.state = cClosed
	_ = c.gc.Close()
}

// frame handles one frame from the server. Called on the loop.
func (c *conn) frame(h codec.Header, p []byte) {
	l := c.loop
	switch h.OpCode {
	case codec.OpText, codec.OpBinary, codec.OpContinuation:
		var whole bool
		if h, p, whole = c.message(h, p); !whole {
			return // a fragment of a compressed message, or one that failed
		}
		if c.ps != nil {
			c.pubsubFrame(h, p)
			return
		}
		if c.sio != nil {
			c.sioFrame(h, p)
			return
		}
		if !h.Fin {
			c.inText = true
			return
		}
		c.inText = false
		if len(c.sendAt) == 0 {
			return // a message the server sent by itself
		}
		now := l.run.nanos()
		d := time.Duration(now - c.sendAt[0])
		c.sendAt = c.sendAt[:copy(c.sendAt, c.sendAt[1:])]
		l.s.received++
		l.s.latency.Record(d)
		l.s.second.Record(d)
		if l.run.cfg.Rate == 0 && c.state == cOpen && !l.run.stopping.Load() {
			c.send(now) // closed loop: the next one
		}
	case codec.OpPing:
		c.control(codec.OpPong, p)
	case codec.OpClose:
		if c.state == cOpen || c.state == cJoining {
			code, _, _ := codec.ParseClose(p)
			c.control(codec.OpClose, p[:min(len(p), 2)])
			c.lost("closed by the server: " + strconv.Itoa(int(code)))
			return
		}
		c.end() // the answer to ours
	}
}

// control sends a control frame. Called on the loop.
func (c *conn) control(op codec.OpCode, p []byte) {
	l := c.loop
	l.scratch = codec.AppendMaskedFrame(l.scratch[:0], true, op, p, c.nextMask())
	c.write(l.scratch)
}

func (c *conn) nextMask() [4]byte {
	c.mask = c.mask*1664525 + 1013904223
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], c.mask)
	return m
}

// send sends one message (socketio: emits an event), meant to go at run
// nanos at. Called on the loop.
func (c *conn) send(at int64) {
	if c.sio != nil {
		c.sioSend(at)
		return
	}
	l := c.loop
	c.sendAt = append(c.sendAt, at)
	c.sendData(codec.OpText, l.run.payload)
	l.s.sent++
}

// closeAll starts the close of every open connection, at the end of a
// run. Called on the loop.
func (l *cloop) closeAll() {
	for c := l.head; c != nil; c = c.next {
		if c.state == cOpen {
			c.startClose()
		}
	}
}

// startClose sends a close frame (1000) on an open connection; it ends
// when the server answers. Called on the loop.
func (c *conn) startClose() {
	c.state = cClosing
	var p [2]byte
	binary.BigEndian.PutUint16(p[:], 1000)
	c.control(codec.OpClose, p[:])
}

// leave closes an open connection during the run, as a client leaving
// does, and counts it. Called on the loop.
func (c *conn) leave() {
	c.loop.s.closed++
	c.startClose()
}

// churn closes up to n of the loop's open connections, oldest first, and
// returns how many it closed. Called on the loop.
func (l *cloop) churn(n int) int {
	closed := 0
	for c := l.tail; c != nil && closed < n; c = c.prev {
		if c.state == cOpen {
			c.leave()
			closed++
		}
	}
	return closed
}

// sendDue sends, in open loop, the messages whose time has come, round
// robin over the loop's connections, each stamped with the time it was
// meant for: a stall shows in the latency instead of hiding in fewer
// sends. Called on the loop.
func (l *cloop) sendDue(now int64, interval int64) {
	if l.head == nil || interval <= 0 {
		return
	}
	if l.next == 0 {
		l.next = now
	}
	for l.next <= now {
		if l.rr == nil {
			l.rr = l.head
		}
		c := l.rr
		l.rr = c.next
		if c.state == cOpen {
			c.send(l.next)
		}
		l.next += interval
	}
}

// errText is an error's text without the addresses that make every
// connection's error unique.
func errText(err error) string {
	var s string
	for e := err; e != nil; e = errors.Unwrap(e) {
		s = e.Error()
	}
	return s
}
