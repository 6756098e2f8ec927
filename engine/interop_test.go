package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
)

// interopWait bounds every blocking step of these tests, so that a broken
// server fails a test instead of hanging it.
const interopWait = 10 * time.Second

// interopSizes are the payload sizes every echo test sends: the edges of
// the 7-bit, 16-bit and 64-bit length encodings, and the default message
// size limit itself.
var interopSizes = []struct {
	name string
	size int
}{
	{
		name: "0",
		size: 0,
	},
	{
		name: "1",
		size: 1,
	},
	{
		name: "125",
		size: 125,
	},
	{
		name: "126",
		size: 126,
	},
	{
		name: "65535",
		size: 65535,
	},
	{
		name: "65536",
		size: 65536,
	},
	{
		name: "1MiB",
		size: 1 << 20,
	},
}

// interopTypes are the two data message types, as each client names them.
var interopTypes = []struct {
	name    string
	text    bool
	gorilla int
	coder   cws.MessageType
}{
	{
		name:    "text",
		text:    true,
		gorilla: gws.TextMessage,
		coder:   cws.MessageText,
	},
	{
		name:    "binary",
		text:    false,
		gorilla: gws.BinaryMessage,
		coder:   cws.MessageBinary,
	},
}

// interopPayload returns n bytes of deterministic content: valid UTF-8 with
// multi-byte code points for text, every byte value for binary.
func interopPayload(n int, text bool) []byte {
	p := make([]byte, 0, n)
	if !text {
		for i := range n {
			p = append(p, byte(i*7+i>>8))
		}
		return p
	}
	const runes = "héllo wörld € 𝄞 "
	for len(p) < n {
		for _, r := range runes {
			s := string(r)
			if len(p)+len(s) > n {
				s = "x"
			}
			p = append(p, s...)
			if len(p) == n {
				break
			}
		}
	}
	return p
}

