package packet_test

import (
	"fmt"

	"github.com/valyala/fastjson"

	"github.com/wssd/wssd/engine/socketio/packet"
)

// A server's path for a WebSocket text frame: the Engine.IO packet, the
// Socket.IO packet in it, and the answer to an event that asks for an
// ack, with its arguments sent back.
func Example() {
	frame := []byte(`42/chat,12["message-with-ack","hi",{"n":1}]`)
	var jp fastjson.Parser // one per event loop
	var out []byte         // likewise

	ep, err := packet.ParseText(frame)
	if err != nil || ep.Type != packet.Message {
		return
	}
	sp, v, err := packet.ParseSocket(ep.Data, packet.DefaultMaxAttachments, &jp)
	if err != nil {
		fmt.Println("end the connection:", err)
		return
	}
	name := v.GetArray()[0].GetStringBytes()
	fmt.Printf("%s %s in %s, ack id %d, arguments %s\n", sp.Type, name, sp.Namespace, sp.ID, sp.Args())

	out = append(out[:0], byte(packet.Message))
	out = packet.AppendAck(out, sp.Namespace, sp.ID, 0, sp.Args())
	fmt.Printf("%s\n", out)
	// Output:
	// EVENT message-with-ack in /chat, ack id 12, arguments "hi",{"n":1}
	// 43/chat,12["hi",{"n":1}]
}

// A polling body with a binary message: its packets, and the same body
// written back.
func ExampleSplitPayload() {
	body := []byte("451-[\"file\",{\"_placeholder\":true,\"num\":0}]\x1ebAQIDBA==")
	var again []byte
	_, err := packet.SplitPayload(body, nil, 16, func(p packet.Packet) error {
		fmt.Printf("%s binary=%v %q\n", p.Type, p.Binary, p.Data)
		again = packet.AppendPayload(again, p)
		return nil
	})
	fmt.Println(err, string(again) == string(body))
	// Output:
	// message binary=false "51-[\"file\",{\"_placeholder\":true,\"num\":0}]"
	// message binary=true "\x01\x02\x03\x04"
	// <nil> true
}
