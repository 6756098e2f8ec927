package main

import (
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

var wssRE = regexp.MustCompile(`msg=listening .*wss=(wss://\S+)`)

// waitLog waits until the process has logged a line matching re and
// returns its first submatch.
func (p *process) waitLog(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	timeout := time.After(wait)
	for {
		if m := re.FindStringSubmatch(p.stderr()); m != nil {
			if len(m) > 1 {
				return m[1]
			}
			return m[0]
		}
		select {
		case <-p.logged:
		case <-p.exited:
			t.Fatalf("wssd exited: %v\n%s", p.err, p.stderr())
		case <-timeout:
			t.Fatalf("wssd did not log %v\n%s", re, p.stderr())
		}
	}
}

// trusting returns a client TLS config that trusts only the CA in caFile.
func trusting(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", caFile)
	}
	return &tls.Config{RootCAs: pool}
}

// echoOnce dials url with cfg, checks an echo and returns the connection
// and the serial number of the certificate the server showed.
func echoOnce(t *testing.T, url string, cfg *tls.Config) (*websocket.Conn, *big.Int) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: cfg, HandshakeTimeout: wait}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("over TLS")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "over TLS" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	tc, ok := c.UnderlyingConn().(*tls.Conn)
	if !ok {
		return c, nil
	}
	return c, tc.ConnectionState().PeerCertificates[0].SerialNumber
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "wssd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryTLS runs the built binary over wss://: on its development
// certificate, and on --cert/--key files reloaded with SIGHUP.
func TestBinaryTLS(t *testing.T) {
	bin := buildBinary(t)

	t.Run("development certificate", func(t *testing.T) {
		dir := t.TempDir()
		p := start(t, bin, "--listen", "127.0.0.1:0", "--data-dir", dir)
		url := p.waitLog(t, wssRE)
		if !strings.HasPrefix(url, "wss://localhost:") {
			t.Fatalf("listening URL %q; want wss://localhost:PORT/echo", url)
		}
		for _, f := range []string{"dev-ca.pem", "cert.pem", "key.pem"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s not created: %v", f, err)
			}
		}
		cfg := trusting(t, filepath.Join(dir, "dev-ca.pem"))
		c, _ := echoOnce(t, url, cfg)
		c.Close()
		// The same certificate is used again on the next start.
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.waitExit(t, wait); code != 0 {
			t.Fatalf("exit %d", code)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
		p2 := start(t, bin, "--listen", "127.0.0.1:0", "--data-dir", dir)
		echoOnce(t, p2.waitLog(t, wssRE), cfg)
		after, _ := os.ReadFile(filepath.Join(dir, "cert.pem"))
		if string(before) != string(after) {
			t.Error("the development certificate was made anew on the second start")
		}
	})

	t.Run("SIGHUP reloads the certificate", func(t *testing.T) {
		dir := t.TempDir()
		certs := func(hosts string) {
			out, err := exec.Command(bin, "certs", "--out", dir, "--hosts", hosts).CombinedOutput()
			if err != nil {
				t.Fatalf("wssd certs: %v\n%s", err, out)
			}
		}
		certs("localhost,127.0.0.1")
		p := start(t, bin, "--listen", "127.0.0.1:0", "--cert", filepath.Join(dir, "cert.pem"), "--key", filepath.Join(dir, "key.pem"))
		url := p.waitLog(t, wssRE)
		cfg := trusting(t, filepath.Join(dir, "dev-ca.pem"))
		old, serial1 := echoOnce(t, url, cfg)

		certs("localhost,127.0.0.1,wssd.test") // a new leaf, same CA
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitLog(t, regexp.MustCompile(`msg="certificate reloaded"`))
		_, serial2 := echoOnce(t, url, cfg)
		if serial2.Cmp(serial1) == 0 {
			t.Fatal("a new connection still gets the old certificate after SIGHUP")
		}
		// The connection made before the reload is undisturbed.
		if err := old.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := old.ReadMessage(); err != nil || string(got) != "still here" {
			t.Fatalf("old connection after reload: %q, %v", got, err)
		}

		// A bad pair is refused and the current one stays.
		if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		p.waitLog(t, regexp.MustCompile(`msg="certificate reload refused`))
		if _, serial3 := echoOnce(t, url, cfg); serial3.Cmp(serial2) != 0 {
			t.Fatal("the certificate changed after a refused reload")
		}
	})

	t.Run("both listeners", func(t *testing.T) {
		dir := t.TempDir()
		p := start(t, bin, "--listen", "127.0.0.1:0", "--listen-plain", "127.0.0.1:0", "--data-dir", dir)
		echoOnce(t, p.waitLog(t, wssRE), trusting(t, filepath.Join(dir, "dev-ca.pem")))
		echoOnce(t, p.waitLog(t, regexp.MustCompile(`msg=listening .*ws=(ws://\S+)`)), nil)
	})
}
