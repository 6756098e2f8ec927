package pubsub

import (
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine"
	"github.com/wssd/wssd/engine/enginetest"
)

// sinkRoute is a protocol of its own on the hub, as Socket.IO is: each
// connection is a Member with a Sink; "join T" and "leave T" change its
// topics, and what it is delivered comes as "T DATA".
type sinkRoute struct{ hub *Hub }

type sinkConn struct {
	c *engine.Conn
	m *Member
}

func (s *sinkConn) Deliver(p *Publication) bool {
	return s.c.Write(codec.OpText, []byte(p.Topic+" "+string(p.Data))) == nil
}

func (s *sinkConn) Closed(*engine.Conn) { s.m.h.LeaveAll(s.m) }

func (r sinkRoute) OnOpen(c *engine.Conn) {
	sc := &sinkConn{c: c}
	sc.m = r.hub.NewMember(c.Loop(), sc)
	c.SetSlot(sc)
}

func (r sinkRoute) OnMessage(c *engine.Conn, _ codec.OpCode, data []byte) {
	sc := c.Slot().(*sinkConn)
	op, topic, _ := strings.Cut(string(data), " ")
	switch op {
	case "join":
		err := r.hub.Join(sc.m, topic, func(err error) {
			if err == nil {
				_ = c.Write(codec.OpText, []byte("joined "+strings.Join(sc.m.Topics(), ",")))
			}
		})
		if err != nil {
			_ = c.Write(codec.OpText, []byte("error "+err.Error()))
		}
	case "leave":
		r.hub.Leave(sc.m, topic)
		_ = c.Write(codec.OpText, []byte("left "+strings.Join(sc.m.Topics(), ",")))
	}
}

func (sinkRoute) OnClose(*engine.Conn, codec.StatusCode, string) {}

// TestMemberSink: a member of another protocol joins topics beside /ws
// subscribers, is delivered the same publications, and stops being
// delivered once it has left; a closed one leaves the topics it held.
func TestMemberSink(t *testing.T) {
	hub, err := New(Config{AnonymousPublish: true, MaxSubscriptions: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := engine.New(engine.Config{
		ListenPlain: "127.0.0.1:0",
		Loops:       2,
		Logger:      enginetest.Logger(),
		Routes:      map[string]engine.Handler{DefaultRoute: hub, "/sink": sinkRoute{hub}},
	})
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Serve(t, srv)
	addr := srv.PlainAddr().String()

	d := gws.Dialer{HandshakeTimeout: psWait}
	sink, _, err := d.Dial("ws://"+addr+"/sink", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	expect := func(want string) {
		t.Helper()
		_ = sink.SetReadDeadline(time.Now().Add(psWait))
		_, got, err := sink.ReadMessage()
		if err != nil || string(got) != want {
			t.Fatalf("sink got %q, %v; want %q", got, err, want)
		}
	}
	for _, req := range []string{"join a", "join b"} {
		if err := sink.WriteMessage(gws.TextMessage, []byte(req)); err != nil {
			t.Fatal(err)
		}
	}
	expect("joined a")
	expect("joined a,b")
	if err := sink.WriteMessage(gws.TextMessage, []byte("join c")); err != nil {
		t.Fatal(err)
	}
	expect("error " + ErrTooManyTopics.Error())

	ws := psDial(t, addr, nil)
	psSend(t, ws, `{"op":"subscribe","topic":"a","id":1}`)
	psExpect(t, ws, `{"op":"ack","id":1}`)
	psSend(t, ws, `{"op":"publish","topic":"a","data":{"n":1}}`)
	psExpect(t, ws, `{"op":"message","topic":"a","data":{"n":1}}`)
	expect(`a {"n":1}`)
	if err := hub.Publish("b", []byte(`"x"`)); err != nil {
		t.Fatal(err)
	}
	expect(`b "x"`)

	if err := sink.WriteMessage(gws.TextMessage, []byte("leave a")); err != nil {
		t.Fatal(err)
	}
	expect("left b")
	psSend(t, ws, `{"op":"publish","topic":"a","data":2}`)
	psExpect(t, ws, `{"op":"message","topic":"a","data":2}`)
	if err := hub.Publish("b", []byte(`3`)); err != nil {
		t.Fatal(err)
	}
	expect(`b 3`) // not a's 2, which came first

	sink.Close()
	enginetest.WaitFor(t, "topic b gone with the sink", func() bool { return hub.Topics() == 1 })
}
