package security

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestLoadCertificateRejects(t *testing.T) {
	now := time.Now()
	ca := issue(t, caTemplate("test root", 0), nil)
	good := issue(t, validLeaf(), &ca)
	other := issue(t, validLeaf(), &ca)
	expired := issue(t, leafTemplate(now.Add(-48*time.Hour), now.Add(-time.Minute)), &ca)
	early := issue(t, leafTemplate(now.Add(time.Hour), now.Add(48*time.Hour)), &ca)

	for _, tc := range []struct {
		name    string
		certPEM []byte // nil: no file
		keyPEM  []byte // nil: no file
		want    error
	}{
		{
			name:    "key of another certificate",
			certPEM: good.certPEM(),
			keyPEM:  other.keyPEM(),
			want:    ErrKeyMismatch,
		},
		{
			name:    "expired",
			certPEM: expired.certPEM(),
			keyPEM:  expired.keyPEM(),
			want:    ErrCertExpired,
		},
		{
			name:    "not valid yet",
			certPEM: early.certPEM(),
			keyPEM:  early.keyPEM(),
			want:    ErrCertNotYetValid,
		},
		{
			name:    "no certificate file",
			certPEM: nil,
			keyPEM:  good.keyPEM(),
			want:    fs.ErrNotExist,
		},
		{
			name:    "no key file",
			certPEM: good.certPEM(),
			keyPEM:  nil,
			want:    fs.ErrNotExist,
		},
		{
			name:    "key given as the certificate",
			certPEM: good.keyPEM(),
			keyPEM:  good.keyPEM(),
			want:    ErrNoCertificate,
		},
		{
			name:    "certificate given as the key",
			certPEM: good.certPEM(),
			keyPEM:  good.certPEM(),
			want:    ErrNoPrivateKey,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			if tc.certPEM != nil {
				writeFile(t, dir, "cert.pem", tc.certPEM)
			}
			if tc.keyPEM != nil {
				writeFile(t, dir, "key.pem", tc.keyPEM)
			}
			c, err := LoadCertificate(certFile, keyFile)
			if !errors.Is(err, tc.want) || c != nil {
				t.Fatalf("LoadCertificate = %v, %v; want %v", c, err, tc.want)
			}
			t.Log(err) // what an operator reads
		})
	}
}

func TestLoadCertificateChain(t *testing.T) {
	root := issue(t, caTemplate("test root", 1), nil)
	intermediate := issue(t, caTemplate("test intermediate", 0), &root)
	leaf := issue(t, validLeaf(), &intermediate)
	dir := t.TempDir()
	chainPEM := append(leaf.certPEM(), intermediate.certPEM()...)
	cert, err := LoadCertificate(writeFile(t, dir, "chain.pem", chainPEM), writeFile(t, dir, "key.pem", leaf.keyPEM()))
	if err != nil {
		t.Fatal(err)
	}
	if got := cert.Leaf().SerialNumber; got.Cmp(leaf.cert.SerialNumber) != 0 {
		t.Errorf("Leaf().SerialNumber = %v, want the leaf's %v", got, leaf.cert.SerialNumber)
	}

	roots := x509.NewCertPool()
	roots.AddCert(root.cert) // not the intermediate: the server must send it
	r := handshake(t, ServerTLS(cert, nil), clientTLS(roots))
	if !r.ok() {
		t.Fatalf("handshake: client: %v; server: %v", r.clientErr, r.serverErr)
	}
	if len(r.state.VerifiedChains) == 0 || len(r.state.VerifiedChains[0]) != 3 {
		t.Fatalf("verified chains %v, want leaf → intermediate → root", r.state.VerifiedChains)
	}
}

func TestCertificateReload(t *testing.T) {
	ca := issue(t, caTemplate("test root", 0), nil)
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	first := issue(t, validLeaf(), &ca)
	dir := t.TempDir()
	certFile := writeFile(t, dir, "cert.pem", first.certPEM())
	keyFile := writeFile(t, dir, "key.pem", first.keyPEM())
	cert, err := LoadCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	config := ServerTLS(cert, nil)
	served := func(t *testing.T) *x509.Certificate {
		t.Helper()
		r := handshake(t, config, clientTLS(roots))
		if !r.ok() {
			t.Fatalf("handshake: client: %v; server: %v", r.clientErr, r.serverErr)
		}
		return r.state.PeerCertificates[0]
	}
	if got := served(t); !got.Equal(first.cert) {
		t.Fatalf("served serial %v, want %v", got.SerialNumber, first.cert.SerialNumber)
	}

	second := issue(t, validLeaf(), &ca)
	writeFile(t, dir, "cert.pem", second.certPEM())
	writeFile(t, dir, "key.pem", second.keyPEM())
	if err := cert.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := served(t); !got.Equal(second.cert) {
		t.Fatalf("after Reload served serial %v, want %v", got.SerialNumber, second.cert.SerialNumber)
	}

	expired := issue(t, leafTemplate(time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour)), &ca)
	for _, tc := range []struct {
		name    string
		certPEM []byte
		keyPEM  []byte
		want    error
	}{
		{
			name:    "certificate renewed, key not yet",
			certPEM: first.certPEM(),
			keyPEM:  second.keyPEM(),
			want:    ErrKeyMismatch,
		},
		{
			name:    "expired",
			certPEM: expired.certPEM(),
			keyPEM:  expired.keyPEM(),
			want:    ErrCertExpired,
		},
		{
			name:    "truncated",
			certPEM: []byte("-----BEGIN CERTIFICATE-----\nMIIB"),
			keyPEM:  second.keyPEM(),
			want:    ErrNoCertificate,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeFile(t, dir, "cert.pem", tc.certPEM)
			writeFile(t, dir, "key.pem", tc.keyPEM)
			if err := cert.Reload(); !errors.Is(err, tc.want) {
				t.Fatalf("Reload = %v, want %v", err, tc.want)
			}
			if got := served(t); !got.Equal(second.cert) {
				t.Errorf("after a failed Reload served serial %v, want the previous %v", got.SerialNumber, second.cert.SerialNumber)
			}
			if got := cert.Leaf(); !got.Equal(second.cert) {
				t.Errorf("after a failed Reload Leaf() is serial %v, want the previous %v", got.SerialNumber, second.cert.SerialNumber)
			}
		})
	}
}

// TestCertificateConcurrentReload is for the race detector: handshakes
// read the certificate while it is reloaded.
func TestCertificateConcurrentReload(t *testing.T) {
	cert, _ := servedCert(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if err := cert.Reload(); err != nil {
					t.Error(err)
					return
				}
			}
		})
		wg.Go(func() {
			for range 50 {
				pair, err := cert.GetCertificate(&tls.ClientHelloInfo{ServerName: "localhost"})
				if err != nil || pair == nil || pair.Leaf == nil || cert.Leaf() == nil {
					t.Errorf("GetCertificate = %v, %v; Leaf() = %v", pair, err, cert.Leaf())
					return
				}
			}
		})
	}
	wg.Wait()
}
