package engine

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wssd/wssd/codec"
)

// closer closes every connection as soon as it opens, with 4002 "later".
type closer struct{ closed chan codec.StatusCode }

func (closer) OnOpen(c *Conn)                        { c.Close(4002, "later") }
func (closer) OnMessage(*Conn, codec.OpCode, []byte) {}
func (h closer) OnClose(_ *Conn, code codec.StatusCode, _ string) {
	h.closed <- code
}

// TestCloseTimeout: a peer that never answers the server's close frame is
// disconnected once CloseTimeout has passed, and OnClose reports the code
// the server sent.
func TestCloseTimeout(t *testing.T) {
	h := closer{closed: make(chan codec.StatusCode, 1)}
	const closeTimeout = 5 * time.Second
	cfg, clk := clocked(Config{Routes: map[string]Handler{"/c": h}, CloseTimeout: closeTimeout})
	srv, addr := startServer(t, cfg)
	nc := httpDial(t, addr) // deadline: httpWait, far beyond CloseTimeout
	if _, err := io.WriteString(nc, httpHead("GET /c HTTP/1.1", httpUpgradeLines(nil)...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	hd, err := ws.ReadHeader(br)
	if err != nil || hd.OpCode != ws.OpClose {
		t.Fatalf("read %+v, %v; want the server's close frame", hd, err)
	}
	if _, err := br.Discard(int(hd.Length)); err != nil {
		t.Fatal(err)
	}
	// Do not answer: the server must give up on us by itself.
	before(t, srv, clk, closeTimeout, "close timeout", func(e Expiries) bool { return e.Close > 0 })
	after(clk)
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the close frame: %v; want EOF once the close timeout passed", err)
	}
	select {
	case code := <-h.closed:
		if code != 4002 {
			t.Errorf("OnClose code %d; want 4002", code)
		}
	case <-time.After(httpWait):
		t.Fatal("OnClose not called")
	}
	checkExpiries(t, srv, Expiries{Close: 1})
}
