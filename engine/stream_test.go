package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// streamRoute is the HTTPHandler of the stream tests, on /stream. What it
// does with a request is up to the request's "mode" query parameter:
//
//   - none: streams its head and the part streamFirst, sends what Stream
//     or that WriteStream returned to errs, and the connection to held:
//     the test writes the next parts and ends the stream, from tasks on
//     the loop; the connection's slot is a Closer that sends it to gone;
//   - now: streams "one ", "two" and ends, all before ServeHTTP returns;
//   - misuse: tries what Stream, WriteStream and EndStream refuse, and
//     streams what it saw ("ok" when all was refused as it should be);
//     what it saw after the end goes to errs;
//
// and an upgrade is accepted, after which the stream methods are tried:
// what they returned goes to errs.
type streamRoute struct {
	Echo
	held, gone chan *Conn
	errs       chan error
}

// streamFirst is the first part of the stream a request without a mode
// gets.
const streamFirst = "first part"

func newStreamRoute() *streamRoute {
	return &streamRoute{held: make(chan *Conn, 64), gone: make(chan *Conn, 64), errs: make(chan error, 64)}
}

func (h *streamRoute) ServeHTTP(c *Conn, r *Request) {
	var buf [16]byte
	mode, _ := r.Query(buf[:0], "mode")
	switch {
	case r.Upgrade:
		if err := c.Accept(); err != nil {
			panic(err)
		}
		h.errs <- errors.Join(wantClosed("Stream", c.Stream(http.StatusOK, "", "")),
			wantClosed("WriteStream", c.WriteStream([]byte("x"))), wantClosed("EndStream", c.EndStream()))
	case string(mode) == "now":
		for _, err := range []error{c.Stream(http.StatusOK, "text/plain", "X-Mode: now\r\n"),
			c.WriteStream([]byte("one ")), c.WriteStream([]byte("two")), c.EndStream()} {
			if err != nil {
				panic(err)
			}
		}
	case string(mode) == "misuse":
		h.misuse(c)
	default:
		c.SetSlot(closerFunc(func(c *Conn) { h.gone <- c }))
		err := c.Stream(http.StatusOK, "text/plain; charset=utf-8", "X-Mode: stream\r\n")
		if err == nil {
			err = c.WriteStream([]byte(streamFirst))
		}
		h.errs <- err
		h.held <- c
	}
}

// misuse is streamRoute's misuse mode.
func (h *streamRoute) misuse(c *Conn) {
	var saw []string
	note := func(err error) {
		if err != nil {
			saw = append(saw, err.Error())
		}
	}
	note(wantClosed("WriteStream before Stream", c.WriteStream([]byte("early"))))
	note(wantClosed("EndStream before Stream", c.EndStream()))
	for _, bad := range []struct {
		status      int
		ctype, head string
	}{
		{101, "", ""}, {199, "", ""}, {600, "", ""}, {204, "", ""}, {304, "", ""},
		{200, "text/plain\r\nX-Injected: 1", ""}, {200, "", "X-No-End: 1"},
	} {
		if err := c.Stream(bad.status, bad.ctype, bad.head); !errors.Is(err, errResponse) {
			saw = append(saw, fmt.Sprintf("Stream(%d, %q, %q): %v", bad.status, bad.ctype, bad.head, err))
		}
	}
	if err := c.Stream(http.StatusOK, "text/plain", ""); err != nil {
		panic(err)
	}
	note(wantClosed("Respond during the stream", c.Respond(http.StatusOK, "", "", []byte("no"))))
	note(wantClosed("Accept during the stream", c.Accept()))
	note(wantClosed("Stream during the stream", c.Stream(http.StatusOK, "", "")))
	if err := c.WriteStream(nil); err != nil {
		saw = append(saw, fmt.Sprintf("empty WriteStream: %v", err))
	}
	if len(saw) == 0 {
		saw = append(saw, "ok")
	}
	for _, s := range saw {
		if err := c.WriteStream([]byte(s + "\n")); err != nil {
			panic(err)
		}
	}
	if err := c.EndStream(); err != nil {
		panic(err)
	}
	h.errs <- errors.Join(wantClosed("WriteStream after the end", c.WriteStream([]byte("late"))),
		wantClosed("EndStream after the end", c.EndStream()),
		wantClosed("Respond after the end", c.Respond(http.StatusOK, "", "", nil)))
}

// wantClosed returns nil when err is ErrClosed, and an error that says
// what returned what otherwise.
func wantClosed(what string, err error) error {
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return fmt.Errorf("%s: %v; want ErrClosed", what, err)
}

