package http1

import (
	"bytes"
	"iter"
)

// Error is a request the server answers with an HTTP status instead of
// serving it: a malformed or ambiguous request head, or an upgrade request
// that RFC 6455 does not allow. The package's HTTP-level sentinel errors are
// all *Error values; compare with errors.Is.
type Error struct {
	Status int    // the response's status code
	Reason string // what the response body says, for the client's developer
	Header string // header lines the response must carry, each ending in CRLF
}

func (e *Error) Error() string { return "http1: " + e.Reason }

func httpError(status int, reason, header string) *Error {
	return &Error{Status: status, Reason: reason, Header: header}
}

// Errors of the request head reader (RFC 9112). A server answers each with
// its Status and closes the connection.
var (
	ErrHeadTooLarge           = httpError(431, "request header too large", "")
	ErrMalformedHead          = httpError(400, "malformed request line", "")
	ErrBareLF                 = httpError(400, "line not ended by CRLF", "")
	ErrHTTPVersion            = httpError(505, "HTTP version not supported", "")
	ErrMalformedField         = httpError(400, "malformed header field", "")
	ErrHost                   = httpError(400, "missing or invalid Host header", "")
	ErrContentLength          = httpError(400, "invalid Content-Length", "")
	ErrAmbiguousBody          = httpError(400, "both Content-Length and Transfer-Encoding", "")
	ErrTransferEncoding       = httpError(400, "Transfer-Encoding does not end with chunked, or has it twice", "")
	ErrTransferEncoding10     = httpError(400, "Transfer-Encoding in an HTTP/1.0 request", "")
	ErrTransferCoding         = httpError(501, "transfer coding not implemented", "")
	ErrDuplicateHost          = httpError(400, "more than one Host header", "")
	ErrDuplicateLength        = httpError(400, "more than one Content-Length header", "")
	ErrDuplicateKey           = httpError(400, "more than one Sec-WebSocket-Key header", "")
	ErrDuplicateVersion       = httpError(400, "more than one Sec-WebSocket-Version header", "")
	ErrDuplicateOrigin        = httpError(400, "more than one Origin header", "")
	ErrDuplicateAuthorization = httpError(400, "more than one Authorization header", "")
)

// ErrBodyTooLarge refuses a request body over a server's limit (the
// engine's on an HTTP route): by its Content-Length, before it is read, or
// as a chunked one comes (Chunked).
var ErrBodyTooLarge = httpError(413, "request body too large", "")

// rootPath is the path of an absolute-form target without one.
var rootPath = []byte("/")

// HeadLen returns the length of the HTTP head at the start of b, up
// to and including the blank line that ends it, or 0 when b does not hold
// all of it yet. scanned is how many bytes of b earlier calls have already
// searched, so a head that trickles in is not searched again from the
// start. A head longer than limit bytes gives ErrHeadTooLarge, and a line
// ended by a bare LF gives ErrBareLF at once, rather than a wait for a
// CRLF that a client which ends lines so will never send (RFC 9112 section
// 2.2 lets a server refuse them, and a server that is strict about where a
// line ends cannot be made to read one head as two).
func HeadLen(b []byte, scanned, limit int) (int, error) {
	end := min(len(b), limit)
	for i := max(scanned, 0); i < end; {
		j := bytes.IndexByte(b[i:end], '\n')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || b[i-1] != '\r' {
			return 0, ErrBareLF
		}
		if i >= 3 && b[i-3] == '\r' && b[i-2] == '\n' {
			return i + 1, nil
		}
		i++
	}
	if len(b) >= limit {
		return 0, ErrHeadTooLarge
	}
	return 0, nil
}

// Request is an HTTP/1.x request head, parsed strictly (RFC 9112 and RFC
// 9110's field grammar) by Parse. Its byte slices point into the head
// it was parsed from and are valid as long as that is.
//
// The fields a WebSocket server acts on are parsed out. Each of them may
// appear at most once: a second Host, Content-Length, Sec-WebSocket-Key,
// Sec-WebSocket-Version, Origin or Authorization line is refused, not
// resolved one way or the other, since a front end that resolved it the
// other way would see another request than the server does. Every other
// field, list-valued ones included, is read with Values.
type Request struct {
	Method []byte
	Target []byte // the request-target as sent: origin-form, absolute-form or "*"
	Minor  uint8  // the x of HTTP/1.x

	// The singleton fields' values, with the optional whitespace around
	// them removed; nil when the field is absent (and empty, not nil,
	// when it is present with an empty value).
	Host, Origin, Authorization, Key, Version []byte

	// ContentLength is the Content-Length field's value, or -1 without
	// one. TransferEncoding is whether a Transfer-Encoding field is
	// present, which Parse accepts as "chunked" alone: the body is then
	// chunked (see Chunked). A request cannot have both.
	ContentLength    int64
	TransferEncoding bool

	fields  []byte // the field lines, each ended by CRLF
	codings uint8  // what Transfer-Encoding lists: coding* bits
}

