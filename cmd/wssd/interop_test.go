package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wssd/wssd/engine"
)

// interopDir holds the clients TestInterop runs; see make interop.
const interopDir = "testdata/interop"

// TestInterop runs the built binary with TLS and independent clients
// against it, each in its own process and trusting only the dev CA the
// server wrote: Node's ws, Python's websockets, Chromium loading the test
// page, sslscan for the TLS versions and ciphers it accepts, openssl
// s_client with each TLS 1.3 suite (and key updates) and TLS 1.2, and
// curl. The tools
// are not Go modules, so the test runs only when asked to:
//
//	make interop
//
// installs them and runs it with WSSD_INTEROP=1. WSSD_INTEROP_BIN runs a
// prebuilt binary instead of building this package.
func TestInterop(t *testing.T) {
	if os.Getenv("WSSD_INTEROP") != "1" {
		t.Skip("set WSSD_INTEROP=1 to run the interop clients (Node ws, Python websockets, Chromium, sslscan, openssl, curl): make interop installs them and runs this test")
	}
	bin := os.Getenv("WSSD_INTEROP_BIN")
	if bin == "" {
		bin = buildBinary(t)
	}

	dataDir := t.TempDir()
	p := start(t, bin, "--listen", "127.0.0.1:0", "--listen-plain", "", "--data-dir", dataDir)
	wssURL := p.waitLog(t, wssRE)
	u, err := url.Parse(wssURL)
	if err != nil || u.Scheme != "wss" || u.Path != "/echo" || u.Port() == "" {
		t.Fatalf("logged URL %q is not wss://HOST:PORT/echo (%v)\n%s", wssURL, err, p.stderr())
	}
	ca := filepath.Join(dataDir, "dev-ca.pem")
	t.Logf("server at %s, dev CA %s", wssURL, ca)

	t.Run("dev certificate", func(t *testing.T) {
		checkDevCert(t, dataDir)
	})

	t.Run("node ws echo", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(interopDir, "node", "node_modules", "ws")); err != nil {
			t.Fatalf("the Node clients' packages are not installed (npm ci in %s/node; make interop does it): %v", interopDir, err)
		}
		runClient(t, p, 40*time.Second, "node", filepath.Join(interopDir, "node", "echo.mjs"), wssURL, ca)
	})

	t.Run("python websockets echo", func(t *testing.T) {
		runClient(t, p, 40*time.Second, "/usr/bin/python3", filepath.Join(interopDir, "python", "echo.py"), wssURL, ca)
	})

	t.Run("chromium page", func(t *testing.T) {
		if _, err := os.Stat(filepath.Join(interopDir, "node", "node_modules", "playwright-core")); err != nil {
			t.Fatalf("playwright-core is not installed (npm ci in %s/node; make interop does it): %v", interopDir, err)
		}
		// As a person would open it: by name, so that Chromium checks the
		// certificate's DNS name (the echo clients use the logged URL).
		byName := *u
		byName.Host = net.JoinHostPort("localhost", u.Port())
		runClient(t, p, 90*time.Second, "node", filepath.Join(interopDir, "browser", "page.mjs"), byName.String(), ca)
	})

	t.Run("sslscan TLS policy", func(t *testing.T) {
		// The server listens on 127.0.0.1: scan that address, with the
		// host name the certificate is for.
		out := runClient(t, p, 60*time.Second, "sslscan", "--no-colour", "--sni-name=localhost", net.JoinHostPort("127.0.0.1", u.Port()))
		checkTLSPolicy(t, out)
	})

	interopTLSClients(t, p, u.Port(), ca)

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.waitExit(t, engine.DefaultDrainTimeout+wait); code != 0 {
		t.Errorf("exit code %d after SIGTERM; want 0\n%s", code, p.stderr())
	}
}