// onLoopErr runs f on c's loop, waits for it and returns what it returned.
func onLoopErr(t *testing.T, c *Conn, f func() error) (err error) {
	t.Helper()
	onLoop(t, c, func() { err = f() })
	return err
}

// streamWrite writes part to c's stream, from a task on its loop.
func streamWrite(t *testing.T, c *Conn, part string) error {
	t.Helper()
	return onLoopErr(t, c, func() error { return c.WriteStream([]byte(part)) })
}

// streamEnd ends c's stream, from a task on its loop.
func streamEnd(t *testing.T, c *Conn) error {
	t.Helper()
	return onLoopErr(t, c, c.EndStream)
}

// streamServer is a config with streamRoute on /stream.
func streamServer(h *streamRoute, cfg Config) Config {
	cfg.Routes = map[string]Handler{"/stream": h, "/echo": Echo{}}
	return cfg
}

// readPart reads a part of len(want) bytes from body and checks it.
func readPart(t *testing.T, body io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(body, got); err != nil {
		t.Fatalf("read a part of %d bytes: %v", len(want), err)
	}
	if string(got) != want {
		t.Fatalf("part %.40q...; want %.40q...", got, want)
	}
}

// take takes the connection the handler holds, and checks what Stream and
// the first WriteStream returned.
func (h *streamRoute) take(t *testing.T) *Conn {
	t.Helper()
	if err := <-h.errs; err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return <-h.held
}

// TestStreamNetHTTP: net/http's client reads a streamed answer over
// HTTP/1.1 part by part, each as it is written, small and large, chunked;
// after the end, the connection is kept and the next request on it is
// answered (streamed within ServeHTTP, this time).
func TestStreamNetHTTP(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	hxEach(t, streamServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		client, scheme := netHTTPClient(t, addr)
		reused := 0
		get := func(target string) *http.Response {
			t.Helper()
			req, err := http.NewRequest("GET", scheme+addr.hostport+target, nil)
			if err != nil {
				t.Fatal(err)
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) {
					if info.Reused {
						reused++
					}
				},
			}))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { resp.Body.Close() })
			return resp
		}

		resp := get("/stream")
		if resp.StatusCode != 200 || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) || resp.ContentLength != -1 ||
			resp.Close || resp.Header.Get("X-Mode") != "stream" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("head: %d %v, Transfer-Encoding %q, Content-Length %d, close %v; want a chunked 200 with the handler's lines",
				resp.StatusCode, resp.Header, resp.TransferEncoding, resp.ContentLength, resp.Close)
		}
		c := h.take(t)
		readPart(t, resp.Body, streamFirst)
		// Each part is read before the next is written: it was sent
		// as it came.
		large := strings.Repeat("0123456789abcdef", 6000) // over smallFrame, and over a TLS record
		for _, part := range []string{"second", large, "x", strings.Repeat("y", smallFrame), large + "z"} {
			if err := streamWrite(t, c, part); err != nil {
				t.Fatalf("WriteStream: %v", err)
			}
			readPart(t, resp.Body, part)
		}
		if err := streamEnd(t, c); err != nil {
			t.Fatalf("EndStream: %v", err)
		}
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Fatalf("after the end: %q, %v; want the body over", rest, err)
		}
		resp.Body.Close()
		if err := streamEnd(t, c); !errors.Is(err, ErrClosed) {
			t.Errorf("second EndStream: %v; want ErrClosed", err)
		}

		resp = get("/stream?mode=now")
		if got, err := io.ReadAll(resp.Body); err != nil || string(got) != "one two" || resp.Header.Get("X-Mode") != "now" {
			t.Fatalf("second request: %q, %v, %v", got, err, resp.Header)
		}
		if reused != 1 {
			t.Errorf("the second request reused a connection %d times; want the first's", reused)
		}
	})
}

// TestStreamHTTP10: an HTTP/1.0 request's streamed answer has neither
// chunks nor a length: its parts go out as they are and the close ends
// the body.
func TestStreamHTTP10(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	hxEach(t, streamServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(httpHead("GET /stream HTTP/1.0"))
		resp := c.head("GET")
		if resp.TransferEncoding != nil || resp.Header.Get("Content-Length") != "" || resp.ContentLength != -1 || !resp.Close {
			t.Fatalf("head: Transfer-Encoding %q, Content-Length %q, close %v; want neither, and the close",
				resp.TransferEncoding, resp.Header.Get("Content-Length"), resp.Close)
		}
		held := h.take(t)
		readPart(t, resp.Body, streamFirst)
		large := strings.Repeat("abc", 10000)
		for _, part := range []string{"second", large} {
			if err := streamWrite(t, held, part); err != nil {
				t.Fatalf("WriteStream: %v", err)
			}
			readPart(t, resp.Body, part)
		}
		if err := streamEnd(t, held); err != nil {
			t.Fatalf("EndStream: %v", err)
		}
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Fatalf("after the end: %q, %v; want EOF", rest, err)
		}
		c.wantEOF()
		c.nc.Close()
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
	})
}

