package bench

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/socketio/packet"
)

// The socketio scenario, on a Socket.IO server (Socket.IO v5 over
// Engine.IO v4).
//
// Each of Cfg.Conns sessions opens on Cfg.Transport: over WebSocket, a
// connection on a loop, as in the other scenarios, whose frames carry
// Engine.IO packets (websocket-only, as a client with transports:
// ["websocket"]); over HTTP long-polling, a session of net/http requests
// (polling.go). Once the server's open packet has come, the session joins
// Cfg.Namespace with a CONNECT carrying Cfg.Auth, and is established when
// the server answers it (a CONNECT_ERROR fails it, with its message). It
// answers the server's pings with pongs, and ignores the server's own
// events.
//
// In the measured part a session emits Cfg.Event with one argument, a
// string of Cfg.Size bytes, asking for an ack: 42<id>["event","aaa…"],
// closed loop (Cfg.Inflight unacknowledged on each session) or open loop
// at Cfg.Rate events a second in all, as the echo scenario sends its
// messages. Sent counts events, Received acks, and Latency is each ack's
// from the event's intended send time. Handshake is the transport's
// opening (WebSocket: TCP connected to the 101; polling: the first
// request to the open packet), Subscribe the join (from then to the
// CONNECT's answer).

// DefaultEvent is the event the socketio scenario emits unless told: the
// one the Socket.IO conformance server acknowledges with its arguments.
const DefaultEvent = "message-with-ack"

// sioPhase is where a session is in its opening.
type sioPhase uint8

const (
	sioOpening sioPhase = iota // waiting for the Engine.IO open packet
	sioJoining                 // CONNECT sent, waiting for its answer
	sioReady                   // joined: events go
)

// sioPending is an event waiting for its ack.
type sioPending struct {
	id int64
	at int64 // run nanos it was meant to be sent
}

// sioSession is the Socket.IO state of a session, on either transport.
// Touched by one goroutine at a time: its loop (WebSocket), or under its
// session's lock (polling).
type sioSession struct {
	phase   sioPhase
	nextID  int64
	pending []sioPending // oldest first
	openAt  int64        // run nanos the transport was open (WebSocket: upgraded; polling: the open packet)
	hs      packet.Handshake
	msg     []byte // WebSocket: a fragmented message being gathered
	binary  bool   // WebSocket: it is binary
}

// sioAction is what a packet from the server asks of its session's
// transport.
type sioAction uint8

const (
	sioNothing sioAction = iota
	sioConnect           // the open packet came: send the CONNECT
	sioPong              // a ping came: answer with a pong of its data
	sioJoined            // the CONNECT was answered: the session is established
	sioAcked             // an event was acknowledged; at is when it was meant to be sent
	sioRefused           // a CONNECT_ERROR: reason
	sioEnded             // the server ended the session: reason
	sioBroken            // the server broke the protocol: reason
	sioStray             // an error that does not end the session: reason
)

// handle takes a packet from the server: jp parses it, nsp is the
// namespace joined.
func (s *sioSession) handle(p packet.Packet, nsp []byte, jp *fastjson.Parser) (a sioAction, at int64, reason string) {
	switch p.Type {
	case packet.Open:
		if s.phase != sioOpening {
			return sioBroken, 0, "socketio: a second open packet"
		}
		hs, err := packet.ParseHandshake(p.Data, jp)
		if err != nil {
			return sioBroken, 0, "socketio: " + err.Error()
		}
		s.hs = hs
		s.phase = sioJoining
		return sioConnect, 0, ""
	case packet.Ping:
		return sioPong, 0, ""
	case packet.Close:
		return sioEnded, 0, "socketio: closed by the server"
	case packet.Message:
	default: // pong, noop, upgrade
		return sioNothing, 0, ""
	}
	if s.phase == sioOpening {
		return sioBroken, 0, "socketio: a message before the open packet"
	}
	if p.Binary {
		return sioNothing, 0, "" // an attachment of the server's own binary event
	}
	sp, v, err := packet.ParseSocket(p.Data, packet.DefaultMaxAttachments, jp)
	if err != nil {
		return sioBroken, 0, "socketio: " + err.Error()
	}
	if !bytes.Equal(sp.Namespace, nsp) {
		return sioNothing, 0, ""
	}
	switch sp.Type {
	case packet.Connect:
		if s.phase != sioJoining {
			return sioStray, 0, "socketio: a CONNECT answered twice"
		}
		s.phase = sioReady
		return sioJoined, 0, ""
	case packet.ConnectError:
		msg := string(v.GetStringBytes("message"))
		if msg == "" || len(msg) > 64 {
			msg = "?"
		}
		return sioRefused, 0, "socketio: connect_error: " + msg
	case packet.Disconnect:
		return sioEnded, 0, "socketio: disconnected by the server"
	case packet.Ack, packet.BinaryAck:
		for i, e := range s.pending {
			if e.id == sp.ID {
				s.pending = append(s.pending[:i], s.pending[i+1:]...)
				return sioAcked, e.at, ""
			}
		}
		return sioStray, 0, "socketio: an ack of no event"
	}
	return sioNothing, 0, "" // the server's own events
}