// interopGorilla opens a WebSocket to path on addr with gorilla/websocket.
// The connection is closed when the test ends.
func interopGorilla(t *testing.T, addr, path string) *gws.Conn {
	t.Helper()
	d := gws.Dialer{HandshakeTimeout: interopWait}
	c, resp, err := d.Dial("ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("gorilla dial %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("gorilla dial %s: status %d", path, resp.StatusCode)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// interopCoder opens a WebSocket to path on addr with coder/websocket, with
// a read limit above the largest test message. The connection is closed when
// the test ends.
func interopCoder(t *testing.T, addr, path string) *cws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	c, _, err := cws.Dial(ctx, "ws://"+addr+path, nil)
	if err != nil {
		t.Fatalf("coder dial %s: %v", path, err)
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// interopGorillaRead reads one message with a deadline.
func interopGorillaRead(c *gws.Conn) (int, []byte, error) {
	if err := c.SetReadDeadline(time.Now().Add(interopWait)); err != nil {
		return 0, nil, err
	}
	return c.ReadMessage()
}

// interopWantClose reads from c until an error, which must be a close frame
// with code and, unless anyReason, reason.
func interopWantClose(t *testing.T, c *gws.Conn, code int, reason string, anyReason bool) {
	t.Helper()
	for {
		_, _, err := interopGorillaRead(c)
		if err == nil {
			continue
		}
		var ce *gws.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: %v; want a close frame with code %d", err, code)
		}
		if ce.Code != code || (!anyReason && ce.Text != reason) {
			t.Fatalf("close frame %d %q; want %d %q", ce.Code, ce.Text, code, reason)
		}
		return
	}
}

// interopWantEOF checks that the server closes the TCP connection under c:
// a read of the raw socket returns io.EOF.
func interopWantEOF(t *testing.T, c *gws.Conn) {
	t.Helper()
	nc := c.NetConn()
	if err := nc.SetReadDeadline(time.Now().Add(interopWait)); err != nil {
		t.Fatal(err)
	}
	var b [64]byte
	n, err := nc.Read(b[:])
	if n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("raw read after close = %d bytes %q, %v; want the server to close TCP (EOF)", n, b[:n], err)
	}
}

// interopEvent is one OnClose call.
type interopEvent struct {
	c      *Conn
	code   codec.StatusCode
	reason string
}

// interopHandler is a Handler that records its calls. It echoes messages
// unless onMessage is set. Every OnOpen and OnClose is counted per
// connection and reported on a channel; a call out of order (OnMessage or
// OnClose before OnOpen, anything after OnClose) is recorded as a violation.
type interopHandler struct {
	onMessage func(c *Conn, op codec.OpCode, data []byte)
	opened    chan *Conn
	closed    chan interopEvent

	mu         sync.Mutex
	opens      map[*Conn]int
	closes     map[*Conn]int
	violations []string
}

func newInteropHandler(onMessage func(c *Conn, op codec.OpCode, data []byte)) *interopHandler {
	return &interopHandler{
		onMessage: onMessage,
		opened:    make(chan *Conn, 256),
		closed:    make(chan interopEvent, 256),
		opens:     make(map[*Conn]int),
		closes:    make(map[*Conn]int),
	}
}

func (h *interopHandler) OnOpen(c *Conn) {
	h.mu.Lock()
	h.opens[c]++
	if h.closes[c] > 0 {
		h.violations = append(h.violations, "OnOpen after OnClose")
	}
	h.mu.Unlock()
	h.opened <- c
}

func (h *interopHandler) OnMessage(c *Conn, op codec.OpCode, data []byte) {
	h.mu.Lock()
	if h.opens[c] == 0 || h.closes[c] > 0 {
		h.violations = append(h.violations, "OnMessage outside OnOpen..OnClose")
	}
	h.mu.Unlock()
	if h.onMessage != nil {
		h.onMessage(c, op, data)
		return
	}
	_ = c.Write(op, data)
}

func (h *interopHandler) OnClose(c *Conn, code codec.StatusCode, reason string) {
	h.mu.Lock()
	h.closes[c]++
	if h.opens[c] == 0 {
		h.violations = append(h.violations, "OnClose before OnOpen")
	}
	h.mu.Unlock()
	h.closed <- interopEvent{c: c, code: code, reason: strings.Clone(reason)}
}

// waitOpen returns the connection of the next OnOpen call.
func (h *interopHandler) waitOpen(t *testing.T) *Conn {
	t.Helper()
	select {
	case c := <-h.opened:
		return c
	case <-time.After(interopWait):
		t.Fatal("timed out waiting for OnOpen")
		return nil
	}
}

// waitClose returns the next OnClose call.
func (h *interopHandler) waitClose(t *testing.T) interopEvent {
	t.Helper()
	select {
	case ev := <-h.closed:
		return ev
	case <-time.After(interopWait):
		t.Fatal("timed out waiting for OnClose")
		return interopEvent{}
	}
}

// checkOnce checks, once the server has stopped (so no callback can still
// come), that every connection saw exactly one OnOpen and one OnClose, that
// there were want connections, and that no call came out of order.
func (h *interopHandler) checkOnce(t *testing.T, want int) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.opens) != want {
		t.Errorf("OnOpen seen for %d connections; want %d", len(h.opens), want)
	}
	for c, n := range h.opens {
		if n != 1 {
			t.Errorf("OnOpen called %d times for %v; want 1", n, c.RemoteAddr())
		}
		if m := h.closes[c]; m != 1 {
			t.Errorf("OnClose called %d times for %v; want 1", m, c.RemoteAddr())
		}
	}
	if len(h.closes) != len(h.opens) {
		t.Errorf("OnClose seen for %d connections, OnOpen for %d", len(h.closes), len(h.opens))
	}
	for _, v := range h.violations {
		t.Errorf("handler call out of order: %s", v)
	}
}

