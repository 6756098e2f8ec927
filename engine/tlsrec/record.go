package tlsrec

import (
	"encoding/binary"
	"errors"
	"slices"
	"strconv"
)

const (
	HeaderLen     = 5                  // a record header
	MaxPlaintext  = 1 << 14            // the most plaintext one record carries
	MaxCiphertext = MaxPlaintext + 256 // the largest record body a peer may send (RFC 8446 5.2)
)

// Record content types (RFC 8446 section 5.1).
const (
	contentChangeCipherSpec = 20
	contentAlert            = 21
	contentHandshake        = 22
	contentAppData          = 23
)

// Handshake message types that may follow the handshake (RFC 8446 4.6).
const (
	msgNewSessionTicket = 4
	msgKeyUpdate        = 24
)

// maxTicket bounds the NewSessionTicket messages a client layer skips.
const maxTicket = 64 << 10

// keyUpdateLen is the length of a sealed KeyUpdate record.
const keyUpdateLen = HeaderLen + 4 + 1 + 1 + tagLen

// rekeyAfter is how many records the write direction seals under one key
// before it updates it. RFC 8446 section 5.5 allows 2^24.5 full-size
// records under one AES-GCM key; ChaCha20-Poly1305 allows far more, but
// one limit for every suite is simpler.
const rekeyAfter = 1 << 24

// Alert is a TLS alert description (RFC 8446 section 6).
type Alert uint8

const (
	AlertCloseNotify       Alert = 0
	AlertUnexpectedMessage Alert = 10
	AlertBadRecordMAC      Alert = 20
	AlertRecordOverflow    Alert = 22
	AlertIllegalParameter  Alert = 47
	AlertDecodeError       Alert = 50
	AlertInternalError     Alert = 80
	AlertUserCanceled      Alert = 90
)

var alertNames = map[Alert]string{
	0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
	22: "record_overflow", 40: "handshake_failure", 42: "bad_certificate",
	43: "unsupported_certificate", 44: "certificate_revoked",
	45: "certificate_expired", 46: "certificate_unknown",
	47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
	50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
	71: "insufficient_security", 80: "internal_error",
	86: "inappropriate_fallback", 90: "user_canceled",
	109: "missing_extension", 110: "unsupported_extension",
	112: "unrecognized_name", 113: "bad_certificate_status_response",
	115: "unknown_psk_identity", 116: "certificate_required",
	120: "no_application_protocol",
}

// String returns the alert's name in RFC 8446, or alert(N) for a number
// it does not define.
func (a Alert) String() string {
	if s, ok := alertNames[a]; ok {
		return s
	}
	return "alert(" + strconv.Itoa(int(a)) + ")"
}

// AlertError is why the record layer stopped: an alert the peer sent
// (Remote) or one this side must send before closing (not Remote).
type AlertError struct {
	Alert  Alert
	Remote bool
}

func (e *AlertError) Error() string {
	if e.Remote {
		return "tlsrec: peer sent alert " + e.Alert.String()
	}
	return "tlsrec: closing with alert " + e.Alert.String()
}

// ErrCloseNotify is Open's error once the peer has sent close_notify: the
// clean end.
var ErrCloseNotify = errors.New("tlsrec: peer sent close_notify")

// Secrets is what a TLS 1.3 handshake yields for the record layer.
type Secrets struct {
	Suite uint16 // tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384 or tls.TLS_CHACHA20_POLY1305_SHA256
	Read  []byte // the peer's application traffic secret (its _0)
	Write []byte // ours
}

// Conn is the TLS 1.3 record layer of one connection once its handshake
// is done. It is not safe for concurrent use: one goroutine, the
// connection's event loop, calls all its methods.
type Conn struct {
	in, out direction
	stop    *AlertError // why reading stopped, unless closed
	rekeyAt uint64      // write records under one key before a KeyUpdate
	nonce   [12]byte    // scratch, so that no nonce escapes per record

	// A handshake message in pieces: its header so far, or, once that is
	// whole, the body still to come.
	hsHdr  [4]byte
	hsSkip uint32 // bytes still to skip of a NewSessionTicket's body

	suite  uint16
	p      params
	hsN    uint8 // bytes of hsHdr held
	hsKU   bool  // a KeyUpdate's header is read; its 1-byte body is next
	client bool
	owe    bool // the peer asked for a KeyUpdate and has not had it
	closed bool // the peer sent close_notify
}

