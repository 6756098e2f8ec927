package security

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testNow is the clock of the authenticators under test.
var testNow = time.Unix(1_700_000_000, 0)

func testClock() time.Time { return testNow }

const (
	testIssuer   = "https://issuer.example"
	testAudience = "wssd"
)

// testKeys are the keys the tests sign with, made once per test binary:
// an RSA key takes a while to generate.
type testKeys struct {
	secret []byte
	rsa    *rsa.PrivateKey
	p256   *ecdsa.PrivateKey
	p256b  *ecdsa.PrivateKey // another P-256 key
	p384   *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
}

var keys = sync.OnceValue(func() testKeys {
	var k testKeys
	var err error
	k.secret = []byte("0123456789abcdef0123456789abcdef-test")
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.p256b, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		panic(err)
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

// publicPEM is the PKIX "PUBLIC KEY" PEM of pub.
func publicPEM(tb testing.TB, pub crypto.PublicKey) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// newAuth is an authenticator on testClock, expecting testIssuer and
// testAudience, with the secret or public key PEM given.
func newAuth(tb testing.TB, secret, publicKey []byte) *Authenticator {
	tb.Helper()
	a, err := NewAuthenticator(AuthConfig{
		Secret:    secret,
		PublicKey: publicKey,
		Issuer:    testIssuer,
		Audience:  testAudience,
		Now:       testClock,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// validClaims are claims every authenticator of newAuth accepts, with
// changes applied.
func validClaims(changes ...func(jwt.MapClaims)) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub": "alice",
		"iss": testIssuer,
		"aud": testAudience,
		"exp": testNow.Add(time.Hour).Unix(),
		"iat": testNow.Add(-time.Minute).Unix(),
	}
	for _, change := range changes {
		change(c)
	}
	return c
}

func set(name string, value any) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) { c[name] = value }
}

func del(name string) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) { delete(c, name) }
}

