package packet

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// FuzzText: a text frame that parses writes back as itself.
func FuzzText(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3", "6", "", "b", "bAQIDBA==", "7x", `0{"sid":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseText(b)
		if err != nil {
			if len(b) > 0 && b[0] >= '0' && b[0] <= '6' {
				t.Fatalf("ParseText(%q) = %v for a packet type", b, err)
			}
			return
		}
		out := AppendText(nil, p)
		if !bytes.Equal(out, b) {
			t.Fatalf("ParseText(%q) writes back as %q", b, out)
		}
		q, err := ParseText(out)
		if err != nil || !samePacket(p, q) {
			t.Fatalf("%q: %+v, then %+v, %v", b, p, q, err)
		}
	})
}

// FuzzPayload: SplitPayload agrees with a plain model (split at every
// separator, decode 'b' packets with the standard library's strict
// base64), and what it accepts writes back as the same body.
func FuzzPayload(f *testing.F) {
	for _, s := range []string{
		"4hello\x1e2\x1e4world", "4hello\x1ebAQIDBA==", "42[\"hello\"]\x1e42[\"world\"]", "", "4a\x1e", "b",
		"bAQ==\x1ebAQI=\x1e4x", "bAQIDB===", "4\xff", "\x1e",
	} {
		f.Add([]byte(s), uint8(4))
	}
	f.Fuzz(func(t *testing.T, body []byte, maxPackets uint8) {
		var got []Packet
		scratch, err := SplitPayload(body, nil, int(maxPackets), func(p Packet) error {
			got = append(got, p)
			return nil
		})
		want, werr := modelSplit(body, max(int(maxPackets), 1))
		if (err == nil) != (werr == nil) {
			t.Fatalf("SplitPayload(%q, %d) = %v; the model says %v", body, maxPackets, err, werr)
		}
		if err != nil {
			if len(got) > 0 {
				t.Fatalf("SplitPayload(%q): %d packets before %v", body, len(got), err)
			}
			return
		}
		if len(got) != len(want) {
			t.Fatalf("SplitPayload(%q) = %d packets; the model %d", body, len(got), len(want))
		}
		var out []byte
		for i := range got {
			if !samePacket(got[i], want[i]) {
				t.Fatalf("SplitPayload(%q)[%d] = %+v; the model %+v", body, i, got[i], want[i])
			}
			out = AppendPayload(out, got[i])
		}
		if !bytes.Equal(out, body) {
			t.Fatalf("SplitPayload(%q) writes back as %q", body, out)
		}
		_ = scratch
	})
}

// modelSplit is a payload's packets, or an error, done plainly.
func modelSplit(body []byte, maxPackets int) ([]Packet, error) {
	if len(body) == 0 {
		return nil, ErrEmpty
	}
	parts := bytes.Split(body, []byte{Separator})
	if len(parts) > maxPackets {
		return nil, ErrTooMany
	}
	var ps []Packet
	for _, p := range parts {
		switch {
		case len(p) == 0:
			return nil, ErrEmpty
		case p[0] == 'b':
			if bytes.ContainsAny(p, "\r\n") {
				return nil, ErrBase64
			}
			d, err := base64.StdEncoding.Strict().DecodeString(string(p[1:]))
			if err != nil {
				return nil, ErrBase64
			}
			ps = append(ps, Packet{Type: Message, Data: d, Binary: true})
		case p[0] < '0' || p[0] > '6':
			return nil, ErrType
		case !utf8.Valid(p):
			return nil, ErrUTF8
		default:
			ps = append(ps, Packet{Type: Type(p[0]), Data: p[1:]})
		}
	}
	return ps, nil
}

// FuzzSocket: a Socket.IO packet that parses has data that
// encoding/json takes as JSON, writes back as itself (but for a main
// namespace written out), parses again as the same packet, and, if an
// event, is sent on as the same event by AppendEvent with its Args.
func FuzzSocket(f *testing.F) {
	for _, s := range []string{
		`0`, `0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}`, `4{"message":"Not authorized"}`, `2["foo"]`, `2/admin,["bar"]`,
		`51-["baz",{"_placeholder":true,"num":0}]`, `52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`212["foo"]`, `3/admin,13["bar"]`, `61-15["bar",{"_placeholder":true,"num":0}]`, `1`, `1/admin,`, `2/,["x"]`,
		`2["a\"b",1.5e3,{"x":[null]}]`, `2["connect"]`, `2012["x"]`, `29007199254740992["x"]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var jp fastjson.Parser
		p, v, err := ParseSocket(b, 4, &jp)
		if err != nil {
			return
		}
		if len(p.Data) > 0 && (!json.Valid(p.Data) || v == nil) {
			t.Fatalf("ParseSocket(%q): data %q not JSON", b, p.Data)
		}
		out := AppendSocket(nil, p)
		if !bytes.Equal(out, b) && !bytes.Equal(out, bytes.Replace(b, []byte("/,"), nil, 1)) {
			t.Fatalf("ParseSocket(%q) writes back as %q", b, out)
		}
		q, _, err := ParseSocket(out, 4, &jp)
		if err != nil || !sameSPacket(p, q) {
			t.Fatalf("%q: %+v, then %q: %+v, %v", b, p, out, q, err)
		}
		if p.Type != Event && p.Type != BinaryEvent {
			return
		}
		_, v, _ = ParseSocket(b, 4, &jp)
		name := string(v.GetArray()[0].GetStringBytes())
		if !utf8.ValidString(name) {
			return
		}
		ev := AppendEvent(nil, p.Namespace, p.ID, p.Attachments, name, p.Args())
		r, v, err := ParseSocket(ev, 4, &jp)
		if err != nil || r.Type != p.Type || r.ID != p.ID || r.Attachments != p.Attachments ||
			string(r.Namespace) != string(p.Namespace) || string(v.GetArray()[0].GetStringBytes()) != name ||
			!bytes.Equal(r.Args(), p.Args()) {
			t.Fatalf("%q sent on as %q: %+v, %v", b, ev, r, err)
		}
	})
}
