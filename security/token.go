package security

import (
	"bytes"
	"strings"

	"github.com/wssd/wssd/engine/http1"
)

// A WebSocket client can carry its token in one of three places, which
// these functions read from the parts of an upgrade request: the
// Authorization header (BearerToken), the query (QueryToken) or the
// Sec-WebSocket-Protocol header (ProtocolToken). They only extract a token;
// Authenticator.Verify judges it. They do no I/O and, since they run on
// every upgrade request before the token gate has refused anything, do not
// allocate, but for QueryToken appending to the buffer it is given.

// BearerToken returns the token of an Authorization header value "Bearer
// <token>" (RFC 6750 section 2.1), and whether there was one. The scheme
// is matched in any case and may be followed by one or more spaces (RFC
// 9110 section 11.4); whitespace around the value is ignored. The token
// must be a token68, the syntax of a JWT among others: a value with another
// scheme, no token or a space inside is not a bearer token. The token is a
// subslice of authorization.
func BearerToken(authorization []byte) ([]byte, bool) {
	v := trimOWS(authorization)
	const scheme = "bearer"
	if len(v) <= len(scheme) || !equalFoldLower(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return nil, false
	}
	t := v[len(scheme):]
	for len(t) > 0 && t[0] == ' ' {
		t = t[1:]
	}
	if !isToken68(t) {
		return nil, false
	}
	return t, true
}

// QueryToken returns the value of the "token" parameter of a request
// target's query, appended to dst so that the caller can reuse a buffer,
// and whether there was a non-empty one. requestURI is a whole request
// target ("/path?a=1&token=..."), or its query alone ("a=1&token=..."): a
// target with no '?' is taken as a bare query unless it begins with '/' or
// with a scheme and "://". A fragment is ignored.
//
// The first "token" parameter decides: with "token=a&token=b" the token is
// a, and with "token=&token=b" there is none. The parameter name is
// matched as written, not decoded. The value is percent-decoded (%XX
// only): '+' stays '+', since base64 and JWT tokens may contain it and it
// is not a space outside HTML forms. A malformed escape means no token,
// rather than a guess at one. On false, dst is returned unchanged.
//
// A token in the URI ends up in access logs (wssd's own never hold the
// query), proxies' and browser history: prefer the header or the
// subprotocol where the client can.
func QueryToken(dst, requestURI []byte) ([]byte, bool) {
	start, end := queryBounds(requestURI)
	tok, ok := http1.QueryParam(dst, requestURI[start:end], "token")
	if !ok || len(tok) == len(dst) {
		return dst, false
	}
	return tok, true
}

// ProtocolBearer is the subprotocol the server selects when the token came
// in the Sec-WebSocket-Protocol header (see ProtocolToken). A handshake
// that selects it cannot select an application subprotocol too: a client
// that needs one must carry its token in the query instead.
const ProtocolBearer = "bearer"

// ProtocolToken returns the token carried in a Sec-WebSocket-Protocol
// header value, and whether there was one. This is for browsers, whose
// WebSocket API cannot set an Authorization header but can offer
// subprotocols:
//
//	new WebSocket(url, ["bearer", token])
//
// sends "Sec-WebSocket-Protocol: bearer, <token>". The convention is the
// entry "bearer" (in any case) immediately followed by the token as the
// next entry of the comma-separated list; other entries may come before.
// Whitespace around commas and empty entries are ignored (the list syntax
// of RFC 9110 section 5.6.1). The token must be an HTTP token (RFC 9110
// section 5.6.2), as every subprotocol must and as JWTs are; browsers
// refuse to send anything else. Only the first "bearer" entry counts: if
// it is the last entry, or the next one is not a token, there is none.
//
// The server must then answer "Sec-WebSocket-Protocol: bearer"
// (ProtocolBearer), since a browser fails a handshake whose answer selects
// none of its offers, and never the token, which the answer would echo
// to anything that logs response headers. The token is a subslice of
// header.
func ProtocolToken(header []byte) ([]byte, bool) {
	bearer := false
	for len(header) > 0 {
		entry := header
		if i := bytes.IndexByte(header, ','); i >= 0 {
			entry, header = header[:i], header[i+1:]
		} else {
			header = nil
		}
		entry = trimOWS(entry)
		if len(entry) == 0 {
			continue
		}
		if bearer {
			// "bearer, bearer" names no token: the server could not tell
			// its answer from the token.
			if !isHTTPToken(entry) || equalFoldLower(entry, ProtocolBearer) {
				return nil, false
			}
			return entry, true
		}
		bearer = equalFoldLower(entry, ProtocolBearer)
	}
	return nil, false
}

// queryBounds returns where the query of a request target, or of a bare
// query (see QueryToken), begins and ends: end is the index of the '#'
// of a fragment, or len(u).
func queryBounds[T string | []byte](u T) (start, end int) {
	end = len(u)
	for i := 0; i < len(u); i++ {
		if u[i] == '#' {
			end = i
			break
		}
	}
	for i := 0; i < end; i++ {
		if u[i] == '?' {
			return i + 1, end
		}
	}
	if end > 0 && u[0] == '/' || hasScheme(u[:end]) {
		return end, end // a path without a query
	}
	return 0, end
}

// hasScheme reports whether u begins with a URI scheme and "://" (RFC 3986
// section 3.1), as an absolute-form request target does.
func hasScheme[T string | []byte](u T) bool {
	for i := 0; i < len(u); i++ {
		c := u[i]
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return i > 0 && c == ':' && i+2 < len(u) && u[i+1] == '/' && u[i+2] == '/'
		}
	}
	return false
}

// trimOWS removes the optional whitespace (spaces and tabs, RFC 9110
// section 5.6.3) around b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFoldLower reports whether b equals lower, which is lowercase ASCII,
// in any case.
func equalFoldLower(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// isToken68 reports whether b is a token68 (RFC 9110 section 11.2): one or
// more of ALPHA, DIGIT and "-._~+/", then any number of '='.
func isToken68(b []byte) bool {
	i := 0
	for i < len(b) && (isBase64URL(b[i]) || b[i] == '.' || b[i] == '~' || b[i] == '+' || b[i] == '/') {
		i++
	}
	if i == 0 {
		return false
	}
	for i < len(b) && b[i] == '=' {
		i++
	}
	return i == len(b)
}

// isHTTPToken reports whether b is a token (RFC 9110 section 5.6.2): one or
// more tchar.
func isHTTPToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isBase64URL(c) && !strings.ContainsRune("!#$%&'*+.^`|~", rune(c)) {
			return false
		}
	}
	return true
}