// Parse parses a complete request head, as HeadLen measured
// it (ending with the blank line), and refuses, with an *Error, what RFC
// 9112 says a server must refuse or may not resolve safely: a request line
// that is not method SP target SP HTTP/1.x (an HTTP major version other
// than 1 gets ErrHTTPVersion); a field line that is not a token, a colon
// right after it, and a value of visible characters, spaces and tabs
// (whitespace before the colon, obsolete line folding, control characters
// and bare CRs are all refused); an HTTP/1.1 request without exactly one
// valid Host; a malformed Content-Length, or one beside Transfer-Encoding;
// a Transfer-Encoding in an HTTP/1.0 request, or one that does not end
// with chunked or has it twice (a coding before chunked gets
// ErrTransferCoding, 501: none is implemented); and a second line of a
// singleton field (see Request). It does not allocate.
func Parse(head []byte) (Request, error) {
	r := Request{ContentLength: -1}
	line, rest, ok := cutLine(head)
	if !ok {
		return r, ErrMalformedHead
	}
	if err := r.parseRequestLine(line); err != nil {
		return r, err
	}
	r.fields = rest
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return r, ErrMalformedHead // the blank line is missing
		}
		if len(line) == 0 {
			break
		}
		name, value, err := parseField(line)
		if err != nil {
			return r, err
		}
		if err := r.keep(name, value); err != nil {
			return r, err
		}
	}
	if len(rest) != 0 {
		return r, ErrMalformedHead // bytes after the blank line: not one head
	}
	r.fields = r.fields[:len(r.fields)-len(rest)-2]
	if r.Host == nil && r.Minor >= 1 {
		return r, ErrHost // RFC 9112 section 3.2
	}
	if r.ContentLength >= 0 && r.TransferEncoding {
		return r, ErrAmbiguousBody // RFC 9112 section 6.1
	}
	if r.TransferEncoding {
		// RFC 9112 sections 6.1 and 6.3: an HTTP/1.0 request's framing
		// is faulty; a list of codings that does not end with chunked,
		// or names it twice, cannot be framed. One with another coding
		// before chunked can, but this server implements none.
		switch {
		case r.Minor == 0:
			return r, ErrTransferEncoding10
		case r.codings&codingLast == 0 || r.codings&codingTwice != 0:
			return r, ErrTransferEncoding
		case r.codings&codingOther != 0:
			return r, ErrTransferCoding
		}
	}
	return r, nil
}

// What a request's Transfer-Encoding lists, as addCodings reads it.
const (
	codingChunked = 1 << iota // chunked comes
	codingLast                // chunked is the last coding so far
	codingTwice               // chunked comes more than once
	codingOther               // another coding comes
)

// addCodings reads the transfer codings of a Transfer-Encoding line, in
// order after those of the lines before it.
func (r *Request) addCodings(v []byte) {
	for len(v) > 0 {
		var coding []byte
		switch coding, v = cutElement(v); {
		case len(coding) == 0:
		case equalFold(coding, "chunked"):
			if r.codings&codingChunked != 0 {
				r.codings |= codingTwice
			}
			r.codings |= codingChunked | codingLast
		default:
			r.codings = r.codings&^codingLast | codingOther
		}
	}
}

// cutLine splits the line at the start of b, without its CRLF, from what
// follows it. ok is false when b holds no CRLF.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

