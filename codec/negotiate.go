package codec

import (
	"iter"
)

// The permessage-deflate extension (RFC 7692): its negotiation in the
// opening handshake's Sec-WebSocket-Extensions field.
//
// An offer is one element of that field's list, "permessage-deflate"
// followed by its parameters. The grammar is RFC 6455's (section 9.1):
//
//	extension = token *( ";" param )
//	param     = token [ "=" ( token / quoted-string ) ]
//
// with optional whitespace around the separators; a quoted value, once
// unquoted, must be a token too. RFC 7692 section 7.1 says what each
// parameter means, that each may appear once, and that a server declines an
// offer with an unknown parameter or an invalid value: such an offer is not
// an error, the server looks at the next one or answers without the
// extension.

// ExtensionDeflate is the permessage-deflate extension's token.
const ExtensionDeflate = "permessage-deflate"

// Window sizes, as base-two logarithms (the *_max_window_bits parameters).
const (
	MinWindowBits = 8
	MaxWindowBits = 15
)

// DeflateParams is a permessage-deflate agreement: what a server's
// response says, and so what each side does.
type DeflateParams struct {
	// ServerNoContextTakeover: the server compresses each message on its
	// own, so the client need not keep its window between messages.
	ServerNoContextTakeover bool
	// ClientNoContextTakeover: the client compresses each message on its
	// own, so the server need not keep its window between messages.
	ClientNoContextTakeover bool
	// ServerMaxWindowBits bounds how far back the server's compressed
	// data refers (2^bits bytes); 0 when the response does not say (15).
	ServerMaxWindowBits uint8
	// ClientMaxWindowBits bounds how far back the client's compressed
	// data refers; 0 when the response does not say (15).
	ClientMaxWindowBits uint8
}

// DeflateOffer is one permessage-deflate offer of a client.
type DeflateOffer struct {
	// The parameters the client asks for (or, for ClientMaxWindowBits,
	// hints at: the server may ask for a smaller window).
	DeflateParams
	// ClientWindowBits says the offer has client_max_window_bits, with a
	// value or without: the client accepts that the server bounds its
	// window. Without it, the server may not.
	ClientWindowBits bool
}

// DeflatePolicy is what a server accepts of an offer.
type DeflatePolicy struct {
	// ContextTakeover lets the server agree to keep a window between
	// messages, for the direction the offer does not forbid, within
	// WindowBits. Without it, every agreement has no context takeover in
	// both directions, and costs no memory between messages.
	ContextTakeover bool
	// WindowBits bounds the window kept per direction with
	// ContextTakeover (9 to 15; 8 is taken as 9, since zlib, which many
	// clients compress with, cannot compress within 2^8); 0 means
	// MaxWindowBits.
	WindowBits uint8
}

// Accept returns the agreement the server answers offer with.
//
// Without context takeover, both no_context_takeover parameters are in it
// (a server may always add them), and the server window the offer asks for,
// if any. With it, the client's window is kept when the offer allows the
// server to bound it to WindowBits (client_max_window_bits), and the
// server's when the offer allows the server a full window, since a window
// the server keeps is a dictionary in front of the next message, which
// only a full window can refer back to wholly.
func (p DeflatePolicy) Accept(offer DeflateOffer) DeflateParams {
	a := DeflateParams{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
		ServerMaxWindowBits:     offer.ServerMaxWindowBits,
	}
	if !p.ContextTakeover {
		return a
	}
	bits := p.WindowBits
	if bits == 0 {
		bits = MaxWindowBits
	}
	bits = max(MinWindowBits+1, min(bits, MaxWindowBits))
	if !offer.ServerNoContextTakeover && (offer.ServerMaxWindowBits == 0 || offer.ServerMaxWindowBits == MaxWindowBits) {
		a.ServerNoContextTakeover = false
	}
	if !offer.ClientNoContextTakeover {
		switch {
		case offer.ClientWindowBits:
			a.ClientNoContextTakeover = false
			a.ClientMaxWindowBits = bits
			if v := offer.ClientMaxWindowBits; v != 0 && v < bits {
				a.ClientMaxWindowBits = v
			}
		case bits == MaxWindowBits:
			a.ClientNoContextTakeover = false
		}
	}
	return a
}

