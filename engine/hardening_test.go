package engine

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/engine/enginetest"
	"github.com/wssd/wssd/security"
)

// The tests here are attacks by one client: each must be refused, or
// bounded, without costing anyone else anything.

// signalEcho echoes every message, and passes each one's text on to got
// (when nothing waits there, the text is dropped).
type signalEcho struct{ got chan string }

func (signalEcho) OnOpen(*Conn) {}

func (h signalEcho) OnMessage(c *Conn, op codec.OpCode, data []byte) {
	_ = c.Write(op, data)
	select {
	case h.got <- string(data):
	default:
	}
}

func (signalEcho) OnClose(*Conn, codec.StatusCode, string) {}

// waitMessage waits until the handler has seen a message.
func waitMessage(t *testing.T, got chan string, want string) {
	t.Helper()
	select {
	case m := <-got:
		if m != want {
			t.Fatalf("the handler got %.40q; want %q", m, want)
		}
	case <-time.After(confWait):
		t.Fatalf("the handler did not get %q within %v", want, confWait)
	}
}

// TestPingFlood: a client that pings as fast as it can and never reads is
// owed one pong, not one per ping: the bytes queued for it stay a few
// hundred however long it goes on, and once it reads, the last pong it gets
// answers its last ping (RFC 6455 section 5.5.3), ahead of the next message.
func TestPingFlood(t *testing.T) {
	got := make(chan string, 1)
	cfg := Config{Routes: map[string]Handler{"/echo": signalEcho{got}}}
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDialBuffer(t, addr, 4096)
		// 100,000 pongs are 12.7 MB: more than the kernel buffers on both
		// ends (tcp_wmem's 4 MiB at most) can take.
		const pings, batch = 100_000, 1000
		var last []byte
		wire := make([]byte, 0, batch*(6+codec.MaxControlPayload))
		for i := 0; i < pings; i += batch {
			wire = wire[:0]
			for j := i; j < i+batch; j++ {
				last = fmt.Appendf(nil, "%0125d", j)
				wire = append(wire, confFrame(cfFin|cfPing, last)...)
			}
			c.mustSend(wire, 0)
		}
		c.mustSend(confFrame(cfFin|cfText, "end"), 0)
		waitMessage(t, got, "end")

		if m := srv.Memory(); m.Outbound > 4<<10 {
			t.Fatalf("%d bytes queued for a client that pinged %d times and read nothing; want at most a few pongs", m.Outbound, pings)
		}
		pongs := 0
		var lastPong []byte
		for {
			h, p, err := c.readFrame()
			if err != nil {
				t.Fatalf("after %d pongs: %v", pongs, err)
			}
			if h.OpCode == ws.OpPong {
				pongs++
				lastPong = p
				continue
			}
			if h.OpCode != ws.OpText || string(p) != "end" {
				t.Fatalf("after %d pongs, opcode %v %.40q; want the echo of \"end\"", pongs, h.OpCode, p)
			}
			break
		}
		if !bytes.Equal(lastPong, last) {
			t.Fatalf("the last pong before the echo carries %.20q…; want the last ping's %.20q…", lastPong, last)
		}
		t.Logf("%d pings answered by %d pongs", pings, pongs)
		c.closeNormally()
	})
}

// floodFrames writes first, then frame again and again, in batches, until
// the server's close frame arrives or limit frames have gone out, and
// returns the close's code and reason and the frames written. What the
// server discards once it has failed the connection is still written, so
// the close frame is waited for, not inferred from a failed write.
func floodFrames(t *testing.T, c *confClient, first, frame []byte, limit int) (ws.StatusCode, string, int) {
	t.Helper()
	type closed struct {
		code   ws.StatusCode
		reason string
		err    error
	}
	done := make(chan closed, 1)
	go func() {
		for {
			h, p, err := c.readFrame()
			if err != nil {
				done <- closed{err: err}
				return
			}
			if h.OpCode == ws.OpClose {
				code, reason := confCloseFields(p)
				done <- closed{code: code, reason: reason}
				return
			}
		}
	}()
	c.mustSend(first, 0)
	batch := bytes.Repeat(frame, 4096)
	sent := 1
	for sent < limit {
		select {
		case r := <-done:
			if r.err != nil {
				t.Fatalf("after %d frames: %v; want a close frame", sent, r.err)
			}
			return r.code, r.reason, sent
		default:
		}
		if err := c.send(batch, 0); err != nil {
			break // the server has gone; its close frame is read below
		}
		sent += 4096
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("%d frames of a message that never ends were taken without a close frame: %v", sent, r.err)
	}
	return r.code, r.reason, sent
}

