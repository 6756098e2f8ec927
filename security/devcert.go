package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// DevFiles names the files of a development CA and leaf certificate.
type DevFiles struct{ CA, CAKey, Cert, Key string }

// DefaultDevHosts are the hosts of the embedded default certificate: what a
// browser or a client on the same machine dials.
var DefaultDevHosts = []string{"localhost", "127.0.0.1", "::1"}

const (
	// devCAValidity outlives many leaves, so that a CA installed once in a
	// browser's trust store keeps working across renewals.
	devCAValidity = 10 * 365 * 24 * time.Hour
	// devLeafValidity stays under the 398 days that browsers accept from
	// public CAs (Apple's clients refuse over 825 days from any CA).
	devLeafValidity = 397 * 24 * time.Hour
	// devRenewBefore is how long before its expiry a certificate is replaced
	// rather than reused: long enough that a server started today does not
	// see it expire while running.
	devRenewBefore = 30 * 24 * time.Hour
	// devBackdate starts a certificate's validity a little in the past, for
	// clients whose clock is behind the host's.
	devBackdate = time.Hour
)

// DevCertificates makes sure dir holds a development CA (dev-ca.pem,
// dev-ca-key.pem) and a leaf certificate for hosts (cert.pem, key.pem)
// signed by it, creating what is missing (dir too, 0700; key files 0600)
// and reusing what is there while it is still valid. Empty hosts means
// DefaultDevHosts; each host is a DNS name or an IP address.
//
// The CA is reused unless it is missing, unreadable, not a CA or expiring
// within 30 days; then a new one is made, and a new leaf with it. The leaf
// is reused only if it is signed by the CA in dir, does not expire within
// 30 days and covers every host; a leaf that does not fit is replaced and
// the CA kept, so clients that were told to trust it keep trusting. created
// reports whether anything was written.
//
// Keys are ECDSA P-256. The CA (10 years) may sign leaves only; the leaf
// (397 days, never past the CA) is for server authentication, with DNS and
// IP SANs from hosts. Serial numbers are random 128-bit numbers.
func DevCertificates(dir string, hosts []string) (files DevFiles, created bool, err error) {
	if len(hosts) == 0 {
		hosts = DefaultDevHosts
	}
	dns, ips, err := splitHosts(hosts)
	if err != nil {
		return DevFiles{}, false, err
	}
	files = DevFiles{
		CA:    filepath.Join(dir, "dev-ca.pem"),
		CAKey: filepath.Join(dir, "dev-ca-key.pem"),
		Cert:  filepath.Join(dir, "cert.pem"),
		Key:   filepath.Join(dir, "key.pem"),
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return DevFiles{}, false, fmt.Errorf("security: development certificates: %w", err)
	}
	now := time.Now()
	ca := usableDevCA(files, now)
	if ca == nil {
		if ca, err = writeDevCA(files, now); err != nil {
			return DevFiles{}, false, err
		}
		created = true
	} else if leafFits(files, ca.Leaf, dns, ips, now) {
		return files, false, nil
	}
	if err := writeDevLeaf(files, ca, dns, ips, now); err != nil {
		return DevFiles{}, false, err
	}
	return files, true, nil
}

// splitHosts sorts hosts into DNS names (lower case, no trailing dot) and IP
// addresses, and refuses anything else, such as a host:port or a URL.
func splitHosts(hosts []string) (dns []string, ips []net.IP, err error) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")); err == nil {
			if a.Zone() != "" {
				return nil, nil, fmt.Errorf("%w: %q (an IP address with a zone cannot be in a certificate)", ErrBadHost, h)
			}
			ip := net.IP(a.AsSlice())
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		name := strings.ToLower(strings.TrimSuffix(h, "."))
		if !validDNSName(name) {
			return nil, nil, fmt.Errorf("%w: %q", ErrBadHost, h)
		}
		if !slices.Contains(dns, name) {
			dns = append(dns, name)
		}
	}
	return dns, ips, nil
}

// validDNSName accepts what a SAN may hold: lower-case LDH labels, the
// first of them possibly a wildcard.
func validDNSName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for i, label := range strings.Split(name, ".") {
		if i == 0 && label == "*" && strings.Contains(name, ".") {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return false
			}
		}
	}
	return true
}

// usableDevCA returns the CA in dir if it can sign leaves for a while yet,
// and nil if it cannot, for whatever reason: the CA is development material
// that DevCertificates owns and remakes.
func usableDevCA(files DevFiles, now time.Time) *tls.Certificate {
	ca, err := loadPair(files.CA, files.CAKey, now)
	if err != nil || !ca.Leaf.IsCA || ca.Leaf.KeyUsage&x509.KeyUsageCertSign == 0 ||
		ca.Leaf.NotAfter.Sub(now) < devRenewBefore {
		return nil
	}
	return ca
}

// leafFits reports whether the leaf in dir can be served as it is.
func leafFits(files DevFiles, ca *x509.Certificate, dns []string, ips []net.IP, now time.Time) bool {
	pair, err := loadPair(files.Cert, files.Key, now)
	if err != nil {
		return false
	}
	leaf := pair.Leaf
	if leaf.NotAfter.Sub(now) < devRenewBefore || leaf.CheckSignatureFrom(ca) != nil ||
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return false
	}
	for _, name := range dns {
		if !slices.Contains(leaf.DNSNames, name) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func writeDevCA(files DevFiles, now time.Time) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	org := "wssd development"
	if host, err := os.Hostname(); err == nil {
		org += " (" + host + ")" // tells CAs of several machines apart in a trust store
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{org}, CommonName: "wssd development CA"},
		NotBefore:             now.Add(-devBackdate),
		NotAfter:              now.Add(devCAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true, // it signs leaves, never another CA
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("security: making the development CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writeKeyAndCert(files.CAKey, files.CA, key, der); err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, nil
}

func writeDevLeaf(files DevFiles, ca *tls.Certificate, dns []string, ips []net.IP, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	notAfter := now.Add(-devBackdate + devLeafValidity)
	if notAfter.After(ca.Leaf.NotAfter) {
		notAfter = ca.Leaf.NotAfter // a leaf cannot outlive its CA
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: ca.Leaf.Subject.Organization, CommonName: "wssd development server"},
		NotBefore:             now.Add(-devBackdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Leaf, key.Public(), ca.PrivateKey)
	if err != nil {
		return fmt.Errorf("security: making the development certificate: %w", err)
	}
	return writeKeyAndCert(files.Key, files.Cert, key, der)
}

// randomSerial returns a random 128-bit serial number. Its top bit is set,
// so it is never zero or negative and always the same length.
func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	b[0] |= 0x80
	return new(big.Int).SetBytes(b)
}

// writeKeyAndCert writes the key before the certificate: should the second
// write fail, the pair no longer matches and the next run remakes it.
func writeKeyAndCert(keyFile, certFile string, key *ecdsa.PrivateKey, der []byte) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileAtomic replaces name with data in one rename, so that a server
// reloading the file never reads half of it. The temporary file is created
// 0600, so a key is never readable by others, even briefly.
func writeFileAtomic(name string, data []byte, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return fmt.Errorf("security: writing %s: %w", name, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			err = fmt.Errorf("security: writing %s: %w", name, err)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