// sign returns claims signed with key by method.
func sign(tb testing.TB, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	tb.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// b64 is s in base64url without padding, as in a JWT.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// claimsJSON is claims as a JWT payload.
func claimsJSON(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// tamper changes one character in the middle of the signature of a token,
// keeping it valid base64url.
func tamper(token string) string {
	i := strings.LastIndexByte(token, '.') + 5
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

// flipPaddingBit changes the last character of an HS256 token so that its
// signature still decodes to the same bytes with lenient base64: 32 bytes
// take 43 characters, whose last 2 bits are padding.
func flipPaddingBit(token string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	return token[:len(token)-1] + string(alphabet[last^1])
}

func TestVerify(t *testing.T) {
	k := keys()
	hs := newAuth(t, k.secret, nil)
	rs := newAuth(t, nil, publicPEM(t, &k.rsa.PublicKey))
	es := newAuth(t, nil, publicPEM(t, &k.p256.PublicKey))
	ed := newAuth(t, nil, publicPEM(t, k.ed.Public()))
	rsaPEM := publicPEM(t, &k.rsa.PublicKey)
	ecPEM := publicPEM(t, &k.p256.PublicKey)

	hsHeader := b64(`{"alg":"HS256","typ":"JWT"}`)
	valid := sign(t, jwt.SigningMethodHS256, k.secret, validClaims())
	payload := b64(claimsJSON(t, validClaims()))
	noneSigned := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims())
	withCrit := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
	withCrit.Header["crit"] = []string{"exp"}
	critToken, err := withCrit.SignedString(k.secret)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name  string
		auth  *Authenticator
		token string
		want  error     // nil: accepted
		sub   string    // of an accepted token
		exp   time.Time // of an accepted token; zero: an hour after testNow
	}{
		{name: "HS256", auth: hs, token: valid, sub: "alice"},
		{name: "HS384", auth: hs, token: sign(t, jwt.SigningMethodHS384, k.secret, validClaims()), sub: "alice"},
		{name: "HS512", auth: hs, token: sign(t, jwt.SigningMethodHS512, k.secret, validClaims()), sub: "alice"},
		{name: "RS256", auth: rs, token: sign(t, jwt.SigningMethodRS256, k.rsa, validClaims(set("sub", "bob"))), sub: "bob"},
		{name: "RS512", auth: rs, token: sign(t, jwt.SigningMethodRS512, k.rsa, validClaims()), sub: "alice"},
		{name: "PS256", auth: rs, token: sign(t, jwt.SigningMethodPS256, k.rsa, validClaims()), sub: "alice"},
		{name: "ES256", auth: es, token: sign(t, jwt.SigningMethodES256, k.p256, validClaims()), sub: "alice"},
		{name: "EdDSA", auth: ed, token: sign(t, jwt.SigningMethodEdDSA, k.ed, validClaims()), sub: "alice"},
		{name: "no subject", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(del("sub")))},

		{name: "empty", auth: hs, token: "", want: ErrTokenMissing},

		{name: "one part", auth: hs, token: "abcdef", want: ErrTokenMalformed},
		{name: "two parts", auth: hs, token: hsHeader + "." + payload, want: ErrTokenMalformed},
		{name: "four parts", auth: hs, token: valid + ".abc", want: ErrTokenMalformed},
		{name: "bad base64 header", auth: hs, token: "a." + payload + ".abc", want: ErrTokenMalformed},
		{name: "bad base64 signature", auth: hs, token: hsHeader + "." + payload + ".a", want: ErrTokenMalformed},
		{name: "non-canonical base64", auth: hs, token: flipPaddingBit(valid), want: ErrTokenMalformed},
		{name: "not base64url", auth: hs, token: strings.Replace(valid, ".", "!.", 1), want: ErrTokenMalformed},
		{name: "padding", auth: hs, token: strings.Replace(valid, ".", "=.", 1), want: ErrTokenMalformed},
		{name: "line break", auth: hs, token: valid[:10] + "\n" + valid[10:], want: ErrTokenMalformed},
		{name: "bad JSON header", auth: hs, token: b64(`{"alg":"HS256"`) + "." + payload + ".abc", want: ErrTokenMalformed},
		{name: "bad JSON payload", auth: hs, token: hsHeader + "." + b64(`{"exp":`) + ".abc", want: ErrTokenMalformed},
		{name: "exp not a number", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("exp", "tomorrow"))), want: ErrTokenMalformed},
		{name: "crit header", auth: hs, token: critToken, want: ErrTokenMalformed},

		{name: "bad HMAC signature", auth: hs, token: tamper(valid), want: ErrTokenSignature},
		{name: "bad RSA signature", auth: rs, token: tamper(sign(t, jwt.SigningMethodRS256, k.rsa, validClaims())), want: ErrTokenSignature},
		{name: "ES256 by another key", auth: es, token: sign(t, jwt.SigningMethodES256, k.p256b, validClaims()), want: ErrTokenSignature},
		{name: "HS256 with another secret", auth: hs, token: sign(t, jwt.SigningMethodHS256, []byte("another secret of at least 32 bytes!"), validClaims()), want: ErrTokenSignature},
		{name: "payload changed", auth: hs, token: hsHeader + "." + b64(claimsJSON(t, validClaims(set("sub", "mallory")))) + valid[strings.LastIndexByte(valid, '.'):], want: ErrTokenSignature},

		{name: "alg none", auth: hs, token: b64(`{"alg":"none","typ":"JWT"}`) + "." + payload + ".", want: ErrTokenAlgorithm},
		{name: "alg none against a public key", auth: rs, token: noneSigned, want: ErrTokenAlgorithm},
		{name: "no alg", auth: hs, token: b64(`{"typ":"JWT"}`) + "." + payload + ".abcd", want: ErrTokenAlgorithm},
		{name: "unknown alg", auth: hs, token: b64(`{"alg":"HS1"}`) + "." + payload + ".abcd", want: ErrTokenAlgorithm},
		{name: "HS256 keyed with the RSA public key PEM", auth: rs, token: sign(t, jwt.SigningMethodHS256, rsaPEM, validClaims()), want: ErrTokenAlgorithm},
		{name: "HS256 keyed with the ECDSA public key PEM", auth: es, token: sign(t, jwt.SigningMethodHS256, ecPEM, validClaims()), want: ErrTokenAlgorithm},
		{name: "RS256 against ECDSA", auth: es, token: sign(t, jwt.SigningMethodRS256, k.rsa, validClaims()), want: ErrTokenAlgorithm},
		{name: "ES384 against P-256", auth: es, token: sign(t, jwt.SigningMethodES384, k.p384, validClaims()), want: ErrTokenAlgorithm},
		{name: "EdDSA against RSA", auth: rs, token: sign(t, jwt.SigningMethodEdDSA, k.ed, validClaims()), want: ErrTokenAlgorithm},
		{name: "RS256 against HMAC", auth: hs, token: sign(t, jwt.SigningMethodRS256, k.rsa, validClaims()), want: ErrTokenAlgorithm},

		{name: "expired", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("exp", testNow.Add(-time.Minute).Unix()))), want: ErrTokenExpired},
		{name: "expired within leeway", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("exp", testNow.Add(-10*time.Second).Unix()))), sub: "alice", exp: testNow.Add(-10 * time.Second)},
		{name: "not yet valid", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("nbf", testNow.Add(time.Minute).Unix()))), want: ErrTokenNotYetValid},
		{name: "nbf within leeway", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("nbf", testNow.Add(10*time.Second).Unix()))), sub: "alice"},
		{name: "issued in the future", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("iat", testNow.Add(time.Minute).Unix()))), want: ErrTokenNotYetValid},
		{name: "iat within leeway", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("iat", testNow.Add(10*time.Second).Unix()))), sub: "alice"},
		{name: "no iat", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(del("iat"))), sub: "alice"},
		{name: "no exp", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(del("exp"))), want: ErrTokenNoExpiry},
		{name: "no exp, public key", auth: es, token: sign(t, jwt.SigningMethodES256, k.p256, validClaims(del("exp"))), want: ErrTokenNoExpiry},

		{name: "wrong issuer", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("iss", "https://evil.example"))), want: ErrTokenIssuer},
		{name: "no issuer", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(del("iss"))), want: ErrTokenIssuer},
		{name: "wrong issuer and expired", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("iss", "x"), set("exp", testNow.Add(-time.Hour).Unix()))), want: ErrTokenIssuer},
		{name: "wrong audience", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("aud", "other"))), want: ErrTokenAudience},
		{name: "no audience", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(del("aud"))), want: ErrTokenAudience},
		{name: "audience array without wssd", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("aud", []string{"a", "b"}))), want: ErrTokenAudience},
		{name: "audience array with wssd", auth: hs, token: sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("aud", []string{"other", testAudience}))), sub: "alice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			id, err := c.auth.Verify([]byte(c.token))
			if c.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				exp := c.exp
				if exp.IsZero() {
					exp = testNow.Add(time.Hour)
				}
				if id.Subject != c.sub || !id.Expires.Equal(exp) {
					t.Errorf("Verify = %+v; want subject %q, expires %v", id, c.sub, exp)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v; want %v", err, c.want)
			}
			if err != c.want {
				t.Errorf("Verify: %#v; want the sentinel %v itself", err, c.want)
			}
			if id != (Identity{}) {
				t.Errorf("refused token, but Identity %+v", id)
			}
			want := TokenErrorReason(c.want)
			if got := TokenErrorReason(err); got != want || got == "invalid" {
				t.Errorf("TokenErrorReason = %q; want %q", got, want)
			}
			for part := range strings.SplitSeq(c.token, ".") {
				if len(part) >= 4 && strings.Contains(err.Error(), part) {
					t.Errorf("error %q quotes the token", err)
				}
			}
		})
	}
}

