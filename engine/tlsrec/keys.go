package tlsrec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// tagLen is the authentication tag of every TLS 1.3 AEAD.
const tagLen = 16

// params is what a cipher suite fixes for the record layer (RFC 8446
// appendix B.4): the AEAD, its key length and the HKDF hash.
type params struct {
	keyLen  uint8
	hashLen uint8 // 32 for SHA-256, 48 for SHA-384
	chacha  bool  // ChaCha20-Poly1305, else AES-GCM
}

func suiteParams(suite uint16) (params, bool) {
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
		return params{keyLen: 16, hashLen: 32}, true
	case tls.TLS_AES_256_GCM_SHA384:
		return params{keyLen: 32, hashLen: 48}, true
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		return params{keyLen: 32, hashLen: 32, chacha: true}, true
	}
	return params{}, false
}

// expandLabel is HKDF-Expand-Label (RFC 8446 section 7.1) with an empty
// context, the only kind the record layer needs, appended to dst. Every
// length it is asked for fits in one hash output, so HKDF-Expand (RFC
// 5869 section 2.3) is its first block: HMAC(secret, info || 0x01). mac,
// when not nil, is an HMAC already keyed with secret, reused.
func expandLabel(p params, mac hash.Hash, secret []byte, label string, n int) []byte {
	if n > int(p.hashLen) {
		panic("tlsrec: HKDF-Expand-Label longer than one block")
	}
	if mac == nil {
		mac = p.hmac(secret)
	}
	var buf [2 + 1 + 255 + 1 + 1]byte
	info := binary.BigEndian.AppendUint16(buf[:0], uint16(n))
	info = append(info, byte(len("tls13 ")+len(label)))
	info = append(info, "tls13 "...)
	info = append(info, label...)
	info = append(info, 0) // the context's length
	info = append(info, 1) // HKDF's block counter
	mac.Reset()
	mac.Write(info)
	var out [48]byte
	return mac.Sum(out[:0])[:n]
}

// hmac returns an HMAC with the suite's hash, keyed with secret.
func (p params) hmac(secret []byte) hash.Hash {
	if p.hashLen == 48 {
		return hmac.New(sha512.New384, secret)
	}
	return hmac.New(sha256.New, secret)
}

// direction is the key state of one direction of a connection: what an
// idle connection keeps, plus the AEAD while it is warm.
type direction struct {
	aead   cipher.AEAD // nil until used, and again after Cool
	seq    uint64
	secret [48]byte // the traffic secret, for the next KeyUpdate
	key    [32]byte
	iv     [12]byte
	used   bool // the AEAD was used since the last Cool
}

// set installs a traffic secret: its key and IV, sequence 0, no AEAD yet.
func (d *direction) set(p params, secret []byte) {
	clear(d.secret[:])
	copy(d.secret[:], secret)
	mac := p.hmac(secret)
	k := expandLabel(p, mac, secret, "key", int(p.keyLen))
	clear(d.key[:])
	copy(d.key[:], k)
	clear(k)
	copy(d.iv[:], expandLabel(p, mac, secret, "iv", len(d.iv)))
	d.seq = 0
	d.aead = nil
	d.used = false
}

// update moves to the next traffic secret (RFC 8446 section 7.2),
// overwriting the old one.
func (d *direction) update(p params) {
	next := expandLabel(p, nil, d.secret[:p.hashLen], "traffic upd", int(p.hashLen))
	d.set(p, next)
	clear(next)
}

// build makes the AEAD for the current key.
func (d *direction) build(p params) error {
	var a cipher.AEAD
	var err error
	if p.chacha {
		a, err = chacha20poly1305.New(d.key[:p.keyLen])
	} else {
		var b cipher.Block
		if b, err = aes.NewCipher(d.key[:p.keyLen]); err == nil {
			a, err = cipher.NewGCM(b)
		}
	}
	if err != nil {
		return err
	}
	d.aead = a
	return nil
}

// cipher returns the AEAD, building it if Cool dropped it or the key
// changed, and marks it used.
func (d *direction) cipher(p params) cipher.AEAD {
	if d.aead == nil {
		if err := d.build(p); err != nil {
			// New built this suite's AEAD with a key of the same length,
			// so this cannot fail.
			panic("tlsrec: " + err.Error())
		}
	}
	d.used = true
	return d.aead
}

// nonce writes the per-record nonce (RFC 8446 section 5.3): the IV XOR the
// sequence number, big-endian, left-padded to the IV's length.
func (d *direction) nonce(n *[12]byte) {
	*n = d.iv
	s := binary.BigEndian.Uint64(n[4:])
	binary.BigEndian.PutUint64(n[4:], s^d.seq)
}

// cool drops the AEAD unless it was used since the last call.
func (d *direction) cool() {
	if !d.used {
		d.aead = nil
	}
	d.used = false
}

// wipe clears the direction's secret, key and IV and drops its AEAD.
func (d *direction) wipe() {
	clear(d.secret[:])
	clear(d.key[:])
	clear(d.iv[:])
	d.aead = nil
	d.used = false
}
