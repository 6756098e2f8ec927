package engine

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/wssd/wssd/security"
)

// chunkRoute is hxRoute, but that a request with mode=echo is answered
// at once with its body as the handler got it: the slice itself, which
// must still hold the body while Respond writes it.
type chunkRoute struct{ *hxRoute }

func (h chunkRoute) ServeHTTP(c *Conn, r *Request) {
	if mode, _ := r.Query(nil, "mode"); string(mode) == "echo" {
		_ = c.Respond(http.StatusOK, "application/octet-stream", "", r.Body)
		return
	}
	h.hxRoute.ServeHTTP(c, r)
}

// chunkServer is a config with chunkRoute on /poll and the echo on /echo.
func chunkServer(h *hxRoute, cfg Config) Config {
	cfg.Routes = map[string]Handler{"/poll": chunkRoute{h}, "/echo": Echo{}}
	return cfg
}

// chunks encodes data as a chunked body, a chunk per part.
func chunks(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// chunkedPost is a POST on target whose body is given chunked.
func chunkedPost(target, body string, lines ...string) string {
	lines = append([]string{"Host: wssd.test", "Transfer-Encoding: chunked"}, lines...)
	return httpHead("POST "+target+" HTTP/1.1", lines...) + body
}

// TestHTTPRouteChunked: a chunked body reaches the handler decoded,
// whether it comes with its head or after it in pieces down to a byte at
// a time, with extensions and trailers; requests pipelined behind it are
// read from where it ends, and the connection is kept alive.
func TestHTTPRouteChunked(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	const limit = 64 << 10
	hxEach(t, chunkServer(h, Config{MaxRequestBody: limit}), func(t *testing.T, srv *Server, addr confAddr) {
		c := hxDial(t, addr)
		c.send(chunkedPost("/poll?sid=w", chunks("whole ", "in one write")))
		c.want("POST", 200, hxWant("POST", "w", "whole in one write"), false)

		req := chunkedPost("/poll?sid=t", "6;ext=1\r\ntrick\n\r\n5;a=\"b;c\"\r\nled, \r\nd\r\nbyte by byte!\r\n0\r\nX-Trailer: yes\r\n\r\n")
		for i := range len(req) {
			c.send(req[i : i+1])
		}
		c.want("POST", 200, hxWant("POST", "t", "trick\nled, byte by byte!"), false)

		// The answer is the handler's slice itself: the body held while
		// Respond writes it.
		c.send(chunkedPost("/poll?mode=echo", chunks("echoed ", "as given")))
		c.want("POST", 200, "echoed as given", false)

		// A body of the limit, in chunks of every size, cut anywhere.
		big := strings.Repeat("0123456789abcdef", limit/16)
		var parts []string
		for rest, n := big, 1; len(rest) > 0; n = n*3 + 1 {
			n = min(n, len(rest))
			parts = append(parts, rest[:n])
			rest = rest[n:]
		}
		req = chunkedPost("/poll?mode=echo", chunks(parts...))
		for start, n := 0, 1; start < len(req); start, n = start+n, n*2+7 {
			c.send(req[start:min(start+n, len(req))])
		}
		c.want("POST", 200, big, false)

		// Pipelined: a chunked body ends where the next request begins,
		// each answered at once or later, in order.
		c.send(chunkedPost("/poll?sid=1", chunks("one")) + hxGet("/poll?sid=2") +
			chunkedPost("/poll?sid=3&mode=later", chunks("th", "ree")) + hxPost("/poll?sid=4", "four") +
			chunkedPost("/poll?sid=5", chunks()))
		c.want("POST", 200, hxWant("POST", "1", "one"), false)
		c.want("GET", 200, hxWant("GET", "2", ""), false)
		c.want("POST", 200, hxWant("POST", "3", "three"), false)
		c.want("POST", 200, hxWant("POST", "4", "four"), false)
		c.want("POST", 200, hxWant("POST", "5", ""), false)
		if err := <-h.errs; err != nil {
			t.Errorf("Respond from a task: %v", err)
		}

		// A client that asks is told to send its body; the body then
		// comes in pieces, the last with the next request behind it.
		req = chunkedPost("/poll?sid=e", chunks("after ", "the word"), "Expect: 100-continue")
		head := strings.Index(req, "\r\n\r\n") + 4
		c.send(req[:head+3])
		if resp, _ := c.read("POST"); resp.StatusCode != http.StatusContinue {
			t.Fatalf("status %d; want 100 before the body", resp.StatusCode)
		}
		c.send(req[head+3 : head+10])
		c.send(req[head+10:] + hxGet("/poll?sid=behind", "Connection: close"))
		c.want("POST", 200, hxWant("POST", "e", "after the word"), false)
		c.want("GET", 200, hxWant("GET", "behind", ""), true)
		c.wantEOF()
	})
}

// TestHTTPRouteChunkedNetHTTP: net/http's client, written by others,
// sends a body of unknown length chunked; the handler gets it decoded, on
// a connection kept alive, over http:// and https://.
func TestHTTPRouteChunkedNetHTTP(t *testing.T) {
	t.Parallel()
	h := newHXRoute()
	hxEach(t, chunkServer(h, Config{}), func(t *testing.T, srv *Server, addr confAddr) {
		client, scheme := netHTTPClient(t, addr)
		reused, chunked := 0, 0
		post := func(query string, parts ...string) string {
			pr, pw := io.Pipe()
			go func() {
				for _, p := range parts {
					if _, err := io.WriteString(pw, p); err != nil {
						return
					}
				}
				pw.Close()
			}()
			req, err := http.NewRequest("POST", scheme+addr.hostport+"/poll?"+query, pr)
			if err != nil {
				t.Fatal(err)
			}
			req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
				GotConn: func(info httptrace.GotConnInfo) {
					if info.Reused {
						reused++
					}
				},
				WroteHeaderField: func(key string, value []string) {
					if strings.EqualFold(key, "Transfer-Encoding") && len(value) == 1 && value[0] == "chunked" {
						chunked++
					}
				},
			}))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("POST: %v", err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("POST: %d %q, %v", resp.StatusCode, got, err)
			}
			return string(got)
		}
		if got := post("sid=a", "4:hello"); got != hxWant("POST", "a", "4:hello") {
			t.Errorf("one write: %q", got)
		}
		if got := post("sid=b&mode=later", "a", "b", "c"); got != hxWant("POST", "b", "abc") {
			t.Errorf("three writes: %q", got)
		}
		var parts []string
		for i := range 64 {
			parts = append(parts, strings.Repeat(strconv.Itoa(i%10), 4096))
		}
		if got := post("mode=echo", parts...); got != strings.Join(parts, "") {
			t.Errorf("256 KiB in 64 writes: %d bytes back", len(got))
		}
		if got := post("sid=e"); got != hxWant("POST", "e", "") {
			t.Errorf("empty: %q", got)
		}
		if chunked != 4 || reused != 3 {
			t.Errorf("%d of 4 requests sent chunked, %d reused the connection; want 4 and 3", chunked, reused)
		}
		<-h.errs // the "later" answer's
	})
}

