package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/engine"
)

// deflateEcho runs an echo of 1 KiB JSON messages on 4 connections against
// srvCfg's engine (with metrics), offering deflate as cfg says, and returns
// the report and the server's metrics.
func deflateEcho(t *testing.T, srvCfg engine.Config, secure bool, cfg Config) (*Report, *metrics.Set) {
	t.Helper()
	set := metrics.NewSet()
	srvCfg.Metrics = set
	srvCfg.Routes = map[string]engine.Handler{"/echo": &countingEcho{}}
	srv, base, ca := launchWssd(t, srvCfg, secure)
	cfg.Scenario, cfg.Target = Echo, mustTarget(t, base+"/echo", ca)
	cfg.Conns, cfg.Duration, cfg.Size, cfg.Inflight, cfg.Loops = 4, 300*time.Millisecond, 1024, 2, 2
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Established != 4 || rep.Failed != 0 || len(rep.Errors) != 0 {
		t.Fatalf("established %d, failed %d, errors %v", rep.Established, rep.Failed, rep.Errors)
	}
	if rep.Sent == 0 || rep.Received != rep.Sent {
		t.Fatalf("sent %d, received %d", rep.Sent, rep.Received)
	}
	srv.FlushMetrics()
	return rep, set
}

// TestEchoDeflate: over ws:// and wss://, an echo run with deflate against
// wssd with the extension on negotiates it on every connection,
// compresses every message both ways (the server's metrics agree), and
// puts fewer bytes on the wire, both ways, than the same run without.
func TestEchoDeflate(t *testing.T) {
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "ws", true: "wss"}[secure], func(t *testing.T) {
			srvCfg := engine.Config{Deflate: &engine.Deflate{}}
			z, set := deflateEcho(t, srvCfg, secure, Config{Deflate: true})
			d := z.Deflate
			want := "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
			if d == nil || d.Offer != DefaultDeflateOffer || d.Negotiated != 4 || d.Declined != 0 || d.Answers[want] != 4 {
				t.Fatalf("deflate %+v", d)
			}
			w := z.Wire
			if w.MessagesSent != z.Sent || w.CompressedSent != w.MessagesSent || w.CompressedReceived != w.MessagesReceived ||
				w.MessagesReceived != z.Received {
				t.Fatalf("sent %d, received %d; wire %+v", z.Sent, z.Received, w)
			}
			if w.PlainSentBytes != 1024*w.MessagesSent || w.PlainReceivedBytes != 1024*w.MessagesReceived {
				t.Fatalf("plaintext: %+v", w)
			}
			srvIn := set.GetOrCreateCounter(`wssd_deflate_messages_total{direction="received"}`).Get()
			srvOut := set.GetOrCreateCounter(`wssd_deflate_messages_total{direction="sent"}`).Get()
			if srvIn < w.CompressedSent || srvOut < w.CompressedReceived || srvOut == 0 {
				t.Fatalf("the server inflated %d and compressed %d; the client compressed %d and inflated %d",
					srvIn, srvOut, w.CompressedSent, w.CompressedReceived)
			}

			plain, _ := deflateEcho(t, srvCfg, secure, Config{})
			p := plain.Wire
			if plain.Deflate != nil || p.CompressedSent != 0 || p.CompressedReceived != 0 {
				t.Fatalf("without deflate: %+v, %+v", plain.Deflate, p)
			}
			// JSON compresses well below half; the framing and TLS
			// overhead is the same.
			if w.SentPerMessage() > p.SentPerMessage()/2 || w.ReceivedPerMessage() > p.ReceivedPerMessage()/2 {
				t.Errorf("bytes per message with deflate %.1f sent, %.1f received; without %.1f, %.1f",
					w.SentPerMessage(), w.ReceivedPerMessage(), p.SentPerMessage(), p.ReceivedPerMessage())
			}
			if p.SentPerMessage() < 1024 || p.ReceivedPerMessage() < 1024 {
				t.Errorf("without deflate, %.1f bytes sent and %.1f received per 1 KiB message", p.SentPerMessage(), p.ReceivedPerMessage())
			}
			var table bytes.Buffer
			if err := z.WriteTable(&table); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"deflate  negotiated", want, "plaintext/msg"} {
				if !strings.Contains(table.String(), s) {
					t.Errorf("the table lacks %q:\n%s", s, table.String())
				}
			}
		})
	}
}