// New returns the record layer of one connection. writeSeq is how many
// records were already written under Write (crypto/tls may have sent
// NewSessionTicket records with it); reading starts at sequence 0. A
// client's layer (client set) accepts and ignores NewSessionTicket
// messages; a server's refuses them with unexpected_message. An unknown
// suite, a secret of the wrong length, or a suite whose AEAD this process
// cannot build (ChaCha20-Poly1305 under GODEBUG=fips140=only) is an error.
// New builds both AEADs to know they can be built; the first Cool drops
// them unless they were used. It copies the secrets.
func New(s Secrets, client bool, writeSeq uint64) (*Conn, error) {
	p, ok := suiteParams(s.Suite)
	if !ok {
		return nil, errors.New("tlsrec: not a TLS 1.3 cipher suite: 0x" + strconv.FormatUint(uint64(s.Suite), 16))
	}
	if len(s.Read) != int(p.hashLen) || len(s.Write) != int(p.hashLen) {
		return nil, errors.New("tlsrec: a traffic secret of the wrong length for its suite")
	}
	c := &Conn{p: p, suite: s.Suite, client: client, rekeyAt: rekeyAfter}
	c.in.set(p, s.Read)
	c.out.set(p, s.Write)
	c.out.seq = writeSeq
	if err := c.in.build(p); err != nil {
		return nil, errors.New("tlsrec: " + err.Error())
	}
	if err := c.out.build(p); err != nil {
		return nil, errors.New("tlsrec: " + err.Error())
	}
	return c, nil
}

// Suite returns the connection's cipher suite. Called on the
// connection's event loop.
func (c *Conn) Suite() uint16 { return c.suite }

// Seq returns the sequence numbers of the next record to read and to
// write, under the current keys. Called on the connection's event loop.
func (c *Conn) Seq() (read, write uint64) { return c.in.seq, c.out.seq }

// RecordLen returns the length, header included, of the record whose
// header starts b, or 0 when b holds fewer than HeaderLen bytes. It does
// not validate the header (Open does). Safe for concurrent use.
func RecordLen(b []byte) int {
	if len(b) < HeaderLen {
		return 0
	}
	return HeaderLen + int(binary.BigEndian.Uint16(b[3:5]))
}

// Open decrypts the complete records at the front of b in place. It
// returns the application data they carried, in b: the first record's
// where it was decrypted, and the others' moved up behind it (plain
// aliases b, and is valid as long as b's memory is), and used,
// the bytes of b those records took: b[used:] is an incomplete record,
// which the caller keeps and, completed, passes again. The header of that
// incomplete record is checked already, so an oversized or wrongly typed
// record is refused before its body arrives. Called on the connection's
// event loop.
//
// Records other than application data are dealt with here: KeyUpdate
// updates the read key and, with update_requested, makes the layer owe
// the peer one (see Pending); a client's layer skips NewSessionTicket
// messages. Handshake messages may be split over records and several may
// share one, but a KeyUpdate must end its record.
//
// The errors: ErrCloseNotify once the peer sent close_notify;
// *AlertError with Remote set for any other alert it sent; else an
// *AlertError naming the alert to send before closing:
//   - bad_record_mac: a record that does not authenticate, or whose body
//     is too short to hold a tag and a content type;
//   - record_overflow: a body over MaxCiphertext, or an inner plaintext
//     (content, type and padding) over MaxPlaintext+1 bytes;
//   - unexpected_message: an outer type other than application_data (a
//     change_cipher_spec or an unprotected alert, say), an inner plaintext
//     of zeros only, an unknown inner type, empty handshake or alert
//     content, a handshake message other than KeyUpdate (or, for a
//     client, NewSessionTicket), a KeyUpdate that does not end its record,
//     or another record type between the pieces of a handshake message;
//   - decode_error: an alert not of 2 bytes, a KeyUpdate whose body is not
//     1 byte, a NewSessionTicket over 64 KiB;
//   - illegal_parameter: a KeyUpdate of neither 0 nor 1.
//
// On an error, plain holds the application data of the records before
// the one that failed, all authenticated; nothing of the failing record
// comes out, and used counts only the records before it. After an error
// every Open returns the same error and nothing else.
func (c *Conn) Open(b []byte) (plain []byte, used int, err error) {
	if err := c.readErr(); err != nil {
		return b[:0], 0, err
	}
	// The application data so far is b[at:at+n]: where the first
	// record's was decrypted, so that a message in one record is not
	// moved at all.
	at, n := -1, 0
	for {
		rest := b[used:]
		if len(rest) == 0 {
			break
		}
		if rest[0] != contentAppData {
			return c.fail(span(b, at, n), used, AlertUnexpectedMessage)
		}
		if len(rest) < HeaderLen {
			break
		}
		length := int(binary.BigEndian.Uint16(rest[3:5]))
		if length > MaxCiphertext {
			return c.fail(span(b, at, n), used, AlertRecordOverflow)
		}
		if length < tagLen+1 {
			return c.fail(span(b, at, n), used, AlertBadRecordMAC)
		}
		if len(rest) < HeaderLen+length {
			break
		}
		rec := rest[:HeaderLen+length]
		aead := c.in.cipher(c.p)
		c.in.nonce(&c.nonce)
		inner, aerr := aead.Open(rec[HeaderLen:HeaderLen], c.nonce[:], rec[HeaderLen:], rec[:HeaderLen])
		if aerr != nil {
			return c.fail(span(b, at, n), used, AlertBadRecordMAC)
		}
		c.in.seq++
		if len(inner) > MaxPlaintext+1 {
			return c.fail(span(b, at, n), used, AlertRecordOverflow)
		}
		i := len(inner) - 1
		for i >= 0 && inner[i] == 0 {
			i--
		}
		if i < 0 {
			return c.fail(span(b, at, n), used, AlertUnexpectedMessage)
		}
		typ, content := inner[i], inner[:i]
		if typ != contentHandshake && c.midMessage() {
			return c.fail(span(b, at, n), used, AlertUnexpectedMessage)
		}
		switch typ {
		case contentAppData:
			if at < 0 {
				at = used + HeaderLen
			}
			n += copy(b[at+n:], content)
		case contentHandshake:
			if len(content) == 0 {
				return c.fail(span(b, at, n), used, AlertUnexpectedMessage)
			}
			if a, ok := c.handshake(content); !ok {
				return c.fail(span(b, at, n), used, a)
			}
		case contentAlert:
			if len(content) == 0 {
				return c.fail(span(b, at, n), used, AlertUnexpectedMessage)
			}
			if len(content) != 2 {
				return c.fail(span(b, at, n), used, AlertDecodeError)
			}
			if a := Alert(content[1]); a == AlertCloseNotify {
				c.closed = true
			} else {
				c.stop = &AlertError{Alert: a, Remote: true}
			}
			return span(b, at, n), used, c.readErr()
		default:
			return c.fail(span(b, at, n), used, AlertUnexpectedMessage)
		}
		used += len(rec)
	}
	return span(b, at, n), used, nil
}

