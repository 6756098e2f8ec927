package sockjs

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/security"
)

// Handler is the application on a Server: its methods are called on the
// session's home loop, one at a time per session, and like every handler
// on the loops they must not block.
type Handler interface {
	// OnOpen is called when a session has opened, and, on a server with
	// engine Config.Auth, once its client has shown a valid token.
	OnOpen(s *Session)
	// OnMessage is called with each message, in order. msg is valid only
	// until it returns.
	OnMessage(s *Session, msg []byte)
	// OnClose is called once a session OnOpen saw has ended, whoever
	// ended it; the session sends nothing more.
	OnClose(s *Session, code int, reason string)
}

// ErrClosed is what a session's methods return once it has ended.
var ErrClosed = errors.New("sockjs: session closed")

// transport is how a session reaches its client.
type transport uint8

const (
	tWebSocket transport = iota // the WebSocket transport, with SockJS's frames
	tRaw                        // the raw WebSocket endpoint: messages are frames
	tHTTP                       // the HTTP transports: receiving requests, and sends
	numTransports
)

// Session is one client's session: on the WebSocket transport its
// connection, on the HTTP transports what outlives their requests. It
// lives on one loop, its home, and is touched only there; its methods
// are called there (in the Handler's methods, or in what they schedule
// there with Loop).
type Session struct {
	s     *Server
	ls    *loopState // home
	kind  transport
	state uint8
	app   bool // the Handler has seen OnOpen

	ws *engine.Conn // tWebSocket, tRaw: the connection
	// What only the HTTP transports have; nil for a WebSocket session,
	// so that the many of those carry none of it.
	*polling

	remote net.Addr
	id     *security.Identity // what the token said, once there is one

	// One timer for the next heartbeat and the token's deadline (its
	// expiry, or the wait for one), whichever comes first: beat and due
	// are their ticks (engine.Loop.Ticks), 0 for none.
	timer     engine.Timer
	beat, due int64

	msgBucket, byteBucket security.Bucket

	// Data is the application's, for its own state.
	Data any
}

// Session states.
const (
	sOpen uint8 = iota
	sClosed
)

// polling is what a session of the HTTP transports has of its own.
type polling struct {
	sid     string       // its id, the client's
	recv    *engine.Conn // the receiving request, on any loop; nil between them
	rkind   receiver     // recv's transport
	sent    int          // bytes recv has streamed
	cb      string       // jsonp and htmlfile: the callback
	hdr     string       // the header lines of recv's answer
	code    int32        // once closed: the close frame's code
	reason  string       // and reason
	queue   []byte       // messages waiting, each a JSON string, comma-separated
	queued  int          // how many
	flush   bool         // a flush is posted (flushLater)
	linger  engine.Timer // the disconnect delay
	ip      netip.Addr   // the client's address, and its share of the per-IP cap
	counted bool         // ip holds a share
}

// Transport returns "websocket", "websocket-raw", or the HTTP transport
// the client last received on: "xhr", "xhr_streaming", "eventsource",
// "htmlfile" or "jsonp".
func (ss *Session) Transport() string {
	switch ss.kind {
	case tWebSocket:
		return "websocket"
	case tRaw:
		return "websocket-raw"
	}
	return receiverNames[ss.rkind]
}

// RemoteAddr returns the address of the client's first request.
func (ss *Session) RemoteAddr() net.Addr { return ss.remote }

// Identity returns what the client's token says; nil on a server without
// engine Config.Auth.
func (ss *Session) Identity() *security.Identity { return ss.id }

// Loop returns the session's home loop, where its methods are called.
func (ss *Session) Loop() *engine.Loop { return ss.ls.loop }

// Open reports whether the session has not ended.
func (ss *Session) Open() bool { return ss.state == sOpen }

