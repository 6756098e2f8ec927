package security

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors of token verification. Verify returns one of them as it is, never
// wrapped, so its text is fixed: it carries nothing of the token (neither
// the token nor a claim an attacker chose), and a log line or a metrics
// label made from it is safe. Compare with errors.Is; TokenErrorReason and
// Authenticator.Challenge turn them into a metrics label and a response
// header.
var (
	ErrTokenMissing     = errors.New("security: no token")
	ErrTokenMalformed   = errors.New("security: token is malformed")
	ErrTokenSignature   = errors.New("security: token signature is invalid")
	ErrTokenAlgorithm   = errors.New("security: token algorithm is not accepted")
	ErrTokenExpired     = errors.New("security: token has expired")
	ErrTokenNotYetValid = errors.New("security: token is not valid yet")
	ErrTokenNoExpiry    = errors.New("security: token has no expiry")
	ErrTokenIssuer      = errors.New("security: token issuer is not accepted")
	ErrTokenAudience    = errors.New("security: token audience is not accepted")

	// errTokenInvalid is for a refusal none of the above describes, which
	// the jwt/v5 version wssd is built with cannot produce; a later one
	// might.
	errTokenInvalid = errors.New("security: token is invalid")
)

// tokenErrors gives each token error its reason (for metrics labels and
// logs) and its error_description (RFC 6750 section 3: printable ASCII
// without '"' or '\', which these fixed texts keep to).
var tokenErrors = []struct {
	err         error
	reason      string
	description string
}{
	{ErrTokenMissing, "missing", ""},
	{ErrTokenMalformed, "malformed", "token malformed"},
	{ErrTokenSignature, "signature", "bad signature"},
	{ErrTokenAlgorithm, "algorithm", "algorithm not accepted"},
	{ErrTokenExpired, "expired", "token expired"},
	{ErrTokenNotYetValid, "not_yet_valid", "token not yet valid"},
	{ErrTokenNoExpiry, "no_expiry", "token has no expiry"},
	{ErrTokenIssuer, "issuer", "issuer not accepted"},
	{ErrTokenAudience, "audience", "audience not accepted"},
	{errTokenInvalid, "invalid", "token invalid"},
}

// TokenErrorReason returns the short reason of a token error, for a metrics
// label or a log field: "missing", "malformed", "signature", "algorithm",
// "expired", "not_yet_valid", "no_expiry", "issuer", "audience", or
// "invalid" for any other error. It is "" for nil. The set is fixed, so a
// label made from it cannot multiply time series.
func TokenErrorReason(err error) string {
	if err == nil {
		return ""
	}
	for _, e := range tokenErrors {
		if errors.Is(err, e.err) {
			return e.reason
		}
	}
	return "invalid"
}

// realm is the protection space named in challenges (RFC 9110 section 11.5).
const realm = "wssd"

// Challenge returns the value of the WWW-Authenticate header of a 401
// response refusing a request for err (RFC 6750 section 3). Without a
// token (ErrTokenMissing, or nil) the challenge names no error, as RFC
// 6750 asks, since the client may simply not know it must authenticate:
//
//	Bearer realm="wssd"
//
// Any other error is an invalid_token, with a fixed description:
//
//	Bearer realm="wssd", error="invalid_token", error_description="token expired"
//
// The description tells a client's developer what to fix and the client
// whether fetching a new token may help; it holds no text of the request.
func (a *Authenticator) Challenge(err error) string {
	if err == nil || errors.Is(err, ErrTokenMissing) {
		return `Bearer realm="` + realm + `"`
	}
	description := "token invalid"
	for _, e := range tokenErrors {
		if errors.Is(err, e.err) {
			description = e.description
			break
		}
	}
	return `Bearer realm="` + realm + `", error="invalid_token", error_description="` + description + `"`
}

// DefaultLeeway is the clock skew allowed on exp, nbf and iat when
// AuthConfig.Leeway is 0. The times compared are the issuer's clock (when
// it wrote iat, nbf and exp) and wssd's; both are servers, normally within
// a second of each other by NTP. The leeway covers a host whose
// synchronization has lapsed, and a token used the moment it is issued by
// an issuer whose clock runs a little ahead. Thirty seconds does that and
// is small against token lifetimes of minutes: it is also how long a
// stolen token outlives its exp at most.
const DefaultLeeway = 30 * time.Second

// minSecretLen is the shortest HMAC secret accepted: the 256 bits RFC 7518
// section 3.2 requires of an HS256 key. A shorter secret may be guessed
// offline from a single token.
const minSecretLen = 32