// parseRequestLine parses "method SP request-target SP HTTP/1.x".
func (r *Request) parseRequestLine(line []byte) error {
	sp1 := bytes.IndexByte(line, ' ')
	if sp1 < 1 {
		return ErrMalformedHead
	}
	sp2 := bytes.IndexByte(line[sp1+1:], ' ')
	if sp2 < 1 {
		return ErrMalformedHead
	}
	sp2 += sp1 + 1
	r.Method, r.Target = line[:sp1], line[sp1+1:sp2]
	proto := line[sp2+1:]
	if !isToken(r.Method) || !validTarget(r.Target) {
		return ErrMalformedHead
	}
	// HTTP-version = "HTTP/" DIGIT "." DIGIT, the name case-sensitive.
	if len(proto) != 8 || string(proto[:5]) != "HTTP/" || !isDigit(proto[5]) || proto[6] != '.' || !isDigit(proto[7]) {
		return ErrMalformedHead
	}
	if proto[5] != '1' {
		return ErrHTTPVersion
	}
	r.Minor = proto[7] - '0'
	return nil
}

// validTarget reports whether t is a request-target this server can route:
// origin-form ("/path?query"), absolute-form ("scheme://authority/path")
// or "*", of visible ASCII characters but '#' (a fragment is never sent),
// with every '%' starting an escape of two hex digits (RFC 3986 section
// 2.1), and none in an absolute-form target's authority.
func validTarget(t []byte) bool {
	if len(t) == 0 {
		return false
	}
	for i := 0; i < len(t); i++ {
		switch c := t[i]; {
		case c <= ' ' || c >= 0x7f || c == '#':
			return false
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		}
	}
	switch {
	case t[0] == '/':
		return true
	case len(t) == 1 && t[0] == '*':
		return true
	}
	at := authorityStart(t)
	if at == 0 {
		return false
	}
	auth := t[at:]
	if i := bytes.IndexAny(auth, "/?"); i >= 0 {
		auth = auth[:i]
	}
	// No escapes in a target's authority: a client that needs one does
	// not send absolute-form to a WebSocket server, and net/http's parser
	// refuses most of them.
	return len(auth) > 0 && bytes.IndexByte(auth, '%') < 0 && validHost(auth)
}

// authorityStart returns where the authority of an absolute-form target
// begins (after "scheme://"), or 0 when t is not one.
func authorityStart(t []byte) int {
	for i, c := range t {
		switch {
		case 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		case i > 0 && c == ':':
			if len(t) > i+2 && t[i+1] == '/' && t[i+2] == '/' {
				return i + 3
			}
			return 0
		default:
			return 0
		}
	}
	return 0
}

// Path returns the target's path, without its query: for an absolute-form
// target, the path after its authority ("/" when it has none).
func (r *Request) Path() []byte {
	t := r.Target
	if at := authorityStart(t); at > 0 {
		i := bytes.IndexAny(t[at:], "/?")
		if i < 0 || t[at+i] == '?' {
			return rootPath
		}
		t = t[at+i:]
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i]
	}
	return t
}

// parseField splits a field line into its name and its value without the
// optional whitespace around it, and checks both against RFC 9110 section
// 5: the name is a token and the colon follows it at once; the value holds
// visible characters (obs-text included), spaces and tabs only.
func parseField(line []byte) (name, value []byte, err error) {
	colon := bytes.IndexByte(line, ':')
	if colon < 1 || !isToken(line[:colon]) {
		return nil, nil, ErrMalformedField
	}
	v := line[colon+1:]
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, ErrMalformedField
		}
	}
	return line[:colon], trimOWS(v), nil
}

// keep records a field the server acts on.
func (r *Request) keep(name, value []byte) error {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			return setOnce(&r.Host, value, validHost(value), ErrDuplicateHost, ErrHost)
		}
	case 6:
		if equalFold(name, "origin") {
			return setOnce(&r.Origin, value, true, ErrDuplicateOrigin, nil)
		}
	case 13:
		if equalFold(name, "authorization") {
			return setOnce(&r.Authorization, value, true, ErrDuplicateAuthorization, nil)
		}
	case 14:
		if equalFold(name, "content-length") {
			if r.ContentLength >= 0 {
				return ErrDuplicateLength
			}
			n, ok := parseLength(value)
			if !ok {
				return ErrContentLength
			}
			r.ContentLength = n
		}
	case 17:
		switch {
		case equalFold(name, "sec-websocket-key"):
			return setOnce(&r.Key, value, true, ErrDuplicateKey, nil)
		case equalFold(name, "transfer-encoding"):
			r.TransferEncoding = true
			r.addCodings(value)
		}
	case 21:
		if equalFold(name, "sec-websocket-version") {
			return setOnce(&r.Version, value, true, ErrDuplicateVersion, nil)
		}
	}
	return nil
}