// runClient runs a client to its end, or kills it and its children after
// timeout, and returns its combined output. It fails t, with that output
// and the server's log, unless the client exits 0.
func runClient(t *testing.T, p *process, timeout time.Duration, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = clientEnv()
	// Its own process group, so that a timeout also kills a browser it
	// started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	began := time.Now()
	err := cmd.Run()
	took := time.Since(began).Round(time.Millisecond)
	var ee *exec.ExitError
	switch {
	case err == nil:
		t.Logf("%s passed in %v:\n%s", cmd, took, out.String())
	case errors.Is(err, exec.ErrNotFound):
		t.Fatalf("%s not found: make interop installs it", name)
	case ctx.Err() != nil:
		t.Fatalf("%s killed after %v:\n%s\nserver log:\n%s", cmd, timeout, out.String(), p.stderr())
	case errors.As(err, &ee):
		t.Fatalf("%s failed (%v) after %v:\n%s\nserver log:\n%s", cmd, err, took, out.String(), p.stderr())
	default:
		t.Fatalf("%s: %v\n%s", cmd, err, out.String())
	}
	return out.String()
}

// clientEnv is the environment of a client: this process's, less the
// variables that would make it trust more than the CA it is given, plus
// extra ("NAME=value" each).
func clientEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NODE_EXTRA_CA_CERTS", "NODE_TLS_REJECT_UNAUTHORIZED", "SSL_CERT_FILE", "SSL_CERT_DIR":
		default:
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// checkDevCert checks the certificates the server wrote to dataDir: the
// leaf in cert.pem chains to dev-ca.pem for every name it is meant for.
func checkDevCert(t *testing.T, dataDir string) {
	t.Helper()
	load := func(name string) *x509.Certificate {
		b, err := os.ReadFile(filepath.Join(dataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "CERTIFICATE" {
			t.Fatalf("%s holds no PEM certificate", name)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return c
	}
	ca, leaf := load("dev-ca.pem"), load("cert.pem")
	if _, err := os.Stat(filepath.Join(dataDir, "key.pem")); err != nil {
		t.Error(err)
	}
	if !ca.IsCA {
		t.Errorf("dev-ca.pem (%s) is not a CA certificate", ca.Subject)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		opts := x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		if _, err := leaf.Verify(opts); err != nil {
			t.Errorf("cert.pem for %s: %v", name, err)
		}
	}
}

var (
	sslscanProtocolRE = regexp.MustCompile(`(?m)^(SSLv[23]|TLSv1\.[0-3])\s+(enabled|disabled)\s*$`)
	sslscanCipherRE   = regexp.MustCompile(`(?m)^(?:Preferred|Accepted)\s+(\S+)\s+\d+ bits\s+(\S+)`)
)

// checkTLSPolicy checks sslscan's report: only TLS 1.2 and 1.3, and only
// AEAD ciphers.
func checkTLSPolicy(t *testing.T, out string) {
	t.Helper()
	protocols := map[string]string{}
	for _, m := range sslscanProtocolRE.FindAllStringSubmatch(out, -1) {
		protocols[m[1]] = m[2]
	}
	want := []struct{ protocol, state string }{
		{"SSLv3", "disabled"},
		{"TLSv1.0", "disabled"},
		{"TLSv1.1", "disabled"},
		{"TLSv1.2", "enabled"},
		{"TLSv1.3", "enabled"},
	}
	for _, w := range want {
		if got := protocols[w.protocol]; got != w.state {
			t.Errorf("sslscan: %s is %q; want %s", w.protocol, got, w.state)
		}
	}
	if got := protocols["SSLv2"]; got == "enabled" {
		t.Errorf("sslscan: SSLv2 is enabled")
	}
	aead := regexp.MustCompile(`GCM|CHACHA20|POLY1305`)
	accepted := map[string]int{}
	for _, m := range sslscanCipherRE.FindAllStringSubmatch(out, -1) {
		protocol, cipher := m[1], m[2]
		accepted[protocol]++
		if !aead.MatchString(cipher) {
			t.Errorf("sslscan: %s cipher %s accepted; want only AEAD ciphers (GCM, CHACHA20-POLY1305)", protocol, cipher)
		}
	}
	for _, protocol := range []string{"TLSv1.2", "TLSv1.3"} {
		if accepted[protocol] == 0 {
			t.Errorf("sslscan lists no accepted %s cipher", protocol)
		}
	}
	if t.Failed() {
		t.Logf("sslscan protocols %v, ciphers per protocol %v", protocols, accepted)
	}
}
