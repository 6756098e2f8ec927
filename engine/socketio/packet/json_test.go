package packet

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

func TestAppendString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", `""`},
		{"message-with-ack", `"message-with-ack"`},
		{`a"b\c/d`, `"a\"b\\c/d"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f" + `"`},
		{"héllo €😀", `"héllo €😀"`},
		{"\u2028", "\"\u2028\""}, // JSON.stringify leaves it
		{"a\xffb", `"a\ufffdb"`},
		{"\xe2\x82", `"\ufffd\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a surrogate is no UTF-8
	} {
		got := AppendString(nil, c.in)
		if string(got) != c.want {
			t.Errorf("AppendString(%q) = %s; want %s", c.in, got, c.want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil || fastjson.ValidateBytes(got) != nil {
			t.Errorf("AppendString(%q) = %s: not JSON: %v", c.in, got, err)
		} else if utf8.ValidString(c.in) && back != c.in {
			t.Errorf("AppendString(%q) reads back as %q", c.in, back)
		}
	}
}

func TestAppendEvent(t *testing.T) {
	ph := AppendPlaceholder(nil, 0)
	for _, c := range []struct {
		got  []byte
		want string
	}{
		{AppendEvent(nil, nil, -1, 0, "foo"), `2["foo"]`},
		{AppendEvent(nil, []byte("/"), 12, 0, "foo"), `212["foo"]`},
		{AppendEvent(nil, []byte("/admin"), -1, 0, "bar"), `2/admin,["bar"]`},
		{AppendEvent(nil, nil, -1, 0, "hey", []byte(`"Jude"`)), `2["hey","Jude"]`},
		{AppendEvent(nil, nil, -1, 0, "a", nil, []byte(`1,2`), []byte{}, []byte(`{}`)), `2["a",1,2,{}]`},
		{AppendEvent(nil, nil, -1, 1, "baz", ph), `51-["baz",{"_placeholder":true,"num":0}]`},
		{AppendEvent(nil, []byte("/admin"), -1, 2, "baz", ph, AppendPlaceholder(nil, 1)),
			`52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`},
		{AppendAck(nil, nil, 12, 0), `312[]`},
		{AppendAck(nil, []byte("/admin"), 13, 0, []byte(`"bar"`)), `3/admin,13["bar"]`},
		{AppendAck(nil, nil, 15, 1, []byte(`"bar"`), ph), `61-15["bar",{"_placeholder":true,"num":0}]`},
		{AppendAck(nil, []byte("/admin"), 1, 1, ph), `61-/admin,1[{"_placeholder":true,"num":0}]`},
		{AppendAck(nil, nil, 1, 0, nil, []byte(`"x"`)), `31["x"]`},
	} {
		if string(c.got) != c.want {
			t.Errorf("got %s; want %s", c.got, c.want)
		}
		var jp fastjson.Parser
		if _, _, err := ParseSocket(c.got, 2, &jp); err != nil {
			t.Errorf("%s does not parse: %v", c.got, err)
		}
	}
}

// TestArgs: the arguments as written, which AppendEvent and AppendAck
// send on unchanged: the conformance server's message-back and ack.
func TestArgs(t *testing.T) {
	for _, c := range []struct{ wire, args, echo string }{
		{`2["foo"]`, ``, `2["message-back"]`},
		{`2["hey","Jude"]`, `"Jude"`, `2["message-back","Jude"]`},
		{`2/a,5[ "x\"]," , 1 ,{"b":[2]} ]`, `1 ,{"b":[2]}`, `2/a,["message-back",1 ,{"b":[2]}]`},
		{`2["\\",true]`, `true`, `2["message-back",true]`},
		{`2["\\\"",null]`, `null`, `2["message-back",null]`},
		{`51-["baz",{"_placeholder":true,"num":0}]`, `{"_placeholder":true,"num":0}`,
			`51-["message-back",{"_placeholder":true,"num":0}]`},
		{`312[]`, ``, ``},
		{`3/admin,13["bar", 2]`, `"bar", 2`, ``},
		{`61-15["bar",{"_placeholder":true,"num":0}]`, `"bar",{"_placeholder":true,"num":0}`, ``},
		{`0/admin,{"token":"123"}`, ``, ``},
		{`1`, ``, ``},
	} {
		var jp fastjson.Parser
		p, _, err := ParseSocket([]byte(c.wire), 4, &jp)
		if err != nil {
			t.Fatalf("%s: %v", c.wire, err)
		}
		if got := p.Args(); string(got) != c.args {
			t.Errorf("Args(%s) = %q; want %q", c.wire, got, c.args)
		}
		if c.echo == "" {
			continue
		}
		if got := AppendEvent(nil, p.Namespace, -1, p.Attachments, "message-back", p.Args()); string(got) != c.echo {
			t.Errorf("echo of %s = %s; want %s", c.wire, got, c.echo)
		}
	}
	for _, p := range []SPacket{{Type: Event, Data: []byte(`["x`)}, {Type: Event, Data: []byte(`[1,2]`)},
		{Type: Event, Data: []byte(`["x\"]`)}, {Type: Event, Data: []byte(`["x" 1]`)}, {Type: Ack, Data: []byte(`]`)}} {
		if got := p.Args(); len(got) != 0 {
			t.Errorf("Args(%s) = %q on data ParseSocket refuses", p.Data, got)
		}
	}
}

func TestPlaceholder(t *testing.T) {
	var jp fastjson.Parser
	for _, c := range []struct {
		json string
		num  int
		ok   bool
	}{
		{`{"_placeholder":true,"num":0}`, 0, true},
		{`{"num":3,"_placeholder":true,"x":1}`, 3, true},
		{`{"_placeholder":true,"num":255}`, 255, true},
		{`{"_placeholder":true,"num":256}`, -1, true},
		{`{"_placeholder":true,"num":1e0}`, -1, true},
		{`{"_placeholder":true}`, -1, true},
		{`{"_placeholder":false,"num":0}`, 0, false},
		{`{"_placeholder":1,"num":0}`, 0, false},
		{`{"num":0}`, 0, false},
		{`[{"_placeholder":true,"num":0}]`, 0, false},
		{`"_placeholder"`, 0, false},
	} {
		v, err := jp.Parse(c.json)
		if err != nil {
			t.Fatal(err)
		}
		if num, ok := Placeholder(v); num != c.num || ok != c.ok {
			t.Errorf("Placeholder(%s) = %d, %v; want %d, %v", c.json, num, ok, c.num, c.ok)
		}
	}
	if _, ok := Placeholder(nil); ok {
		t.Error("Placeholder(nil) is one")
	}
}

func TestCheckPlaceholders(t *testing.T) {
	var jp fastjson.Parser
	for _, c := range []struct {
		json string
		n    int
		ok   bool
	}{
		{`[]`, 0, true},
		{`["x",{"a":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":0}]`, 2, true},
		{`[{"_placeholder":true,"num":0,"nested":{"_placeholder":true,"num":0}}]`, 1, true}, // a placeholder is a leaf
		{`["x",{"_placeholder":true,"num":0}]`, 2, false},                                   // one missing
		{`["x",{"_placeholder":true,"num":0}]`, 0, false},                                   // one too many
		{`[{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]`, 2, false},         // twice
		{`[{"_placeholder":true,"num":0}]`, MaxAttachments + 1, false},
		{`[{"_placeholder":true,"num":0}]`, -1, false},
	} {
		v, err := jp.Parse(c.json)
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckPlaceholders(v, c.n); (err == nil) != c.ok {
			t.Errorf("CheckPlaceholders(%s, %d) = %v", c.json, c.n, err)
		}
	}
}
