package pubsub

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine"
)

// FuzzPubSubRequest sends arbitrary text messages to /ws on a live server
// (with error replies for invalid requests, so that one connection serves
// many inputs) and checks that each is answered only with well-formed
// protocol messages, or refused with a close code the protocol names, and
// that the server then still serves: a request after it is acknowledged.
func FuzzPubSubRequest(f *testing.F) {
	for _, seed := range []string{
		`{"op":"subscribe","topic":"f","id":1}`,
		`{"op":"unsubscribe","topic":"f"}`,
		`{"op":"publish","topic":"f","data":{"a":[1,2,{"b":null}]},"id":"x"}`,
		`{"op":"publish","topic":"f.g.h","data":"\u00e9\ud83d\ude00"}`,
		`{"op":"publish","topic":"f","id":3}`,
		`{"op":"subscribe","topic":"a..b","id":4}`,
		`{"op":"subscribe","topic":"f","id":1e400}`,
		`{"op":"shout","topic":"f"}`,
		`{"op":"subscribe","topic":"f","id":1,"extra":true}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`not json`,
		"\xff\xfe",
		``,
	} {
		f.Add([]byte(seed))
	}
	_, _, addr := startHub(f, engine.Config{Loops: 1, InvalidMessage: engine.InvalidReply},
		Config{AnonymousPublish: true, MaxSubscriptions: 4})
	var c *gws.Conn
	dial := func(t *testing.T) {
		d := gws.Dialer{HandshakeTimeout: psWait}
		var err error
		if c, _, err = d.Dial("ws://"+addr+"/ws", nil); err != nil {
			t.Fatalf("dial: %v", err)
		}
		if err := c.WriteMessage(gws.TextMessage, []byte(`{"op":"subscribe","topic":"f","id":0}`)); err != nil {
			t.Fatal(err)
		}
	}
	f.Cleanup(func() {
		if c != nil {
			c.Close()
		}
	})
	f.Fuzz(func(t *testing.T, msg []byte) {
		if c == nil {
			dial(t)
		}
		if err := c.WriteMessage(gws.TextMessage, msg); err != nil {
			t.Fatalf("write: %v", err)
		}
		if err := c.WriteMessage(gws.TextMessage, []byte(`{"op":"unsubscribe","topic":"sentinel","id":"sentinel"}`)); err != nil {
			t.Fatalf("write the sentinel: %v", err)
		}
		_ = c.SetReadDeadline(time.Now().Add(psWait))
		for {
			_, p, err := c.ReadMessage()
			var ce *gws.CloseError
			if errors.As(err, &ce) {
				// Text that is not UTF-8 fails the connection (1007), as
				// does a message over the JSON size limit (1009).
				if ce.Code != gws.CloseInvalidFramePayloadData && ce.Code != gws.CloseMessageTooBig {
					t.Fatalf("%q: closed with %d %q", msg, ce.Code, ce.Text)
				}
				c.Close()
				c = nil
				return
			}
			if err != nil {
				t.Fatalf("%q: read: %v", msg, err)
			}
			var m struct {
				Op    string
				ID    json.RawMessage
				Code  string
				Topic string
				Data  json.RawMessage
			}
			if err := json.Unmarshal(p, &m); err != nil {
				t.Fatalf("%q: the server sent %q, not JSON", msg, p)
			}
			switch m.Op {
			case "ack":
				if string(m.ID) == `"sentinel"` {
					return
				}
			case "error":
				if m.Code == "" {
					t.Fatalf("%q: an error without a code: %q", msg, p)
				}
			case "message":
				if m.Topic == "" || len(m.Data) == 0 {
					t.Fatalf("%q: a message without topic or data: %q", msg, p)
				}
			default:
				t.Fatalf("%q: the server sent %q", msg, p)
			}
		}
	})
}