// Send sends msg, text, to the client: text that is not UTF-8 reaches it
// with U+FFFD in place of what is not. It returns ErrClosed once the
// session has ended. Called on the home loop.
func (ss *Session) Send(msg []byte) error {
	if ss.state != sOpen {
		return ErrClosed
	}
	ls := ss.ls
	ls.counts.out++
	switch ss.kind {
	case tRaw:
		return ss.ws.Write(codec.OpText, msg)
	case tWebSocket:
		ls.out = append(ls.out[:0], frameArray, '[')
		ls.out = appendQuoted(ls.out, msg, false)
		ls.out = append(ls.out, ']')
		return ss.ws.Write(codec.OpText, ls.out)
	}
	ls.out = appendQuoted(ls.out[:0], msg, false)
	return ss.queueQuoted(ls.out)
}

// sendQuoted sends a message already quoted as a JSON string (see
// appendQuoted). Called on the home loop.
func (ss *Session) sendQuoted(q []byte) error {
	if ss.state != sOpen {
		return ErrClosed
	}
	ss.ls.counts.out++
	return ss.queueQuoted(q)
}

// queueQuoted queues a quoted message for an HTTP session's receiving
// request; a session whose queue is past Config.MaxQueued ends as a slow
// consumer. Called on the home loop.
func (ss *Session) queueQuoted(q []byte) error {
	if ss.queued > 0 {
		ss.queue = append(ss.queue, ',')
	}
	ss.queue = append(ss.queue, q...)
	ss.queued++
	if len(ss.queue) > ss.s.cfg.MaxQueued {
		ss.refuse(refSlowConsumer, codePolicy, "slow consumer")
		return ErrClosed
	}
	ss.flushLater()
	return nil
}

// Close ends the session: its client gets a close frame with code (3000
// to 4999 are the application's) and reason, and the Handler's OnClose
// follows. Called on the home loop.
func (ss *Session) Close(code int, reason string) { ss.close(code, reason) }

// The close codes of the sessions the server ends.
const (
	codeGoAway      = 3000 // the application's usual code
	codeInterrupted = 1002 // an HTTP receiving request was cut
	codePolicy      = 1008 // a gate refused: rate, token, slow consumer
	codeTooBig      = 1009
	codeAnother     = 2010 // a second receiving request
	codeGoingAway   = 1001 // the server shuts down, or the session timed out
)

// newSession starts a session on home. Called on the home loop.
func (s *Server) newSession(ls *loopState, kind transport, remote net.Addr, id *security.Identity) *Session {
	ss := &Session{s: s, ls: ls, kind: kind, remote: remote, id: id}
	ss.timer.Init(ss.onTimer)
	now := ls.loop.Ticks()
	msgLimit, byteLimit := s.srv.Rates()
	if msgLimit != nil {
		msgLimit.Fill(&ss.msgBucket, now)
	}
	if byteLimit != nil {
		byteLimit.Fill(&ss.byteBucket, now)
	}
	ls.counts.opened[kind]++
	return ss
}

// begin hands the session to the application, or, on a server with auth
// and a session without a token, waits for its first message to be one.
// Called on the home loop, once the open frame is on its way.
func (ss *Session) begin() {
	if ss.kind == tWebSocket {
		ss.heartbeatIn()
	}
	if ss.s.auth && ss.id == nil {
		ss.dueIn(ss.s.authWait)
		return
	}
	ss.authorized()
}

// authorized schedules the token's expiry and opens the session to the
// application. Called on the home loop.
func (ss *Session) authorized() {
	if id := ss.id; id != nil && !id.Expires.IsZero() {
		ec := ss.s.srv.Config()
		ss.dueIn(max(id.Expires.Add(ec.Auth.Leeway()).Sub(ec.Clock.Now()), 0))
	} else {
		ss.due = 0
		ss.arm()
	}
	ss.app = true
	ss.s.cfg.Handler.OnOpen(ss)
}

// tick is how long a tick of the loops' clocks is.
const tick = time.Second / time.Duration(engine.TicksPerSecond)

// ticksIn returns d in ticks, rounded up.
func ticksIn(d time.Duration) int64 { return int64((d + tick - 1) / tick) }

