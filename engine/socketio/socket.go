package socketio

import (
	"slices"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/engine/socketio/packet"
	"github.com/wssd/wssd/security"
)

// incoming is a binary packet waiting for its attachments.
type incoming struct {
	text []byte   // the packet, copied
	atts [][]byte // the attachments so far, copied
	need int
}

// maxAttachments bounds the attachments of one packet, as the reference
// parser does by default.
const maxAttachments = packet.DefaultMaxAttachments

// onMessage takes an Engine.IO message: a Socket.IO packet, or one of the
// attachments a binary packet waits for. An invalid packet ends the
// session. Called on the home loop.
func (ss *session) onMessage(data []byte, binary bool) {
	if binary {
		in := ss.partial
		if in == nil {
			ss.refuse(refInvalid, "parse error")
			return
		}
		in.atts = append(in.atts, slices.Clone(data))
		if len(in.atts) < in.need {
			return
		}
		ss.partial = nil
		ss.onSocketPacket(in.text, in.atts)
		return
	}
	if ss.partial != nil {
		ss.refuse(refInvalid, "parse error") // text while attachments were due
		return
	}
	ss.onSocketPacket(data, nil)
}

// onSocketPacket handles a Socket.IO packet, with its attachments once
// they have all come. Called on the home loop.
func (ss *session) onSocketPacket(b []byte, atts [][]byte) {
	ls := ss.ls
	p, v, err := packet.ParseSocket(b, maxAttachments, &ls.parser)
	if err != nil {
		ss.refuse(refInvalid, "parse error")
		return
	}
	if p.Type.Binary() && atts == nil {
		ss.partial = &incoming{text: slices.Clone(b), need: p.Attachments}
		return
	}
	switch p.Type {
	case packet.Connect:
		ss.onConnect(p, v)
	case packet.Disconnect:
		if so := ss.socket(p.Namespace); so != nil {
			if so == ss.main {
				ss.close("client namespace disconnect")
				return
			}
			ss.disconnect(so, "client namespace disconnect")
		}
	case packet.Event, packet.BinaryEvent:
		so := ss.socket(p.Namespace)
		if so == nil {
			return // not connected to it: dropped, as the reference does
		}
		ls.counts.eventsIn++
		arr, _ := v.Array()
		name := arr[0].GetStringBytes()
		h := so.nsp.events[string(name)]
		if h == nil {
			h = so.nsp.any
		}
		if h == nil {
			return
		}
		args := Args{vals: arr[1:], atts: atts}
		var ack Ack
		if p.ID >= 0 {
			ack = so.ackFunc(uint64(p.ID))
		}
		h(so, string(name), args, ack)
	case packet.Ack, packet.BinaryAck:
		f := ss.acks[uint64(p.ID)]
		if f == nil {
			return
		}
		delete(ss.acks, uint64(p.ID))
		arr, _ := v.Array()
		f(Args{vals: arr, atts: atts})
	default:
		ss.refuse(refInvalid, "parse error") // a client does not send CONNECT_ERROR
	}
}

// socket returns the session's socket in namespace nsp, or nil.
func (ss *session) socket(nsp []byte) *Socket {
	for _, so := range ss.sockets {
		if so.nsp.name == string(nsp) {
			return so
		}
	}
	return nil
}

// onConnect connects the session to a namespace, or refuses it with a
// CONNECT_ERROR the client's connect_error handler sees. Called on the
// home loop.
func (ss *session) onConnect(p packet.SPacket, auth *fastjson.Value) {
	s := ss.s
	nsp := s.nsps[string(p.Namespace)]
	if nsp == nil {
		ss.connectError(p.Namespace, "Invalid namespace")
		return
	}
	if ss.socket(p.Namespace) != nil {
		return // connected already
	}
	if s.auth && ss.id == nil {
		tok := auth.GetStringBytes("token")
		id, err := s.srv.VerifyToken(tok)
		if err != nil {
			ss.ls.refused(refUnauthorized, ss.remote)
			ss.connectError(p.Namespace, "unauthorized: "+security.TokenErrorReason(err))
			return
		}
		ss.id = id
	}
	so := &Socket{ss: ss, nsp: nsp, id: newSID(0)[1:]}
	if auth != nil {
		so.auth = appendJSON(nil, auth)
	}
	ss.sockets = append(ss.sockets, so)
	if nsp.name == "/" {
		ss.main = so
	}
	if !ss.expiring {
		ss.connected()
	}
	ls := ss.ls
	b := packet.AppendSocket(ls.pkt[:0], packet.SPacket{Type: packet.Connect, Namespace: p.Namespace, ID: -1})
	b = append(b, `{"sid":`...)
	b = packet.AppendString(b, so.id)
	b = append(b, '}')
	ls.pkt = b
	ss.sendText(b)
	if nsp.onConnect != nil {
		nsp.onConnect(so)
	}
}

// connectError refuses a CONNECT. Called on the home loop.
func (ss *session) connectError(nsp []byte, message string) {
	ls := ss.ls
	b := packet.AppendSocket(ls.pkt[:0], packet.SPacket{Type: packet.ConnectError, Namespace: nsp, ID: -1})
	b = append(b, `{"message":`...)
	b = packet.AppendString(b, message)
	b = append(b, '}')
	ls.pkt = b
	ss.sendText(b)
}

// disconnect takes a socket off the session. Called on the home loop.
func (ss *session) disconnect(so *Socket, reason string) {
	i := slices.Index(ss.sockets, so)
	if i < 0 {
		return
	}
	ss.sockets = slices.Delete(ss.sockets, i, i+1)
	if so == ss.main {
		ss.main = nil
		ss.leaveRooms()
	}
	if so.nsp.onDisconnect != nil {
		so.nsp.onDisconnect(so, reason)
	}
}

// disconnectAll takes every socket off a session that ends. Called on the
// home loop.
func (ss *session) disconnectAll(reason string) {
	for len(ss.sockets) > 0 {
		ss.disconnect(ss.sockets[len(ss.sockets)-1], reason)
	}
	ss.acks = nil
	ss.partial = nil
}