// TestEchoDeflateTakeover: with an offer that allows context takeover both
// ways and a server that agrees, the client keeps both windows: every
// message comes back whole, and they get smaller than without takeover.
func TestEchoDeflateTakeover(t *testing.T) {
	srvCfg := engine.Config{Deflate: &engine.Deflate{ContextTakeover: true, WindowBits: 15}}
	rep, _ := deflateEcho(t, srvCfg, false, Config{DeflateOffer: "permessage-deflate"})
	if d := rep.Deflate; d.Negotiated != 4 || d.Answers["permessage-deflate"] != 4 {
		t.Fatalf("deflate %+v", d)
	}
	w := rep.Wire
	if w.CompressedSent != w.MessagesSent || w.CompressedReceived != w.MessagesReceived || w.PlainReceivedBytes != 1024*w.MessagesReceived {
		t.Fatalf("wire %+v", w)
	}
	// The same message again refers back to the one before: a few bytes.
	if w.SentPerMessage() > 100 || w.ReceivedPerMessage() > 100 {
		t.Errorf("%.1f bytes sent and %.1f received per message with takeover", w.SentPerMessage(), w.ReceivedPerMessage())
	}

	// A smaller server window for the server's messages, none kept by
	// the client: still whole.
	rep, _ = deflateEcho(t, srvCfg, false, Config{DeflateOffer: "permessage-deflate; server_max_window_bits=10; client_max_window_bits"})
	if d := rep.Deflate; d.Negotiated != 4 || rep.Wire.CompressedReceived != rep.Wire.MessagesReceived {
		t.Fatalf("deflate %+v, wire %+v", d, rep.Wire)
	}
}

// TestEchoDeflateDeclined: a server without the extension declines the
// offer: the report says so, and the run goes on uncompressed.
func TestEchoDeflateDeclined(t *testing.T) {
	rep, _ := deflateEcho(t, engine.Config{}, false, Config{Deflate: true, DeflateThreshold: 100})
	d := rep.Deflate
	if d == nil || d.Negotiated != 0 || d.Declined != 4 || len(d.Answers) != 0 || d.Threshold != 100 || d.state() != "declined" {
		t.Fatalf("deflate %+v", d)
	}
	if w := rep.Wire; w.CompressedSent != 0 || w.CompressedReceived != 0 || w.MessagesSent != rep.Sent {
		t.Fatalf("wire %+v", w)
	}
	var table, page bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "deflate  declined") || !strings.Contains(table.String(), "declined: no extension") {
		t.Errorf("table:\n%s", table.String())
	}
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if _, text := htmlCheck(t, page.Bytes()); !strings.Contains(text, "declined") || !strings.Contains(text, "Bytes on the wire") {
		t.Errorf("the page says nothing of the declined offer")
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back.Deflate == nil || back.Deflate.Declined != 4 || back.Wire != rep.Wire {
		t.Fatalf("JSON round trip: %v, %+v", err, back.Deflate)
	}
	m := parseSummary(t, rep.SummaryLine(), summaryKeys)
	if m["deflate_declined"] != "4" || m["deflate_negotiated"] != "0" || m["compressed_sent"] != "0" {
		t.Errorf("summary %v", m)
	}
}

// cannedServer answers every upgrade request with a 101 that has
// extensions, and is the URL to it.
func cannedServer(t *testing.T, extensions string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				_, _ = nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
					"Sec-WebSocket-Accept: " + acceptFor(req.Header.Get("Sec-WebSocket-Key")) + "\r\n" +
					"Sec-WebSocket-Extensions: " + extensions + "\r\n\r\n"))
				_, _ = nc.Read(make([]byte, 1)) // until the client closes
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/echo"
}