// span returns the n bytes of application data at b[at:], or none when
// at is negative.
func span(b []byte, at, n int) []byte {
	if at < 0 {
		return b[:0]
	}
	return b[at : at+n]
}

// fail ends reading with an alert to send.
func (c *Conn) fail(plain []byte, used int, a Alert) ([]byte, int, error) {
	c.stop = &AlertError{Alert: a}
	return plain, used, c.stop
}

// readErr returns why reading stopped, or nil.
func (c *Conn) readErr() error {
	if c.closed {
		return ErrCloseNotify
	}
	if c.stop != nil {
		return c.stop
	}
	return nil
}

// midMessage reports whether a handshake message is partly read.
func (c *Conn) midMessage() bool { return c.hsN > 0 || c.hsKU || c.hsSkip > 0 }

// handshake reads the handshake bytes of one record. It returns false and
// the alert to send when they are refused.
func (c *Conn) handshake(p []byte) (Alert, bool) {
	for len(p) > 0 {
		switch {
		case c.hsSkip > 0:
			k := min(uint32(len(p)), c.hsSkip)
			c.hsSkip -= k
			p = p[k:]
		case c.hsKU:
			v := p[0]
			p = p[1:]
			c.hsKU = false
			if v > 1 {
				return AlertIllegalParameter, false
			}
			if len(p) > 0 {
				// RFC 8446 5.1: a message before a key change ends its record.
				return AlertUnexpectedMessage, false
			}
			c.in.update(c.p)
			if v == 1 {
				c.owe = true
			}
		default:
			k := copy(c.hsHdr[c.hsN:], p)
			c.hsN += uint8(k)
			p = p[k:]
			if c.hsN < 4 {
				break
			}
			c.hsN = 0
			size := uint32(c.hsHdr[1])<<16 | uint32(c.hsHdr[2])<<8 | uint32(c.hsHdr[3])
			switch c.hsHdr[0] {
			case msgKeyUpdate:
				if size != 1 {
					return AlertDecodeError, false
				}
				c.hsKU = true
			case msgNewSessionTicket:
				if !c.client {
					return AlertUnexpectedMessage, false
				}
				if size > maxTicket {
					return AlertDecodeError, false
				}
				c.hsSkip = size
			default:
				return AlertUnexpectedMessage, false
			}
		}
	}
	return 0, true
}

// Seal appends to dst the records that carry a followed by b (either may
// be empty) as application data, MaxPlaintext bytes to a record, without
// padding. Before them it appends what is Pending, and a KeyUpdate
// whenever the write key has sealed its share of records; Seal with
// nothing to send appends only what is pending. The plaintext is copied
// into dst once and encrypted there. a and b must not overlap dst's spare
// capacity. Called on the connection's event loop.
func (c *Conn) Seal(dst, a, b []byte) []byte { return c.Seal3(dst, a, b, nil) }

