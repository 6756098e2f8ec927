package security

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// DefaultCurves is the default key-exchange preference: the X25519MLKEM768
// post-quantum hybrid for the clients that offer it (current Chrome, Edge,
// Firefox, Safari, Go), X25519 for the others, and P-256, which every TLS
// 1.3 client must implement, for those without X25519 (and TLS 1.2, where
// the hybrid does not exist). crypto/tls ignores the order (see ServerTLS):
// a client offering only X25519 still gets X25519 with the hybrid listed,
// and a browser offering the hybrid gets it only because it is listed.
//
// The hybrid is in on these measurements: BenchmarkServerHandshake and
// BenchmarkRetained, one run (medians of 3), Go 1.26, 2-vCPU Xeon VM, the
// server's setting varied against one browser-like client that sends
// hybrid and X25519 key shares; ratios to the X25519-only setting.
//
//	per server handshake  hybrid+X25519           P-256 only
//	CPU (process)         1.34  (428 / 319 µs)    1.19  (380 µs, with a HelloRetryRequest)
//	bytes allocated       1.32  (56.0 / 42.5 KB)  1.07  (45.7 KB)
//	allocations           1.01  (426 / 422)       1.10  (466)
//	heap kept per conn    1.00  (6881 / 6880 B)   1.00  (6880 B)
//	both peers, wall (*)  1.19  (932 / 785 µs)    1.08  (846 µs)
//
// (*) BenchmarkHandshake: client and server in one process.
//
// So the hybrid costs about a third more CPU and garbage per handshake and
// nothing per established connection: the key-exchange state goes with the
// handshake, and what a connection keeps (6.9 KB, against 0.3 KB for a
// plain socket) is the same whatever was negotiated. wssd holds long-lived
// connections, so the handshake is paid once per connection, at a rate the
// TLS worker pool bounds, and it keeps traffic recorded today from being
// decrypted by a quantum computer later. Session tickets do not avoid
// the cost: crypto/tls resumes with a fresh key exchange (psk_dhe_ke). A
// deployment whose reconnect storms are CPU-bound can give the protection
// up with "X25519,CurveP256" and win back a quarter of the handshake CPU
// (319 / 428). P-256 alone is slower than X25519 and costs browsers a round
// trip, since they send no P-256 key share.
var DefaultCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256}

// aeadSuites are the TLS 1.2 cipher suites ServerTLS allows: forward secret
// (ECDHE) and authenticated encryption only, for ECDSA and RSA certificates.
// TLS 1.3 suites are all AEAD and not configurable.
var aeadSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ServerTLS returns the server's TLS policy, for one listener to share:
//
//   - TLS 1.2 at least, 1.3 whenever the client has it (crypto/tls picks the
//     highest common version);
//   - in TLS 1.2, ECDHE with AES-GCM or ChaCha20-Poly1305 only: no CBC, no
//     RSA key exchange;
//   - ALPN "http/1.1" only, the protocol a WebSocket upgrade rides on; a
//     client that offers ALPN without it (h2 alone) is refused;
//   - session tickets on, with crypto/tls's own keys, rotated by it, so a
//     reconnecting client resumes without a full handshake;
//   - the certificate from cert.GetCertificate, so cert.Reload applies to the
//     next handshake;
//   - the key exchanges in curves, or DefaultCurves when curves is nil. Their
//     order does not matter: crypto/tls picks a post-quantum hybrid if both
//     sides have one, else one the client sent a key share for.
//
// cert must not be nil. Each call returns a new Config; the caller may
// adjust it before its first use and must not change it after.
func ServerTLS(cert *Certificate, curves []tls.CurveID) *tls.Config {
	if curves == nil {
		curves = DefaultCurves
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS12,
		CipherSuites:     slices.Clone(aeadSuites),
		NextProtos:       []string{"http/1.1"},
		GetCertificate:   cert.GetCertificate,
		CurvePreferences: slices.Clone(curves),
	}
}

// knownCurves are the key exchanges crypto/tls implements, by the names of
// tls.CurveID.String.
var knownCurves = []tls.CurveID{
	tls.X25519MLKEM768,
	tls.SecP256r1MLKEM768,
	tls.SecP384r1MLKEM1024,
	tls.X25519,
	tls.CurveP256,
	tls.CurveP384,
	tls.CurveP521,
}

// ParseCurves parses a flag value naming key exchanges, separated by
// commas: "X25519MLKEM768,X25519,CurveP256". Names are those of
// tls.CurveID.String, in any case; the NIST curves may also be written
// without "Curve" (P256). "default" alone is DefaultCurves. An unknown or
// repeated name is an error (see ErrUnknownCurve), and so is an empty list,
// which would leave no key exchange at all.
func ParseCurves(s string) ([]tls.CurveID, error) {
	if strings.EqualFold(strings.TrimSpace(s), "default") {
		return slices.Clone(DefaultCurves), nil
	}
	var curves []tls.CurveID
	for name := range strings.SplitSeq(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("security: empty key exchange name in %q", s)
		}
		id, ok := curveByName(name)
		if !ok {
			return nil, fmt.Errorf("%w %q (known: default, %s)", ErrUnknownCurve, name, curveNames(knownCurves))
		}
		if slices.Contains(curves, id) {
			return nil, fmt.Errorf("security: key exchange %s named twice in %q", id, s)
		}
		curves = append(curves, id)
	}
	return curves, nil
}

func curveByName(name string) (tls.CurveID, bool) {
	for _, id := range knownCurves {
		full := id.String()
		if strings.EqualFold(name, full) || strings.EqualFold("Curve"+name, full) && strings.HasPrefix(full, "Curve") {
			return id, true
		}
	}
	return 0, false
}

// curveNames is curves as ParseCurves reads them, for messages and logs.
func curveNames(curves []tls.CurveID) string {
	names := make([]string, len(curves))
	for i, id := range curves {
		names[i] = id.String()
	}
	return strings.Join(names, ",")
}
