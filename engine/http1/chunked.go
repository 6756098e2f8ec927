package http1

// Refusals of a chunked request body (RFC 9112 section 7.1), by Chunked.
// A body past its bounds gets ErrBodyTooLarge instead. A server answers
// each with its Status and closes the connection: where the body ends is
// not known any more.
var (
	ErrChunkSize      = httpError(400, "invalid chunk size", "")
	ErrChunkExtension = httpError(400, "malformed chunk extension", "")
	ErrChunkLine      = httpError(400, "line of a chunked body not ended by CRLF", "")
	ErrChunkData      = httpError(400, "chunk data not followed by CRLF", "")
	ErrTrailer        = httpError(400, "malformed trailer section", "")
)

// Bounds of what a chunked body carries besides its data. Both are far
// above what clients send (no common one sends extensions or trailers) and
// below net/http's 4 KiB line, so that a line this package accepts, that
// reader reads too.
const (
	maxChunkDigits = 16   // hex digits of a chunk size: a uint64 holds them all
	maxChunkExt    = 1024 // bytes of a chunk line's extensions, from the first ';'
	maxTrailer     = 4096 // bytes of the trailer section, line ends included
)

// Chunked decodes a chunked request body (RFC 9112 section 7.1) as it
// arrives, in pieces of any size, down to a byte at a time: each byte is
// looked at once, and a chunk's data is taken in one copy per piece. Its
// state is a few integers; the zero value is not ready for use: call
// Reset.
//
// It is strict. A chunk size is 1 to 16 hex digits (leading zeros
// included) and a chunk line ends with CRLF, its extensions between
// (";name", ";name=token", `;name="quoted"`, at most 1 KiB in all, with no
// whitespace: RFC 9112 has senders send none, and a reader that skipped
// it could be made to read another size than one that does not). The data
// is followed by CRLF. After the last chunk ("0"), the trailer section is
// field lines as a head's (4 KiB at most), then CRLF. A bare LF or CR is
// refused anywhere, as a head's is. Extensions and trailer fields are
// checked and ignored.
type Chunked struct {
	maxBody, maxWire int64  // the bounds
	body, wire       int64  // the data decoded and the bytes read so far
	size             uint64 // the chunk size being read, or the data of the chunk left to read
	state            chunkState
	digits           uint8 // of the chunk size being read
	ext              int32 // bytes of the extensions of the chunk line being read
	trailer          int32 // bytes of the trailer section so far
	err              error // the refusal, once there is one
}

// chunkState is where Chunked is in the body's grammar.
type chunkState uint8

const (
	stSize        chunkState = iota // a chunk size's hex digits
	stExtName                       // after ';': an extension's name begins
	stExtNameMore                   // in an extension's name
	stExtValue                      // after '=': its value begins
	stExtToken                      // in a token value
	stExtQuoted                     // in a quoted-string value
	stExtEscape                     // after a backslash in a quoted-string
	stExtQuoteEnd                   // after a quoted-string's closing quote
	stLineLF                        // after the chunk line's CR
	stData                          // in a chunk's data
	stDataCR                        // after the data: its CR
	stDataLF                        // and its LF
	stTrailer                       // a trailer line, or the blank line that ends the body, begins
	stFieldName                     // in a trailer field's name
	stFieldValue                    // in its value
	stFieldLF                       // after a trailer line's CR
	stEndLF                         // after the CR of the blank line
	stDone                          // the body has ended
)

// Reset readies d for a new body: its data may come to maxBody bytes, and
// the body, chunk lines and trailer section included, to maxWire bytes;
// past either, Decode gives ErrBodyTooLarge.
func (d *Chunked) Reset(maxBody, maxWire int64) {
	*d = Chunked{maxBody: maxBody, maxWire: maxWire}
}

// Done reports whether the body has ended: its last chunk and its trailer
// section have been read.
func (d *Chunked) Done() bool { return d.state == stDone }

// Decode reads src, the next bytes of the body, appends the chunk data in
// them to dst and returns it, with how many bytes of src belong to the
// body: all of them while it goes on; once it has ended (Done), up to its
// end, what follows being the next request's. A refusal is an *Error (see
// the Err values above, and ErrBodyTooLarge), and n then says where in src
// it was found; it is given again by every later call. The outcome does not
// depend on how the body is cut into pieces. Decode allocates only when
// dst has no room for the data.
func (d *Chunked) Decode(dst, src []byte) (out []byte, n int, err error) {
	if d.err != nil || d.state == stDone {
		return dst, 0, d.err
	}
	in := src
	if room := d.maxWire - d.wire; int64(len(in)) > room {
		in = in[:max(room, 0)]
	}
	i := 0
	for i < len(in) && d.state != stDone {
		if d.state == stData {
			k := int(min(uint64(len(in)-i), d.size))
			dst = append(dst, in[i:i+k]...)
			i += k
			if d.size -= uint64(k); d.size == 0 {
				d.state = stDataCR
			}
			continue
		}
		if err := d.step(in[i]); err != nil {
			d.wire += int64(i)
			d.err = err
			return dst, i, err
		}
		i++
	}
	d.wire += int64(i)
	if d.state != stDone && len(in) < len(src) {
		d.err = ErrBodyTooLarge // more than maxWire bytes, and no end yet
	}
	return dst, i, d.err
}