// TestStreamHead: a HEAD request's streamed answer is its head alone, and
// over at once: the connection is kept for the next request, and the
// stream takes no part.
func TestStreamHead(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	hxEach(t, streamServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(httpHead("HEAD /stream HTTP/1.1", "Host: wssd.test"))
		resp := c.want("HEAD", 200, "", false)
		if resp.Header.Get("X-Mode") != "stream" || resp.ContentLength != -1 {
			t.Errorf("head %v, Content-Length %d; want the handler's lines and no length", resp.Header, resp.ContentLength)
		}
		if err := <-h.errs; !errors.Is(err, ErrClosed) {
			t.Errorf("WriteStream after a HEAD's Stream: %v; want ErrClosed, the stream is over", err)
		}
		held := <-h.held
		if err := streamEnd(t, held); !errors.Is(err, ErrClosed) {
			t.Errorf("EndStream after a HEAD's Stream: %v; want ErrClosed", err)
		}
		c.send(hxGet("/stream?mode=now"))
		c.want("GET", 200, "one two", false)
	})
}

// TestStreamMisuse: what Stream, WriteStream and EndStream refuse:
// anything without a stream open or after its end (ErrClosed), a status
// or lines HTTP does not allow (errResponse); Respond, Accept and Stream
// during a stream find the request answered; the stream methods on a
// WebSocket connection find no request.
func TestStreamMisuse(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	serveEach(t, streamServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/stream?mode=misuse"))
		c.want("GET", 200, "ok\n", false)
		if err := <-h.errs; err != nil {
			t.Error(err)
		}
		c.send(hxUpgrade("/stream"))
		resp, _ := c.read("GET")
		httpCheck101(t, resp)
		if err := <-h.errs; err != nil {
			t.Error(err)
		}
	})
}

// TestStreamSlowConsumer: a client that does not read while the stream is
// written is closed as a slow consumer once more than MaxOutbound bytes
// wait for it, and counted; WriteStream then says so, and so does
// everything after it. The client still gets what was queued, then the
// end of the connection.
func TestStreamSlowConsumer(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	serveEach(t, streamServer(h, Config{MaxOutbound: 64 << 10}), func(t *testing.T, srv *Server, addr confAddr) {
		nc := confConnect(t, addr, 4096)
		if _, err := io.WriteString(nc, hxGet("/stream")); err != nil {
			t.Fatal(err)
		}
		held := h.take(t)
		part := strings.Repeat("s", 16<<10)
		const most = 4096 // 64 MiB: more than the kernel buffers on both ends
		written := 0
		err := onLoopErr(t, held, func() error {
			for written < most {
				if err := held.WriteStream([]byte(part)); err != nil {
					return err
				}
				written++
			}
			return nil
		})
		if !errors.Is(err, ErrClosed) || written == 0 || written == most {
			t.Fatalf("WriteStream returned %v after %d parts; want ErrClosed after some, not all %d", err, written, most)
		}
		if err := streamWrite(t, held, "more"); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteStream after the close: %v; want ErrClosed", err)
		}
		if err := streamEnd(t, held); !errors.Is(err, ErrClosed) {
			t.Errorf("EndStream after the close: %v; want ErrClosed", err)
		}
		// What was queued comes, then the end.
		if err := nc.SetReadDeadline(time.Now().Add(confWait)); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.Copy(io.Discard, resp.Body)
		if !errors.Is(err, io.ErrUnexpectedEOF) || got < int64(len(streamFirst)+len(part)) {
			t.Errorf("read %d bytes of the body, then %v; want the parts queued, then the end of the connection", got, err)
		}
		nc.Close()
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
		flushLoops(srv)
		if n := srv.Refusals()["slow_consumer"]; n != 1 {
			t.Errorf("slow_consumer refusals: %d; want 1", n)
		}
	})
}

// TestStreamClientGone: the client of a stream goes away: the slot's
// Closer is told, and the stream's methods find the connection gone.
func TestStreamClientGone(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	hxEach(t, streamServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/stream"))
		held := h.take(t)
		c.nc.Close()
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
		if err := streamWrite(t, held, "too late"); !errors.Is(err, ErrClosed) {
			t.Errorf("WriteStream after the client went: %v; want ErrClosed", err)
		}
		if err := streamEnd(t, held); !errors.Is(err, ErrClosed) {
			t.Errorf("EndStream after the client went: %v; want ErrClosed", err)
		}
		onLoops(t, srv, 0)
	})
}