// TestEndlessMessage: a message that never ends (a first fragment, then
// continuation frames for ever) is refused like a flood: by the byte rate,
// which every frame pays for on the wire as it arrives, or, with no rate
// set, by the frame limit of a message.
func TestEndlessMessage(t *testing.T) {
	rates := Config{MessageRate: security.Rate{PerSecond: 100, Burst: 100}, ByteRate: security.Rate{PerSecond: 10000, Burst: 10000}}
	first := confFrame(cfText, "a")
	empty := confFrame(cfCont, "")
	oneByte := confFrame(cfCont, "b")
	cases := []struct {
		name    string
		cfg     Config
		frame   []byte
		code    ws.StatusCode
		reason  string
		refusal string
		limit   int // frames the client sends at most
	}{
		{"empty frames past the rate", rates, empty, 1008, "rate limit exceeded", "rate_bytes", 2_000_000},
		{"one-byte frames past the rate", rates, oneByte, 1008, "rate limit exceeded", "rate_bytes", 2_000_000},
		{"empty frames, no rate", Config{}, empty, 1009, "message in too many fragments", "", 2_000_000},
		{"empty frames, a lower frame limit", Config{MaxFragments: 10}, empty, 1009, "message in too many fragments", "", 100_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			serveEach(t, tc.cfg, func(t *testing.T, srv *Server, addr confAddr) {
				c := confDial(t, addr)
				code, reason, sent := floodFrames(t, c, first, tc.frame, tc.limit)
				if code != tc.code || reason != tc.reason {
					t.Fatalf("closed with %d %q after %d frames; want %d %q", code, reason, sent, tc.code, tc.reason)
				}
				want := map[string]uint64{}
				if tc.refusal != "" {
					want[tc.refusal] = 1
				}
				waitRefusals(t, srv, want)
				t.Logf("closed after the client wrote %d frames", sent)
			})
		})
	}
}

// TestRateDropsWholeMessage: with RateDrop, a message whose later
// fragment is past the byte rate is dropped whole, counted once however
// many of its frames are refused, and the connection stays.
func TestRateDropsWholeMessage(t *testing.T) {
	// 100 bytes of burst: two 46-byte frames pass, the third does not
	// (a tick refills 10 bytes).
	cfg := Config{ByteRate: security.Rate{PerSecond: 100, Burst: 100}, RatePolicy: RateDrop}
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := confDial(t, addr)
		part := strings.Repeat("0123456789", 4)
		c.mustSend(confCat(confFrame(cfText, part), confFrame(cfCont, part), confFrame(cfCont, part), confFrame(cfFin|cfCont, part)), 0)
		waitRefusals(t, srv, map[string]uint64{"rate_bytes": 1})
		c.closeNormally() // and nothing came back before the close
	})
}

// TestReassemblyBudget: partial messages, over all connections, stay
// within the reassembly budget, each counted at its own size; the
// connection whose frame would go past it is closed with 1009 and counted,
// and what a message held is given back when it is delivered.
func TestReassemblyBudget(t *testing.T) {
	const size = 250 << 10
	got := make(chan string, 1)
	cfg := Config{
		Loops:            1,
		MaxMessageSize:   256 << 10,
		ReassemblyBudget: 600 << 10,
		Routes:           map[string]Handler{"/echo": signalEcho{got}},
	}
	serveEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		msg := confPattern(size, true)
		wire := confBuildFrame(cfFin|cfBinary, msg, true)
		const head = 14 + 1024 // the frame's header and the first KiB
		start := func() *confClient {
			c := confDial(t, addr)
			c.mustSend(wire[:head], 0)
			return c
		}
		held := func(want int64) {
			t.Helper()
			enginetest.WaitFor(t, fmt.Sprintf("%d bytes held for partial messages", want), func() bool {
				return srv.Memory().Reassembly == want
			})
		}
		a := start()
		held(size)
		b := start()
		held(2 * size)
		c := start()
		c.expectClose(1009)
		waitRefusals(t, srv, map[string]uint64{"reassembly_budget": 1})
		held(2 * size)

		// A message delivered gives its share back, and another fits.
		a.mustSend(wire[head:], 0)
		a.expect(confMsg(ws.OpBinary, msg))
		waitMessage(t, got, string(msg))
		held(size)
		d := start()
		held(2 * size)
		for _, cl := range []*confClient{b, d} {
			cl.mustSend(wire[head:], 0)
			cl.expect(confMsg(ws.OpBinary, msg))
			waitMessage(t, got, string(msg))
		}
		held(0)
		a.closeNormally()
	})
}

// TestHandshakeShare: one address that opens connections and stalls their
// TLS handshakes holds at most its share of the TLS workers and queue
// (1/8 of the workers by default, and at least 8), the rest of its connections are refused
// at accept and counted, and another address completes handshakes
// meanwhile. Once the stalled connections go, the first address is served
// again.
func TestHandshakeShare(t *testing.T) {
	// 64 workers: a share of 8 by default; the flood would fill the
	// workers and the queue.
	srv, addr, ccfg := startTLSServer(t, Config{TLSWorkers: 64, TLSQueue: 64, HandshakeTimeout: time.Minute})
	if srv.cfg.TLSSlotsPerIP != 8 {
		t.Fatalf("TLSSlotsPerIP %d by default; want 8", srv.cfg.TLSSlotsPerIP)
	}
	var stalled []net.Conn
	for range 128 {
		nc, err := net.Dial("tcp", addr)
		if errors.Is(err, syscall.ECONNRESET) {
			continue // refused before connect returned
		}
		if err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, nc)
	}
	t.Cleanup(func() {
		for _, nc := range stalled {
			nc.Close()
		}
	})
	waitRefusals(t, srv, map[string]uint64{"tls_ip_share": 120})

	other := gws.Dialer{
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext,
		TLSClientConfig:  ccfg,
		HandshakeTimeout: confWait,
	}
	for i := range 3 {
		c, _, err := other.Dial("wss://"+addr+"/echo", nil)
		if err != nil {
			t.Fatalf("upgrade %d from another address during the flood: %v", i, err)
		}
		gateEcho(t, c, "served")
		c.Close()
	}

	for _, nc := range stalled {
		nc.Close()
	}
	stalled = nil
	dialUntilServed(t, addr, ccfg)
}