// interopStop shuts srv down, so that no handler callback can run after it.
func interopStop(t *testing.T, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestInteropGorillaEcho(t *testing.T) {
	_, addr := startServer(t, Config{})
	for _, typ := range interopTypes {
		for _, sz := range interopSizes {
			t.Run(typ.name+"/"+sz.name, func(t *testing.T) {
				c := interopGorilla(t, addr, "/echo")
				want := interopPayload(sz.size, typ.text)
				if err := c.WriteMessage(typ.gorilla, want); err != nil {
					t.Fatalf("write: %v", err)
				}
				mt, got, err := interopGorillaRead(c)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if mt != typ.gorilla {
					t.Errorf("echo has message type %d; want %d", mt, typ.gorilla)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("echo of %d bytes differs: got %d bytes", len(want), len(got))
				}
			})
		}
	}
}

func TestInteropCoderEcho(t *testing.T) {
	_, addr := startServer(t, Config{})
	for _, typ := range interopTypes {
		for _, sz := range interopSizes {
			t.Run(typ.name+"/"+sz.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), interopWait)
				defer cancel()
				c := interopCoder(t, addr, "/echo")
				want := interopPayload(sz.size, typ.text)
				if err := c.Write(ctx, typ.coder, want); err != nil {
					t.Fatalf("write: %v", err)
				}
				mt, got, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if mt != typ.coder {
					t.Errorf("echo has message type %v; want %v", mt, typ.coder)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("echo of %d bytes differs: got %d bytes", len(want), len(got))
				}
				if err := c.Close(cws.StatusNormalClosure, ""); err != nil {
					t.Errorf("close: %v", err)
				}
			})
		}
	}
}

// TestInteropCoderStreamingWriter sends messages with coder's streaming
// Writer, which puts every Write in a frame of its own and ends the message
// with an empty final frame: the server must echo the reassembled message
// whole, as one message of the same type.
func TestInteropCoderStreamingWriter(t *testing.T) {
	_, addr := startServer(t, Config{})
	cases := []struct {
		name   string
		typ    cws.MessageType
		pieces []string
	}{
		{
			name:   "text",
			typ:    cws.MessageText,
			pieces: []string{"hello", ", ", "fragmented", " world"},
		},
		{
			name:   "text split inside a code point",
			typ:    cws.MessageText,
			pieces: []string{"h\xc3", "\xa9llo \xe2\x82", "\xac \xf0\x9d", "\x84\x9e"},
		},
		{
			name:   "binary with an empty fragment",
			typ:    cws.MessageBinary,
			pieces: []string{"\x00\x01", "", "\xff\xfe\xfd", "\x80"},
		},
		{
			name: "binary fragments across length encodings",
			typ:  cws.MessageBinary,
			pieces: []string{
				string(interopPayload(125, false)),
				string(interopPayload(126, false)),
				string(interopPayload(70000, false)),
				string(interopPayload(3, false)),
			},
		},
		{
			name: "text fragments totalling the limit",
			typ:  cws.MessageText,
			pieces: []string{
				string(interopPayload(1<<19, true)),
				string(interopPayload(1<<19, true)),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), interopWait)
			defer cancel()
			c := interopCoder(t, addr, "/echo")
			w, err := c.Writer(ctx, tc.typ)
			if err != nil {
				t.Fatalf("Writer: %v", err)
			}
			for _, p := range tc.pieces {
				if _, err := w.Write([]byte(p)); err != nil {
					t.Fatalf("Write: %v", err)
				}
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Writer.Close: %v", err)
			}
			mt, got, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if mt != tc.typ {
				t.Errorf("echo has message type %v; want %v", mt, tc.typ)
			}
			if want := strings.Join(tc.pieces, ""); string(got) != want {
				t.Errorf("echo of %d bytes differs: got %d bytes", len(want), len(got))
			}
			if err := c.Close(cws.StatusNormalClosure, ""); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

func TestInteropGorillaPing(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := interopGorilla(t, addr, "/echo")
	pongs := make(chan string, 1)
	c.SetPongHandler(func(data string) error {
		pongs <- data
		return nil
	})
	// Pongs are seen by the reader, so one must run.
	readErr := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				readErr <- err
				return
			}
		}
	}()
	cases := []struct {
		name    string
		payload string
	}{
		{
			name:    "empty",
			payload: "",
		},
		{
			name:    "short",
			payload: "are you there?",
		},
		{
			name:    "binary",
			payload: "\x00\xff\x80\x7f",
		},
		{
			name:    "125 bytes",
			payload: strings.Repeat("p", 125),
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.WriteControl(gws.PingMessage, []byte(tc.payload), time.Now().Add(interopWait)); err != nil {
				t.Fatalf("ping: %v", err)
			}
			select {
			case got := <-pongs:
				if got != tc.payload {
					t.Errorf("pong payload %q; want %q", got, tc.payload)
				}
			case err := <-readErr:
				t.Fatalf("read ended before the pong: %v", err)
			case <-time.After(interopWait):
				t.Fatal("no pong")
			}
		})
	}
	if err := c.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, ""), time.Now().Add(interopWait)); err != nil {
		t.Fatalf("close: %v", err)
	}
	select {
	case err := <-readErr:
		if !gws.IsCloseError(err, gws.CloseNormalClosure) {
			t.Errorf("read ended with %v; want close 1000", err)
		}
	case <-time.After(interopWait):
		t.Fatal("no close answer")
	}
}

