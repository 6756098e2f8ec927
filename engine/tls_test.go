package engine

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/engine/enginetest"
)

// startTLSServer starts a server with only a wss:// listener on a loopback
// port and returns its host:port and a client TLS config that trusts it.
func startTLSServer(t testing.TB, cfg Config) (*Server, string, *tls.Config) {
	t.Helper()
	pki := enginetest.TestPKI()
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = pki.ServerConfig()
	srv := launch(t, cfg)
	return srv, srv.TLSAddr().String(), pki.ClientConfig()
}

func TestTLSEcho(t *testing.T) {
	_, addr, ccfg := startTLSServer(t, Config{MaxMessageSize: 4 << 20})
	d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("wss://"+addr+"/echo", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	for _, size := range []int{0, 1, 125, 126, 16 << 10, 16<<10 + 1, 65536, 1 << 20, 4 << 20} {
		for _, typ := range []int{gws.TextMessage, gws.BinaryMessage} {
			msg := bytes.Repeat([]byte("wss!"), size/4+1)[:size]
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.WriteMessage(typ, msg); err != nil {
				t.Fatalf("write %d: %v", size, err)
			}
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			gt, got, err := c.ReadMessage()
			if err != nil || gt != typ || !bytes.Equal(got, msg) {
				t.Fatalf("echo of %d bytes (type %d): type %d, %d bytes, %v", size, typ, gt, len(got), err)
			}
		}
	}
	// The close handshake over TLS: the server echoes the code.
	_ = c.WriteMessage(gws.CloseMessage, gws.FormatCloseMessage(4000, "bye"))
	_, _, err = c.ReadMessage()
	var ce *gws.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 {
		t.Fatalf("after close: %v; want the 4000 echo", err)
	}
}

// heldConn passes its first write through and holds the later ones until
// release, so that a client's handshake Finished and its first request go
// out in one segment.
type heldConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	held   []byte
}

func (h *heldConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.writes++
	if h.writes == 1 {
		return h.Conn.Write(p)
	}
	h.held = append(h.held, p...)
	return len(p), nil
}

func (h *heldConn) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.Conn.Write(h.held)
	h.writes, h.held = -1<<30, nil // pass everything through from now on
	return err
}

// TestTLSRequestWithFinished: the upgrade request arrives with the
// client's last handshake records, so the TLS handshake reads it into
// crypto/tls's buffer and no later byte comes to trigger a read. The server
// must still answer it.
func TestTLSRequestWithFinished(t *testing.T) {
	_, addr, ccfg := startTLSServer(t, Config{})
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	ccfg.MinVersion = tls.VersionTLS13 // the client finishes after its Finished flight
	hc := &heldConn{Conn: nc}
	tc := tls.Client(hc, ccfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tc, "GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if err := hc.release(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufioReader(tc), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("response %v, %v; want 101", resp, err)
	}
}

// TestTLSQueueFull: with every TLS worker busy and the queue full, a new
// connection is closed at once instead of waiting.
func TestTLSQueueFull(t *testing.T) {
	srv, addr, ccfg := startTLSServer(t, Config{TLSWorkers: 1, TLSQueue: 1, TLSSlotsPerIP: 10, HandshakeTimeout: time.Minute})
	var silent []net.Conn
	defer func() {
		for _, c := range silent {
			c.Close()
		}
	}()
	// The first silent client takes the worker, the second the queue.
	// Which of the next ones finds the queue full depends on when the
	// worker takes the first; one of a few must.
	refused := false
	for i := 0; i < 4 && !refused; i++ {
		nc, err := net.Dial("tcp", addr)
		if i >= 2 && errors.Is(err, syscall.ECONNRESET) {
			refused = true // reset before connect returned
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		silent = append(silent, nc)
		if i < 2 {
			continue
		}
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second)) // far below the handshake timeout
		_, err = nc.Read(make([]byte, 1))
		// Refused at once, with a reset.
		refused = errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
	}
	if !refused {
		t.Fatal("no connection was refused with the worker busy and the queue full")
	}
	if n := srv.Refusals()["tls_queue_full"]; n == 0 {
		t.Error("the refusal was not counted")
	}
	// Once the silent clients go, handshakes go through again. Until the
	// worker has seen them go, a new client may still be refused; each
	// refusal is followed by another try.
	for _, c := range silent {
		c.Close()
	}
	silent = nil
	dialUntilServed(t, addr, ccfg)
}

// dialUntilServed dials wss://addr/echo until a connection upgrades, for
// up to confWait: once the sockets that held TLS slots are closed, the
// workers see them go at their next read, and a dial meanwhile may still
// be refused.
func dialUntilServed(t *testing.T, addr string, ccfg *tls.Config) {
	t.Helper()
	d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: confWait}
	var err error
	for deadline := time.Now().Add(confWait); time.Now().Before(deadline); {
		var c *gws.Conn
		if c, _, err = d.Dial("wss://"+addr+"/echo", nil); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("no upgrade once the stalled connections were gone: %v", err)
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// TestTLSWorkersOnDemand: the TLS workers start as connections come, never
// more than TLSWorkers, and end once idle: a server with no handshake to
// do runs none.
func TestTLSWorkersOnDemand(t *testing.T) {
	srv, addr, ccfg := startTLSServer(t, Config{TLSWorkers: 3, TLSSlotsPerIP: 12, TLSWorkerIdle: 50 * time.Millisecond})
	if n := srv.tlsRunning.Load(); n != 0 {
		t.Fatalf("%d TLS workers before any connection", n)
	}
	var wg sync.WaitGroup
	var most atomic.Int64
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: 10 * time.Second}
			c, _, err := d.Dial("wss://"+addr+"/echo", nil)
			if n := srv.tlsRunning.Load(); n > most.Load() {
				most.Store(n)
			}
			if err != nil {
				t.Errorf("dial: %v", err)
				return
			}
			c.Close()
		}()
	}
	wg.Wait()
	if m := most.Load(); m > 3 {
		t.Errorf("%d TLS workers seen running; want at most 3", m)
	}
	deadline := time.Now().Add(10 * time.Second)
	for srv.tlsRunning.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d TLS workers still running after the handshakes", srv.tlsRunning.Load())
		}
		time.Sleep(5 * time.Millisecond) // they end on their own timers
	}
	// And they start again.
	d := gws.Dialer{TLSClientConfig: ccfg, HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial("wss://"+addr+"/echo", nil)
	if err != nil {
		t.Fatalf("dial after the workers ended: %v", err)
	}
	c.Close()
}