// AuthConfig configures token verification. Exactly one of Secret and
// PublicKey must be set (non-empty); which one fixes the accepted
// algorithms (see Authenticator.Algorithms), so that a token cannot choose
// how it is checked.
type AuthConfig struct {
	// Secret is the HMAC key, at least 32 bytes, shared with the token
	// issuer. It accepts HS256, HS384 and HS512.
	Secret []byte

	// PublicKey is the issuer's public key, PEM-encoded: a "PUBLIC KEY"
	// block (PKIX: RSA, ECDSA or Ed25519), an "RSA PUBLIC KEY" block
	// (PKCS #1) or a "CERTIFICATE" whose key is used, the first if several
	// form a chain (the certificate only carries the key: its dates and
	// issuer are not checked). An RSA key, of 2048 bits at least, accepts
	// RS256, RS384, RS512, PS256, PS384 and PS512; an ECDSA key only the
	// algorithm of its curve (P-256: ES256, P-384: ES384, P-521: ES512);
	// an Ed25519 key EdDSA.
	PublicKey []byte

	// Issuer, when set, must equal the token's "iss".
	Issuer string

	// Audience, when set, must be the token's "aud" or one of its entries.
	Audience string

	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means
	// DefaultLeeway, and a negative value is an error.
	Leeway time.Duration

	// Now is the clock tokens are checked against; nil means time.Now.
	Now func() time.Time
}

// LoadAuthConfig reads the key of token verification from a file: the
// HMAC secret from secretFile, or the PEM public key from publicKeyFile.
// Exactly one of the two must be non-empty.
//
// The secret is the bytes of the file, not a decoding of them, with
// trailing whitespace removed so that a file written by an editor or by
// echo holds the same key as the issuer's: generate it as text, as with
// "openssl rand -base64 48 > secret", since a random binary file whose
// last byte happens to be whitespace would lose it. A secret shorter than
// 32 bytes is refused. The public key is checked as NewAuthenticator
// would; in particular a private key is refused, since it has no business
// on a server that only verifies.
//
// The returned AuthConfig has only Secret or PublicKey set; the caller
// adds the rest.
func LoadAuthConfig(secretFile, publicKeyFile string) (AuthConfig, error) {
	switch {
	case secretFile != "" && publicKeyFile != "":
		return AuthConfig{}, errors.New("security: both a token secret file and a token public key file; give one")
	case secretFile != "":
		data, err := os.ReadFile(secretFile)
		if err != nil {
			return AuthConfig{}, fmt.Errorf("security: reading the token secret: %w", err)
		}
		secret := bytes.TrimRight(data, " \t\r\n\v\f")
		if err := checkSecret(secret); err != nil {
			return AuthConfig{}, fmt.Errorf("security: token secret in %s: %w", secretFile, err)
		}
		return AuthConfig{Secret: secret}, nil
	case publicKeyFile != "":
		data, err := os.ReadFile(publicKeyFile)
		if err != nil {
			return AuthConfig{}, fmt.Errorf("security: reading the token public key: %w", err)
		}
		if _, _, err := publicKey(data); err != nil {
			return AuthConfig{}, fmt.Errorf("security: token public key in %s: %w", publicKeyFile, err)
		}
		return AuthConfig{PublicKey: data}, nil
	default:
		return AuthConfig{}, errors.New("security: neither a token secret file nor a token public key file; give one")
	}
}

func checkSecret(secret []byte) error {
	if len(secret) < minSecretLen {
		return fmt.Errorf("%d bytes, shorter than the %d an HMAC key needs at least", len(secret), minSecretLen)
	}
	return nil
}

// Authenticator verifies the tokens of WebSocket upgrade requests. It is
// made by NewAuthenticator and safe for concurrent use.
type Authenticator struct {
	parser   *jwt.Parser
	key      any // []byte, *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	algs     []string
	issuer   string
	audience string
	leeway   time.Duration
}

// Identity is what a verified token says about its bearer.
type Identity struct {
	// Subject is the token's "sub", which may be empty.
	Subject string

	// Expires is the token's "exp" as written, without the leeway. It is
	// zero only for a token without exp, which Verify refuses. The token
	// stops being accepted at Expires plus Leeway: that is when the engine
	// closes the connection it opened.
	Expires time.Time

	// Topics is what the token's "topics" claim allows (see
	// TopicPermissions); nil when the token has no such claim.
	Topics *TopicPermissions
}

// claims are the claims Verify reads: the registered ones and "topics".
type claims struct {
	jwt.RegisteredClaims
	Topics *struct {
		Subscribe []string `json:"subscribe"`
		Publish   []string `json:"publish"`
	} `json:"topics,omitempty"`
}