// NegotiateDeflate reads a request's Sec-WebSocket-Extensions lines and
// returns the agreement for its first permessage-deflate offer that is
// valid, as policy accepts it; ok is false when there is none. An element
// of the list that cannot be parsed ends the search: what follows it
// cannot be told apart from it.
func NegotiateDeflate(lines iter.Seq[[]byte], policy DeflatePolicy) (a DeflateParams, ok bool) {
	for line := range lines {
		for elem, err := range extensions(line) {
			if err {
				return a, false
			}
			if offer, valid := parseDeflateOffer(elem); valid {
				return policy.Accept(offer), true
			}
		}
	}
	return a, false
}

// AppendResponse appends the Sec-WebSocket-Extensions value that states a.
func (a DeflateParams) AppendResponse(dst []byte) []byte {
	dst = append(dst, ExtensionDeflate...)
	if a.ServerNoContextTakeover {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if a.ClientNoContextTakeover {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if a.ServerMaxWindowBits != 0 {
		dst = appendBits(append(dst, "; server_max_window_bits="...), a.ServerMaxWindowBits)
	}
	if a.ClientMaxWindowBits != 0 {
		dst = appendBits(append(dst, "; client_max_window_bits="...), a.ClientMaxWindowBits)
	}
	return dst
}

// AppendOffer appends the Sec-WebSocket-Extensions value of offer, as a
// client sends it.
func (offer DeflateOffer) AppendOffer(dst []byte) []byte {
	dst = append(dst, ExtensionDeflate...)
	if offer.ServerNoContextTakeover {
		dst = append(dst, "; server_no_context_takeover"...)
	}
	if offer.ClientNoContextTakeover {
		dst = append(dst, "; client_no_context_takeover"...)
	}
	if offer.ServerMaxWindowBits != 0 {
		dst = appendBits(append(dst, "; server_max_window_bits="...), offer.ServerMaxWindowBits)
	}
	if offer.ClientWindowBits {
		dst = append(dst, "; client_max_window_bits"...)
		if offer.ClientMaxWindowBits != 0 {
			dst = appendBits(append(dst, '='), offer.ClientMaxWindowBits)
		}
	}
	return dst
}

func appendBits(dst []byte, bits uint8) []byte {
	if bits >= 10 {
		dst = append(dst, '1')
		bits -= 10
	}
	return append(dst, '0'+bits)
}

// ParseDeflateResponse reads the Sec-WebSocket-Extensions lines of a
// server's 101 to an offer, as a client does: ok is false when the server
// declined it (no extension at all), and err says why a response must fail
// the connection (RFC 7692 section 7.1): an extension that was not
// offered, more than one, an invalid or repeated parameter, a
// client_max_window_bits the offer did not allow, or a
// server_max_window_bits larger than the offer's.
func ParseDeflateResponse(lines iter.Seq[[]byte], offer DeflateOffer) (a DeflateParams, ok bool, err error) {
	n := 0
	for line := range lines {
		for elem, bad := range extensions(line) {
			if bad {
				return a, false, errDeflateResponse
			}
			n++
			var valid bool
			if n > 1 {
				return a, false, errDeflateResponse
			}
			var o DeflateOffer
			if o, valid = parseDeflateOffer(elem); !valid {
				return a, false, errDeflateResponse
			}
			a = o.DeflateParams
			switch {
			case o.ClientWindowBits && (!offer.ClientWindowBits || a.ClientMaxWindowBits == 0):
				return a, false, errDeflateResponse
			case offer.ServerMaxWindowBits != 0 && (a.ServerMaxWindowBits == 0 || a.ServerMaxWindowBits > offer.ServerMaxWindowBits):
				return a, false, errDeflateResponse
			case offer.ServerNoContextTakeover && !a.ServerNoContextTakeover:
				return a, false, errDeflateResponse
			}
		}
	}
	return a, n == 1, nil
}

var errDeflateResponse = &ProtocolError{Code: StatusProtocolError, Reason: "invalid permessage-deflate response"}

// parseDeflateOffer parses one element of the extension list. valid is
// false when it is another extension, or a permessage-deflate offer that
// RFC 7692 has the server decline.
func parseDeflateOffer(elem []byte) (offer DeflateOffer, valid bool) {
	params := extensionParams(elem)
	name, bad := nextParam(&params)
	if bad || !foldEqual(name.key, ExtensionDeflate) || name.value != nil {
		return offer, false
	}
	var seen uint8
	for params.rest != nil {
		p, bad := nextParam(&params)
		if bad {
			return offer, false
		}
		var bit uint8
		switch {
		case foldEqual(p.key, "server_no_context_takeover"):
			bit = 1
			offer.ServerNoContextTakeover = true
			if p.value != nil {
				return offer, false
			}
		case foldEqual(p.key, "client_no_context_takeover"):
			bit = 2
			offer.ClientNoContextTakeover = true
			if p.value != nil {
				return offer, false
			}
		case foldEqual(p.key, "server_max_window_bits"):
			bit = 4
			bits, ok := parseWindowBits(p.value)
			if !ok {
				return offer, false
			}
			offer.ServerMaxWindowBits = bits
		case foldEqual(p.key, "client_max_window_bits"):
			bit = 8
			offer.ClientWindowBits = true
			if p.value != nil {
				bits, ok := parseWindowBits(p.value)
				if !ok {
					return offer, false
				}
				offer.ClientMaxWindowBits = bits
			}
		default:
			return offer, false
		}
		if seen&bit != 0 {
			return offer, false
		}
		seen |= bit
	}
	return offer, true
}

// parseWindowBits parses a window size's value: 8 to 15, in decimal
// without leading zeros (RFC 7692 section 7.1.2).
func parseWindowBits(v []byte) (uint8, bool) {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return v[0] - '0', true
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + v[1] - '0', true
	}
	return 0, false
}

// extensions splits a Sec-WebSocket-Extensions value into its elements,
// minding quoted strings, which may hold commas. Empty elements are
// skipped (RFC 9110 section 5.6.1). An unterminated quoted string yields
// bad and ends the list.
func extensions(v []byte) iter.Seq2[[]byte, bool] {
	return func(yield func([]byte, bool) bool) {
		start := 0
		quoted := false
		for i := 0; i < len(v); i++ {
			switch c := v[i]; {
			case quoted && c == '\\':
				i++
			case c == '"':
				quoted = !quoted
			case c == ',' && !quoted:
				if e := trimSpace(v[start:i]); len(e) > 0 && !yield(e, false) {
					return
				}
				start = i + 1
			}
		}
		if quoted {
			yield(nil, true)
			return
		}
		if e := trimSpace(v[start:]); len(e) > 0 {
			yield(e, false)
		}
	}
}

// paramList is what is left of an extension element to parse.
type paramList struct{ rest []byte }

func extensionParams(elem []byte) paramList { return paramList{rest: elem} }

// param is an extension's name, or one of its parameters: a key and a
// value, nil when there is none (an unquoted copy for a quoted one).
type param struct{ key, value []byte }

// nextParam takes the next ";"-separated part of an element: a token, or
// token "=" (token / quoted-string). bad is set for anything else.
func nextParam(l *paramList) (p param, bad bool) {
	part := l.rest
	l.rest = nil
	quoted := false
scan:
	for i := 0; i < len(part); i++ {
		switch c := part[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case c == ';' && !quoted:
			part, l.rest = part[:i], part[i+1:]
			break scan
		}
	}
	key := trimSpace(part)
	for j, c := range key {
		if c == '=' {
			value := trimSpace(key[j+1:])
			key = trimSpace(key[:j])
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = unquote(value[1 : len(value)-1])
			}
			if !isExtToken(value) {
				return p, true
			}
			p.value = value
			break
		}
	}
	if !isExtToken(key) {
		return p, true
	}
	p.key = key
	return p, false
}

// unquote undoes a quoted-string's escapes (RFC 9110 section 5.6.4). Its
// result is checked as a token after, so a quote or a backslash left in it
// makes it invalid.
func unquote(q []byte) []byte {
	out := q
	for i := 0; i < len(q); i++ {
		if q[i] == '\\' {
			out = make([]byte, 0, len(q))
			for j := 0; j < len(q); j++ {
				if q[j] == '\\' && j+1 < len(q) {
					j++
				}
				out = append(out, q[j])
			}
			break
		}
	}
	return out
}

// isExtToken reports whether b is a non-empty token (RFC 9110 section
// 5.6.2).
func isExtToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '"', '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}':
			return false
		}
	}
	return true
}

// trimSpace removes the optional whitespace (spaces and tabs) around b.
func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// foldEqual reports whether b is s, ignoring ASCII case (s given in lower
// case): extension and parameter names are tokens, matched so.
func foldEqual(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
