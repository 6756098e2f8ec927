package codec

import (
	"bytes"
	"errors"
	"io"

	"github.com/gobwas/ws"
)

// Errors of the request head reader. They are HTTP-level (answered with a
// status before any upgrade), so they are not ProtocolErrors.
var (
	ErrHeadTooLarge  = errors.New("codec: request head too large")
	ErrMalformedHead = errors.New("codec: malformed request line")
)

var headEnd = []byte("\r\n\r\n")

// RequestHeadLen returns the length of the HTTP request head at the start of
// b, up to and including the blank line that ends it, or 0 when b does not
// hold all of it yet. scanned is how many bytes of b earlier calls have
// already searched, so a head that trickles in is not searched again from
// the start. A head longer than limit bytes gives ErrHeadTooLarge.
func RequestHeadLen(b []byte, scanned, limit int) (int, error) {
	from := max(scanned-len(headEnd)+1, 0)
	end := min(len(b), limit)
	if from < end {
		if i := bytes.Index(b[from:end], headEnd); i >= 0 {
			return from + i + len(headEnd), nil
		}
	}
	if len(b) >= limit {
		return 0, ErrHeadTooLarge
	}
	return 0, nil
}

// RequestLine is the first line of an HTTP request. Its fields are
// sub-slices of the head it was parsed from.
type RequestLine struct {
	Method []byte
	Target []byte // as sent: path and query
	Proto  []byte
}

// Path returns the target without its query.
func (l RequestLine) Path() []byte {
	if i := bytes.IndexByte(l.Target, '?'); i >= 0 {
		return l.Target[:i]
	}
	return l.Target
}

// ParseRequestLine parses the request line of a request head.
func ParseRequestLine(head []byte) (RequestLine, error) {
	end := bytes.Index(head, headEnd[:2])
	if end < 0 {
		return RequestLine{}, ErrMalformedHead
	}
	line := head[:end]
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 <= 0 {
		return RequestLine{}, ErrMalformedHead
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 <= 0 {
		return RequestLine{}, ErrMalformedHead
	}
	sp2 += sp1 + 1
	l := RequestLine{Method: line[:sp1], Target: line[sp1+1 : sp2], Proto: line[sp2+1:]}
	if !bytes.HasPrefix(l.Proto, []byte("HTTP/")) || !validToken(l.Method) ||
		bytes.IndexByte(l.Target, ' ') >= 0 || (len(l.Target) > 0 && l.Target[0] != '/' && l.Target[0] != '*' && !bytes.Contains(l.Target, []byte("://"))) {
		return RequestLine{}, ErrMalformedHead
	}
	return l, nil
}

// validToken reports whether b is a non-empty HTTP token (RFC 9110 5.6.2).
func validToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || bytes.IndexByte([]byte(`"(),/:;<=>?@[\]{}`), c) >= 0 {
			return false
		}
	}
	return true
}

// Upgrade runs the opening handshake of RFC 6455 section 4.2 over a complete
// request head, with u's hooks deciding on the request's fields. It appends
// the response u writes (the 101, or u's refusal) to resp and returns it. A
// non-nil error means the request was refused; a *ws.ConnectionRejectedError
// carries the HTTP status.
func Upgrade(u *ws.Upgrader, head, resp []byte) (ws.Handshake, []byte, error) {
	rw := headRW{head: head, out: resp}
	hs, err := u.Upgrade(&rw)
	return hs, rw.out, err
}

// headRW feeds a buffered request head to the Upgrader and collects its
// response.
type headRW struct {
	head []byte
	out  []byte
}

func (rw *headRW) Read(p []byte) (int, error) {
	if len(rw.head) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, rw.head)
	rw.head = rw.head[n:]
	return n, nil
}

func (rw *headRW) Write(p []byte) (int, error) {
	rw.out = append(rw.out, p...)
	return len(p), nil
}
