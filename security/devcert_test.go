package security

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readDev reads the four files of a development directory.
func readDev(t *testing.T, files DevFiles) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	for _, name := range []string{files.CA, files.CAKey, files.Cert, files.Key} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		got[filepath.Base(name)] = b
	}
	return got
}

// loadDev loads a pair of development files as the server would.
func loadDev(t *testing.T, certFile, keyFile string) *tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &pair
}

func devRoots(t *testing.T, files DevFiles) *x509.CertPool {
	t.Helper()
	pemCA, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemCA) {
		t.Fatal("dev-ca.pem holds no certificate")
	}
	return roots
}

func TestDevCertificatesCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	files, created, err := DevCertificates(dir, DefaultDevHosts)
	if err != nil || !created {
		t.Fatalf("DevCertificates = %v, %v; want created", created, err)
	}

	for _, tc := range []struct {
		path string
		mode os.FileMode
	}{
		{
			path: dir,
			mode: 0o700 | os.ModeDir,
		},
		{
			path: files.CAKey,
			mode: 0o600,
		},
		{
			path: files.Key,
			mode: 0o600,
		},
		{
			path: files.CA,
			mode: 0o644,
		},
		{
			path: files.Cert,
			mode: 0o644,
		},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s has mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
	}

	ca := loadDev(t, files.CA, files.CAKey).Leaf
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, MaxPathLen %d (zero %v), KeyUsage %b; want a CA that signs leaves only",
			ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero, ca.KeyUsage)
	}
	leaf := loadDev(t, files.Cert, files.Key).Leaf
	for _, c := range []*x509.Certificate{ca, leaf} {
		if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
			t.Errorf("%q: key %T, want ECDSA P-256", c.Subject, c.PublicKey)
		}
		if n := c.SerialNumber.BitLen(); n != 128 {
			t.Errorf("%q: serial of %d bits, want 128", c.Subject, n)
		}
		if !strings.Contains(c.Subject.String(), "wssd development") {
			t.Errorf("subject %q does not say wssd development", c.Subject)
		}
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 397*24*time.Hour {
		t.Errorf("leaf valid for %v, want at most 397 days", life)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life < 9*365*24*time.Hour {
		t.Errorf("CA valid for %v, want about 10 years", life)
	}

	roots := devRoots(t, files)
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		_, err := leaf.Verify(x509.VerifyOptions{
			DNSName:   host,
			Roots:     roots,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("leaf does not verify for %s: %v", host, err)
		}
	}
	if _, err := LoadCertificate(files.Cert, files.Key); err != nil {
		t.Errorf("LoadCertificate of the development pair: %v", err)
	}
}

func TestDevCertificatesReuses(t *testing.T) {
	dir := t.TempDir()
	files, _, err := DevCertificates(dir, DefaultDevHosts)
	if err != nil {
		t.Fatal(err)
	}
	before := readDev(t, files)

	for _, hosts := range [][]string{
		DefaultDevHosts,
		{"LOCALHOST", "::1"}, // a subset of what the leaf covers, in another case
		nil,                  // DefaultDevHosts
	} {
		again, created, err := DevCertificates(dir, hosts)
		if err != nil || created || again != files {
			t.Fatalf("DevCertificates(%q) again = %+v, %v, %v; want %+v, false, nil", hosts, again, created, err, files)
		}
		for name, b := range readDev(t, files) {
			if !bytes.Equal(b, before[name]) {
				t.Errorf("DevCertificates(%q) changed %s", hosts, name)
			}
		}
	}
}

func TestDevCertificatesNewHostsKeepCA(t *testing.T) {
	dir := t.TempDir()
	files, _, err := DevCertificates(dir, DefaultDevHosts)
	if err != nil {
		t.Fatal(err)
	}
	before := readDev(t, files)

	hosts := []string{"localhost", "wssd.test", "192.0.2.7"}
	if _, created, err := DevCertificates(dir, hosts); err != nil || !created {
		t.Fatalf("DevCertificates(%q) = %v, %v; want created", hosts, created, err)
	}
	after := readDev(t, files)
	if !bytes.Equal(after["dev-ca.pem"], before["dev-ca.pem"]) || !bytes.Equal(after["dev-ca-key.pem"], before["dev-ca-key.pem"]) {
		t.Error("the CA was replaced; clients that trust it would stop trusting")
	}
	if bytes.Equal(after["cert.pem"], before["cert.pem"]) {
		t.Fatal("the leaf was kept though it does not cover wssd.test")
	}
	leaf := loadDev(t, files.Cert, files.Key).Leaf
	for _, host := range hosts {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: devRoots(t, files)}); err != nil {
			t.Errorf("new leaf does not verify for %s with the old CA: %v", host, err)
		}
	}
}

func TestDevCertificatesReplacesUnfitLeaf(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		leaf func(ca *testCert) testCert
	}{
		{
			name: "expired",
			leaf: func(ca *testCert) testCert {
				return issue(t, leafTemplate(now.Add(-48*time.Hour), now.Add(-24*time.Hour)), ca)
			},
		},
		{
			name: "expires within 30 days",
			leaf: func(ca *testCert) testCert {
				return issue(t, leafTemplate(now.Add(-time.Hour), now.Add(10*24*time.Hour)), ca)
			},
		},
		{
			name: "signed by another CA",
			leaf: func(*testCert) testCert {
				other := issue(t, caTemplate("another CA", 0), nil)
				return issue(t, leafTemplate(now.Add(-time.Hour), now.Add(300*24*time.Hour)), &other)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			files, _, err := DevCertificates(dir, DefaultDevHosts)
			if err != nil {
				t.Fatal(err)
			}
			caPair := loadDev(t, files.CA, files.CAKey)
			ca := testCert{cert: caPair.Leaf, key: caPair.PrivateKey.(*ecdsa.PrivateKey)}
			unfit := tc.leaf(&ca)
			writeFile(t, dir, "cert.pem", unfit.certPEM())
			writeFile(t, dir, "key.pem", unfit.keyPEM())
			before := readDev(t, files)

			if _, created, err := DevCertificates(dir, DefaultDevHosts); err != nil || !created {
				t.Fatalf("DevCertificates = %v, %v; want created", created, err)
			}
			after := readDev(t, files)
			if !bytes.Equal(after["dev-ca.pem"], before["dev-ca.pem"]) {
				t.Error("the CA was replaced")
			}
			leaf := loadDev(t, files.Cert, files.Key).Leaf
			if leaf.SerialNumber.Cmp(unfit.cert.SerialNumber) == 0 {
				t.Fatal("the unfit leaf was kept")
			}
			if left := time.Until(leaf.NotAfter); left < 300*24*time.Hour {
				t.Errorf("new leaf expires in %v", left)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "localhost", Roots: devRoots(t, files)}); err != nil {
				t.Errorf("new leaf does not verify with the CA in dir: %v", err)
			}
		})
	}
}

func TestDevCertificatesRejectsBadHosts(t *testing.T) {
	for _, host := range []string{
		"localhost:8443",
		"https://localhost",
		"bad host",
		"-leading.hyphen",
		"",
		"fe80::1%eth0",
	} {
		dir := filepath.Join(t.TempDir(), "certs")
		_, created, err := DevCertificates(dir, []string{"localhost", host})
		if !errors.Is(err, ErrBadHost) || created {
			t.Errorf("DevCertificates with host %q = %v, %v; want ErrBadHost", host, created, err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("host %q: the directory was created anyway", host)
		}
	}
}