// TestVerifyTopicsClaim checks the "topics" claim: its patterns become
// Identity.Topics, its absence leaves Topics nil, and a claim that is not
// a valid list of patterns refuses the token.
func TestVerifyTopicsClaim(t *testing.T) {
	k := keys()
	a := newAuth(t, k.secret, nil)
	verify := func(t *testing.T, changes ...func(jwt.MapClaims)) (Identity, error) {
		t.Helper()
		return a.Verify([]byte(sign(t, jwt.SigningMethodHS256, k.secret, validClaims(changes...))))
	}

	t.Run("patterns", func(t *testing.T) {
		id, err := verify(t, set("topics", map[string]any{"subscribe": []string{"news.*"}, "publish": []string{"chat.>"}}))
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if id.Subject != "alice" || !id.Expires.Equal(testNow.Add(time.Hour)) {
			t.Errorf("Verify = %+v; want subject alice, expires an hour after testNow", id)
		}
		if id.Topics == nil {
			t.Fatal("Verify: Topics nil; want the claim's patterns")
		}
		for _, c := range []struct {
			list  string
			ps    TopicPatterns
			topic string
			want  bool
		}{
			{"subscribe", id.Topics.Subscribe, "news.x", true},
			{"subscribe", id.Topics.Subscribe, "news", false},
			{"subscribe", id.Topics.Subscribe, "news.x.y", false},
			{"subscribe", id.Topics.Subscribe, "chat.x", false},
			{"subscribe", id.Topics.Subscribe, "chat.a.b", false},
			{"publish", id.Topics.Publish, "chat.a.b", true},
			{"publish", id.Topics.Publish, "chat.x", true},
			{"publish", id.Topics.Publish, "chat", false},
			{"publish", id.Topics.Publish, "news.x", false},
		} {
			if got := c.ps.Allow(c.topic); got != c.want {
				t.Errorf("Topics.%s.Allow(%q) = %v; want %v", c.list, c.topic, got, c.want)
			}
		}
	})

	t.Run("absent", func(t *testing.T) {
		for name, change := range map[string]func(jwt.MapClaims){
			"no claim":   del("topics"),
			"null claim": set("topics", nil),
		} {
			id, err := verify(t, change)
			if err != nil {
				t.Fatalf("%s: Verify: %v", name, err)
			}
			if id.Topics != nil {
				t.Errorf("%s: Topics = %+v; want nil", name, *id.Topics)
			}
		}
	})

	t.Run("empty", func(t *testing.T) {
		for name, claim := range map[string]any{
			"{}":          map[string]any{},
			"empty lists": map[string]any{"subscribe": []string{}, "publish": []string{}},
			"null lists":  map[string]any{"subscribe": nil, "publish": nil},
		} {
			id, err := verify(t, set("topics", claim))
			if err != nil {
				t.Fatalf("%s: Verify: %v", name, err)
			}
			if id.Topics == nil {
				t.Fatalf("%s: Topics nil; want permissions that allow nothing", name)
			}
			for _, topic := range []string{"a", "news.x", "chat.a.b"} {
				if id.Topics.Subscribe.Allow(topic) || id.Topics.Publish.Allow(topic) {
					t.Errorf("%s: %q allowed", name, topic)
				}
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name  string
			claim any
		}{
			{"empty token in subscribe", map[string]any{"subscribe": []string{"a..b"}}},
			{"empty token in publish", map[string]any{"subscribe": []string{"news.*"}, "publish": []string{"a..b"}}},
			{"> not last", map[string]any{"subscribe": []string{"a.>.b"}}},
			{"> first", map[string]any{"publish": []string{">.a"}}},
			{"a bad pattern after good ones", map[string]any{"subscribe": []string{"news.*", "chat.>", "a.b*"}}},
			{"empty pattern", map[string]any{"publish": []string{""}}},
			{"pattern too long", map[string]any{"subscribe": []string{strings.Repeat("a", MaxTopicLen+1)}}},
			{"claim a string", "news.*"},
			{"claim a list", []string{"news.*"}},
			{"claim a number", 1},
			{"subscribe a number", map[string]any{"subscribe": 5}},
			{"subscribe a string", map[string]any{"subscribe": "news.*"}},
			{"publish an object", map[string]any{"publish": map[string]any{}}},
			{"a pattern a number", map[string]any{"subscribe": []any{"news.*", 5}}},
		} {
			id, err := verify(t, set("topics", c.claim))
			if err != ErrTokenMalformed {
				t.Errorf("%s: Verify: %v; want %v", c.name, err, ErrTokenMalformed)
			}
			if id != (Identity{}) {
				t.Errorf("%s: refused token, but Identity %+v", c.name, id)
			}
		}
	})
}

// TestVerifyReasons pins the reason of each error, as metrics labels
// depend on it.
func TestVerifyReasons(t *testing.T) {
	for err, want := range map[error]string{
		ErrTokenMissing:     "missing",
		ErrTokenMalformed:   "malformed",
		ErrTokenSignature:   "signature",
		ErrTokenAlgorithm:   "algorithm",
		ErrTokenExpired:     "expired",
		ErrTokenNotYetValid: "not_yet_valid",
		ErrTokenNoExpiry:    "no_expiry",
		ErrTokenIssuer:      "issuer",
		ErrTokenAudience:    "audience",
		fmt.Errorf("conn 7: %w", ErrTokenExpired): "expired",
		errors.New("something else"):              "invalid",
		nil:                                       "",
	} {
		if got := TokenErrorReason(err); got != want {
			t.Errorf("TokenErrorReason(%v) = %q; want %q", err, got, want)
		}
	}
}

func TestChallenge(t *testing.T) {
	a := newAuth(t, keys().secret, nil)
	for _, c := range []struct {
		err  error
		want string
	}{
		{ErrTokenMissing, `Bearer realm="wssd"`},
		{nil, `Bearer realm="wssd"`},
		{ErrTokenExpired, `Bearer realm="wssd", error="invalid_token", error_description="token expired"`},
		{ErrTokenMalformed, `Bearer realm="wssd", error="invalid_token", error_description="token malformed"`},
		{ErrTokenSignature, `Bearer realm="wssd", error="invalid_token", error_description="bad signature"`},
		{ErrTokenAlgorithm, `Bearer realm="wssd", error="invalid_token", error_description="algorithm not accepted"`},
		{ErrTokenNotYetValid, `Bearer realm="wssd", error="invalid_token", error_description="token not yet valid"`},
		{ErrTokenNoExpiry, `Bearer realm="wssd", error="invalid_token", error_description="token has no expiry"`},
		{ErrTokenIssuer, `Bearer realm="wssd", error="invalid_token", error_description="issuer not accepted"`},
		{ErrTokenAudience, `Bearer realm="wssd", error="invalid_token", error_description="audience not accepted"`},
		{errors.New(`"quoted" text`), `Bearer realm="wssd", error="invalid_token", error_description="token invalid"`},
	} {
		if got := a.Challenge(c.err); got != c.want {
			t.Errorf("Challenge(%v) = %s; want %s", c.err, got, c.want)
		}
	}
	// RFC 6750 section 3: error_description is %x20-21 / %x23-5B / %x5D-7E.
	for _, e := range tokenErrors {
		if strings.ContainsFunc(e.description, func(r rune) bool { return r < 0x20 || r > 0x7e || r == '"' || r == '\\' }) {
			t.Errorf("description %q is not allowed in error_description", e.description)
		}
	}
}

func TestAlgorithms(t *testing.T) {
	k := keys()
	p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		auth *Authenticator
		want []string
	}{
		{"HMAC", newAuth(t, k.secret, nil), []string{"HS256", "HS384", "HS512"}},
		{"RSA", newAuth(t, nil, publicPEM(t, &k.rsa.PublicKey)), []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}},
		{"P-256", newAuth(t, nil, publicPEM(t, &k.p256.PublicKey)), []string{"ES256"}},
		{"P-384", newAuth(t, nil, publicPEM(t, &k.p384.PublicKey)), []string{"ES384"}},
		{"P-521", newAuth(t, nil, publicPEM(t, &p521.PublicKey)), []string{"ES512"}},
		{"Ed25519", newAuth(t, nil, publicPEM(t, k.ed.Public())), []string{"EdDSA"}},
	} {
		got := c.auth.Algorithms()
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Algorithms() = %v; want %v", c.name, got, c.want)
		}
		got[0] = "none" // a copy: the caller cannot widen the set
		if slices.Contains(c.auth.Algorithms(), "none") {
			t.Errorf("%s: Algorithms returns the authenticator's own slice", c.name)
		}
	}
	tok := sign(t, jwt.SigningMethodES512, p521, validClaims())
	if _, err := newAuth(t, nil, publicPEM(t, &p521.PublicKey)).Verify([]byte(tok)); err != nil {
		t.Errorf("ES512 token against its P-521 key: %v", err)
	}
}