// heartbeatIn schedules the next heartbeat, HeartbeatDelay from now, and
// stopHeartbeat cancels it. Called on the home loop.
func (ss *Session) heartbeatIn() {
	ss.beat = ss.ls.loop.Ticks() + ticksIn(ss.s.cfg.HeartbeatDelay)
	ss.arm()
}

func (ss *Session) stopHeartbeat() {
	ss.beat = 0
	ss.arm()
}

// dueIn sets the token's deadline d from now. Called on the home loop.
func (ss *Session) dueIn(d time.Duration) {
	ss.due = ss.ls.loop.Ticks() + ticksIn(d)
	ss.arm()
}

// arm schedules the timer for the heartbeat or the deadline, whichever is
// first, or cancels it for neither. Called on the home loop.
func (ss *Session) arm() {
	l := ss.ls.loop
	next := ss.beat
	if next == 0 || ss.due != 0 && ss.due < next {
		next = ss.due
	}
	if next == 0 {
		l.Cancel(&ss.timer)
		return
	}
	l.Schedule(&ss.timer, time.Duration(max(next-l.Ticks(), 0))*tick)
}

// onTimer ends a session whose deadline has come, or sends a heartbeat
// that is due. Called on the home loop.
func (ss *Session) onTimer() {
	if ss.state != sOpen {
		return
	}
	now := ss.ls.loop.Ticks()
	if ss.due != 0 && now >= ss.due {
		ss.due = 0
		ss.onExpiry()
		return
	}
	if ss.beat != 0 && now >= ss.beat {
		ss.beat = 0
		ss.onHeartbeat()
	}
	ss.arm()
}

// onExpiry ends a session whose token has expired, or which did not send
// one in time. Called on the home loop.
func (ss *Session) onExpiry() {
	if ss.app {
		ss.refuse(refTokenExpired, codePolicy, "token expired")
		return
	}
	ss.refuse(refUnauthorized, codePolicy, "unauthorized: no token")
}

// onHeartbeat sends a heartbeat frame to a client that listens, and sets
// the next. Called on the home loop.
func (ss *Session) onHeartbeat() {
	if ss.kind == tWebSocket {
		_ = ss.ws.Write(codec.OpText, []byte{frameHeartbeat})
		ss.beat = ss.ls.loop.Ticks() + ticksIn(ss.s.cfg.HeartbeatDelay)
		return
	}
	if ss.recv == nil {
		return // set again when a receiving request comes
	}
	ss.writeFrame([]byte{frameHeartbeat})
	if ss.recv != nil {
		ss.beat = ss.ls.loop.Ticks() + ticksIn(ss.s.cfg.HeartbeatDelay)
	}
}

// onFrame takes a frame of messages from the client, and returns false,
// having delivered none of it, when it is not one. Called on the home
// loop.
func (ss *Session) onFrame(frame []byte, single bool) bool {
	ls := ss.ls
	v, ok := ls.rd.read(frame, single)
	if !ok {
		return false
	}
	each(v, func(msg []byte) bool {
		ss.onMessage(msg)
		return ss.state == sOpen
	})
	return true
}

// onMessage takes one message: the token a session without one sends
// first, or one for the application, through the rate limits. Called on
// the home loop.
func (ss *Session) onMessage(msg []byte) {
	if ss.state != sOpen {
		return
	}
	ls := ss.ls
	now := ls.loop.Ticks()
	s := ss.s
	msgLimit, byteLimit := s.srv.Rates()
	if msgLimit != nil && !msgLimit.Take(&ss.msgBucket, now, 1) ||
		byteLimit != nil && !byteLimit.Take(&ss.byteBucket, now, int64(len(msg))) {
		ss.refuse(refRate, codePolicy, "rate limit exceeded")
		return
	}
	ls.counts.in++
	if !ss.app {
		id, err := s.srv.VerifyToken(msg)
		if err != nil || id == nil {
			ss.refuse(refUnauthorized, codePolicy, "unauthorized: "+tokenProblem(err))
			return
		}
		ss.id = id
		ss.authorized()
		return
	}
	s.cfg.Handler.OnMessage(ss, msg)
}

