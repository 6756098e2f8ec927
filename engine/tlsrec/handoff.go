package tlsrec

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
)

// keyLog takes the application traffic secrets of one handshake from
// crypto/tls, through Config.KeyLogWriter (NSS key log lines). They stay
// in the Transport's memory: nothing is logged or written anywhere.
type keyLog struct {
	t             *Transport
	client, serve []byte // CLIENT_ and SERVER_TRAFFIC_SECRET_0
	write         []byte // ours: one of the two, once known
}

// Write takes one key log line. crypto/tls writes each in one call.
func (k *keyLog) Write(line []byte) (int, error) {
	f := bytes.Fields(line)
	if len(f) != 3 {
		return 0, errors.New("tlsrec: a key log line not understood")
	}
	var dst *[]byte
	switch string(f[0]) {
	case "CLIENT_TRAFFIC_SECRET_0":
		dst = &k.client
	case "SERVER_TRAFFIC_SECRET_0":
		dst = &k.serve
	default: // the handshake's own secrets: crypto/tls keeps those
		return len(line), nil
	}
	secret := make([]byte, hex.DecodedLen(len(f[2])))
	if _, err := hex.Decode(secret, f[2]); err != nil || len(secret) > 64 {
		return 0, errors.New("tlsrec: a key log secret not understood")
	}
	*dst = secret
	if k.t.client {
		k.write = k.client
	} else {
		k.write = k.serve
	}
	return len(line), nil
}

// ServerConfig returns the configuration for tls.Server over Transports:
// base, with each handshake's key log going to its own Transport, so
// that Finish can take the record layer over. A GetConfigForClient that
// base has still chooses the configuration; KeyLogWriter, if base has
// one, is not used. Connections not over a Transport are served by base
// as it is. Session tickets are sealed with the returned configuration's
// keys, the same for every connection.
func ServerConfig(base *tls.Config) *tls.Config {
	cfg := base.Clone()
	cfg.KeyLogWriter = nil
	choose := base.GetConfigForClient
	cfg.GetConfigForClient = func(hi *tls.ClientHelloInfo) (*tls.Config, error) {
		c := base
		if choose != nil {
			chosen, err := choose(hi)
			if err != nil {
				return nil, err
			}
			if chosen != nil {
				c = chosen
			}
		}
		t, ok := hi.Conn.(*Transport)
		if !ok {
			if c == base {
				return nil, nil
			}
			return c, nil
		}
		c = c.Clone()
		c.GetConfigForClient = nil
		c.KeyLogWriter = &t.keys
		return c, nil
	}
	return cfg
}

// ClientConfig returns the configuration for tls.Client over t: base, with
// its key log going to t.
func (t *Transport) ClientConfig(base *tls.Config) *tls.Config {
	c := base.Clone()
	c.KeyLogWriter = &t.keys
	return c
}

// Finish is called once tc, made over t, has completed its handshake, in
// the goroutine that ran it. For TLS 1.3 it returns the record layer that
// takes over: tc, and everything it holds, are to be dropped, and the
// layer's first input is Leftover. For TLS 1.2, or when keep is true, it
// returns nil: tc stays, over t, and t's first input on its loop is what
// the handshake left over.
func (t *Transport) Finish(tc *tls.Conn, keep bool) (*Stream, error) {
	t.hsDone = true
	defer t.releaseBuf()
	if t.left != 0 {
		return nil, errors.New("tlsrec: handshake ended inside a record")
	}
	st := tc.ConnectionState()
	if st.Version != tls.VersionTLS13 || keep {
		t.kept = t.leftover()
		t.forget()
		return nil, nil
	}
	read, write := t.keys.serve, t.keys.client
	if !t.client {
		read, write = write, read
	}
	if read == nil || write == nil {
		return nil, errors.New("tlsrec: TLS 1.3 handshake without its traffic secrets")
	}
	rec, err := New(Secrets{Suite: st.CipherSuite, Read: read, Write: write}, t.client, 0)
	if err != nil {
		return nil, err
	}
	if err := rec.skipSealed(t.written); err != nil {
		return nil, err
	}
	s := &Stream{Conn: rec, raw: t.leftover()}
	t.forget()
	return s, nil
}

// skipSealed moves the write sequence past the records in written that
// are sealed with the layer's write key: records crypto/tls sent once it
// had the keys, such as a server's session tickets. Those come after
// every record under the handshake keys, so they are a run at the end,
// and the first of them is the one record that opens at sequence 0:
// looked for from the end, it is usually the last record, found at the
// first try.
func (c *Conn) skipSealed(written []byte) error {
	var recs [][]byte
	for b := written; len(b) > 0; {
		n := RecordLen(b)
		if n == 0 || n > len(b) {
			return errors.New("tlsrec: the handshake wrote a record in pieces")
		}
		if b[0] == contentAppData {
			recs = append(recs, b[:n])
		}
		b = b[n:]
	}
	var scratch []byte
	opens := func(rec []byte, seq uint64) bool {
		if len(rec) < HeaderLen+tagLen {
			return false
		}
		c.out.seq = seq
		c.out.nonce(&c.nonce)
		var err error
		scratch, err = c.out.cipher(c.p).Open(scratch[:0], c.nonce[:], rec[HeaderLen:], rec[:HeaderLen])
		return err == nil
	}
	defer clear(scratch)
	for first := len(recs) - 1; first >= 0; first-- {
		if !opens(recs[first], 0) {
			continue
		}
		for i, r := range recs[first+1:] {
			if !opens(r, uint64(i+1)) {
				return errors.New("tlsrec: records under the handshake keys after application ones")
			}
		}
		c.out.seq = uint64(len(recs) - first)
		return nil
	}
	c.out.seq = 0
	return nil
}

// leftover returns a copy of what the handshake read past its last record.
func (t *Transport) leftover() []byte {
	if t.buf == nil || t.off == len(*t.buf) {
		return nil
	}
	return bytes.Clone((*t.buf)[t.off:])
}

func (t *Transport) releaseBuf() {
	if t.buf != nil {
		readBufs.Put(t.buf)
		t.buf = nil
	}
}

// Abandon gives back what a handshake that failed holds. The socket is the
// caller's to close.
func (t *Transport) Abandon() {
	t.hsDone = true
	t.releaseBuf()
	t.forget()
}

// forget wipes the secrets the Transport took: the record layer has its
// own copy.
func (t *Transport) forget() {
	clear(t.keys.client)
	clear(t.keys.serve)
	t.keys = keyLog{t: t}
	t.written = nil
}

var _ io.Writer = (*keyLog)(nil)