func TestVerifyLeeway(t *testing.T) {
	k := keys()
	expired := []byte(sign(t, jwt.SigningMethodHS256, k.secret, validClaims(set("exp", testNow.Add(-10*time.Second).Unix()))))
	for _, c := range []struct {
		leeway time.Duration
		want   error
	}{
		{0, nil}, // DefaultLeeway
		{5 * time.Second, ErrTokenExpired},
		{11 * time.Second, nil},
	} {
		a, err := NewAuthenticator(AuthConfig{Secret: k.secret, Leeway: c.leeway, Now: testClock})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(expired); err != c.want {
			t.Errorf("leeway %v, expired 10s ago: %v; want %v", c.leeway, err, c.want)
		}
	}
	// Without Issuer and Audience, tokens need neither.
	a, err := NewAuthenticator(AuthConfig{Secret: k.secret, Now: testClock})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jwt.SigningMethodHS256, k.secret, validClaims(del("iss"), del("aud")))
	if _, err := a.Verify([]byte(tok)); err != nil {
		t.Errorf("no issuer or audience configured: %v", err)
	}
}

// TestVerifyClock checks that Verify reads the clock it is given on each
// call, not once.
func TestVerifyClock(t *testing.T) {
	k := keys()
	var mu sync.Mutex
	now := testNow
	a, err := NewAuthenticator(AuthConfig{Secret: k.secret, Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}})
	if err != nil {
		t.Fatal(err)
	}
	tok := []byte(sign(t, jwt.SigningMethodHS256, k.secret, validClaims()))
	if _, err := a.Verify(tok); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	if _, err := a.Verify(tok); err != ErrTokenExpired {
		t.Errorf("two hours later: %v; want %v", err, ErrTokenExpired)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	k := keys()
	a := newAuth(t, nil, publicPEM(t, &k.p256.PublicKey))
	good := []byte(sign(t, jwt.SigningMethodES256, k.p256, validClaims()))
	bad := []byte(sign(t, jwt.SigningMethodES256, k.p256b, validClaims()))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if _, err := a.Verify(good); err != nil {
					t.Error(err)
					return
				}
				if _, err := a.Verify(bad); err != ErrTokenSignature {
					t.Errorf("bad token: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestAuthenticatorKeepsSecret checks that the secret is copied: a caller
// that clears its buffer after NewAuthenticator does not change the key.
func TestAuthenticatorKeepsSecret(t *testing.T) {
	secret := slices.Clone(keys().secret)
	a, err := NewAuthenticator(AuthConfig{Secret: secret, Now: testClock})
	if err != nil {
		t.Fatal(err)
	}
	tok := []byte(sign(t, jwt.SigningMethodHS256, keys().secret, validClaims()))
	clear(secret)
	if _, err := a.Verify(tok); err != nil {
		t.Errorf("after the caller cleared its secret: %v", err)
	}
}

func TestNewAuthenticatorRefuses(t *testing.T) {
	k := keys()
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		cfg  AuthConfig
		want string // in the error
	}{
		{"neither", AuthConfig{}, "neither"},
		{"both", AuthConfig{Secret: k.secret, PublicKey: publicPEM(t, &k.p256.PublicKey)}, "both"},
		{"short secret", AuthConfig{Secret: []byte("too short")}, "shorter than the 32"},
		{"empty secret", AuthConfig{Secret: []byte{}}, "neither"},
		{"negative leeway", AuthConfig{Secret: k.secret, Leeway: -time.Second}, "negative"},
		{"not PEM", AuthConfig{PublicKey: []byte("not a key")}, "no PUBLIC KEY"},
		{"RSA 1024", AuthConfig{PublicKey: publicPEM(t, &rsa1024.PublicKey)}, "1024 bits"},
		{"P-224", AuthConfig{PublicKey: publicPEM(t, &p224.PublicKey)}, "P-224"},
		{"X25519", AuthConfig{PublicKey: publicPEM(t, x25519.PublicKey())}, "not an RSA, ECDSA or Ed25519 key"},
		{"two keys", AuthConfig{PublicKey: append(publicPEM(t, &k.p256.PublicKey), publicPEM(t, &k.p256b.PublicKey)...)}, "more than one"},
		{"bad key block", AuthConfig{PublicKey: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("junk")})}, "PUBLIC KEY block"},
	} {
		a, err := NewAuthenticator(c.cfg)
		if err == nil {
			t.Errorf("%s: accepted, algorithms %v", c.name, a.Algorithms())
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "security: ") {
			t.Errorf("%s: %q; want security: ... %q", c.name, err, c.want)
		}
	}
}

