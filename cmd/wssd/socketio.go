package main

import (
	"encoding/json"
	"log/slog"

	"github.com/wssd/wssd/engine/pubsub"
	"github.com/wssd/wssd/engine/socketio"
)

// newSocketIO returns the Socket.IO server of o: rooms on hub, and the
// application --socketio-app names.
func newSocketIO(o options, hub *pubsub.Hub, log *slog.Logger) (*socketio.Server, error) {
	s, err := socketio.New(socketio.Config{
		PingInterval:   o.sioPingInterval,
		PingTimeout:    o.sioPingTimeout,
		MaxPayload:     o.sioMaxPayload,
		ConnectTimeout: o.sioConnectTimeout,
		Hub:            hub,
	})
	if err != nil {
		return nil, err
	}
	switch o.sioApp {
	case "conformance":
		conformanceApp(s)
	default:
		s.ServeHub()
	}
	return s, nil
}

// conformanceApp is the reference behaviour of the Socket.IO test suite:
// on connection, the socket gets "auth" with its auth object; "message"
// is answered with "message-back" and the same arguments, and
// "message-with-ack" acknowledged with them; on /custom, only "auth".
// "ping-me" asks the client with an acknowledged "ask", whose answer
// comes back as "ask-result": an ack from the server's side.
func conformanceApp(s *socketio.Server) {
	onConnect := func(so *socketio.Socket) {
		_ = so.Emit("auth", authArg(so))
	}
	main := s.Of("/")
	main.OnConnection(onConnect)
	main.On("message", func(so *socketio.Socket, _ string, args socketio.Args, _ socketio.Ack) {
		_ = so.Emit("message-back", args)
	})
	main.On("message-with-ack", func(_ *socketio.Socket, _ string, args socketio.Args, ack socketio.Ack) {
		if ack != nil {
			_ = ack(args)
		}
	})
	main.On("ping-me", func(so *socketio.Socket, _ string, args socketio.Args, _ socketio.Ack) {
		_ = so.EmitWithAck("ask", func(answer socketio.Args) {
			_ = so.Emit("ask-result", answer)
		}, args)
	})
	s.Of("/custom").OnConnection(onConnect)
}

// authArg is the socket's auth object as an argument: {} without one, as
// the reference server has it.
func authArg(so *socketio.Socket) any {
	if a := so.Auth(); a != nil {
		return json.RawMessage(a)
	}
	return json.RawMessage("{}")
}
