package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
)

// panicky echoes, except that it panics on "boom".
type panicky struct{}

func (panicky) OnOpen(*Conn) {}

func (panicky) OnMessage(c *Conn, op codec.OpCode, data []byte) {
	if string(data) == "boom" {
		panic("boom")
	}
	_ = c.Write(op, data)
}

func (panicky) OnClose(*Conn, codec.StatusCode, string) {}

// syncBuffer is a log sink safe for the loops' goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHandlerPanicClosesOnlyItsConnection: a handler panic fails that
// connection with 1011 and is logged; the server and its other connections
// go on.
func TestHandlerPanicClosesOnlyItsConnection(t *testing.T) {
	var logs syncBuffer
	_, addr := startServer(t, Config{
		Loops:  1, // both connections on the loop that panics
		Routes: map[string]Handler{"/p": panicky{}},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	bystander := interopGorilla(t, addr, "/p")
	victim := interopGorilla(t, addr, "/p")

	if err := victim.WriteMessage(gws.TextMessage, []byte("boom")); err != nil {
		t.Fatal(err)
	}
	_, _, err := interopGorillaRead(victim)
	var ce *gws.CloseError
	if !errors.As(err, &ce) || ce.Code != gws.CloseInternalServerErr {
		t.Fatalf("after the panic the client read %v; want close 1011", err)
	}

	if err := bystander.WriteMessage(gws.TextMessage, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := interopGorillaRead(bystander); err != nil || string(got) != "still here" {
		t.Fatalf("other connection read %q, %v; want its echo", got, err)
	}
	if !strings.Contains(logs.String(), "handler panic") {
		t.Errorf("the panic was not logged:\n%s", logs.String())
	}
}
