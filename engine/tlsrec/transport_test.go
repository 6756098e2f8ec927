package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/wssd/wssd/engine/enginetest"
)

// pair is both ends of a TCP connection on loopback.
func pair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	_ = client.SetDeadline(deadline)
	_ = server.SetDeadline(deadline)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// handoff runs a handshake between a tls.Client and a tls.Server, each
// over a Transport, and finishes both. scfg is made by ServerConfig. clientSays is written by the
// client's tls.Conn right after its handshake, before the server has
// finished its own: it arrives behind the client's Finished.
type handoff struct {
	cs, ss       *Stream // TLS 1.3: the record layers
	ctc, stc     *tls.Conn
	ct, st       *Transport
	cnc, snc     net.Conn
	serverResume bool
}

func runHandoff(t *testing.T, scfg, ccfg *tls.Config, clientSays []byte, keepClient bool) *handoff {
	t.Helper()
	cnc, snc := pair(t)
	h := &handoff{cnc: cnc, snc: snc}
	h.st = NewTransport(snc, false)
	h.stc = tls.Server(h.st, scfg)
	serr := make(chan error, 1)
	go func() {
		err := h.stc.Handshake()
		if err == nil {
			h.ss, err = h.st.Finish(h.stc, false)
		}
		serr <- err
	}()
	h.ct = NewTransport(cnc, true)
	h.ctc = tls.Client(h.ct, h.ct.ClientConfig(ccfg))
	if err := h.ctc.Handshake(); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if len(clientSays) > 0 {
		if _, err := h.ctc.Write(clientSays); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-serr; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	h.serverResume = h.stc.ConnectionState().DidResume
	var err error
	if h.cs, err = h.ct.Finish(h.ctc, keepClient); err != nil {
		t.Fatalf("client finish: %v", err)
	}
	return h
}

func serverConfig() *tls.Config {
	return ServerConfig(enginetest.TestPKI().ServerConfig())
}

func clientConfig() *tls.Config { return enginetest.TestPKI().ClientConfig() }

// readAll reads records from nc into s until want bytes of application
// data have come out.
func readAll(t *testing.T, nc net.Conn, s *Stream, want int) []byte {
	t.Helper()
	var got []byte
	first, rest, err := s.Input(nil) // what the handshake left over
	got = append(append(got, first...), rest...)
	buf := make([]byte, 64<<10)
	for err == nil && len(got) < want {
		var n int
		n, err = nc.Read(buf)
		if err != nil {
			t.Fatalf("read: %v (%d of %d bytes)", err, len(got), want)
		}
		first, rest, err = s.Input(buf[:n])
		got = append(append(got, first...), rest...)
	}
	if err != nil {
		t.Fatalf("input: %v", err)
	}
	return got
}

// TestHandoff: both ends of a TLS 1.3 connection hand off to the record
// layer, with every suite crypto/tls may pick, and talk both ways: what
// the client wrote behind its Finished is the server's first input, and
// the server's writes go on after the session ticket crypto/tls sent
// with its first flight (its sequence starts past it).
func TestHandoff(t *testing.T) {
	first := []byte("GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n")
	ccfg := clientConfig()
	ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(1) // so the server sends a ticket
	h := runHandoff(t, serverConfig(), ccfg, first, false)
	if h.ss == nil || h.cs == nil {
		t.Fatal("a TLS 1.3 connection kept its tls.Conn")
	}
	if _, w := h.ss.Seq(); w != 1 {
		t.Fatalf("server write sequence %d; want 1, after the session ticket", w)
	}
	if got := readAll(t, h.snc, h.ss, len(first)); !bytes.Equal(got, first) {
		t.Fatalf("server read %q; want %q", got, first)
	}
	// The server's ticket came before this, under the same key.
	msg := bytes.Repeat([]byte("0123456789abcdef"), 3000) // several records
	if _, err := h.snc.Write(h.ss.Seal(nil, msg[:10], msg[10:])); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, h.cnc, h.cs, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("client read %d bytes, not the %d sent", len(got), len(msg))
	}
	if _, err := h.cnc.Write(h.cs.Seal(nil, []byte("from the client"), nil)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, h.snc, h.ss, 15); string(got) != "from the client" {
		t.Fatalf("server read %q", got)
	}
	// close_notify ends the stream cleanly.
	if _, err := h.cnc.Write(h.cs.AppendAlert(nil, AlertCloseNotify)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, err := h.snc.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.ss.Input(buf[:n]); !errors.Is(err, ErrCloseNotify) {
		t.Fatalf("after close_notify: %v", err)
	}
}

// TestHandoffTLS12: a TLS 1.2 connection keeps its tls.Conn, which the
// loop feeds through the transport.
func TestHandoffTLS12(t *testing.T) {
	ccfg := clientConfig()
	ccfg.MaxVersion = tls.VersionTLS12
	h := runHandoff(t, serverConfig(), ccfg, []byte("from the client"), false)
	if h.ss != nil || h.cs != nil {
		t.Fatal("a TLS 1.2 connection got a record layer")
	}
	var wire bytes.Buffer
	h.st.Attach(&wire)
	if got := loopRead(t, h.snc, h.st, h.stc, 15); got != "from the client" {
		t.Fatalf("server read %q", got)
	}
	if _, err := h.stc.Write([]byte("from the server")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.snc.Write(wire.Bytes()); err != nil { // the loop flushing gnet's queue
		t.Fatal(err)
	}
	h.ct.Attach(io.Discard)
	if got := loopRead(t, h.cnc, h.ct, h.ctc, 15); got != "from the server" {
		t.Fatalf("client read %q", got)
	}
}

// loopRead reads want bytes of plaintext from tc as a loop does: raw bytes
// from the socket go to the transport, tc reads until it would block, and
// the transport says how many raw bytes it took. Raw bytes are handed
// over one at a time, so records are cut everywhere.
func loopRead(t *testing.T, nc net.Conn, tr *Transport, tc *tls.Conn, want int) string {
	t.Helper()
	var got, pending []byte
	buf := make([]byte, 4096)
	raw := make([]byte, 4096)
	for len(got) < want {
		m, err := nc.Read(raw)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		pending = append(pending, raw[:m]...)
		for len(pending) > 0 && len(got) < want {
			in := pending[:1]
			tr.SetInput(in)
			for {
				n, err := tc.Read(buf)
				got = append(got, buf[:n]...)
				if errors.Is(err, ErrWouldBlock) {
					break
				}
				if err != nil {
					t.Fatalf("tls read: %v", err)
				}
			}
			pending = pending[tr.Consumed(in):]
		}
	}
	return string(got)
}

// TestTransportKept: bytes the handshake left over are read before the
// loop's, and what of them is not read yet stays with the transport.
func TestTransportKept(t *testing.T) {
	tr := &Transport{kept: []byte("abc")}
	tr.Attach(io.Discard)
	raw := []byte("defgh")
	tr.SetInput(raw)
	buf := make([]byte, 4)
	if n, _ := tr.Read(buf); string(buf[:n]) != "abcd" {
		t.Fatalf("read %q; want the kept bytes first", buf[:n])
	}
	if c := tr.Consumed(raw); c != len(raw) {
		t.Fatalf("consumed %d; want all %d (the rest is kept)", c, len(raw))
	}
	if string(tr.kept) != "efgh" {
		t.Fatalf("kept %q", tr.kept)
	}
	tr.SetInput(nil)
	if n, _ := tr.Read(buf); string(buf[:n]) != "efgh" {
		t.Fatalf("read %q", buf[:n])
	}
	if _, err := tr.Read(buf); !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("read of nothing: %v", err)
	}
	if c := tr.Consumed(nil); c != 0 || len(tr.kept) != 0 {
		t.Fatalf("consumed %d, kept %q", c, tr.kept)
	}
}

// TestHandoffResumption: session tickets still work through ServerConfig's
// per-connection configurations: a second connection resumes, and its
// record layer counts the ticket it was sent too.
func TestHandoffResumption(t *testing.T) {
	scfg := serverConfig()
	ccfg := clientConfig()
	ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	h := runHandoff(t, scfg, ccfg, nil, true)
	if h.cs != nil {
		t.Fatal("a client that keeps its tls.Conn got a record layer")
	}
	// The client must read the ticket for the session cache.
	if _, err := h.snc.Write(h.ss.Seal(nil, []byte("x"), nil)); err != nil {
		t.Fatal(err)
	}
	h.ct.Attach(io.Discard)
	raw := make([]byte, 4096)
	buf := make([]byte, 16)
	h.ct.SetInput(nil)
	got := 0
	for got == 0 {
		n, err := h.ctc.Read(buf)
		got += n
		if errors.Is(err, ErrWouldBlock) {
			h.ct.Consumed(nil)
			m, err := h.cnc.Read(raw)
			if err != nil {
				t.Fatal(err)
			}
			h.ct.SetInput(raw[:m])
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	h2 := runHandoff(t, scfg, ccfg, nil, false)
	if !h2.serverResume {
		t.Fatal("the second connection did not resume")
	}
	msg := []byte("resumed")
	if _, err := h2.snc.Write(h2.ss.Seal(nil, msg, nil)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, h2.cnc, h2.cs, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("client read %q", got)
	}
}

// TestTransportOneRecord: during the handshake a Read never returns bytes
// past the end of the record it is in, however much the socket had.
func TestTransportOneRecord(t *testing.T) {
	cnc, snc := pair(t)
	rec := func(body string) []byte {
		return append([]byte{23, 3, 3, 0, byte(len(body))}, body...)
	}
	var all []byte
	for _, b := range []string{"first record", "2nd", "and the third"} {
		all = append(all, rec(b)...)
	}
	if _, err := cnc.Write(all); err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(snc, false)
	buf := make([]byte, 1024)
	for _, b := range []string{"first record", "2nd", "and the third"} {
		var got []byte
		for len(got) < 5+len(b) {
			n, err := tr.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, buf[:n]...)
		}
		if !bytes.Equal(got, rec(b)) {
			t.Fatalf("read %q; want exactly the record %q", got, rec(b))
		}
	}
	if l := tr.leftover(); len(l) != 0 {
		t.Fatalf("leftover %q after every record was read", l)
	}
	tr.Abandon()
}

// TestHandoffNoTickets: with session tickets off, nothing is sealed under
// the server's application key during the handshake, and its first record
// is sequence 0.
func TestHandoffNoTickets(t *testing.T) {
	cert := enginetest.TestPKI().Cert
	scfg := ServerConfig(&tls.Config{Certificates: []tls.Certificate{cert}, SessionTicketsDisabled: true})
	h := runHandoff(t, scfg, clientConfig(), nil, false)
	if _, w := h.ss.Seq(); w != 0 {
		t.Fatalf("server write sequence %d; want 0", w)
	}
	msg := []byte("no ticket first")
	if _, err := h.snc.Write(h.ss.Seal(nil, msg, nil)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, h.cnc, h.cs, len(msg)); !bytes.Equal(got, msg) {
		t.Fatalf("client read %q", got)
	}
}
