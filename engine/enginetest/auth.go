package enginetest

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// The tokens of the tests: HS256 with Secret, from Issuer for Audience.
var (
	Secret = []byte("0123456789abcdef0123456789abcdef-test-secret")
)

const (
	Issuer   = "https://issuer.example"
	Audience = "wssd"
)

// Sign signs claims with HS256 and Secret.
func Sign(t testing.TB, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(Secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