func TestInteropCoderPing(t *testing.T) {
	_, addr := startServer(t, Config{})
	c := interopCoder(t, addr, "/echo")
	ctx, cancel := context.WithTimeout(context.Background(), interopWait)
	defer cancel()
	// Ping needs a concurrent reader to see the pong.
	c.CloseRead(ctx)
	for i := range 3 {
		if err := c.Ping(ctx); err != nil {
			t.Fatalf("ping %d: %v", i, err)
		}
	}
	if err := c.Close(cws.StatusNormalClosure, ""); err != nil {
		t.Errorf("close: %v", err)
	}
}

// TestInteropConcurrentClients runs many clients at once, each pipelining
// its messages (of several sizes and both types) while it reads the echoes:
// every client must get back exactly its own messages, in order.
func TestInteropConcurrentClients(t *testing.T) {
	const (
		clients  = 50
		messages = 100
	)
	_, addr := startServer(t, Config{})
	message := func(client, i int) (int, []byte) {
		p := fmt.Appendf(nil, "client %d message %d ", client, i)
		p = append(p, bytes.Repeat([]byte{'.'}, (client*31+i*17)%300)...)
		if i%2 == 1 {
			return gws.BinaryMessage, p
		}
		return gws.TextMessage, p
	}
	conns := make([]*gws.Conn, clients)
	for i := range conns {
		conns[i] = interopGorilla(t, addr, "/echo")
	}
	var wg sync.WaitGroup
	for id, c := range conns {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := c.SetWriteDeadline(time.Now().Add(interopWait)); err != nil {
				t.Error(err)
				return
			}
			for i := range messages {
				mt, p := message(id, i)
				if err := c.WriteMessage(mt, p); err != nil {
					t.Errorf("client %d: write %d: %v", id, i, err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for i := range messages {
				mt, got, err := interopGorillaRead(c)
				if err != nil {
					t.Errorf("client %d: read %d: %v", id, i, err)
					return
				}
				wantType, want := message(id, i)
				if mt != wantType || !bytes.Equal(got, want) {
					t.Errorf("client %d: echo %d is type %d %.40q; want type %d %.40q", id, i, mt, got, wantType, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestInteropClientClose: the server answers a client's close frame with
// the same code and then closes TCP (RFC 6455 5.5.1, 7.1.1).
func TestInteropClientClose(t *testing.T) {
	_, addr := startServer(t, Config{})
	cases := []struct {
		name     string
		payload  []byte
		wantCode int
	}{
		{
			name:     "application code with reason",
			payload:  gws.FormatCloseMessage(4000, "client done"),
			wantCode: 4000,
		},
		{
			name:     "normal closure",
			payload:  gws.FormatCloseMessage(gws.CloseNormalClosure, ""),
			wantCode: gws.CloseNormalClosure,
		},
		{
			name:     "empty close payload",
			payload:  []byte{},
			wantCode: gws.CloseNoStatusReceived,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := interopGorilla(t, addr, "/echo")
			if err := c.WriteControl(gws.CloseMessage, tc.payload, time.Now().Add(interopWait)); err != nil {
				t.Fatalf("close: %v", err)
			}
			interopWantClose(t, c, tc.wantCode, "", true)
			interopWantEOF(t, c)
		})
	}
	t.Run("coder", func(t *testing.T) {
		c := interopCoder(t, addr, "/echo")
		// Close returns nil only once the server has answered the close.
		if err := c.Close(4000, "coder done"); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// TestInteropMessageTooBig: a message over Config.MaxMessageSize, in one
// frame or summed over its fragments, fails the connection with 1009; one
// at the limit is echoed.
func TestInteropMessageTooBig(t *testing.T) {
	const limit = 1024
	_, addr := startServer(t, Config{MaxMessageSize: limit})
	gorillaCases := []struct {
		name     string
		size     int
		wantCode int // 0: echoed
	}{
		{
			name:     "at the limit",
			size:     limit,
			wantCode: 0,
		},
		{
			name:     "one byte over",
			size:     limit + 1,
			wantCode: gws.CloseMessageTooBig,
		},
		{
			name:     "far over, sent fragmented",
			size:     64 << 10,
			wantCode: gws.CloseMessageTooBig,
		},
	}
	for _, tc := range gorillaCases {
		t.Run("gorilla/"+tc.name, func(t *testing.T) {
			c := interopGorilla(t, addr, "/echo")
			p := interopPayload(tc.size, false)
			// The server may close while a fragmented message is still
			// being written; the write error is not what is tested.
			_ = c.WriteMessage(gws.BinaryMessage, p)
			if tc.wantCode == 0 {
				_, got, err := interopGorillaRead(c)
				if err != nil || !bytes.Equal(got, p) {
					t.Fatalf("read = %d bytes, %v; want the %d-byte echo", len(got), err, len(p))
				}
				return
			}
			interopWantClose(t, c, tc.wantCode, "", true)
		})
	}
	coderCases := []struct {
		name     string
		pieces   []int
		wantCode cws.StatusCode // -1: echoed
	}{
		{
			name:     "fragments at the limit",
			pieces:   []int{512, 512},
			wantCode: -1,
		},
		{
			name:     "fragments one byte over",
			pieces:   []int{512, 512, 1},
			wantCode: cws.StatusMessageTooBig,
		},
		{
			name:     "each fragment under, sum over",
			pieces:   []int{1000, 1000},
			wantCode: cws.StatusMessageTooBig,
		},
	}
	for _, tc := range coderCases {
		t.Run("coder/"+tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), interopWait)
			defer cancel()
			c := interopCoder(t, addr, "/echo")
			w, err := c.Writer(ctx, cws.MessageBinary)
			if err != nil {
				t.Fatalf("Writer: %v", err)
			}
			var want []byte
			for _, n := range tc.pieces {
				p := interopPayload(n, false)
				want = append(want, p...)
				_, _ = w.Write(p)
			}
			_ = w.Close()
			_, got, err := c.Read(ctx)
			if tc.wantCode == -1 {
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("read = %d bytes, %v; want the %d-byte echo", len(got), err, len(want))
				}
				return
			}
			if code := cws.CloseStatus(err); code != tc.wantCode {
				t.Fatalf("read: %v (close status %d); want close %d", err, code, tc.wantCode)
			}
		})
	}
}

// TestInteropHandlerClose: a handler that closes with its own code from
// OnMessage. The client sees that code and reason; the handler's OnClose is
// called once, with the code and reason the server sent, since the server
// closed first (see Handler.OnClose), whatever the client answers.
func TestInteropHandlerClose(t *testing.T) {
	cases := []struct {
		name   string
		answer []byte // nil: gorilla's default answer, which echoes the code
	}{
		{
			name:   "client echoes the code",
			answer: nil,
		},
		{
			name:   "client answers with another code",
			answer: gws.FormatCloseMessage(gws.CloseNormalClosure, "ok"),
		},
		{
			name:   "client answers with an empty close",
			answer: []byte{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newInteropHandler(func(c *Conn, _ codec.OpCode, _ []byte) {
				c.Close(4001, "bye")
			})
			srv, addr := startServer(t, Config{Routes: map[string]Handler{"/bye": h}})
			c := interopGorilla(t, addr, "/bye")
			if tc.answer != nil {
				c.SetCloseHandler(func(int, string) error {
					return c.WriteControl(gws.CloseMessage, tc.answer, time.Now().Add(interopWait))
				})
			}
			conn := h.waitOpen(t)
			if err := c.WriteMessage(gws.TextMessage, []byte("close please")); err != nil {
				t.Fatalf("write: %v", err)
			}
			interopWantClose(t, c, 4001, "bye", false)
			interopWantEOF(t, c)
			ev := h.waitClose(t)
			if ev.c != conn {
				t.Errorf("OnClose for another connection")
			}
			if ev.code != 4001 || ev.reason != "bye" {
				t.Errorf("OnClose(%d, %q); want OnClose(4001, \"bye\"), the close the server sent first", ev.code, ev.reason)
			}
			interopStop(t, srv)
			h.checkOnce(t, 1)
		})
	}
}

// TestInteropSendFromGoroutine: Conn.Send from a goroutine of the handler's
// own reaches the client, in order and with its type.
func TestInteropSendFromGoroutine(t *testing.T) {
	const messages = 20
	h := newInteropHandler(nil)
	_, addr := startServer(t, Config{Routes: map[string]Handler{"/push": h}})
	c := interopGorilla(t, addr, "/push")
	conn := h.waitOpen(t)
	message := func(i int) (codec.OpCode, []byte) {
		p := fmt.Appendf(nil, "pushed %d", i)
		if i%2 == 1 {
			return codec.OpBinary, p
		}
		return codec.OpText, p
	}
	sendErr := make(chan error, 1)
	go func() {
		for i := range messages {
			if err := conn.Send(message(i)); err != nil {
				sendErr <- fmt.Errorf("Send %d: %w", i, err)
				return
			}
		}
		sendErr <- nil
	}()
	for i := range messages {
		mt, got, err := interopGorillaRead(c)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		op, want := message(i)
		if mt != int(op) || !bytes.Equal(got, want) {
			t.Fatalf("message %d is type %d %q; want type %d %q", i, mt, got, op, want)
		}
	}
	if err := <-sendErr; err != nil {
		t.Fatal(err)
	}
}

// TestInteropHandlerLifecycle: OnOpen and OnClose are called exactly once
// per connection, however it ends, and OnClose gets the right code: the
// peer's, 1006 when TCP ends without a close frame, 1001 for a drain.
func TestInteropHandlerLifecycle(t *testing.T) {
	h := newInteropHandler(nil)
	srv, addr := startServer(t, Config{Routes: map[string]Handler{"/life": h}})
	gorillaRoundTrip := func(t *testing.T, c *gws.Conn) {
		t.Helper()
		if err := c.WriteMessage(gws.TextMessage, []byte("ping")); err != nil {
			t.Fatalf("write: %v", err)
		}
		if _, got, err := interopGorillaRead(c); err != nil || string(got) != "ping" {
			t.Fatalf("read = %q, %v; want the echo", got, err)
		}
	}
	cases := []struct {
		name       string
		run        func(t *testing.T)
		wantCode   codec.StatusCode
		wantReason string
	}{
		{
			name: "gorilla close frame",
			run: func(t *testing.T) {
				c := interopGorilla(t, addr, "/life")
				gorillaRoundTrip(t, c)
				if err := c.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, "done"), time.Now().Add(interopWait)); err != nil {
					t.Fatal(err)
				}
				interopWantClose(t, c, gws.CloseNormalClosure, "", true)
			},
			wantCode:   codec.StatusNormalClosure,
			wantReason: "done",
		},
		{
			name: "empty close frame",
			run: func(t *testing.T) {
				c := interopGorilla(t, addr, "/life")
				gorillaRoundTrip(t, c)
				if err := c.WriteControl(gws.CloseMessage, []byte{}, time.Now().Add(interopWait)); err != nil {
					t.Fatal(err)
				}
				interopWantClose(t, c, gws.CloseNoStatusReceived, "", true)
			},
			wantCode:   codec.StatusNoStatus,
			wantReason: "",
		},
		{
			name: "coder close",
			run: func(t *testing.T) {
				c := interopCoder(t, addr, "/life")
				ctx, cancel := context.WithTimeout(context.Background(), interopWait)
				defer cancel()
				if err := c.Write(ctx, cws.MessageText, []byte("ping")); err != nil {
					t.Fatal(err)
				}
				if _, got, err := c.Read(ctx); err != nil || string(got) != "ping" {
					t.Fatalf("read = %q, %v; want the echo", got, err)
				}
				if err := c.Close(3000, "coder bye"); err != nil {
					t.Fatalf("close: %v", err)
				}
			},
			wantCode:   3000,
			wantReason: "coder bye",
		},
		{
			name: "client drops TCP without a close frame",
			run: func(t *testing.T) {
				c := interopGorilla(t, addr, "/life")
				gorillaRoundTrip(t, c)
				if err := c.NetConn().Close(); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:   codec.StatusAbnormal,
			wantReason: "",
		},
		{
			name: "client drops TCP in the middle of a frame",
			run: func(t *testing.T) {
				c := interopGorilla(t, addr, "/life")
				gorillaRoundTrip(t, c)
				// A masked text frame header announcing 10 bytes, and 3 of them.
				if _, err := c.NetConn().Write([]byte{0x81, 0x8a, 1, 2, 3, 4, 'a', 'b', 'c'}); err != nil {
					t.Fatal(err)
				}
				if err := c.NetConn().Close(); err != nil {
					t.Fatal(err)
				}
			},
			wantCode:   codec.StatusAbnormal,
			wantReason: "",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t)
			conn := h.waitOpen(t)
			ev := h.waitClose(t)
			if ev.c != conn {
				t.Fatalf("OnClose for another connection than the one opened")
			}
			if ev.code != tc.wantCode || ev.reason != tc.wantReason {
				t.Errorf("OnClose(%d, %q); want OnClose(%d, %q)", ev.code, ev.reason, tc.wantCode, tc.wantReason)
			}
		})
	}

	// The last connection is still open when the server drains: it is
	// closed with 1001, and the client answers.
	c := interopGorilla(t, addr, "/life")
	gorillaRoundTrip(t, c)
	conn := h.waitOpen(t)
	readErr := make(chan error, 1)
	go func() {
		_, _, err := interopGorillaRead(c)
		readErr <- err
	}()
	interopStop(t, srv)
	if err := <-readErr; !gws.IsCloseError(err, gws.CloseGoingAway) {
		t.Errorf("read during drain: %v; want close 1001", err)
	}
	ev := h.waitClose(t)
	if ev.c != conn || ev.code != codec.StatusGoingAway {
		t.Errorf("OnClose(%d, %q) during drain; want code 1001", ev.code, ev.reason)
	}
	h.checkOnce(t, len(cases)+1)
}
