package security

import (
	"crypto/tls"
	"errors"
	"slices"
	"testing"
)

func TestServerTLSPolicy(t *testing.T) {
	cert, roots := servedCert(t)
	server := ServerTLS(cert, nil)

	for _, tc := range []struct {
		name        string
		client      func(*tls.Config)
		wantFail    bool
		wantVersion uint16 // 0: not checked
		wantSuite   uint16
		wantProto   string
		wantCurve   tls.CurveID
	}{
		{
			name:        "TLS 1.3 browser-like client",
			client:      func(*tls.Config) {},
			wantVersion: tls.VersionTLS13,
			wantCurve:   tls.X25519MLKEM768,
		},
		{
			name:     "TLS 1.1 client",
			client:   func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 },
			wantFail: true,
		},
		{
			name: "TLS 1.2 client offering only CBC",
			client: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA}
			},
			wantFail: true,
		},
		{
			name: "TLS 1.2 client with AES-GCM",
			client: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}
			},
			wantVersion: tls.VersionTLS12,
			wantSuite:   tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		},
		{
			name: "TLS 1.2 client with ChaCha20-Poly1305",
			client: func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
			},
			wantVersion: tls.VersionTLS12,
			wantSuite:   tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		{
			name:      "ALPN offering h2 and http/1.1",
			client:    func(c *tls.Config) { c.NextProtos = []string{"h2", "http/1.1"} },
			wantProto: "http/1.1",
		},
		{
			name:     "ALPN offering h2 only",
			client:   func(c *tls.Config) { c.NextProtos = []string{"h2"} },
			wantFail: true,
		},
		{
			name:      "client offering X25519 only",
			client:    func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} },
			wantCurve: tls.X25519,
		},
		{
			name:      "client offering P-256 only",
			client:    func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256} },
			wantCurve: tls.CurveP256,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := clientTLS(roots)
			tc.client(client)
			r := handshake(t, server, client)
			if tc.wantFail {
				if r.clientErr == nil || r.serverErr == nil {
					t.Fatalf("handshake succeeded (client: %v; server: %v), want it refused", r.clientErr, r.serverErr)
				}
				t.Log(r.serverErr)
				return
			}
			if !r.ok() {
				t.Fatalf("handshake: client: %v; server: %v", r.clientErr, r.serverErr)
			}
			s := r.state
			if tc.wantVersion != 0 && s.Version != tc.wantVersion {
				t.Errorf("version %s, want %s", tls.VersionName(s.Version), tls.VersionName(tc.wantVersion))
			}
			if tc.wantSuite != 0 && s.CipherSuite != tc.wantSuite {
				t.Errorf("cipher suite %s, want %s", tls.CipherSuiteName(s.CipherSuite), tls.CipherSuiteName(tc.wantSuite))
			}
			if s.NegotiatedProtocol != tc.wantProto {
				t.Errorf("ALPN %q, want %q", s.NegotiatedProtocol, tc.wantProto)
			}
			if tc.wantCurve != 0 && s.CurveID != tc.wantCurve {
				t.Errorf("key exchange %s, want %s", s.CurveID, tc.wantCurve)
			}
		})
	}
}

func TestServerTLSResumes(t *testing.T) {
	cert, roots := servedCert(t)
	server := ServerTLS(cert, nil)
	client := clientTLS(roots)
	client.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	for i, want := range []bool{false, true} {
		r := handshake(t, server, client)
		if !r.ok() || r.state.DidResume != want {
			t.Fatalf("handshake %d: resumed %v (client: %v; server: %v), want %v",
				i+1, r.state.DidResume, r.clientErr, r.serverErr, want)
		}
	}
}

func TestServerTLSCurves(t *testing.T) {
	cert, roots := servedCert(t)
	if got := ServerTLS(cert, nil).CurvePreferences; !slices.Equal(got, DefaultCurves) {
		t.Errorf("ServerTLS(cert, nil).CurvePreferences = %v, want DefaultCurves %v", got, DefaultCurves)
	}
	curves := []tls.CurveID{tls.X25519}
	server := ServerTLS(cert, curves)
	curves[0] = tls.CurveP384 // the caller's slice is not the config's
	r := handshake(t, server, clientTLS(roots))
	if !r.ok() || r.state.CurveID != tls.X25519 {
		t.Fatalf("key exchange %v (client: %v; server: %v), want X25519 with a client offering the hybrid too",
			r.state.CurveID, r.clientErr, r.serverErr)
	}
	// A browser-like client sends key shares for the hybrid and X25519
	// only: a P-256 server has to ask again (HelloRetryRequest).
	r = handshake(t, ServerTLS(cert, []tls.CurveID{tls.CurveP256}), clientTLS(roots))
	if !r.ok() || r.state.CurveID != tls.CurveP256 || !r.state.HelloRetryRequest {
		t.Fatalf("key exchange %v, HelloRetryRequest %v (client: %v; server: %v), want P-256 after a retry",
			r.state.CurveID, r.state.HelloRetryRequest, r.clientErr, r.serverErr)
	}
}

func TestParseCurves(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []tls.CurveID
		wantErr error // nil: any error when want is nil
	}{
		{
			in:   "X25519MLKEM768,X25519,P256",
			want: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		},
		{
			in:   " x25519mlkem768 , CurveP384,p521 ",
			want: []tls.CurveID{tls.X25519MLKEM768, tls.CurveP384, tls.CurveP521},
		},
		{
			in:   "SecP256r1MLKEM768,SecP384r1MLKEM1024",
			want: []tls.CurveID{tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024},
		},
		{
			in:   "X25519",
			want: []tls.CurveID{tls.X25519},
		},
		{
			in:   "Default",
			want: DefaultCurves,
		},
		{
			in:      "X25519,Kyber768",
			wantErr: ErrUnknownCurve,
		},
		{
			in:      "P-256",
			wantErr: ErrUnknownCurve,
		},
		{
			in:      "CurveX25519",
			wantErr: ErrUnknownCurve,
		},
		{
			in:      "default,X25519",
			wantErr: ErrUnknownCurve,
		},
		{
			in: "",
		},
		{
			in: "X25519,",
		},
		{
			in: "X25519,x25519",
		},
	} {
		got, err := ParseCurves(tc.in)
		switch {
		case tc.want != nil && (err != nil || !slices.Equal(got, tc.want)):
			t.Errorf("ParseCurves(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.want == nil && (err == nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr)):
			t.Errorf("ParseCurves(%q) = %v, %v; want error %v", tc.in, got, err, tc.wantErr)
		}
	}
}