func TestLoadAuthConfig(t *testing.T) {
	k := keys()
	dir := t.TempDir()
	secret := "0123456789abcdef0123456789abcdef"

	t.Run("secret", func(t *testing.T) {
		cfg, err := LoadAuthConfig(writeFile(t, dir, "secret", []byte(secret+" \r\n\n")), "")
		if err != nil {
			t.Fatal(err)
		}
		if string(cfg.Secret) != secret || cfg.PublicKey != nil {
			t.Fatalf("Secret %q, PublicKey %q; want the file's text, trimmed", cfg.Secret, cfg.PublicKey)
		}
		cfg.Now = testClock
		a, err := NewAuthenticator(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify([]byte(sign(t, jwt.SigningMethodHS256, []byte(secret), validClaims()))); err != nil {
			t.Error(err)
		}
	})
	t.Run("short secret", func(t *testing.T) {
		path := writeFile(t, dir, "short", []byte(secret[:31]+"\n"))
		_, err := LoadAuthConfig(path, "")
		if err == nil || !strings.Contains(err.Error(), "31 bytes, shorter than the 32") || !strings.Contains(err.Error(), path) {
			t.Errorf("31-byte secret: %v", err)
		}
		if _, err := LoadAuthConfig(writeFile(t, dir, "blank", []byte("\n")), ""); err == nil {
			t.Error("blank secret accepted")
		}
	})
	t.Run("paths", func(t *testing.T) {
		if _, err := LoadAuthConfig("", ""); err == nil || !strings.Contains(err.Error(), "neither") {
			t.Errorf("no file: %v", err)
		}
		if _, err := LoadAuthConfig("a", "b"); err == nil || !strings.Contains(err.Error(), "both") {
			t.Errorf("two files: %v", err)
		}
		missing := filepath.Join(dir, "missing")
		if _, err := LoadAuthConfig(missing, ""); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing secret file: %v", err)
		}
		if _, err := LoadAuthConfig("", missing); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("missing key file: %v", err)
		}
		if _, err := LoadAuthConfig(dir, ""); err == nil {
			t.Error("a directory as the secret file: accepted")
		}
	})
	t.Run("public keys", func(t *testing.T) {
		pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
		ecParams := pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}})
		leaf := issue(t, validLeaf(), nil)
		ca := issue(t, caTemplate("test root", 0), nil)
		chained := issue(t, validLeaf(), &ca)
		for _, c := range []struct {
			name   string
			pem    []byte
			method jwt.SigningMethod
			key    any
		}{
			{"PKIX RSA", publicPEM(t, &k.rsa.PublicKey), jwt.SigningMethodRS256, k.rsa},
			{"PKCS #1 RSA", pkcs1, jwt.SigningMethodPS384, k.rsa},
			{"ECDSA after EC PARAMETERS", append(ecParams, publicPEM(t, &k.p256.PublicKey)...), jwt.SigningMethodES256, k.p256},
			{"Ed25519", publicPEM(t, k.ed.Public()), jwt.SigningMethodEdDSA, k.ed},
			{"certificate", leaf.certPEM(), jwt.SigningMethodES256, leaf.key},
			{"certificate chain", append(chained.certPEM(), ca.certPEM()...), jwt.SigningMethodES256, chained.key},
		} {
			cfg, err := LoadAuthConfig("", writeFile(t, dir, "key.pem", c.pem))
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			cfg.Now = testClock
			a, err := NewAuthenticator(cfg)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if _, err := a.Verify([]byte(sign(t, c.method, c.key, validClaims()))); err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
		}
	})
	t.Run("not public keys", func(t *testing.T) {
		pkcs8, err := x509.MarshalPKCS8PrivateKey(k.p256)
		if err != nil {
			t.Fatal(err)
		}
		ecDER, err := x509.MarshalECPrivateKey(k.p256)
		if err != nil {
			t.Fatal(err)
		}
		rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		leaf := issue(t, validLeaf(), nil)
		for _, c := range []struct {
			name string
			pem  []byte
			want string
		}{
			{"empty", nil, "no PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE block"},
			{"text", []byte("-----BEGIN NOTHING-----\n"), "no PUBLIC KEY"},
			{"EC PARAMETERS only", pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}), "no PUBLIC KEY"},
			{"PKCS #8 private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), "PRIVATE KEY block is a private key"},
			{"EC private key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "private key"},
			{"RSA private key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.rsa)}), "private key"},
			{"certificate and its key", append(leaf.certPEM(), leaf.keyPEM()...), "private key"},
			{"public key and certificate", append(publicPEM(t, &k.p256.PublicKey), leaf.certPEM()...), "more than one"},
			{"bad certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), "CERTIFICATE block"},
			{"RSA key too short", publicPEM(t, &rsa1024.PublicKey), "1024 bits"},
		} {
			path := writeFile(t, dir, "bad.pem", c.pem)
			_, err := LoadAuthConfig("", path)
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: %v; want an error naming %s and saying %q", c.name, err, path, c.want)
			}
		}
	})
}