// tokenProblem says what was wrong with a token, in the words of the
// engine's token errors, without quoting it.
func tokenProblem(err error) string {
	if err == nil {
		return "token not valid"
	}
	return security.TokenErrorReason(err)
}

// refuse counts a refusal and ends the session for it. Called on the home
// loop.
func (ss *Session) refuse(r int, code int, reason string) {
	ss.ls.refused(r, ss.remote)
	ss.close(code, reason)
}

// close ends the session: the client gets the close frame (a WebSocket is
// closed after it), the application OnClose, and an HTTP session answers
// its next requests with the frame for the disconnect delay, then is
// forgotten. Called on the home loop.
func (ss *Session) close(code int, reason string) {
	if ss.state != sOpen {
		return
	}
	ss.state = sClosed
	ls := ss.ls
	ss.beat, ss.due = 0, 0
	ls.loop.Cancel(&ss.timer)
	ls.counts.closed++
	if ss.app {
		ss.app = false
		ss.s.cfg.Handler.OnClose(ss, code, reason)
	}
	switch ss.kind {
	case tRaw:
		if !ss.ws.Open() {
			break
		}
		wc := codec.StatusCode(code)
		if code < 1000 || code > 4999 || code == 1004 || code == 1005 || code == 1006 || code == 1015 {
			wc = codec.StatusNormalClosure
		}
		ss.ws.Close(wc, reason)
	case tWebSocket:
		if !ss.ws.Open() {
			break
		}
		ls.out = appendCloseFrame(ls.out[:0], code, reason)
		_ = ss.ws.Write(codec.OpText, ls.out)
		ss.ws.Close(codec.StatusNormalClosure, "")
	default:
		ss.code, ss.reason = int32(code), reason
		ss.queue, ss.queued = nil, 0
		ls.unflush(ss)
		if ss.recv != nil {
			ls.out = appendCloseFrame(ls.out[:0], code, reason)
			ss.writeFrame(ls.out)
			ss.endReceiver()
		}
		ls.loop.Schedule(&ss.linger, ss.s.cfg.DisconnectDelay)
	}
}

// reasonInterrupted is the reason of a session whose client went away.
const reasonInterrupted = "Connection interrupted"

// flushLater answers the session's receiving request with what is
// queued in a task of the loop's, with the other sessions' that sent
// meanwhile, so that what a handler sends at once goes in one frame.
// Called on the home loop.
func (ss *Session) flushLater() {
	if ss.recv == nil || ss.flush {
		return
	}
	ss.flush = true
	ls := ss.ls
	ls.flushes = append(ls.flushes, ss)
	if len(ls.flushes) == 1 {
		_ = ls.loop.Post(ls.flushAllFn)
	}
}

// flushAll answers the receiving requests of the sessions on the list.
// Called on the loop.
func (ls *loopState) flushAll() {
	list := ls.flushes
	ls.flushes = ls.spare[:0]
	for _, ss := range list {
		ss.flush = false
		ss.flushQueue()
	}
	clear(list)
	ls.spare = list[:0]
}

// unflush takes a session off the list. Called on the loop.
func (ls *loopState) unflush(ss *Session) {
	if ss.polling != nil && ss.flush {
		ss.flush = false
		ls.flushes = slices.DeleteFunc(ls.flushes, func(x *Session) bool { return x == ss })
	}
}

// flushQueue writes the queued messages, as one frame, to the receiving
// request. Called on the home loop.
func (ss *Session) flushQueue() {
	if ss.state != sOpen || ss.recv == nil || ss.queued == 0 {
		return
	}
	ls := ss.ls
	ls.out = append(ls.out[:0], frameArray, '[')
	ls.out = append(ls.out, ss.queue...)
	ls.out = append(ls.out, ']')
	ss.queue, ss.queued = ss.queue[:0], 0
	if cap(ss.queue) > 64<<10 {
		ss.queue = nil
	}
	ss.writeFrame(ls.out)
}
