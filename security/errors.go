package security

import "errors"

// Errors of the TLS configuration. They are wrapped with the file or value
// that caused them; compare with errors.Is.
var (
	ErrNoCertificate   = errors.New("security: no CERTIFICATE block in PEM data")
	ErrNoPrivateKey    = errors.New("security: no private key block in PEM data")
	ErrKeyMismatch     = errors.New("security: private key does not match the certificate")
	ErrCertExpired     = errors.New("security: certificate has expired")
	ErrCertNotYetValid = errors.New("security: certificate is not valid yet")
	ErrBadHost         = errors.New("security: not a DNS name or an IP address")
	ErrUnknownCurve    = errors.New("security: unknown key exchange")
)
