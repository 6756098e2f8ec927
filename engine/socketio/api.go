package socketio

import (
	"encoding/json"
	"errors"
	"math"
	"net"
	"strconv"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/engine/socketio/packet"
	"github.com/wssd/wssd/security"
)

// Namespace is one of the server's namespaces: what happens when a
// client connects to it, and the events its sockets handle. Its handlers
// are set before the server starts, and called on the socket's loop, one
// at a time per socket; like every handler on the loops they must not
// block.
type Namespace struct {
	s            *Server
	name         string
	onConnect    func(*Socket)
	onDisconnect func(*Socket, string)
	events       map[string]EventHandler
	any          EventHandler
}

// EventHandler handles an event: name, its arguments, and ack, which
// answers it when the client asked for an answer (nil when it did not).
// args is valid only until the handler returns.
type EventHandler func(so *Socket, name string, args Args, ack Ack)

// Ack answers an event with args (see Socket.Emit for what they may be).
// It may be called once, on the socket's loop, while the handler runs or
// later.
type Ack func(args ...any) error

// AckHandler takes the client's answer to an event the server emitted.
// args is valid only until it returns.
type AckHandler func(args Args)

// Name returns the namespace's name ("/" for the main one).
func (n *Namespace) Name() string { return n.name }

// OnConnection sets what is called when a socket has connected.
func (n *Namespace) OnConnection(f func(so *Socket)) { n.onConnect = f }

// OnDisconnect sets what is called when a socket has gone, with why:
// "client namespace disconnect", "server namespace disconnect", "transport
// close", "transport error", "ping timeout", "parse error", "rate limit
// exceeded", "slow consumer" or "server shutting down".
func (n *Namespace) OnDisconnect(f func(so *Socket, reason string)) { n.onDisconnect = f }

// On sets the handler of the event called name.
func (n *Namespace) On(name string, h EventHandler) {
	if packet.IsReserved([]byte(name)) {
		panic("socketio: " + name + " is a reserved event name")
	}
	n.events[name] = h
}

// OnAny sets the handler of the events that have none of their own.
func (n *Namespace) OnAny(h EventHandler) { n.any = h }

// Socket is a client connected to a namespace. Its methods are called on
// its loop: in the namespace's handlers, or in what they schedule there.
type Socket struct {
	ss   *session
	nsp  *Namespace
	id   string
	auth []byte

	// Data is the application's, for its own state.
	Data any
}

// ID returns the socket's id, unguessable, which the client sees too.
func (so *Socket) ID() string { return so.id }

// Namespace returns the socket's namespace.
func (so *Socket) Namespace() *Namespace { return so.nsp }

// Auth returns the auth object the client connected with, as JSON; nil
// without one.
func (so *Socket) Auth() []byte { return so.auth }

// Identity returns what the client's token says (from the handshake
// request or the auth object's "token"); nil when the server has no
// engine Config.Auth.
func (so *Socket) Identity() *security.Identity { return so.ss.id }

// RemoteAddr returns the address of the client's first request.
func (so *Socket) RemoteAddr() net.Addr { return so.ss.remote }

// Transport returns "polling" or "websocket".
func (so *Socket) Transport() string {
	if so.ss.state == tWebSocket {
		return "websocket"
	}
	return "polling"
}

// Connected reports whether the socket is still connected.
func (so *Socket) Connected() bool {
	return so.ss.state != tClosed && so.ss.socket([]byte(so.nsp.name)) == so
}

// ErrDisconnected is returned by what is asked of a socket that has gone.
var ErrDisconnected = errors.New("socketio: socket disconnected")

// Emit sends the event name with args. An argument may be a string, a
// bool, an integer or a float, nil, a []byte (sent as a binary
// attachment), a json.RawMessage (sent as it is: one JSON value), the
// Args of an event (each of them, attachments included), or anything
// encoding/json marshals.
func (so *Socket) Emit(name string, args ...any) error {
	return so.emit(name, -1, args)
}

// EmitWithAck sends the event name with args, asking the client to
// answer it: ack is called with the answer.
func (so *Socket) EmitWithAck(name string, ack AckHandler, args ...any) error {
	ss := so.ss
	if ss.acks == nil {
		ss.acks = map[uint64]AckHandler{}
	}
	id := ss.nextAck
	ss.nextAck++
	if err := so.emit(name, int64(id), args); err != nil {
		return err
	}
	ss.acks[id] = ack
	return nil
}

func (so *Socket) emit(name string, id int64, args []any) error {
	if !so.Connected() {
		return ErrDisconnected
	}
	if packet.IsReserved([]byte(name)) {
		return errors.New("socketio: " + name + " is a reserved event name")
	}
	ls := so.ss.ls
	body, atts, err := appendArgs(ls.args[:0], ls.atts[:0], args)
	ls.args, ls.atts = body, atts
	if err != nil {
		return err
	}
	ls.pkt = packet.AppendEvent(ls.pkt[:0], []byte(so.nsp.name), id, len(atts), name, body)
	so.send(ls.pkt, atts)
	ls.counts.eventsOut++
	return nil
}

// send writes a packet and its attachments. Called on the home loop.
func (so *Socket) send(pkt []byte, atts [][]byte) {
	ss := so.ss
	ss.sendText(pkt)
	for _, a := range atts {
		ss.sendPacket(packet.Packet{Type: packet.Message, Data: a, Binary: true})
	}
	clear(atts)
}

