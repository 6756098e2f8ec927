package packet

import (
	"strconv"
	"time"

	"github.com/valyala/fastjson"
)

// Handshake is the data of the open packet, the server's first:
//
//	{"sid":"…","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}
type Handshake struct {
	SID          string        // the session id, sent back by the client as the sid query parameter
	Upgrades     []string      // the transports the client may upgrade to: ["websocket"] on polling, none on WebSocket
	PingInterval time.Duration // how often the server pings; whole milliseconds on the wire
	PingTimeout  time.Duration // how long the server waits for the pong
	MaxPayload   int64         // the most bytes the client may put in one polling payload
}

// AppendHandshake appends h as the open packet's data (JSON, without the
// packet type). The durations are written in whole milliseconds; the sid
// and the upgrades as JSON strings.
func AppendHandshake(dst []byte, h Handshake) []byte {
	dst = append(dst, `{"sid":`...)
	dst = AppendString(dst, h.SID)
	dst = append(dst, `,"upgrades":[`...)
	for i, u := range h.Upgrades {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, u)
	}
	dst = append(dst, `],"pingInterval":`...)
	dst = strconv.AppendInt(dst, h.PingInterval.Milliseconds(), 10)
	dst = append(dst, `,"pingTimeout":`...)
	dst = strconv.AppendInt(dst, h.PingTimeout.Milliseconds(), 10)
	dst = append(dst, `,"maxPayload":`...)
	dst = strconv.AppendInt(dst, h.MaxPayload, 10)
	return append(dst, '}')
}

// maxMillis is the most milliseconds a time.Duration holds.
const maxMillis = int64(1<<63-1) / int64(time.Millisecond)

// ParseHandshake parses the open packet's data with jp. All five fields
// are required: sid a non-empty string, upgrades an array of strings,
// the others integers from 0 (the durations at most what a
// time.Duration holds). Other fields are ignored. It allocates the sid
// and the upgrades: a client calls it once a session.
func ParseHandshake(data []byte, jp *fastjson.Parser) (Handshake, error) {
	var h Handshake
	if len(data) == 0 || data[0] != '{' {
		return h, ErrHandshake
	}
	v, err := jp.ParseBytes(data)
	if err != nil || fastjson.ValidateBytes(data) != nil {
		return h, ErrHandshake
	}
	sid := v.Get("sid")
	if sid == nil || sid.Type() != fastjson.TypeString || len(sid.GetStringBytes()) == 0 {
		return h, ErrHandshake
	}
	h.SID = string(sid.GetStringBytes())
	ups := v.Get("upgrades")
	if ups == nil || ups.Type() != fastjson.TypeArray {
		return h, ErrHandshake
	}
	for _, u := range ups.GetArray() {
		s, err := u.StringBytes()
		if err != nil {
			return Handshake{}, ErrHandshake
		}
		h.Upgrades = append(h.Upgrades, string(s))
	}
	interval, ok1 := nonNegative(v.Get("pingInterval"), maxMillis)
	timeout, ok2 := nonNegative(v.Get("pingTimeout"), maxMillis)
	maxPayload, ok3 := nonNegative(v.Get("maxPayload"), 1<<63-1)
	if !ok1 || !ok2 || !ok3 {
		return Handshake{}, ErrHandshake
	}
	h.PingInterval = time.Duration(interval) * time.Millisecond
	h.PingTimeout = time.Duration(timeout) * time.Millisecond
	h.MaxPayload = maxPayload
	return h, nil
}

// nonNegative is v as an integer from 0 to most, if it is one, written
// with digits only.
func nonNegative(v *fastjson.Value, most int64) (int64, bool) {
	if v == nil || v.Type() != fastjson.TypeNumber {
		return 0, false
	}
	n, err := strconv.ParseInt(v.String(), 10, 64)
	if err != nil || n < 0 || n > most {
		return 0, false
	}
	return n, true
}