// FuzzVerify checks that no token makes Verify panic or quote it, and that
// a token is accepted only if its HMAC is right and it has not expired, as
// checked here without jwt/v5.
func FuzzVerify(f *testing.F) {
	secret := []byte("fuzzing secret, thirty-two bytes or more")
	a, err := NewAuthenticator(AuthConfig{Secret: secret, Now: testClock})
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range []jwt.MapClaims{
		validClaims(),
		validClaims(del("exp")),
		validClaims(set("exp", testNow.Add(-time.Hour).Unix())),
		validClaims(set("nbf", testNow.Add(time.Hour).Unix()), set("aud", []string{"a", "b"})),
	} {
		for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS512} {
			f.Add([]byte(sign(f, m, secret, c)))
		}
	}
	f.Add([]byte(b64(`{"alg":"none"}`) + "." + b64(`{"exp":1800000000}`) + "."))
	f.Add([]byte("a.b.c"))
	hashes := map[string]func() hash.Hash{"HS256": sha256.New, "HS384": sha512.New384, "HS512": sha512.New}
	sentinels := []error{ErrTokenMissing, ErrTokenMalformed, ErrTokenSignature, ErrTokenAlgorithm, ErrTokenExpired,
		ErrTokenNotYetValid, ErrTokenNoExpiry, ErrTokenIssuer, ErrTokenAudience}

	f.Fuzz(func(t *testing.T, token []byte) {
		id, err := a.Verify(token)
		if err != nil {
			if !slices.Contains(sentinels, err) {
				t.Fatalf("Verify: %#v, not one of the token errors", err)
			}
			return
		}
		parts := strings.Split(string(token), ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d parts", len(parts))
		}
		enc := base64.RawURLEncoding.Strict()
		var header map[string]any // as jwt/v5 reads it: "alg" in this case only
		var claims struct{ Exp *float64 }
		h, err1 := enc.DecodeString(parts[0])
		p, err2 := enc.DecodeString(parts[1])
		sig, err3 := enc.DecodeString(parts[2])
		if err := errors.Join(err1, err2, err3, json.Unmarshal(h, &header), json.Unmarshal(p, &claims)); err != nil {
			t.Fatalf("accepted a token that does not decode: %v", err)
		}
		alg, _ := header["alg"].(string)
		newHash, ok := hashes[alg]
		if !ok {
			t.Fatalf("accepted alg %q", alg)
		}
		mac := hmac.New(newHash, secret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if !hmac.Equal(mac.Sum(nil), sig) {
			t.Fatal("accepted a token whose HMAC is wrong")
		}
		if claims.Exp == nil || time.Unix(int64(*claims.Exp), 0).Add(DefaultLeeway).Before(testNow) {
			t.Fatalf("accepted a token without exp or expired: %+v", id)
		}
	})
}

func benchmarkVerify(b *testing.B, a *Authenticator, token string) {
	tok := []byte(token)
	if _, err := a.Verify(tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// The cost of Verify per upgrade request, with the claims of a typical
// token (sub, iss, aud, exp, iat):
//
//	go test -run '^$' -bench Verify -benchmem ./security/
func BenchmarkVerifyHS256(b *testing.B) {
	k := keys()
	benchmarkVerify(b, newAuth(b, k.secret, nil), sign(b, jwt.SigningMethodHS256, k.secret, validClaims()))
}

func BenchmarkVerifyES256(b *testing.B) {
	k := keys()
	benchmarkVerify(b, newAuth(b, nil, publicPEM(b, &k.p256.PublicKey)), sign(b, jwt.SigningMethodES256, k.p256, validClaims()))
}