// TestHTTPRouteChunkedRefusals: a chunked body that is malformed (400,
// bad_chunked_body) or over the bounds (413, body_too_large) is answered
// and closed by the engine, whether it came with its head or after it, in
// pieces; a refusal on the route carries the CORS lines for an allowed
// page. A Transfer-Encoding other than chunked, or in an HTTP/1.0
// request, is refused as its head is read; on a WebSocket route, and on an
// upgrade, a chunked body is refused as any body is.
func TestHTTPRouteChunkedRefusals(t *testing.T) {
	t.Parallel()
	origins, err := security.ParseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	h := newHXRoute()
	const limit = 1000
	srv, addr := startServer(t, chunkServer(h, Config{MaxRequestBody: limit, Origins: origins, Metrics: metrics.NewSet()}))
	overhead := strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", (limit+DefaultMaxHeaderBytes)/1000+1)
	for _, tc := range []struct {
		name, request string
		status        int
		reason        string
	}{
		{"bad chunk size", chunkedPost("/poll", "5x\r\nhello\r\n0\r\n\r\n"), 400, "invalid chunk size"},
		{"chunk size of 17 digits", chunkedPost("/poll", "00000000000000005\r\nhello\r\n0\r\n\r\n"), 400, "invalid chunk size"},
		{"bare LF", chunkedPost("/poll", "5\nhello\r\n0\r\n\r\n"), 400, "line of a chunked body not ended by CRLF"},
		{"data not followed by CRLF", chunkedPost("/poll", "5\r\nhello!\r\n0\r\n\r\n"), 400, "chunk data not followed by CRLF"},
		{"malformed trailer", chunkedPost("/poll", "0\r\nX : y\r\n\r\n"), 400, "malformed trailer section"},
		{"data over the limit", chunkedPost("/poll", "3e9\r\n"), 413, "request body too large"},
		{"data over the limit, in chunks", chunkedPost("/poll", chunks(strings.Repeat("a", 600), strings.Repeat("b", 401))), 413, "request body too large"},
		{"overhead over the limit", chunkedPost("/poll", overhead), 413, "request body too large"},
		{"HTTP/1.0", httpHead("POST /poll HTTP/1.0", "Transfer-Encoding: chunked") + chunks("x"), 400, "Transfer-Encoding in an HTTP/1.0 request"},
		{"chunked not last", httpHead("POST /poll HTTP/1.1", "Host: wssd.test", "Transfer-Encoding: chunked, gzip") + chunks("x"), 400, "Transfer-Encoding does not end with chunked, or has it twice"},
		{"gzip before chunked", httpHead("POST /poll HTTP/1.1", "Host: wssd.test", "Transfer-Encoding: gzip, chunked") + chunks("x"), 501, "transfer coding not implemented"},
		{"with Content-Length", chunkedPost("/poll", chunks("x"), "Content-Length: 6"), 400, "both Content-Length and Transfer-Encoding"},
		{"upgrade", hxUpgrade("/poll", "Transfer-Encoding: chunked") + chunks("x"), 400, "an upgrade request has no body"},
		{"WebSocket route", chunkedPost("/echo", chunks("x")), 405, "method not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := hxDial(t, confAddr{hostport: addr})
			c.send(tc.request)
			c.want("POST", tc.status, tc.reason+"\n", true)
			c.wantEOF()
		})
	}
	// After its head, in pieces: the refusal comes when the bad byte
	// does, with the CORS lines of the request.
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"malformed", "5\r\nhel" + "lo\r\n5\r\nworld\n", 400},
		{"over the limit", "258\r\n" + strings.Repeat("a", 600) + "\r\n" + "191\r\n", 413},
	} {
		t.Run(tc.name+", in pieces", func(t *testing.T) {
			c := hxDial(t, confAddr{hostport: addr})
			req := chunkedPost("/poll", tc.body, "Expect: 100-continue", "Origin: https://app.example.com")
			head := strings.Index(req, "\r\n\r\n") + 4
			c.send(req[:head])
			if resp, _ := c.read("POST"); resp.StatusCode != http.StatusContinue {
				t.Fatalf("status %d; want 100 before the body", resp.StatusCode)
			}
			for i := head; i < len(req); i++ {
				c.send(req[i : i+1])
			}
			resp, _ := c.read("POST")
			if resp.StatusCode != tc.status || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || !resp.Close {
				t.Fatalf("answer %d, Access-Control-Allow-Origin %q, close %v; want %d with the CORS lines, closing",
					resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"), resp.Close, tc.status)
			}
			c.wantEOF()
		})
	}
	flushLoops(srv)
	got := srv.Refusals()
	for reason, want := range map[string]uint64{"bad_chunked_body": 6, "body_too_large": 4, "request_flood": 0} {
		if got[reason] != want {
			t.Errorf("refusals[%s] = %d; want %d", reason, got[reason], want)
		}
	}
	srv.FlushMetrics()
	set := srv.cfg.Metrics
	for status, want := range map[string]uint64{"400": 7, "413": 4} {
		if n := set.GetOrCreateCounter(`wssd_http_responses_total{status="` + status + `"}`).Get(); n != want {
			t.Errorf("wssd_http_responses_total{status=%q} = %d; want %d", status, n, want)
		}
	}
}