// TestDeflateInvalidResponse: a 101 whose extensions the client must not
// accept fails the connection, with the reason.
func TestDeflateInvalidResponse(t *testing.T) {
	for _, tc := range []struct {
		name, extensions string
		deflate          bool
		reason           string
	}{
		{"window bits out of range", "permessage-deflate; server_max_window_bits=7", true, "upgrade: invalid permessage-deflate response"},
		{"server takeover refused in the offer", "permessage-deflate; client_no_context_takeover", true, "upgrade: invalid permessage-deflate response"},
		{"client window not offered", "permessage-deflate; server_no_context_takeover; client_max_window_bits=10", true, "upgrade: invalid permessage-deflate response"},
		{"another extension", "x-webkit-deflate-frame", true, "upgrade: invalid permessage-deflate response"},
		{"two answers", "permessage-deflate; server_no_context_takeover, permessage-deflate; server_no_context_takeover", true, "upgrade: invalid permessage-deflate response"},
		{"nothing offered", "permessage-deflate", false, "upgrade: an extension that was not offered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := cannedServer(t, tc.extensions)
			rep, err := Run(context.Background(), Config{Scenario: Echo, Target: mustTarget(t, url, ""), Conns: 2, Loops: 1,
				Duration: 10 * time.Millisecond, Size: 64, Deflate: tc.deflate})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Established != 0 || rep.Failed != 2 || rep.Errors[tc.reason] != 2 {
				t.Fatalf("established %d, failed %d, errors %v", rep.Established, rep.Failed, rep.Errors)
			}
		})
	}
}

func TestParseDeflateOffer(t *testing.T) {
	o, err := ParseDeflateOffer(DefaultDeflateOffer)
	if err != nil || !o.ClientNoContextTakeover || !o.ServerNoContextTakeover || o.ClientWindowBits {
		t.Fatalf("%+v, %v", o, err)
	}
	o, err = ParseDeflateOffer(`Permessage-Deflate; server_max_window_bits="10"; client_max_window_bits`)
	if err != nil || o.ServerMaxWindowBits != 10 || !o.ClientWindowBits || o.ClientMaxWindowBits != 0 {
		t.Fatalf("%+v, %v", o, err)
	}
	if got := string(o.AppendOffer(nil)); got != "permessage-deflate; server_max_window_bits=10; client_max_window_bits" {
		t.Errorf("offer %q", got)
	}
	for _, bad := range []string{"", "deflate", "permessage-deflate, permessage-deflate", "permessage-deflate; foo",
		"permessage-deflate; server_max_window_bits", "permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; client_max_window_bits=08", "permessage-deflate; server_no_context_takeover=1",
		"permessage-deflate; client_no_context_takeover; client_no_context_takeover"} {
		if _, err := ParseDeflateOffer(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestJSONPayload: the JSON payload is exactly the size asked, valid JSON,
// the same each time; a pubsub publication padded with it too.
func TestJSONPayload(t *testing.T) {
	for n := range 3000 {
		b := AppendJSONPayload(nil, n)
		if len(b) != n || n > 0 && !json.Valid(b) {
			t.Fatalf("%d bytes: %d, %s", n, len(b), b)
		}
	}
	if a, b := AppendJSONPayload(nil, 1024), AppendJSONPayload([]byte("x"), 1024); !bytes.Equal(a, b[1:]) {
		t.Error("not the same twice")
	}
	r := &run{cfg: Config{Topic: "a.b", Size: 1024}, padJSON: true}
	for _, seq := range []uint64{0, 9, 12345} {
		b := r.appendPublish(nil, 3, seq, 1_700_000_000_123_456_789)
		var req struct{ Data struct{ Pad map[string]any } }
		if len(b) != 1024 || json.Unmarshal(b, &req) != nil || req.Data.Pad["items"] == nil {
			t.Errorf("%d bytes: %s", len(b), b)
		}
	}
}
