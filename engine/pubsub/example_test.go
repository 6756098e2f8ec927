package pubsub_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/pubsub"
)

// A hub is a route's handler; the server starts and stops it. Clients
// subscribe over /ws, and Go code publishes from any goroutine.
func Example() {
	hub, err := pubsub.New(pubsub.Config{})
	if err != nil {
		panic(err)
	}
	srv, err := engine.New(engine.Config{
		ListenPlain: "127.0.0.1:0",
		Routes:      map[string]engine.Handler{pubsub.DefaultRoute: hub},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.PlainAddr().String()+"/ws", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`{"op":"subscribe","topic":"news","id":1}`))
	_, ack, _ := ws.ReadMessage() // the subscription is in force
	fmt.Println(string(ack))

	_ = hub.Publish("news", []byte(`{"headline":"hello"}`))
	_, msg, _ := ws.ReadMessage()
	fmt.Println(string(msg))
	// Output:
	// {"op":"ack","id":1}
	// {"op":"message","topic":"news","data":{"headline":"hello"}}
}
