package engine

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/crypto/chacha20poly1305"
)

// recordSealer writes TLS 1.3 records (RFC 8446 section 5.2) with a
// client's application traffic secret, as the client's tls.Conn would, so
// that a test can send what crypto/tls's client API cannot, such as
// KeyUpdate requests. Once a sealer writes for a connection, its tls.Conn
// must write nothing more (reading is fine: the server's keys are its own).
type recordSealer struct {
	hash   func() hash.Hash
	keyLen int
	chacha bool
	secret []byte
	aead   cipher.AEAD
	iv     []byte
	seq    uint64
}

// newRecordSealer takes the client's first application traffic secret
// from keylog, what the connection's Config.KeyLogWriter was given
// (NSS key log lines), for the connection's cipher suite.
func newRecordSealer(t *testing.T, suite uint16, keylog string) *recordSealer {
	t.Helper()
	s := &recordSealer{hash: sha256.New, keyLen: 16}
	switch suite {
	case tls.TLS_AES_128_GCM_SHA256:
	case tls.TLS_AES_256_GCM_SHA384:
		s.hash, s.keyLen = sha512.New384, 32
	case tls.TLS_CHACHA20_POLY1305_SHA256:
		s.keyLen, s.chacha = 32, true
	default:
		t.Fatalf("cipher suite %#04x is not a TLS 1.3 one", suite)
	}
	for _, line := range strings.Split(keylog, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "CLIENT_TRAFFIC_SECRET_0" {
			secret, err := hex.DecodeString(f[2])
			if err != nil {
				t.Fatal(err)
			}
			s.setSecret(t, secret)
			return s
		}
	}
	t.Fatalf("no CLIENT_TRAFFIC_SECRET_0 in the key log:\n%s", keylog)
	return nil
}

// expandLabel is HKDF-Expand-Label with an empty context (RFC 8446
// section 7.1).
func (s *recordSealer) expandLabel(t *testing.T, secret []byte, label string, n int) []byte {
	info := binary.BigEndian.AppendUint16(nil, uint16(n))
	info = append(info, byte(len("tls13 ")+len(label)))
	info = append(append(info, "tls13 "...), label...)
	info = append(info, 0)
	out, err := hkdf.Expand(s.hash, secret, string(info), n)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// setSecret derives the key and IV of a traffic secret (RFC 8446 section
// 7.3), and starts its sequence numbers at 0.
func (s *recordSealer) setSecret(t *testing.T, secret []byte) {
	s.secret = secret
	key := s.expandLabel(t, secret, "key", s.keyLen)
	s.iv = s.expandLabel(t, secret, "iv", 12)
	var err error
	if s.chacha {
		s.aead, err = chacha20poly1305.New(key)
	} else {
		var block cipher.Block
		if block, err = aes.NewCipher(key); err == nil {
			s.aead, err = cipher.NewGCM(block)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	s.seq = 0
}

// Record content types (RFC 8446 section 5.1).
const (
	recordHandshake   = 22
	recordApplication = 23
)

// seal appends a record of content type typ carrying content.
func (s *recordSealer) seal(dst []byte, typ byte, content []byte) []byte {
	n := len(content) + 1 + s.aead.Overhead()
	hdr := []byte{recordApplication, 3, 3, byte(n >> 8), byte(n)}
	var nonce [12]byte
	copy(nonce[:], s.iv)
	for i := range 8 {
		nonce[4+i] ^= byte(s.seq >> (56 - 8*i))
	}
	s.seq++
	inner := append(append(make([]byte, 0, len(content)+1), content...), typ)
	return s.aead.Seal(append(dst, hdr...), nonce[:], inner, hdr)
}

// keyUpdate appends a KeyUpdate that requests one back (RFC 8446 section
// 4.6.3), and moves the sealer to the next traffic secret, as the sender
// of a KeyUpdate does.
func (s *recordSealer) keyUpdate(t *testing.T, dst []byte) []byte {
	dst = s.seal(dst, recordHandshake, []byte{24, 0, 0, 1, 1}) // key_update, update_requested
	s.setSecret(t, s.expandLabel(t, s.secret, "traffic upd", s.hash().Size()))
	return dst
}

// sealedClient opens a wss:// connection to addr with TLS 1.3, the
// socket's receive buffer at rcvbuf bytes when rcvbuf > 0, and upgrades it
// on /echo with a request written by a recordSealer, which is what writes
// to the connection from then on (to raw). Frames are read with the
// returned confClient, through the client's tls.Conn.
func sealedClient(t *testing.T, addr confAddr, rcvbuf int) (c *confClient, raw net.Conn, s *recordSealer) {
	t.Helper()
	raw = confConnect(t, confAddr{hostport: addr.hostport}, rcvbuf)
	var keylog strings.Builder
	cfg := addr.tls.Clone()
	cfg.MinVersion, cfg.KeyLogWriter = tls.VersionTLS13, &keylog
	tc := tls.Client(raw, cfg)
	_ = tc.SetDeadline(time.Now().Add(confWait))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	_ = tc.SetDeadline(time.Time{})
	s = newRecordSealer(t, tc.ConnectionState().CipherSuite, keylog.String())
	req := httpHead("GET /echo HTTP/1.1", httpUpgradeLines(nil)...)
	if _, err := raw.Write(s.seal(nil, recordApplication, []byte(req))); err != nil {
		t.Fatal(err)
	}
	c = &confClient{t: t, conn: tc, br: bufio.NewReaderSize(tc, 64<<10)}
	_ = tc.SetReadDeadline(time.Now().Add(confWait))
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatalf("read upgrade response: %v", err)
	}
	httpCheck101(t, resp)
	return c, raw, s
}

// TestRecordSealer: records sealed by hand are read by the server as its
// client's own: an echo comes back across a KeyUpdate, and the server's
// own KeyUpdate in answer is taken by the client's tls.Conn.
func TestRecordSealer(t *testing.T) {
	_, addr, ccfg := startTLSServer(t, Config{})
	c, raw, s := sealedClient(t, confAddr{hostport: addr, tls: ccfg}, 0)
	wire := s.seal(nil, recordApplication, confFrame(cfFin|cfText, "before"))
	wire = s.keyUpdate(t, wire)
	wire = s.seal(wire, recordApplication, confFrame(cfFin|cfText, "after a key update"))
	if _, err := raw.Write(wire); err != nil {
		t.Fatal(err)
	}
	c.expect(confMsg(ws.OpText, "before"))
	c.expect(confMsg(ws.OpText, "after a key update"))
}