// step reads one byte of a chunk line, of the CRLF after a chunk's data,
// or of the trailer section.
func (d *Chunked) step(c byte) error {
	switch d.state {
	case stSize:
		return d.sizeByte(c)
	case stLineLF:
		if c != '\n' {
			return ErrChunkLine
		}
		if d.size == 0 {
			d.state = stTrailer // the last chunk
			return nil
		}
		d.body += int64(d.size)
		d.state = stData
	case stDataCR:
		if c != '\r' {
			return ErrChunkData
		}
		d.state = stDataLF
	case stDataLF:
		if c != '\n' {
			return ErrChunkData
		}
		d.state, d.size, d.digits, d.ext = stSize, 0, 0, 0
	case stTrailer, stFieldName, stFieldValue, stFieldLF, stEndLF:
		return d.trailerByte(c)
	default:
		return d.extByte(c)
	}
	return nil
}

// sizeByte reads a byte of a chunk size: a hex digit, or after one, the
// ';' of an extension or the CR that ends the line.
func (d *Chunked) sizeByte(c byte) error {
	if v, ok := hexValue(c); ok {
		if d.digits == maxChunkDigits {
			return ErrChunkSize
		}
		d.digits++
		d.size = d.size<<4 | v
		if d.size > uint64(d.maxBody-d.body) {
			return ErrBodyTooLarge
		}
		return nil
	}
	switch {
	case c == '\n':
		return ErrChunkLine
	case d.digits == 0:
		return ErrChunkSize
	case c == ';':
		d.state, d.ext = stExtName, 1
	case c == '\r':
		d.state = stLineLF
	default:
		return ErrChunkSize
	}
	return nil
}

// extByte reads a byte of a chunk line's extensions, each ";" name, or
// ";" name "=" value, the value a token or a quoted string; or the CR that
// ends the line after one.
func (d *Chunked) extByte(c byte) error {
	if d.ext++; d.ext > maxChunkExt && c != '\r' {
		return ErrChunkExtension
	}
	switch d.state {
	case stExtName:
		if !isTchar(c) {
			return extRefusal(c)
		}
		d.state = stExtNameMore
	case stExtNameMore, stExtToken:
		switch {
		case isTchar(c):
		case c == '=' && d.state == stExtNameMore:
			d.state = stExtValue
		default:
			return d.extNext(c)
		}
	case stExtValue:
		switch {
		case isTchar(c):
			d.state = stExtToken
		case c == '"':
			d.state = stExtQuoted
		default:
			return extRefusal(c)
		}
	case stExtQuoted:
		switch {
		case c == '"':
			d.state = stExtQuoteEnd
		case c == '\\':
			d.state = stExtEscape
		case !isFieldChar(c):
			return extRefusal(c)
		}
	case stExtEscape:
		if !isFieldChar(c) {
			return extRefusal(c)
		}
		d.state = stExtQuoted
	case stExtQuoteEnd:
		return d.extNext(c)
	}
	return nil
}

// extNext reads the byte after a whole extension: the ';' of another, or
// the CR that ends the line.
func (d *Chunked) extNext(c byte) error {
	switch c {
	case ';':
		d.state = stExtName
	case '\r':
		d.state = stLineLF
	default:
		return extRefusal(c)
	}
	return nil
}

// extRefusal is the refusal of a byte an extension cannot have where it
// came: a bare LF is one of the line, anything else one of the extension.
func extRefusal(c byte) error {
	if c == '\n' {
		return ErrChunkLine
	}
	return ErrChunkExtension
}

// trailerByte reads a byte of the trailer section: field lines as in a
// head (a token, a colon right after it, a value of visible characters,
// spaces and tabs), each ended by CRLF, and a blank line.
func (d *Chunked) trailerByte(c byte) error {
	if d.trailer++; d.trailer > maxTrailer {
		return ErrTrailer
	}
	switch d.state {
	case stTrailer:
		switch {
		case c == '\r':
			d.state = stEndLF
		case isTchar(c):
			d.state = stFieldName
		case c == '\n':
			return ErrChunkLine
		default:
			return ErrTrailer // a colon first, or a folded line
		}
	case stFieldName:
		switch {
		case c == ':':
			d.state = stFieldValue
		case c == '\n':
			return ErrChunkLine
		case !isTchar(c):
			return ErrTrailer // whitespace before the colon, or none
		}
	case stFieldValue:
		switch {
		case c == '\r':
			d.state = stFieldLF
		case c == '\n':
			return ErrChunkLine
		case !isFieldChar(c):
			return ErrTrailer
		}
	case stFieldLF, stEndLF:
		if c != '\n' {
			return ErrChunkLine
		}
		if d.state == stEndLF {
			d.state = stDone
		} else {
			d.state = stTrailer
		}
	}
	return nil
}

// hexValue returns the value of a hex digit.
func hexValue(c byte) (uint64, bool) {
	switch {
	case isDigit(c):
		return uint64(c - '0'), true
	case 'a' <= c && c <= 'f':
		return uint64(c-'a') + 10, true
	case 'A' <= c && c <= 'F':
		return uint64(c-'A') + 10, true
	}
	return 0, false
}

// isFieldChar reports whether c may be in a field value, and in a quoted
// string: a visible character, obs-text, a space or a tab (RFC 9110
// sections 5.5 and 5.6.4).
func isFieldChar(c byte) bool { return c >= ' ' && c != 0x7f || c == '\t' }
