package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCert is a certificate made by a test, with its key.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func (c testCert) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw})
}

func (c testCert) keyPEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(c.key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// caTemplate is a CA valid for a year; maxPathLen 0 signs leaves only.
func caTemplate(name string, maxPathLen int) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            maxPathLen,
		MaxPathLenZero:        maxPathLen == 0,
	}
}

// leafTemplate is a server certificate for localhost, 127.0.0.1 and ::1,
// valid from notBefore to notAfter.
func leafTemplate(notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "test server"},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
}

// validLeaf is a leaf template valid from an hour ago for a day.
func validLeaf() *x509.Certificate {
	return leafTemplate(time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

// issue makes a certificate from tmpl with a new P-256 key, signed by
// parent, or self-signed when parent is nil.
func issue(t testing.TB, tmpl *x509.Certificate, parent *testCert) testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, key.Public(), signerKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: cert, key: key}
}

// writeFile writes data to name in dir and returns its path.
func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// servedCert is a Certificate for localhost from a fresh test CA, in
// files under a temporary directory, and the pool of that CA.
func servedCert(t testing.TB) (*Certificate, *x509.CertPool) {
	t.Helper()
	ca := issue(t, caTemplate("test root", 0), nil)
	leaf := issue(t, validLeaf(), &ca)
	dir := t.TempDir()
	c, err := LoadCertificate(writeFile(t, dir, "cert.pem", leaf.certPEM()), writeFile(t, dir, "key.pem", leaf.keyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	return c, roots
}

// handshakeResult is the outcome of a handshake, as the client saw it.
type handshakeResult struct {
	state     tls.ConnectionState
	clientErr error
	serverErr error
}

// ok reports whether both sides completed the handshake.
func (r handshakeResult) ok() bool { return r.clientErr == nil && r.serverErr == nil }

// loopback returns the two ends of a TCP connection on 127.0.0.1 accepted
// from ln. Unlike net.Pipe, the socket buffers let both peers write at
// once, as they do in a handshake with a HelloRetryRequest.
func loopback(tb testing.TB, ln net.Listener) (server, client net.Conn) {
	tb.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	return server, client
}

// listen listens on a free port of 127.0.0.1 for the duration of the test.
func listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return ln
}

// handshake runs a real TLS handshake over loopback TCP between a server
// with config server and a client with config client. After a successful
// handshake the server sends one byte and the client reads it, which also
// makes the client take the session tickets sent before it. A side that
// fails closes its end, so that the other never waits on it; the deadline
// only bounds a test that would otherwise hang on a bug.
func handshake(t *testing.T, server, client *tls.Config) handshakeResult {
	t.Helper()
	sc, cc := loopback(t, listen(t))
	defer sc.Close()
	defer cc.Close()
	deadline := time.Now().Add(10 * time.Second)
	_ = sc.SetDeadline(deadline)
	_ = cc.SetDeadline(deadline)

	serverDone := make(chan error, 1)
	go func() {
		s := tls.Server(sc, server)
		err := s.Handshake()
		if err == nil {
			_, err = s.Write([]byte{1})
		}
		if err != nil {
			sc.Close()
		}
		serverDone <- err
	}()
	c := tls.Client(cc, client)
	var r handshakeResult
	r.clientErr = c.Handshake()
	if r.clientErr == nil {
		var b [1]byte
		_, r.clientErr = io.ReadFull(c, b[:])
	}
	if r.clientErr != nil {
		cc.Close()
	}
	r.serverErr = <-serverDone
	r.state = c.ConnectionState()
	var ne net.Error
	if errors.As(r.clientErr, &ne) && ne.Timeout() || errors.As(r.serverErr, &ne) && ne.Timeout() {
		t.Fatalf("handshake timed out: client: %v; server: %v", r.clientErr, r.serverErr)
	}
	return r
}

// clientTLS is a client that trusts roots and dials localhost, with
// crypto/tls's defaults otherwise.
func clientTLS(roots *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: roots, ServerName: "localhost"}
}
