package engine

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/VictoriaMetrics/metrics"
	gws "github.com/gorilla/websocket"

	"github.com/wssd/wssd/codec"
	"github.com/wssd/wssd/security"
)

// BenchmarkEcho measures an echo round trip through a running server on
// loopback: one client frame in, the echo out, for several payload sizes
// and 1 or 16 connections with one message in flight each. server=gorilla
// runs the same load against a gorilla/websocket echo server (a goroutine
// per connection on net/http), as a baseline measured in the same run.
//
// The client shares the process, and so the Go scheduler, with the server:
// the event loops sit in epoll_wait holding their Ps, and a client
// goroutine may wait for the scheduler to take one back. That inflates
// wssd's single-connection latency here; measure latency from another
// process (wssbench) to compare servers.
func BenchmarkEcho(b *testing.B) {
	servers := []struct {
		name  string
		start func(testing.TB) string
	}{
		{name: "wssd", start: func(tb testing.TB) string { _, addr := startServer(tb, Config{}); return addr }},
		{name: "gorilla", start: startGorillaEcho},
	}
	for _, srv := range servers {
		for _, conns := range []int{1, 16} {
			for _, size := range []int{16, 1024, 16384, 1 << 20} {
				b.Run(fmt.Sprintf("server=%s/conns=%d/size=%d", srv.name, conns, size), func(b *testing.B) {
					benchEcho(b, srv.start(b), conns, size)
				})
			}
		}
	}
}

func benchEcho(b *testing.B, addr string, conns, size int) {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	benchEchoPayload(b, addr, conns, payload)
}

// BenchmarkEchoGates measures what the per-message gates cost: echoes of a
// 200-byte JSON message over 16 connections with no gate, with message and
// byte buckets, and with the buckets and a 5-property schema, in the same
// run.
func BenchmarkEchoGates(b *testing.B) {
	schema, err := security.CompileSchema([]byte(`{
		"type": "object",
		"properties": {
			"op": {"enum": ["publish", "subscribe"]},
			"topic": {"type": "string", "maxLength": 64, "pattern": "^[a-z0-9.-]+$"},
			"id": {"type": "integer", "minimum": 0},
			"data": {"type": "object"},
			"ts": {"type": "number"}
		},
		"required": ["op", "topic"],
		"additionalProperties": false
	}`))
	if err != nil {
		b.Fatal(err)
	}
	msg := []byte(`{"op":"publish","topic":"chat.room-42","id":17,"data":{"text":"hello everyone, this is a message of a typical size","from":"alice","tags":["a","b"]},"ts":1763740800.25}`)
	unlimited := security.Rate{PerSecond: 1 << 40, Burst: 1 << 40}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"none", Config{}},
		{"buckets", Config{MessageRate: unlimited, ByteRate: unlimited}},
		{"buckets+schema", Config{MessageRate: unlimited, ByteRate: unlimited, JSONRoutes: map[string]*security.Schema{"/echo": schema}}},
	} {
		b.Run("gates="+tc.name, func(b *testing.B) {
			_, addr := startServer(b, tc.cfg)
			benchEchoPayload(b, addr, 16, msg)
		})
	}
}

func benchEchoPayload(b *testing.B, addr string, conns int, payload []byte) {
	clients := make([]*benchClient, conns)
	for i := range clients {
		clients[i] = dialBench(b, addr)
	}
	frame := codec.AppendMaskedFrame(nil, true, codec.OpText, payload, [4]byte{1, 2, 3, 4})
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	done := make(chan error, conns)
	for _, c := range clients {
		go func(c *benchClient, n int) {
			for i := 0; i < n; i++ {
				if _, err := c.nc.Write(frame); err != nil {
					done <- err
					return
				}
				n, err := readEcho(c.br)
				if err != nil {
					done <- err
					return
				}
				if _, err := c.br.Discard(n); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}(c, b.N/conns+1)
	}
	for range clients {
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for _, c := range clients {
		c.nc.Close()
	}
}

// startGorillaEcho starts a gorilla/websocket echo server on loopback and
// returns its address.
func startGorillaEcho(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	up := gws.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, msg, err := c.ReadMessage()
			if err != nil || c.WriteMessage(op, msg) != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// readEcho reads a server frame's header and returns its payload length,
// without allocating, so that allocs/op counts the server's allocations.
func readEcho(br *bufio.Reader) (int, error) {
	for need := 2; ; need++ {
		b, err := br.Peek(need)
		if err != nil {
			return 0, err
		}
		h, hl, err := codec.ParseHeader(b)
		if err != nil {
			return 0, err
		}
		if hl > 0 {
			_, err = br.Discard(hl)
			return int(h.Length), err
		}
	}
}

type benchClient struct {
	nc net.Conn
	br *bufio.Reader
}

func dialBench(b *testing.B, addr string) *benchClient {
	b.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	req := "GET /echo HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		b.Fatal(err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		b.Fatalf("upgrade: %v %v", resp, err)
	}
	return &benchClient{nc: nc, br: br}
}

// BenchmarkHandshake measures accepting a connection and upgrading it: a
// TCP connect, the HTTP upgrade and the 101, by 4 clients at once.
func BenchmarkHandshake(b *testing.B) {
	_, addr := startServer(b, Config{})
	b.ReportAllocs()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c := dialBench(b, addr)
			c.nc.Close()
		}
	})
}

// BenchmarkEchoMetrics measures what metrics cost: echoes over 16
// connections with and without a metrics set, in the same run.
func BenchmarkEchoMetrics(b *testing.B) {
	for _, size := range []int{16, 1024} {
		for _, on := range []bool{false, true} {
			b.Run(fmt.Sprintf("size=%d/metrics=%v", size, on), func(b *testing.B) {
				var cfg Config
				if on {
					cfg.Metrics = metrics.NewSet()
				}
				_, addr := startServer(b, cfg)
				benchEcho(b, addr, 16, size)
			})
		}
	}
}