// ackFunc returns the answer to the client's event id.
func (so *Socket) ackFunc(id uint64) Ack {
	done := false
	return func(args ...any) error {
		if done {
			return errors.New("socketio: acknowledged already")
		}
		done = true
		if !so.Connected() {
			return ErrDisconnected
		}
		ls := so.ss.ls
		body, atts, err := appendArgs(ls.args[:0], ls.atts[:0], args)
		ls.args, ls.atts = body, atts
		if err != nil {
			return err
		}
		ls.pkt = packet.AppendAck(ls.pkt[:0], []byte(so.nsp.name), int64(id), len(atts), body)
		so.send(ls.pkt, atts)
		return nil
	}
}

// Disconnect disconnects the socket: the client is told, and the
// namespace's OnDisconnect sees "server namespace disconnect". For the
// main namespace, the session ends.
func (so *Socket) Disconnect() {
	ss := so.ss
	if !so.Connected() {
		return
	}
	ls := ss.ls
	ls.pkt = packet.AppendSocket(ls.pkt[:0], packet.SPacket{Type: packet.Disconnect, Namespace: []byte(so.nsp.name), ID: -1})
	ss.sendText(ls.pkt)
	if so == ss.main {
		ss.disconnect(so, "server namespace disconnect")
		ss.close("server namespace disconnect")
		return
	}
	ss.disconnect(so, "server namespace disconnect")
}

// Args are the arguments of an event or an ack, as the client sent them:
// JSON values, in which attachments stand as placeholders. They are valid
// only until the handler they were given to returns.
type Args struct {
	vals []*fastjson.Value
	atts [][]byte
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.vals) }

// Value returns argument i, parsed; nil past the last.
func (a Args) Value(i int) *fastjson.Value {
	if i < 0 || i >= len(a.vals) {
		return nil
	}
	return a.vals[i]
}

// String returns argument i if it is a string, and "" if not.
func (a Args) String(i int) string { return string(a.Value(i).GetStringBytes()) }

// Bytes returns the attachment argument i stands for, and nil if it is
// not one.
func (a Args) Bytes(i int) []byte { return a.Attachment(a.Value(i)) }

// Attachment returns the attachment v, a value inside the arguments,
// stands for, and nil if it is no placeholder.
func (a Args) Attachment(v *fastjson.Value) []byte {
	num, ok := packet.Placeholder(v)
	if !ok || num < 0 || num >= len(a.atts) {
		return nil
	}
	return a.atts[num]
}

// Raw appends argument i as JSON to dst, placeholders included.
func (a Args) Raw(dst []byte, i int) []byte {
	if v := a.Value(i); v != nil {
		return appendJSON(dst, v)
	}
	return dst
}

// Decode unmarshals argument i into v with encoding/json.
func (a Args) Decode(i int, v any) error {
	if a.Value(i) == nil {
		return errors.New("socketio: no argument " + strconv.Itoa(i))
	}
	return json.Unmarshal(a.Raw(nil, i), v)
}

// appendArgs appends args as JSON values separated by commas, and their
// attachments.
func appendArgs(dst []byte, atts [][]byte, args []any) ([]byte, [][]byte, error) {
	for i, arg := range args {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, atts, err = appendArg(dst, atts, arg); err != nil {
			return dst, atts, err
		}
	}
	return dst, atts, nil
}

func appendArg(dst []byte, atts [][]byte, arg any) ([]byte, [][]byte, error) {
	switch v := arg.(type) {
	case nil:
		return append(dst, "null"...), atts, nil
	case string:
		return packet.AppendString(dst, v), atts, nil
	case bool:
		return strconv.AppendBool(dst, v), atts, nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), atts, nil
	case int64:
		return strconv.AppendInt(dst, v, 10), atts, nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), atts, nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return append(dst, "null"...), atts, nil // as JSON.stringify
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), atts, nil
	case []byte:
		if len(atts) >= packet.MaxAttachments {
			return dst, atts, errors.New("socketio: too many binary arguments")
		}
		dst = packet.AppendPlaceholder(dst, len(atts))
		return dst, append(atts, v), nil
	case json.RawMessage:
		if err := fastjson.ValidateBytes(v); err != nil {
			return dst, atts, err
		}
		return append(dst, v...), atts, nil
	case Args:
		for i, val := range v.vals {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, val, v.atts, &atts)
		}
		return dst, atts, nil
	case *fastjson.Value:
		return appendJSON(dst, v), atts, nil
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return dst, atts, err
		}
		return append(dst, b...), atts, nil
	}
}

// appendJSON appends v as JSON. fastjson's own MarshalTo is not used: it
// escapes strings as Go does (\x01), which JSON is not.
func appendJSON(dst []byte, v *fastjson.Value) []byte { return appendValue(dst, v, nil, nil) }

// appendValue appends v, with its placeholders renumbered for the
// attachments in from they stand for, which are added to *atts (from nil:
// placeholders are values like others).
func appendValue(dst []byte, v *fastjson.Value, from [][]byte, atts *[][]byte) []byte {
	if num, ok := packet.Placeholder(v); ok && from != nil && num >= 0 && num < len(from) {
		dst = packet.AppendPlaceholder(dst, len(*atts))
		*atts = append(*atts, from[num])
		return dst
	}
	switch v.Type() {
	case fastjson.TypeArray:
		arr, _ := v.Array()
		dst = append(dst, '[')
		for i, e := range arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendValue(dst, e, from, atts)
		}
		return append(dst, ']')
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		o.Visit(func(k []byte, e *fastjson.Value) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = packet.AppendString(dst, string(k))
			dst = append(dst, ':')
			dst = appendValue(dst, e, from, atts)
		})
		return append(dst, '}')
	case fastjson.TypeString:
		return packet.AppendString(dst, string(v.GetStringBytes()))
	}
	return v.MarshalTo(dst) // numbers as they were written, true, false, null
}