// Seal3 is Seal with a third part, z, after b: the records carry a, b and
// z in that order, cut only where MaxPlaintext cuts them. Called on the
// connection's event loop.
func (c *Conn) Seal3(dst, a, b, z []byte) []byte {
	total := len(a) + len(b) + len(z)
	recs := (total + MaxPlaintext - 1) / MaxPlaintext
	dst = slices.Grow(dst, keyUpdateLen+total+recs*(HeaderLen+1+tagLen))
	dst = c.AppendPending(dst)
	for total > 0 {
		if c.Pending() {
			dst = c.AppendPending(dst)
		}
		n := min(total, MaxPlaintext)
		start := len(dst)
		dst = appendHeader(dst, n+1+tagLen)
		k := min(n, len(a))
		dst = append(dst, a[:k]...)
		a = a[k:]
		m := min(n-k, len(b))
		dst = append(dst, b[:m]...)
		b = b[m:]
		dst = append(dst, z[:n-k-m]...)
		z = z[n-k-m:]
		dst = append(dst, contentAppData)
		dst = c.seal(dst, start)
		total -= n
	}
	return dst
}

// Pending reports whether the layer must send a KeyUpdate before its next
// record: the peer asked for one, or the write key has sealed its share of
// records (RFC 8446 section 5.5). Called on the connection's event loop.
func (c *Conn) Pending() bool { return c.owe || c.out.seq >= c.rekeyAt }

// AppendPending appends the KeyUpdate (update_not_requested) that Pending
// reports, if any, sealed with the current write key, and then moves the
// write direction to the next traffic secret. However many requests came
// before, it answers them with one. Called on the connection's event loop.
func (c *Conn) AppendPending(dst []byte) []byte {
	if !c.Pending() {
		return dst
	}
	return c.AppendKeyUpdate(dst, false)
}

// AppendKeyUpdate appends a KeyUpdate record, with update_requested set if
// requested, sealed with the current write key, and then moves the write
// direction to the next traffic secret. It answers any request the peer
// made. Called on the connection's event loop.
func (c *Conn) AppendKeyUpdate(dst []byte, requested bool) []byte {
	msg := [5]byte{msgKeyUpdate, 0, 0, 1, 0}
	if requested {
		msg[4] = 1
	}
	dst = c.appendRecord(dst, contentHandshake, msg[:])
	c.out.update(c.p)
	c.owe = false
	return dst
}

// AppendAlert appends an alert record, sealed with the current write key:
// at level warning for close_notify and user_canceled, fatal for the rest.
// Called on the connection's event loop.
func (c *Conn) AppendAlert(dst []byte, a Alert) []byte {
	level := byte(2)
	if a == AlertCloseNotify || a == AlertUserCanceled {
		level = 1
	}
	msg := [2]byte{level, byte(a)}
	return c.appendRecord(dst, contentAlert, msg[:])
}

// Cool drops the AEADs unless they were used since the last call to Cool
// (or New), so that an idle connection keeps only its keys; they are
// built again when next needed. It reports whether the Conn still holds
// an AEAD. Called on the connection's event loop.
func (c *Conn) Cool() bool {
	c.in.cool()
	c.out.cool()
	return c.in.aead != nil || c.out.aead != nil
}

// Wipe clears the layer's traffic secrets, keys and IVs, and drops its
// AEADs, once the connection is over, so that they do not stay in freed
// memory. Open refuses everything after it; nothing may be sealed. Called
// on the connection's event loop.
func (c *Conn) Wipe() {
	c.in.wipe()
	c.out.wipe()
	if c.readErr() == nil {
		c.stop = &AlertError{Alert: AlertInternalError}
	}
}

// appendRecord appends one record carrying content of type typ.
func (c *Conn) appendRecord(dst []byte, typ byte, content []byte) []byte {
	start := len(dst)
	dst = appendHeader(dst, len(content)+1+tagLen)
	dst = append(dst, content...)
	dst = append(dst, typ)
	return c.seal(dst, start)
}

// appendHeader appends the header of an application_data record whose
// body is n bytes.
func appendHeader(dst []byte, n int) []byte {
	return append(dst, contentAppData, 3, 3, byte(n>>8), byte(n))
}

// seal encrypts in place the inner plaintext at dst[start+HeaderLen:],
// behind its header, and appends the tag.
func (c *Conn) seal(dst []byte, start int) []byte {
	dst = slices.Grow(dst, tagLen)
	aead := c.out.cipher(c.p)
	c.out.nonce(&c.nonce)
	body := dst[start+HeaderLen:]
	sealed := aead.Seal(body[:0], c.nonce[:], body, dst[start:start+HeaderLen])
	c.out.seq++
	return dst[:start+HeaderLen+len(sealed)]
}
