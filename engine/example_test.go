package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
)

// shout answers every text message with the same text in upper case.
type shout struct{}

func (shout) OnOpen(c *engine.Conn) {}

// OnMessage runs on the connection's event loop; data is only valid until it
// returns, and Write takes it before returning.
func (shout) OnMessage(c *engine.Conn, op codec.OpCode, data []byte) {
	if op == codec.OpText {
		_ = c.Write(codec.OpText, bytes.ToUpper(data))
	}
}

func (shout) OnClose(c *engine.Conn, code codec.StatusCode, reason string) {}

func Example() {
	srv, err := engine.New(engine.Config{
		ListenPlain: "127.0.0.1:0",
		Routes:      map[string]engine.Handler{"/shout": shout{}},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background())

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+srv.PlainAddr().String()+"/shout", nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_ = ws.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, reply, _ := ws.ReadMessage()
	fmt.Println(string(reply))
	// Output: HELLO
}