// TestStreamPipelined: a request sent behind one whose answer is
// streamed waits for the stream's end, and is answered after it; a client
// that sends more, meanwhile, than a request may hold is closed.
func TestStreamPipelined(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	hxEach(t, streamServer(h, Config{MaxRequestBody: 1024}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/stream") + hxGet("/stream?mode=now"))
		resp := c.head("GET")
		held := h.take(t)
		readPart(t, resp.Body, streamFirst)
		if err := streamWrite(t, held, "second"); err != nil {
			t.Fatal(err)
		}
		readPart(t, resp.Body, "second")
		if err := streamEnd(t, held); err != nil {
			t.Fatal(err)
		}
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Fatalf("after the end: %q, %v", rest, err)
		}
		c.want("GET", 200, "one two", false)

		c.send(hxGet("/stream"))
		held = h.take(t)
		c.flood(1024)
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
		flushLoops(srv)
		if n := srv.Refusals()["request_flood"]; n != 1 {
			t.Errorf("request_flood refusals: %d; want 1", n)
		}
	})
}

// TestStreamDeadlines: no deadline runs while a stream is open, however
// long; after its end, the next request has HandshakeTimeout to come.
func TestStreamDeadlines(t *testing.T) {
	t.Parallel()
	const d = 2 * time.Second
	h := newStreamRoute()
	cfg, clk := clocked(streamServer(h, Config{HandshakeTimeout: d}))
	hxEach(t, cfg, func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/stream"))
		resp := c.head("GET")
		held := h.take(t)
		readPart(t, resp.Body, streamFirst)
		clk.Advance(3 * d)
		settle(srv)
		checkExpiries(t, srv, Expiries{})
		if err := streamWrite(t, held, "late but fine"); err != nil {
			t.Fatal(err)
		}
		readPart(t, resp.Body, "late but fine")
		if err := streamEnd(t, held); err != nil {
			t.Fatal(err)
		}
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Fatalf("after the end: %q, %v", rest, err)
		}
		before(t, srv, clk, d, "keep-alive deadline", func(e Expiries) bool { return e.KeepAlive > 0 })
		after(clk)
		waitClosed(t, c.nc)
		checkExpiries(t, srv, Expiries{KeepAlive: 1})
	})
}

// TestStreamDrain: a drain ends an open stream, whole (its last chunk),
// and then the connection; Shutdown does not wait for the handler.
func TestStreamDrain(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	serveEach(t, streamServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(hxGet("/stream"))
		resp := c.head("GET")
		held := h.take(t)
		readPart(t, resp.Body, streamFirst)

		ctx, cancel := context.WithTimeout(context.Background(), drainWait)
		defer cancel()
		shut := make(chan error, 1)
		go func() { shut <- srv.Shutdown(ctx) }()
		if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
			t.Fatalf("after the drain began: %q, %v; want the body ended", rest, err)
		}
		c.wantEOF()
		c.nc.Close()
		if gone := <-h.gone; gone != held {
			t.Fatal("the Closer was told of another connection")
		}
		if err := drainWaitShutdown(t, shut); err != nil {
			t.Errorf("Shutdown = %v; want nil", err)
		}
	})
}

// TestStreamCounted: a streamed answer is counted once, by its status, in
// wssd_http_responses_total, however many parts it has.
func TestStreamCounted(t *testing.T) {
	t.Parallel()
	h := newStreamRoute()
	srv, addr := startServer(t, streamServer(h, Config{Metrics: metrics.NewSet()}))
	c := hxDial(t, confAddr{hostport: addr})
	c.send(hxGet("/stream?mode=now"))
	c.want("GET", 200, "one two", false)
	c.send(hxGet("/stream"))
	resp := c.head("GET")
	held := h.take(t)
	for range 3 {
		if err := streamWrite(t, held, "part"); err != nil {
			t.Fatal(err)
		}
	}
	if err := streamEnd(t, held); err != nil {
		t.Fatal(err)
	}
	if got, err := io.ReadAll(resp.Body); err != nil || string(got) != streamFirst+"partpartpart" {
		t.Fatalf("body %q, %v", got, err)
	}
	srv.FlushMetrics()
	if n := srv.cfg.Metrics.GetOrCreateCounter(`wssd_http_responses_total{status="200"}`).Get(); n != 2 {
		t.Errorf(`wssd_http_responses_total{status="200"} = %d; want 2, one a stream`, n)
	}
}