// emit notes an event meant to go at run nanos at, and is its ack id.
func (s *sioSession) emit(at int64) int64 {
	id := s.nextID
	s.nextID++
	s.pending = append(s.pending, sioPending{id: id, at: at})
	return id
}

// checkSocketIO checks the socketio fields of cfg and fills in their
// defaults.
func (cfg *Config) checkSocketIO() error {
	if cfg.Conns <= 0 {
		return errors.New("bench: sessions are needed")
	}
	switch cfg.Transport {
	case "":
		cfg.Transport = "websocket"
	case "websocket", "polling":
	default:
		return fmt.Errorf("bench: transport %q: websocket or polling", cfg.Transport)
	}
	if cfg.Namespace == "" {
		cfg.Namespace = "/"
	}
	if cfg.Namespace[0] != '/' || strings.ContainsAny(cfg.Namespace, ",\x00") || !utf8.ValidString(cfg.Namespace) {
		return fmt.Errorf("bench: namespace %q: a '/' and a name without ','", cfg.Namespace)
	}
	if cfg.Event == "" {
		cfg.Event = DefaultEvent
	}
	if packet.IsReserved([]byte(cfg.Event)) {
		return fmt.Errorf("bench: event %q: a name Socket.IO keeps for itself", cfg.Event)
	}
	if a := strings.TrimSpace(cfg.Auth); a != "" {
		if a[0] != '{' || fastjson.Validate(a) != nil {
			return errors.New("bench: the auth data is not a JSON object")
		}
		cfg.Auth = a
	}
	return nil
}

// appendSIOConnect appends the Engine.IO message of the CONNECT.
func (r *run) appendSIOConnect(dst []byte) []byte {
	dst = append(dst, byte(packet.Message))
	return packet.AppendSocket(dst, packet.SPacket{Type: packet.Connect, Namespace: r.sioNsp, ID: -1, Data: r.sioAuth})
}

// appendSIOEvent appends the Engine.IO message of event id.
func (r *run) appendSIOEvent(dst []byte, id int64) []byte {
	dst = append(dst, byte(packet.Message))
	return packet.AppendEvent(dst, r.sioNsp, id, 0, r.cfg.Event, r.sioArg)
}

// sioFrame handles a data frame on a Socket.IO connection, gathering a
// fragmented message. Called on the loop.
func (c *conn) sioFrame(h codec.Header, p []byte) {
	s := c.sio
	if h.OpCode != codec.OpContinuation {
		s.binary = h.OpCode == codec.OpBinary
	}
	if !h.Fin {
		s.msg = append(s.msg, p...)
		return
	}
	if len(s.msg) > 0 {
		s.msg = append(s.msg, p...)
		p = s.msg
	}
	c.sioMessage(p)
	s.msg = s.msg[:0]
}

// sioMessage handles a message from the server: one Engine.IO packet.
// Called on the loop.
func (c *conn) sioMessage(m []byte) {
	l := c.loop
	r := l.run
	p := packet.Packet{Type: packet.Message, Data: m, Binary: true}
	if !c.sio.binary {
		var err error
		if p, err = packet.ParseText(m); err != nil {
			c.lost("socketio: " + err.Error())
			return
		}
	}
	a, at, reason := c.sio.handle(p, r.sioNsp, &l.parser)
	switch a {
	case sioConnect:
		l.body = r.appendSIOConnect(l.body[:0])
		c.sendText(l.body)
	case sioPong:
		l.body = append(append(l.body[:0], byte(packet.Pong)), p.Data...)
		c.sendText(l.body)
	case sioJoined:
		c.ready(r.nanos())
	case sioAcked:
		now := r.nanos()
		d := time.Duration(now - at)
		l.s.received++
		l.s.latency.Record(d)
		l.s.second.Record(d)
		if r.cfg.Rate == 0 && c.state == cOpen && !r.stopping.Load() {
			c.send(now) // closed loop: the next one
		}
	case sioRefused:
		c.refused(reason)
	case sioEnded, sioBroken:
		c.lost(reason)
	case sioStray:
		l.fail(reason)
	}
}

// sioSend emits one event, meant to go at run nanos at. Called on the
// loop.
func (c *conn) sioSend(at int64) {
	l := c.loop
	l.body = l.run.appendSIOEvent(l.body[:0], c.sio.emit(at))
	c.sendText(l.body)
	l.s.sent++
}
