package enginetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// PKI is a test CA and a server certificate it issued for localhost,
// 127.0.0.1 and ::1, valid from an hour ago for a day.
type PKI struct {
	// Cert is the server's certificate and key.
	Cert tls.Certificate
	// Pool trusts the CA.
	Pool *x509.CertPool
	// CAPEM is the CA's certificate, PEM-encoded, for clients that take
	// a file (see CAFile).
	CAPEM []byte
}

// TestPKI returns the PKI of the test binary, made on first use.
var TestPKI = sync.OnceValue(func() *PKI {
	p, err := NewPKI()
	if err != nil {
		panic(err)
	}
	return p
})

// NewPKI makes a new CA and server certificate, on P-256 keys.
func NewPKI() (*PKI, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "wssd test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &PKI{
		Cert:  tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		Pool:  pool,
		CAPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
	}, nil
}

// ServerConfig returns a server TLS configuration with the certificate:
// TLS 1.2 and 1.3, Go's defaults otherwise.
func (p *PKI) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.Cert}, MinVersion: tls.VersionTLS12}
}

// ClientConfig returns a client TLS configuration that trusts the CA and
// expects the name localhost.
func (p *PKI) ClientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.Pool, ServerName: "localhost"}
}

// CAFile writes the CA's certificate to a file in dir and returns its
// path, for clients in other processes.
func (p *PKI) CAFile(dir string) (string, error) {
	path := filepath.Join(dir, "test-ca.pem")
	return path, os.WriteFile(path, p.CAPEM, 0o644)
}