// NewAuthenticator returns an Authenticator for cfg, or an error saying
// what is wrong with it.
//
// A token must carry an exp (ErrTokenNoExpiry otherwise): wssd closes a
// connection when its token expires, so exp is what bounds how long a
// token, once issued, keeps a connection open, and a token that never
// expires could not be revoked by time at all. nbf and iat are checked
// when present: the token is refused (ErrTokenNotYetValid) before nbf, and
// when its iat is in the future, both beyond the leeway. jwt/v5, unlike
// jwt/v4, ignores iat unless asked (WithIssuedAt); wssd asks, because a
// token issued in the future comes from an issuer whose clock is wrong or
// from someone who can sign tokens at will, and either way nbf would not
// catch it when absent.
//
// A token whose header lists critical extensions ("crit", RFC 7515 section
// 4.1.11) is refused as malformed, since wssd understands none.
func NewAuthenticator(cfg AuthConfig) (*Authenticator, error) {
	if cfg.Leeway < 0 {
		return nil, fmt.Errorf("security: negative token leeway %v", cfg.Leeway)
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	a := &Authenticator{issuer: cfg.Issuer, audience: cfg.Audience, leeway: leeway}
	switch {
	case len(cfg.Secret) > 0 && len(cfg.PublicKey) > 0:
		return nil, errors.New("security: both a token secret and a token public key; give one")
	case len(cfg.Secret) > 0:
		if err := checkSecret(cfg.Secret); err != nil {
			return nil, fmt.Errorf("security: token secret: %w", err)
		}
		// A copy, so that the caller clearing or reusing its slice does not
		// change the key under concurrent Verify calls.
		a.key = slices.Clone(cfg.Secret)
		a.algs = []string{"HS256", "HS384", "HS512"}
	case len(cfg.PublicKey) > 0:
		key, algs, err := publicKey(cfg.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("security: token public key: %w", err)
		}
		a.key, a.algs = key, algs
	default:
		return nil, errors.New("security: neither a token secret nor a token public key; give one")
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(slices.Clone(a.algs)),
		jwt.WithLeeway(leeway),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		// RFC 7515 base64url has one encoding of each value; strict
		// decoding refuses the others, so that a token cannot be altered
		// and still verify.
		jwt.WithStrictDecoding(),
	}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	a.parser = jwt.NewParser(opts...)
	return a, nil
}

// Leeway returns the clock skew allowed on exp, nbf and iat.
func (a *Authenticator) Leeway() time.Duration { return a.leeway }

// publicKey returns the key in PEM data and the algorithms it verifies.
func publicKey(data []byte) (crypto.PublicKey, []string, error) {
	key, err := parsePublicKey(data)
	if err != nil {
		return nil, nil, err
	}
	algs, err := publicKeyAlgorithms(key)
	if err != nil {
		return nil, nil, err
	}
	return key, algs, nil
}

// parsePublicKey returns the key of the first public key or certificate in
// PEM data. Blocks of other types, such as the "EC PARAMETERS" openssl
// writes, are skipped, but a private key is an error: it is the wrong file,
// and one that should not be on this server.
func parsePublicKey(data []byte) (crypto.PublicKey, error) {
	var key crypto.PublicKey
	keys := 0 // key blocks, counting a certificate chain as one
	inChain := false
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			keys++
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			keys++
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			if inChain {
				continue // the leaf's issuers: their keys sign certificates, not tokens
			}
			inChain = true
			keys++
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			if strings.Contains(block.Type, "PRIVATE KEY") {
				return nil, fmt.Errorf("a %s block is a private key; give the public key only (openssl pkey -in key.pem -pubout)", block.Type)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s block: %w", block.Type, err)
		}
	}
	switch {
	case keys == 0:
		return nil, errors.New("no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block in PEM data")
	case keys > 1:
		// wssd verifies with one key; using the first of several would
		// leave tokens signed with the others failing for no clear reason.
		return nil, errors.New("more than one public key in PEM data; give one")
	}
	return key, nil
}

// publicKeyAlgorithms returns the algorithms a public key verifies, or why
// it is not fit for tokens.
func publicKeyAlgorithms(key crypto.PublicKey) ([]string, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		// 2048 bits is the least NIST still approves for signatures;
		// crypto/rsa itself refuses keys under 1024.
		if n := k.N.BitLen(); n < 2048 {
			return nil, fmt.Errorf("RSA key of %d bits; at least 2048 are needed", n)
		}
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}, nil
	case *ecdsa.PublicKey:
		// The curve decides the algorithm (RFC 7518 section 3.4), so that
		// a signature is never checked with a hash other than the one the
		// key was made for.
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("ECDSA key on %s, which no JWS algorithm uses", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("%T is not an RSA, ECDSA or Ed25519 key", key)
}

