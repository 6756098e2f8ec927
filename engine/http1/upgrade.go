package http1

import (
	"crypto/sha1"
	"encoding/base64"
)

// Refusals of an opening handshake (RFC 6455 section 4.2.1), on a request
// that Parse accepted.
var (
	ErrMethod         = httpError(405, "method not allowed", "Allow: GET\r\n")
	ErrUpgradeHTTP10  = httpError(505, "WebSocket needs HTTP/1.1", "")
	ErrNotUpgrade     = httpError(426, "this resource speaks WebSocket only", "Upgrade: websocket\r\n")
	ErrNoVersion      = httpError(400, "missing Sec-WebSocket-Version", "")
	ErrVersion        = httpError(426, "unsupported Sec-WebSocket-Version", "Sec-WebSocket-Version: 13\r\n")
	ErrKey            = httpError(400, "missing or malformed Sec-WebSocket-Key", "")
	ErrUpgradeHasBody = httpError(400, "an upgrade request has no body", "")
)

// CheckUpgrade reports whether r is a WebSocket opening handshake, and if
// not, why, as an *Error to answer it with: a GET (405) over HTTP/1.1
// (505) whose Upgrade field lists "websocket" and whose Connection field
// lists "upgrade" (426, which tells a browser that wandered here what the
// resource speaks), with Sec-WebSocket-Version 13 (missing: 400; another:
// 426, naming 13) and a Sec-WebSocket-Key of 16 bytes in base64 (400).
// Since the connection becomes a WebSocket right after the request head, a
// request with a body (Transfer-Encoding, or a Content-Length other than
// 0) is refused too (400): its body would otherwise be read as frames.
func CheckUpgrade(r *Request) error {
	switch {
	case string(r.Method) != "GET":
		return ErrMethod
	case r.Minor < 1:
		return ErrUpgradeHTTP10
	case !r.HasToken("upgrade", "websocket") || !r.HasToken("connection", "upgrade"):
		return ErrNotUpgrade
	case r.Version == nil:
		return ErrNoVersion
	case string(r.Version) != "13":
		return ErrVersion
	case !validKey(r.Key):
		return ErrKey
	case r.TransferEncoding || r.ContentLength > 0:
		return ErrUpgradeHasBody
	}
	return nil
}

// validKey reports whether k is base64 that decodes to 16 bytes (RFC 6455
// section 4.2.1, item 5).
func validKey(k []byte) bool {
	if len(k) != 24 {
		return false
	}
	var nonce [18]byte
	n, err := base64.StdEncoding.Decode(nonce[:], k)
	return err == nil && n == 16
}

// keyGUID is what the server appends to the client's key before hashing it
// into Sec-WebSocket-Accept (RFC 6455 section 1.3).
const keyGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AppendAccept appends the Sec-WebSocket-Accept value for key.
func AppendAccept(dst, key []byte) []byte {
	var b [64]byte
	n := copy(b[:], key)
	n += copy(b[n:], keyGUID)
	sum := sha1.Sum(b[:n])
	return base64.StdEncoding.AppendEncode(dst, sum[:])
}

// AppendUpgradeResponse appends the 101 response to an opening handshake
// whose key CheckUpgrade accepted, selecting protocol when it is not "",
// with the header lines in extra (each ended by CRLF: the extensions', say).
func AppendUpgradeResponse(dst, key []byte, protocol string, extra []byte) []byte {
	dst = append(dst, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	dst = AppendAccept(dst, key)
	if protocol != "" {
		dst = append(dst, "\r\nSec-WebSocket-Protocol: "...)
		dst = append(dst, protocol...)
	}
	dst = append(dst, "\r\n"...)
	dst = append(dst, extra...)
	return append(dst, "\r\n"...)
}