// setOnce sets a singleton field's value, refusing a second one with dup
// and an invalid one with bad.
func setOnce(dst *[]byte, value []byte, valid bool, dup, bad error) error {
	if *dst != nil {
		return dup
	}
	if !valid {
		return bad
	}
	if value == nil {
		value = []byte{} // present, and empty
	}
	*dst = value
	return nil
}

// parseLength parses a Content-Length value: 1*DIGIT, within int64 by a
// wide margin.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// validHost reports whether v is a Host value: uri-host [":" port] (RFC
// 9112 section 3.2, RFC 3986 section 3.2.2), or empty. uri-host is a
// reg-name (unreserved characters, percent escapes and sub-delims) or an IP
// literal in brackets; IPv4 addresses are reg-names by their characters.
func validHost(v []byte) bool {
	host := v
	if len(v) > 0 && v[0] == '[' {
		end := bytes.IndexByte(v, ']')
		if end < 2 {
			return false
		}
		for _, c := range v[1:end] {
			if !isHex(c) && c != ':' && c != '.' {
				return false
			}
		}
		host, v = nil, v[end+1:]
		if len(v) > 0 && v[0] != ':' {
			return false
		}
	} else if i := bytes.IndexByte(v, ':'); i >= 0 {
		host, v = v[:i], v[i:]
	} else {
		v = nil
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case charClass[c]&regName != 0:
		case c == '%' && i+2 < len(host) && isHex(host[i+1]) && isHex(host[i+2]):
			i += 2
		default:
			return false
		}
	}
	if len(v) > 0 { // ":" port
		for _, c := range v[1:] {
			if !isDigit(c) {
				return false
			}
		}
	}
	return true
}

// Values returns the values of every line of the field called name (given
// in lower case; matched in any case), in order, each without the whitespace around it. List-valued
// fields (Connection, Upgrade, Sec-WebSocket-Protocol, …) may come on
// several lines; see Tokens for their elements.
func (r *Request) Values(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		rest := r.fields
		for len(rest) > 0 {
			var line []byte
			line, rest, _ = cutLine(rest)
			colon := bytes.IndexByte(line, ':')
			if colon == len(name) && equalFold(line[:colon], name) && !yield(trimOWS(line[colon+1:])) {
				return
			}
		}
	}
}

// HasToken reports whether a line of the list-valued field name has token
// among its comma-separated elements (name and token given in lower case;
// matched in any case) (RFC 9110 section 5.6.1:
// Connection: keep-alive, Upgrade).
func (r *Request) HasToken(name, token string) bool {
	for elem := range r.Elements(name) {
		if equalFold(elem, token) {
			return true
		}
	}
	return false
}

// Elements returns the comma-separated elements of every line of the
// list-valued field name (given in lower case), in order, each without
// the whitespace around it; empty elements are skipped, as RFC 9110
// section 5.6.1 has recipients do.
func (r *Request) Elements(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for v := range r.Values(name) {
			for len(v) > 0 {
				var elem []byte
				if elem, v = cutElement(v); len(elem) > 0 && !yield(elem) {
					return
				}
			}
		}
	}
}

// cutElement cuts the first element of a comma-separated list off v,
// without the whitespace around it: empty when the list begins with a
// comma or is blank.
func cutElement(v []byte) (elem, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:]
	}
	return trimOWS(v), nil
}

// IsToken reports whether b is a token (RFC 9110 section 5.6.2): the
// syntax of a method, a field name, a list element of many fields.
func IsToken(b []byte) bool { return isToken(b) }

// isToken reports whether b is a non-empty token (RFC 9110 section 5.6.2).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool { return charClass[c]&tchar != 0 }

// Character classes of the grammars above, by byte.
const (
	tchar   = 1 << iota // token characters (RFC 9110 section 5.6.2)
	regName             // reg-name characters but '%' (RFC 3986 section 3.2.2)
)

var charClass = func() (t [256]uint8) {
	for c := range 256 {
		if isAlnum(byte(c)) {
			t[c] = tchar | regName
		}
	}
	for _, c := range []byte("!#$%&'*+-.^_`|~") {
		t[c] |= tchar
	}
	for _, c := range []byte("-._~!$&'()*+,;=") {
		t[c] |= regName
	}
	return t
}()

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// trimOWS removes spaces and tabs around b.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold reports whether b equals lower, a lower-case ASCII string, in
// any case.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
