package packet

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/valyala/fastjson"
)

// The packets of the Engine.IO protocol document, over WebSocket: every
// example, both ways.
func TestTextSpec(t *testing.T) {
	for _, c := range []struct {
		wire string
		p    Packet
	}{
		{"4hello", Packet{Type: Message, Data: []byte("hello")}},
		{"2", Packet{Type: Ping}},
		{"3", Packet{Type: Pong}},
		{"2probe", Packet{Type: Ping, Data: []byte("probe")}},
		{"3probe", Packet{Type: Pong, Data: []byte("probe")}},
		{"5", Packet{Type: Upgrade}},
		{"6", Packet{Type: Noop}},
		{"1", Packet{Type: Close}},
		{`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
			Packet{Type: Open, Data: []byte(`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`)}},
		{`42["hello"]`, Packet{Type: Message, Data: []byte(`42["hello"]`)[1:]}},
		{"4€", Packet{Type: Message, Data: []byte("€")}},
	} {
		p, err := ParseText([]byte(c.wire))
		if err != nil || !samePacket(p, c.p) {
			t.Errorf("ParseText(%q) = %+v, %v; want %+v", c.wire, p, err, c.p)
		}
		if got := AppendText(nil, c.p); string(got) != c.wire {
			t.Errorf("AppendText(%+v) = %q; want %q", c.p, got, c.wire)
		}
	}
}

func TestTextErrors(t *testing.T) {
	for _, c := range []struct {
		wire string
		err  error
	}{
		{"", ErrEmpty},
		{"7", ErrType},
		{"bAQIDBA==", ErrType}, // the polling form
		{"/", ErrType},
		{"\x1e4", ErrType},
	} {
		if _, err := ParseText([]byte(c.wire)); !errors.Is(err, c.err) {
			t.Errorf("ParseText(%q) = %v; want %v", c.wire, err, c.err)
		}
	}
}

// TestTextAliases: the data is the frame's, not a copy.
func TestTextAliases(t *testing.T) {
	b := []byte("4abc")
	p, err := ParseText(b)
	if err != nil || &p.Data[0] != &b[1] {
		t.Fatalf("ParseText: %+v %v, data not in the frame", p, err)
	}
}

func TestAppendTextBinary(t *testing.T) {
	got := AppendText([]byte("x"), Packet{Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true})
	if string(got) != "xbAQIDBA==" {
		t.Fatalf("AppendText binary = %q", got)
	}
}

func samePacket(a, b Packet) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

// split is SplitPayload's packets, copied.
func split(body string, max int) ([]Packet, error) {
	var ps []Packet
	_, err := SplitPayload([]byte(body), nil, max, func(p Packet) error {
		p.Data = bytes.Clone(p.Data)
		ps = append(ps, p)
		return nil
	})
	return ps, err
}

// The payloads of both protocol documents, both ways.
func TestPayloadSpec(t *testing.T) {
	msg := func(s string) Packet { return Packet{Type: Message, Data: []byte(s)} }
	for _, c := range []struct {
		body string
		ps   []Packet
	}{
		{"4hello\x1e2\x1e4world", []Packet{msg("hello"), {Type: Ping}, msg("world")}},
		{"4hello\x1ebAQIDBA==", []Packet{msg("hello"), {Type: Message, Data: []byte{1, 2, 3, 4}, Binary: true}}},
		{`0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`,
			[]Packet{{Type: Open, Data: []byte(`{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}`)}}},
		{"40", []Packet{msg("0")}},
		{`40{"sid":"wZX3oN0bSVIhsaknAAAI"}`, []Packet{msg(`0{"sid":"wZX3oN0bSVIhsaknAAAI"}`)}},
		{`42["hey","Jude"]`, []Packet{msg(`2["hey","Jude"]`)}},
		{"42[\"hello\"]\x1e42[\"world\"]", []Packet{msg(`2["hello"]`), msg(`2["world"]`)}},
		{"6", []Packet{{Type: Noop}}},
		{"b", []Packet{{Type: Message, Data: []byte{}, Binary: true}}},
		{"bAQ==\x1ebAQI=\x1e4x\x1ebAQID", []Packet{
			{Type: Message, Data: []byte{1}, Binary: true}, {Type: Message, Data: []byte{1, 2}, Binary: true},
			msg("x"), {Type: Message, Data: []byte{1, 2, 3}, Binary: true}}},
	} {
		ps, err := split(c.body, 16)
		if err != nil || len(ps) != len(c.ps) {
			t.Errorf("SplitPayload(%q) = %+v, %v; want %+v", c.body, ps, err, c.ps)
			continue
		}
		for i := range ps {
			if !samePacket(ps[i], c.ps[i]) {
				t.Errorf("SplitPayload(%q)[%d] = %+v; want %+v", c.body, i, ps[i], c.ps[i])
			}
		}
		var body []byte
		for _, p := range c.ps {
			body = AppendPayload(body, p)
		}
		if string(body) != c.body {
			t.Errorf("AppendPayload(%+v) = %q; want %q", c.ps, body, c.body)
		}
	}
}

func TestPayloadErrors(t *testing.T) {
	for _, c := range []struct {
		body string
		max  int
		err  error
	}{
		{"", 4, ErrEmpty},
		{"4hello\x1e", 4, ErrEmpty},         // a trailing separator
		{"\x1e4hello", 4, ErrEmpty},         // a leading one
		{"4a\x1e\x1e4b", 4, ErrEmpty},       // two in a row
		{"4a\x1e4b\x1e4c", 2, ErrTooMany},   // over the limit
		{"4a", 0, nil},                      // a limit below 1 is 1
		{"4a\x1e4b", 0, ErrTooMany},         //
		{"9a", 4, ErrType},                  //
		{"4a\x1eX", 4, ErrType},             //
		{"bAQIDBA=", 4, ErrBase64},          // short
		{"bAQIDB===", 4, ErrBase64},         // too much padding
		{"bAQIDBA", 4, ErrBase64},           // no padding
		{"bAQID\nBA==", 4, ErrBase64},       // a line break, which the decoder would skip
		{"bAQIDBA\r==", 4, ErrBase64},       //
		{"bAQ-_BA==", 4, ErrBase64},         // the URL alphabet
		{"bAR==", 4, ErrBase64},             // bits in the padding
		{"bAQ==AQ==", 4, ErrBase64},         // data after the padding
		{"b====", 4, ErrBase64},             //
		{"4\xff", 4, ErrUTF8},               //
		{"4a\x1e4\xed\xa0\x80", 4, ErrUTF8}, // a surrogate
		{"4\xe2\x82", 4, ErrUTF8},           // cut short
	} {
		called := 0
		_, err := SplitPayload([]byte(c.body), nil, c.max, func(Packet) error { called++; return nil })
		if !errors.Is(err, c.err) {
			t.Errorf("SplitPayload(%q, max %d) = %v; want %v", c.body, c.max, err, c.err)
		}
		if err != nil && called > 0 {
			t.Errorf("SplitPayload(%q): f called %d times before the error", c.body, called)
		}
	}
}

// TestPayloadStops: f's error ends the payload, and is returned.
func TestPayloadStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	_, err := SplitPayload([]byte("4a\x1e4b\x1e4c"), nil, 8, func(Packet) error {
		n++
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Fatalf("SplitPayload = %v after %d packets; want stop after 2", err, n)
	}
}

// TestPayloadScratch: binary packets are decoded into the scratch given,
// from its start, and it comes back for the next call.
func TestPayloadScratch(t *testing.T) {
	scratch := make([]byte, 3, 64)
	var datas [][]byte
	out, err := SplitPayload([]byte("bAQI=\x1e4x\x1ebAwQF"), scratch, 8, func(p Packet) error {
		datas = append(datas, p.Data)
		return nil
	})
	if err != nil || &out[:1][0] != &scratch[:1][0] || string(out) != "\x01\x02\x03\x04\x05" {
		t.Fatalf("scratch = %q, %v", out, err)
	}
	if &datas[0][0] != &scratch[:1][0] || cap(datas[0]) != 2 {
		t.Fatalf("the first binary packet is not at the start of scratch, capped: %v", datas)
	}
}

func TestHandshake(t *testing.T) {
	spec := `{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
	want := Handshake{SID: "lv_VI97HAXpY6yYWAAAC", Upgrades: []string{"websocket"}, PingInterval: 25 * time.Second,
		PingTimeout: 20 * time.Second, MaxPayload: 1000000}
	var jp fastjson.Parser
	h, err := ParseHandshake([]byte(spec), &jp)
	if err != nil || fmt.Sprint(h) != fmt.Sprint(want) {
		t.Fatalf("ParseHandshake = %+v, %v; want %+v", h, err, want)
	}
	if got := AppendHandshake(nil, want); string(got) != spec {
		t.Fatalf("AppendHandshake = %s; want %s", got, spec)
	}
	ws := Handshake{SID: `a"b`, PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1e6}
	got := AppendHandshake(nil, ws)
	if string(got) != `{"sid":"a\"b","upgrades":[],"pingInterval":300,"pingTimeout":200,"maxPayload":1000000}` {
		t.Fatalf("AppendHandshake = %s", got)
	}
	if h, err := ParseHandshake(got, &jp); err != nil || h.SID != `a"b` || len(h.Upgrades) != 0 {
		t.Fatalf("ParseHandshake(%s) = %+v, %v", got, h, err)
	}
	for _, bad := range []string{
		``, `[]`, ` {}`, `{}`,
		`{"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":"","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":1,"upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":"s","upgrades":[1],"pingInterval":1,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":"s","upgrades":"websocket","pingInterval":1,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":"s","upgrades":[],"pingInterval":-1,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":"s","upgrades":[],"pingInterval":1.5,"pingTimeout":1,"maxPayload":1}`,
		`{"sid":"s","upgrades":[],"pingInterval":"1","pingTimeout":1,"maxPayload":1}`,
		`{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":9223372036855,"maxPayload":1}`,
		`{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":1}`,
		`{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":NaN}`,
		`{"sid":"s","upgrades":[],"pingInterval":1,"pingTimeout":1,"maxPayload":1}x`,
	} {
		if _, err := ParseHandshake([]byte(bad), &jp); !errors.Is(err, ErrHandshake) {
			t.Errorf("ParseHandshake(%s) = %v; want ErrHandshake", bad, err)
		}
	}
}

func TestTypeString(t *testing.T) {
	if Message.String() != "message" || Noop.String() != "noop" || Type('x').String() != "Type(x)" {
		t.Fatal(Message.String(), Noop.String(), Type('x').String())
	}
	if BinaryAck.String() != "BINARY_ACK" || Connect.String() != "CONNECT" || SType(0).String() != "SType(\x00)" {
		t.Fatal(BinaryAck.String(), Connect.String())
	}
}
