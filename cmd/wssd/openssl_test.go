package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// sClient is openssl s_client talking to the server: what the test writes
// goes to its stdin, what it prints (the server's bytes and, with -msg,
// the TLS messages it receives) is collected from stdout, its notes
// ("KEYUPDATE") from stderr.
type sClient struct {
	t        *testing.T
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	mu       sync.Mutex
	out, err bytes.Buffer
	changed  chan struct{}
	exited   chan error
}

func startSClient(t *testing.T, addr, ca string, args ...string) *sClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	args = append([]string{"s_client", "-connect", addr, "-servername", "localhost",
		"-CAfile", ca, "-verify_return_error", "-msg"}, args...)
	s := &sClient{t: t, changed: make(chan struct{}, 1), exited: make(chan error, 1)}
	s.cmd = exec.CommandContext(ctx, "openssl", args...)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout = writerFunc(func(p []byte) { s.mu.Lock(); s.out.Write(p); s.mu.Unlock() })
	s.cmd.Stderr = writerFunc(func(p []byte) { s.mu.Lock(); s.err.Write(p); s.mu.Unlock() })
	s.cmd.WaitDelay = 5 * time.Second
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("openssl: %v (make interop installs it)", err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() { _ = s.cmd.Process.Kill() })
	return s
}

// writerFunc is an io.Writer that hands what it is given to a function,
// and tells whoever waits that something came.
type writerFunc func(p []byte)

func (f writerFunc) Write(p []byte) (int, error) { f(p); return len(p), nil }

// wait waits until cond holds for what openssl printed so far.
func (s *sClient) wait(what string, cond func(out, errOut string) bool) {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		s.mu.Lock()
		ok := cond(s.out.String(), s.err.String())
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.t.Fatalf("openssl s_client: no %s in 30 s\nstdout:\n%q\nstderr:\n%s", what, s.out.String(), s.err.String())
		}
		select {
		case err := <-s.exited:
			s.exited <- err
			s.mu.Lock()
			ok := cond(s.out.String(), s.err.String())
			s.mu.Unlock()
			if !ok {
				s.t.Fatalf("openssl s_client exited (%v) before %s\nstdout:\n%q\nstderr:\n%s", err, what, s.out.String(), s.err.String())
			}
			return
		case <-time.After(20 * time.Millisecond): // openssl's output is polled
		}
	}
}

func (s *sClient) write(b []byte) {
	s.t.Helper()
	if _, err := s.stdin.Write(b); err != nil {
		s.t.Fatalf("openssl stdin: %v", err)
	}
}

// maskedText is a client's text frame (RFC 6455 section 5.2) carrying msg.
func maskedText(msg string) []byte {
	var key [4]byte
	_, _ = rand.Read(key[:])
	f := append([]byte{0x81, 0x80 | byte(len(msg))}, key[:]...)
	for i := range len(msg) {
		f = append(f, msg[i]^key[i%4])
	}
	return f
}

// opensslEcho upgrades /echo through s_client and checks an echo; with
// keyUpdates it then sends KeyUpdate without and with update_requested
// (s_client's k and K commands), each followed by another echo, and
// checks that the server answers the request, and only it, with a
// KeyUpdate of its own.
func opensslEcho(t *testing.T, addr, ca string, keyUpdates bool, args ...string) {
	s := startSClient(t, addr, ca, args...)
	var key [16]byte
	_, _ = rand.Read(key[:])
	s.write([]byte("GET /echo HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	s.wait("101 response", func(out, _ string) bool { return strings.Contains(out, "HTTP/1.1 101 Switching Protocols") })
	echo := func(msg string) {
		s.write(maskedText(msg))
		s.wait("echo of "+msg, func(out, _ string) bool { return strings.Contains(out, msg) })
	}
	received := func(out string) int { return strings.Count(out, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate") }
	echo("first message")
	if keyUpdates {
		s.write([]byte("k\n"))
		s.wait("KEYUPDATE note", func(_, e string) bool { return strings.Count(e, "KEYUPDATE") == 1 })
		echo("after our key update")
		s.write([]byte("K\n"))
		s.wait("second KEYUPDATE note", func(_, e string) bool { return strings.Count(e, "KEYUPDATE") == 2 })
		echo("after the requested update")
		s.mu.Lock()
		n := received(s.out.String())
		s.mu.Unlock()
		if n != 1 {
			t.Errorf("the server sent %d KeyUpdates; want 1, for the one requested", n)
		}
		echo("and one more")
	}
	s.write([]byte("Q\n"))
	select {
	case err := <-s.exited:
		if err != nil {
			s.mu.Lock()
			defer s.mu.Unlock()
			t.Fatalf("openssl s_client: %v\nstderr:\n%s", err, s.err.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("openssl s_client did not end after Q")
	}
}

// interopTLSClients runs openssl s_client, with each TLS 1.3 suite and
// with TLS 1.2, and curl against the server at host:port.
func interopTLSClients(t *testing.T, p *process, port, ca string) {
	addr := net.JoinHostPort("127.0.0.1", port)
	for _, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run("openssl "+suite+" key updates", func(t *testing.T) {
			opensslEcho(t, addr, ca, true, "-tls1_3", "-ciphersuites", suite)
		})
	}
	t.Run("openssl TLS 1.2", func(t *testing.T) {
		opensslEcho(t, addr, ca, false, "-tls1_2")
	})
	t.Run("curl", func(t *testing.T) {
		// Not an upgrade: the server answers it with 426 over TLS,
		// and ends the stream with close_notify.
		for _, v := range []string{"--tlsv1.3", "--tlsv1.2"} {
			out := runClient(t, p, 30*time.Second, "curl", "-sS", "--http1.1", v, "--cacert", ca,
				"--resolve", "localhost:"+port+":127.0.0.1", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}",
				"https://localhost:"+port+"/echo")
			if out != "426 0" {
				t.Errorf("curl %s: %q; want status 426, certificate verified", v, out)
			}
		}
	})
}
