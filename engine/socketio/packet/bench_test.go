package packet

import (
	"testing"

	"github.com/valyala/fastjson"
)

// A typical event: the load generator's, with a 32-byte payload and an
// ack id.
var benchEvent = []byte(`422["message-with-ack","abcdefghijklmnopqrstuvwxyzabcdef"]`)

func BenchmarkParseText(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseText(benchEvent); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSocket(b *testing.B) {
	var jp fastjson.Parser
	b.ReportAllocs()
	for b.Loop() {
		p, v, err := ParseSocket(benchEvent[1:], DefaultMaxAttachments, &jp)
		if err != nil || p.ID != 2 || v == nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSocketBinary(b *testing.B) {
	wire := []byte(`52-/admin,7["upload",{"name":"a.bin","parts":[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]}]`)
	var jp fastjson.Parser
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseSocket(wire, DefaultMaxAttachments, &jp); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendEvent is the event of BenchmarkParseSocket, as an
// Engine.IO message.
func BenchmarkAppendEvent(b *testing.B) {
	payload := []byte(`"abcdefghijklmnopqrstuvwxyzabcdef"`)
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = append(dst[:0], byte(Message))
		dst = AppendEvent(dst, nil, 2, 0, "message-with-ack", payload)
	}
	if string(dst) != string(benchEvent) {
		b.Fatalf("%s", dst)
	}
}

func BenchmarkAppendAck(b *testing.B) {
	var jp fastjson.Parser
	p, _, err := ParseSocket(benchEvent[1:], DefaultMaxAttachments, &jp)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		dst = append(dst[:0], byte(Message))
		dst = AppendAck(dst, p.Namespace, p.ID, 0, p.Args())
	}
}

func BenchmarkSplitPayload(b *testing.B) {
	var body []byte
	for range 8 {
		body = AppendPayload(body, Packet{Type: Message, Data: benchEvent[1:]})
	}
	body = AppendPayload(body, Packet{Type: Message, Data: []byte("0123456789abcdef"), Binary: true})
	scratch := make([]byte, 0, 64)
	n := 0
	count := func(Packet) error { n++; return nil }
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if scratch, err = SplitPayload(body, scratch, 16, count); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	dst := make([]byte, 0, 1024)
	bin := Packet{Type: Message, Data: []byte("0123456789abcdef"), Binary: true}
	b.ReportAllocs()
	for b.Loop() {
		dst = dst[:0]
		for range 8 {
			dst = AppendPayload(dst, Packet{Type: Message, Data: benchEvent[1:]})
		}
		dst = AppendPayload(dst, bin)
	}
}
