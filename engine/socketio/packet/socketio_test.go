package packet

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/valyala/fastjson"
)

func sp(t SType, nsp string, id int64, att int, data string) SPacket {
	p := SPacket{Type: t, Namespace: []byte(nsp), ID: id, Attachments: att}
	if data != "" {
		p.Data = []byte(data)
	}
	return p
}

func sameSPacket(a, b SPacket) bool {
	return a.Type == b.Type && string(a.Namespace) == string(b.Namespace) && a.ID == b.ID &&
		a.Attachments == b.Attachments && bytes.Equal(a.Data, b.Data)
}

// The packets of the Socket.IO protocol document: every example of its
// packet encoding, exchanges and sample session, both ways.
func TestSocketSpec(t *testing.T) {
	for _, c := range []struct {
		wire string
		p    SPacket
	}{
		// Packet encoding
		{`0`, sp(Connect, "/", -1, 0, "")},
		{`0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, sp(Connect, "/admin", -1, 0, `{"sid":"oSO0OpakMV_3jnilAAAA"}`)},
		{`4{"message":"Not authorized"}`, sp(ConnectError, "/", -1, 0, `{"message":"Not authorized"}`)},
		{`2["foo"]`, sp(Event, "/", -1, 0, `["foo"]`)},
		{`2/admin,["bar"]`, sp(Event, "/admin", -1, 0, `["bar"]`)},
		{`51-["baz",{"_placeholder":true,"num":0}]`, sp(BinaryEvent, "/", -1, 1, `["baz",{"_placeholder":true,"num":0}]`)},
		{`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
			sp(BinaryEvent, "/admin", -1, 2, `["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)},
		{`212["foo"]`, sp(Event, "/", 12, 0, `["foo"]`)},
		{`3/admin,13["bar"]`, sp(Ack, "/admin", 13, 0, `["bar"]`)},
		{`61-15["bar",{"_placeholder":true,"num":0}]`, sp(BinaryAck, "/", 15, 1, `["bar",{"_placeholder":true,"num":0}]`)},
		{`1`, sp(Disconnect, "/", -1, 0, "")},
		{`1/admin,`, sp(Disconnect, "/admin", -1, 0, "")},
		// Exchanges
		{`0/admin,`, sp(Connect, "/admin", -1, 0, "")},
		{`0/admin,{"token":"123"}`, sp(Connect, "/admin", -1, 0, `{"token":"123"}`)},
		{`0/admin,{"sid":"iLnRaVGHY4B75TeVAAAB"}`, sp(Connect, "/admin", -1, 0, `{"sid":"iLnRaVGHY4B75TeVAAAB"}`)},
		{`0{"sid":"wZX3oN0bSVIhsaknAAAI"}`, sp(Connect, "/", -1, 0, `{"sid":"wZX3oN0bSVIhsaknAAAI"}`)},
		{`312[]`, sp(Ack, "/", 12, 0, `[]`)},
		{`2/admin,13["foo"]`, sp(Event, "/admin", 13, 0, `["foo"]`)},
		{`215["foo"]`, sp(Event, "/", 15, 0, `["foo"]`)},
		{`61-15["bar",{"_placeholder":true,"num":0}]`, sp(BinaryAck, "/", 15, 1, `["bar",{"_placeholder":true,"num":0}]`)},
		{`51-14["foo",{"_placeholder":true,"num":0}]`, sp(BinaryEvent, "/", 14, 1, `["foo",{"_placeholder":true,"num":0}]`)},
		// Sample session
		{`2["hey","Jude"]`, sp(Event, "/", -1, 0, `["hey","Jude"]`)},
		{`2["hello"]`, sp(Event, "/", -1, 0, `["hello"]`)},
		{`2["world"]`, sp(Event, "/", -1, 0, `["world"]`)},
		{`0/admin,{"sid":"-G5j-67EZFp-q59rADQM"}`, sp(Connect, "/admin", -1, 0, `{"sid":"-G5j-67EZFp-q59rADQM"}`)},
		{`2/admin,1["tellme"]`, sp(Event, "/admin", 1, 0, `["tellme"]`)},
		{`61-/admin,1[{"_placeholder":true,"num":0}]`, sp(BinaryAck, "/admin", 1, 1, `[{"_placeholder":true,"num":0}]`)},
		// Others
		{`20["x"]`, sp(Event, "/", 0, 0, `["x"]`)},
		{`29007199254740991["x"]`, sp(Event, "/", MaxID, 0, `["x"]`)},
		{`2/a/b c,["x",1,{"a":[null,true,false,-1.5e3]}]`, sp(Event, "/a/b c", -1, 0, `["x",1,{"a":[null,true,false,-1.5e3]}]`)},
		{`2["\u0063onnectx"]`, sp(Event, "/", -1, 0, `["\u0063onnectx"]`)},
		{`3/ns,0[]`, sp(Ack, "/ns", 0, 0, `[]`)},
		{`510-["x",` + placeholders(10) + `]`, sp(BinaryEvent, "/", -1, 10, `["x",`+placeholders(10)+`]`)},
	} {
		var jp fastjson.Parser
		p, v, err := ParseSocket([]byte(c.wire), DefaultMaxAttachments, &jp)
		if err != nil || !sameSPacket(p, c.p) {
			t.Errorf("ParseSocket(%s) = %+v, %v; want %+v", c.wire, p, err, c.p)
			continue
		}
		if (v == nil) != (len(c.p.Data) == 0) {
			t.Errorf("ParseSocket(%s): value %v", c.wire, v)
		}
		if got := AppendSocket(nil, c.p); string(got) != c.wire {
			t.Errorf("AppendSocket(%+v) = %s; want %s", c.p, got, c.wire)
		}
	}
}

// placeholders is n placeholders, comma separated, numbered from 0.
func placeholders(n int) string {
	var b []byte
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendPlaceholder(b, i)
	}
	return string(b)
}

// The main namespace written out is the main namespace; an empty one is
// written as none.
func TestSocketMainNamespace(t *testing.T) {
	var jp fastjson.Parser
	p, _, err := ParseSocket([]byte(`2/,["x"]`), 1, &jp)
	if err != nil || string(p.Namespace) != "/" {
		t.Fatalf("ParseSocket(2/,) = %+v, %v", p, err)
	}
	if got := AppendSocket(nil, p); string(got) != `2["x"]` {
		t.Fatalf("AppendSocket = %s", got)
	}
	if got := AppendSocket(nil, SPacket{Type: Connect, ID: -1}); string(got) != `0` {
		t.Fatalf("AppendSocket, no namespace = %s", got)
	}
	if got := append(p.Namespace, 'x'); &got[0] == &mainNamespace[0] || string(mainNamespace) != "/" {
		t.Fatal("an append to the main namespace writes to it")
	}
}

func TestSocketErrors(t *testing.T) {
	for _, c := range []struct {
		wire string
		err  error
	}{
		{``, ErrEmpty},
		{`7`, ErrType},
		{`a["x"]`, ErrType},
		// attachments
		{`5["x"]`, ErrAttachments},
		{`5-["x"]`, ErrAttachments},
		{`50-["x"]`, ErrAttachments},
		{`501-["x",{"_placeholder":true,"num":0}]`, ErrAttachments},
		{`511-["x"]`, ErrAttachments}, // over the caller's 10
		{`51000-["x"]`, ErrAttachments},
		{`51`, ErrAttachments},
		{`51["x"]`, ErrAttachments},
		{`5-1-["x"]`, ErrAttachments},
		// namespace
		{`2/admin`, ErrNamespace},
		{`2/admin["x"]`, ErrNamespace},
		{`0/admin`, ErrNamespace},
		{`1/`, ErrNamespace},
		// id
		{`2012["x"]`, ErrID},                  // a leading zero
		{`29007199254740992["x"]`, ErrID},     // over MaxID
		{`212345678901234567["x"]`, ErrID},    // 17 digits
		{`299999999999999999999["x"]`, ErrID}, // over int64
		{`3["x"]`, ErrID},                     // an ack without one
		{`3/a,["x"]`, ErrID},                  //
		{`01`, ErrID},                         // a connect with one
		{`01{}`, ErrID},                       //
		{`11`, ErrID},                         //
		{`41{"message":"m"}`, ErrID},          //
		// data of the wrong form
		{`0[]`, ErrData},
		{`0"x"`, ErrData},
		{`0 {}`, ErrData},
		{`0{} `, ErrData},
		{`1{}`, ErrData},
		{`1/a,{}`, ErrData},
		{`2`, ErrData},
		{`21`, ErrData},
		{`2{"x":1}`, ErrData},
		{`2"x"`, ErrData},
		{`2[]`, ErrData},
		{`2 ["x"]`, ErrData},
		{`2["x"] `, ErrData},
		{`2["x"]]`, ErrJSON},
		{`31`, ErrData},
		{`31{}`, ErrData},
		{`4`, ErrData},
		{`4"Not authorized"`, ErrData}, // the v4 form, which the reference still takes
		{`4[]`, ErrData},
		{`2-1["x"]`, ErrData},
		// JSON
		{`2["x",]`, ErrJSON},
		{`2["x"}]`, ErrJSON},
		{`2["x",NaN]`, ErrJSON},
		{`2["x",01]`, ErrJSON},
		{`2["x",1.]`, ErrJSON},
		{`2["x","\q"]`, ErrJSON},
		{"2[\"x\",\"\x01\"]", ErrJSON},
		{`2["x"],["y"]`, ErrJSON},
		{`2["x"][]`, ErrJSON},
		{`0{"a":1}{}`, ErrJSON},
		{`0{'a':1}`, ErrJSON},
		{`2[` + strings.Repeat("[", 400) + strings.Repeat("]", 400) + `]`, ErrJSON},
		// event names
		{`2[1]`, ErrEventName}, // the reference takes a number
		{`2[null]`, ErrEventName},
		{`2[["x"]]`, ErrEventName},
		{`2[{"a":1}]`, ErrEventName},
		{`2["connect"]`, ErrReserved},
		{`2/a,["disconnect",1]`, ErrReserved},
		{`2["\u0063onnect"]`, ErrReserved},
		{`2["newListener"]`, ErrReserved},
		{`51-["removeListener",{"_placeholder":true,"num":0}]`, ErrReserved},
		// placeholders
		{`51-["x"]`, ErrPlaceholder},
		{`51-["x",{"_placeholder":true,"num":1}]`, ErrPlaceholder},
		{`51-["x",{"_placeholder":true,"num":-1}]`, ErrPlaceholder},
		{`51-["x",{"_placeholder":true,"num":0.5}]`, ErrPlaceholder},
		{`51-["x",{"_placeholder":true,"num":"0"}]`, ErrPlaceholder},
		{`51-["x",{"_placeholder":true}]`, ErrPlaceholder},
		{`52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`, ErrPlaceholder},
		{`52-["x",{"_placeholder":true,"num":1}]`, ErrPlaceholder},
		{`61-1[]`, ErrPlaceholder},
	} {
		var jp fastjson.Parser
		if _, _, err := ParseSocket([]byte(c.wire), DefaultMaxAttachments, &jp); !errors.Is(err, c.err) {
			t.Errorf("ParseSocket(%.60s) = %v; want %v", c.wire, err, c.err)
		}
	}
}

// TestSocketValue: the value handed back is the data, parsed.
func TestSocketValue(t *testing.T) {
	var jp fastjson.Parser
	p, v, err := ParseSocket([]byte(`2/chat,7["say","hi",{"n":1}]`), 1, &jp)
	if err != nil {
		t.Fatal(err)
	}
	a := v.GetArray()
	if len(a) != 3 || string(a[0].GetStringBytes()) != "say" || a[2].GetInt("n") != 1 || p.ID != 7 {
		t.Fatalf("value %s, packet %+v", v, p)
	}
	if _, v, err := ParseSocket([]byte(`1/chat,`), 1, &jp); err != nil || v != nil {
		t.Fatalf("disconnect: %v, %v", v, err)
	}
}

// TestSocketAttachmentLimit: the caller's limit, and MaxAttachments over
// it.
func TestSocketAttachmentLimit(t *testing.T) {
	var jp fastjson.Parser
	wire := []byte(`53-["x",` + placeholders(3) + `]`)
	if _, _, err := ParseSocket(wire, 3, &jp); err != nil {
		t.Fatalf("3 of 3: %v", err)
	}
	if _, _, err := ParseSocket(wire, 2, &jp); !errors.Is(err, ErrAttachments) {
		t.Fatalf("3 of 2: %v", err)
	}
	if _, _, err := ParseSocket(wire, 0, &jp); !errors.Is(err, ErrAttachments) {
		t.Fatalf("3 of 0: %v", err)
	}
	wire = []byte(`5256-["x",` + placeholders(256) + `]`)
	if _, _, err := ParseSocket(wire, 1000, &jp); err != nil {
		t.Fatalf("256: %v", err)
	}
	wire = []byte(`5257-["x",` + placeholders(257) + `]`)
	if _, _, err := ParseSocket(wire, 1000, &jp); !errors.Is(err, ErrAttachments) {
		t.Fatalf("257: %v", err)
	}
}

func TestIsReserved(t *testing.T) {
	for _, name := range []string{"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"} {
		if !IsReserved([]byte(name)) {
			t.Errorf("%s is not reserved", name)
		}
	}
	for _, name := range []string{"", "Connect", "message", "connected", "error"} {
		if IsReserved([]byte(name)) {
			t.Errorf("%s is reserved", name)
		}
	}
}