// Algorithms returns the "alg" values tokens may have, for logs and docs.
func (a *Authenticator) Algorithms() []string {
	return slices.Clone(a.algs)
}

// errKeyRefused is what the key function returns for a token whose
// algorithm is not the key's.
var errKeyRefused = errors.New("algorithm not accepted")

// keyFor is the parser's key function. The parser has already refused the
// algorithms not in a.algs; checking again keeps the key from ever being
// handed to another algorithm (an HMAC given the bytes of a public key is
// the classic forgery) should that first check be lost in a change.
func (a *Authenticator) keyFor(t *jwt.Token) (any, error) {
	if t.Method == nil || !slices.Contains(a.algs, t.Method.Alg()) {
		return nil, errKeyRefused
	}
	return a.key, nil
}

// Verify checks a token: its syntax, its algorithm, its signature, then its
// claims (see NewAuthenticator), and returns the identity it names. The
// error is one of the ErrToken errors, unwrapped, with fixed text. When a
// token fails several claim checks, the error is the first of issuer,
// audience, no expiry, expired and not yet valid: a token meant for
// another service says more than its dates. Safe for concurrent use.
func (a *Authenticator) Verify(token []byte) (Identity, error) {
	if len(token) == 0 {
		return Identity{}, ErrTokenMissing
	}
	// The compact serialization is base64url and dots only. Refusing
	// anything else here, before any decoding, also refuses the line
	// breaks encoding/base64 would otherwise skip, and the padding RFC
	// 7515 omits.
	for _, c := range token {
		if !isBase64URL(c) && c != '.' {
			return Identity{}, ErrTokenMalformed
		}
	}
	var cl claims
	t, err := a.parser.ParseWithClaims(string(token), &cl, a.keyFor)
	if err != nil {
		return Identity{}, a.classify(t, &cl.RegisteredClaims, err)
	}
	if _, ok := t.Header["crit"]; ok {
		return Identity{}, ErrTokenMalformed
	}
	id := Identity{Subject: cl.Subject}
	if cl.ExpiresAt != nil {
		id.Expires = cl.ExpiresAt.Time
	}
	if cl.Topics != nil {
		// A signed claim wssd cannot read is a token it does not
		// understand: refused like one that does not parse.
		sub, err := ParseTopicPatterns(cl.Topics.Subscribe)
		if err != nil {
			return Identity{}, ErrTokenMalformed
		}
		pub, err := ParseTopicPatterns(cl.Topics.Publish)
		if err != nil {
			return Identity{}, ErrTokenMalformed
		}
		id.Topics = &TopicPermissions{Subscribe: sub, Publish: pub}
	}
	return id, nil
}

// classify maps an error of jwt/v5's parser to a token error. The parser's
// errors are not returned themselves: some quote a character of the decoded
// token, or an "alg" the client chose.
func (a *Authenticator) classify(t *jwt.Token, claims *jwt.RegisteredClaims, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return ErrTokenMalformed
	case errors.Is(err, errKeyRefused), errors.Is(err, jwt.ErrTokenUnverifiable):
		// Unverifiable: no "alg", or one jwt/v5 does not know.
		return ErrTokenAlgorithm
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// The parser reports an algorithm outside its valid methods, "none"
		// included, as an invalid signature, before looking at the
		// signature at all.
		if t == nil || t.Method == nil || !slices.Contains(a.algs, t.Method.Alg()) {
			return ErrTokenAlgorithm
		}
		return ErrTokenSignature
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		// The signature has been verified, so the claims can be read to
		// tell the failures apart: jwt/v5 reports a required iss or aud
		// that is absent and an absent exp alike.
		switch {
		case a.issuer != "" && claims.Issuer != a.issuer:
			return ErrTokenIssuer
		case a.audience != "" && !slices.Contains(claims.Audience, a.audience):
			return ErrTokenAudience
		case claims.ExpiresAt == nil:
			return ErrTokenNoExpiry
		case errors.Is(err, jwt.ErrTokenExpired):
			return ErrTokenExpired
		case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
			return ErrTokenNotYetValid
		}
	}
	return errTokenInvalid
}

// isBase64URL reports whether c is in the base64url alphabet (RFC 4648
// section 5).
func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
