package security

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Certificate is the server's certificate, reloadable while connections use
// it: handshakes read the current pair through GetCertificate, and Reload
// swaps in a new one without touching established connections. It is made
// by LoadCertificate; its zero value holds no certificate.
type Certificate struct {
	certFile, keyFile string

	current atomic.Pointer[tls.Certificate]
	reload  sync.Mutex // so that two Reloads cannot store their reads out of order
}

// LoadCertificate reads a PEM certificate chain and its private key. The
// chain in certFile is the leaf first, then the intermediates the clients
// need, as a web server serves it. It fails, saying which file and why,
// when the key does not match the leaf or the leaf is not valid now (see
// ErrKeyMismatch, ErrCertExpired, ErrCertNotYetValid): a server that starts
// with such a pair would only fail every handshake later.
func LoadCertificate(certFile, keyFile string) (*Certificate, error) {
	pair, err := loadPair(certFile, keyFile, time.Now())
	if err != nil {
		return nil, err
	}
	c := &Certificate{certFile: certFile, keyFile: keyFile}
	c.current.Store(pair)
	return c, nil
}

// Reload reads the files given to LoadCertificate again, with the same
// checks, and makes them the certificate of new handshakes. On any error
// the current certificate stays and the error is returned, so a renewal
// caught half-written is retried, not served. Safe for concurrent use.
func (c *Certificate) Reload() error {
	c.reload.Lock()
	defer c.reload.Unlock()
	pair, err := loadPair(c.certFile, c.keyFile, time.Now())
	if err != nil {
		return err
	}
	c.current.Store(pair)
	return nil
}

// GetCertificate is for tls.Config.GetCertificate: it returns the current
// certificate whatever the client asked for. Safe for concurrent use.
func (c *Certificate) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return c.current.Load(), nil
}

// Leaf returns the current leaf certificate, for logs (subject, SANs,
// NotAfter). The caller must not modify it. Safe for concurrent use.
func (c *Certificate) Leaf() *x509.Certificate {
	return c.current.Load().Leaf
}

// loadPair reads and checks a certificate chain and key as of now. Only the
// leaf's validity is checked: a chain may deliberately carry an expired
// cross-signature that old clients need and new ones skip.
func loadPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("security: reading the certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("security: reading the private key: %w", err)
	}
	chain, err := parseChain(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, certFile)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, keyFile)
	}
	leaf := chain[0]
	if !publicKeyOf(key).Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("%w: %s is not the key of %s", ErrKeyMismatch, keyFile, certFile)
	}
	if err := checkValidity(leaf, now); err != nil {
		return nil, fmt.Errorf("%w (%s)", err, certFile)
	}
	pair := &tls.Certificate{PrivateKey: key, Leaf: leaf}
	for _, c := range chain {
		pair.Certificate = append(pair.Certificate, c.Raw)
	}
	return pair, nil
}

// checkValidity says why leaf cannot be served at now, if it cannot.
func checkValidity(leaf *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("%w: %q is valid from %s", ErrCertNotYetValid,
			leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return fmt.Errorf("%w: %q expired at %s", ErrCertExpired,
			leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return nil
}

// parseChain parses every CERTIFICATE block of data, in order, and ignores
// other blocks (some tools put the key or text in the same file).
func parseChain(data []byte) ([]*x509.Certificate, error) {
	var chain []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("security: certificate %d of the chain: %w", len(chain)+1, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return nil, ErrNoCertificate
	}
	return chain, nil
}

// parseKey parses the first private key block of data, in the encodings
// OpenSSL, Go and the ACME clients write: PKCS #8, SEC 1 (EC) and PKCS #1
// (RSA).
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, ErrNoPrivateKey
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue // EC PARAMETERS, a certificate, ...
		}
		if err != nil {
			return nil, fmt.Errorf("security: parsing the %s block: %w", block.Type, err)
		}
		switch key := key.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return key.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("security: private key of type %T cannot sign TLS handshakes", key)
		}
	}
}

// publicKeyOf returns the public half of key; every key parseKey returns
// has an Equal method on it.
func publicKeyOf(key crypto.Signer) interface{ Equal(crypto.PublicKey) bool } {
	return key.Public().(interface{ Equal(crypto.PublicKey) bool })
}
