package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"testing"
)

var testSuites = []struct {
	name string
	id   uint16
}{
	{"AES128GCM", tls.TLS_AES_128_GCM_SHA256},
	{"AES256GCM", tls.TLS_AES_256_GCM_SHA384},
	{"CHACHA20", tls.TLS_CHACHA20_POLY1305_SHA256},
}

// testSecrets returns fixed application traffic secrets for suite: the
// client's and the server's.
func testSecrets(suite uint16) (client, server []byte) {
	p, _ := suiteParams(suite)
	client = make([]byte, p.hashLen)
	server = make([]byte, p.hashLen)
	for i := range client {
		client[i] = byte(i + 1)
		server[i] = byte(0xa0 + i)
	}
	return client, server
}

// newLayer returns a client's (client set) or a server's layer for suite,
// from testSecrets.
func newLayer(t testing.TB, suite uint16, client bool) *Conn {
	t.Helper()
	cs, ss := testSecrets(suite)
	s := Secrets{Suite: suite, Read: cs, Write: ss}
	if client {
		s.Read, s.Write = ss, cs
	}
	c, err := New(s, client, 0)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// layerPair returns the two ends of one connection.
func layerPair(t testing.TB, suite uint16) (client, server *Conn) {
	return newLayer(t, suite, true), newLayer(t, suite, false)
}

// testBytes returns n bytes that differ from record to record.
func testBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// rawRecord seals inner, an inner plaintext as given (content, type,
// padding), with c's write key: what Seal would never send.
func rawRecord(c *Conn, inner ...byte) []byte {
	dst := appendHeader(nil, len(inner)+tagLen)
	dst = append(dst, inner...)
	return c.seal(dst, 0)
}

// hsRecord seals handshake bytes with c's write key, as is.
func hsRecord(c *Conn, msg ...byte) []byte {
	return rawRecord(c, append(msg[:len(msg):len(msg)], contentHandshake)...)
}

// openRaw decrypts one record with c's read key and returns its inner
// plaintext, checking nothing else.
func openRaw(t *testing.T, c *Conn, rec []byte) []byte {
	t.Helper()
	c.in.nonce(&c.nonce)
	inner, err := c.in.cipher(c.p).Open(nil, c.nonce[:], rec[HeaderLen:], rec[:HeaderLen])
	if err != nil {
		t.Fatal(err)
	}
	c.in.seq++
	return inner
}

// splitRecords splits wire into records, failing on a piece.
func splitRecords(t *testing.T, wire []byte) [][]byte {
	t.Helper()
	var out [][]byte
	for len(wire) > 0 {
		n := RecordLen(wire)
		if n == 0 || n > len(wire) {
			t.Fatalf("a record in pieces: %x", wire)
		}
		out = append(out, wire[:n])
		wire = wire[n:]
	}
	return out
}

func wantAlert(t *testing.T, err error, a Alert) {
	t.Helper()
	var ae *AlertError
	if !errors.As(err, &ae) || ae.Alert != a || ae.Remote {
		t.Fatalf("err = %v, want this side's %v", err, a)
	}
}

// openAll opens wire in one call and wants every byte used and no error.
func openAll(t *testing.T, c *Conn, wire []byte) []byte {
	t.Helper()
	plain, used, err := c.Open(bytes.Clone(wire))
	if err != nil || used != len(wire) {
		t.Fatalf("Open: used %d of %d, %v", used, len(wire), err)
	}
	return plain
}

func TestRoundTrip(t *testing.T) {
	sizes := []int{1, 100, MaxPlaintext - 1, MaxPlaintext, MaxPlaintext + 1, 3*MaxPlaintext + 7}
	for _, s := range testSuites {
		t.Run(s.name, func(t *testing.T) {
			cli, srv := layerPair(t, s.id)
			for _, n := range sizes {
				for _, cut := range []int{0, n / 3, n} {
					msg := testBytes(n)
					for _, dir := range []struct {
						name     string
						from, to *Conn
					}{{"client to server", cli, srv}, {"server to client", srv, cli}} {
						wire := dir.from.Seal([]byte("kept"), msg[:cut], msg[cut:])
						if string(wire[:4]) != "kept" {
							t.Fatal("Seal lost what dst held")
						}
						wire = wire[4:]
						recs := splitRecords(t, wire)
						if want := (n + MaxPlaintext - 1) / MaxPlaintext; len(recs) != want {
							t.Fatalf("%s: %d bytes in %d records, want %d", dir.name, n, len(recs), want)
						}
						for _, r := range recs {
							if len(r) > HeaderLen+MaxPlaintext+1+tagLen {
								t.Fatalf("a record of %d bytes", len(r))
							}
						}
						if got := openAll(t, dir.to, wire); !bytes.Equal(got, msg) {
							t.Fatalf("%s: %d bytes split at %d came back different", dir.name, n, cut)
						}
					}
				}
			}
		})
	}
}

// TestSeal3: three parts, cut anywhere, come out as the records of their
// concatenation would, and open to it.
func TestSeal3(t *testing.T) {
	cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	for _, n := range []int{3, 100, MaxPlaintext, MaxPlaintext + 2, 2*MaxPlaintext + 5} {
		msg := testBytes(n)
		for _, cut := range [][2]int{{0, 0}, {0, n}, {n, n}, {1, n - 1}, {n / 2, n / 2}, {MaxPlaintext - 1, MaxPlaintext + 1}} {
			i, j := min(cut[0], n), min(max(cut[1], cut[0]), n)
			wire := cli.Seal3(nil, msg[:i], msg[i:j], msg[j:])
			if recs, want := splitRecords(t, wire), (n+MaxPlaintext-1)/MaxPlaintext; len(recs) != want {
				t.Fatalf("%d bytes cut at %d and %d: %d records, want %d", n, i, j, len(recs), want)
			}
			if got := openAll(t, srv, wire); !bytes.Equal(got, msg) {
				t.Fatalf("%d bytes cut at %d and %d came back different", n, i, j)
			}
		}
	}
}

func TestSealNothing(t *testing.T) {
	cli, _ := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	if got := cli.Seal(nil, nil, []byte{}); len(got) != 0 {
		t.Fatalf("Seal of nothing appended %d bytes", len(got))
	}
	if _, w := cli.Seq(); w != 0 {
		t.Fatalf("write sequence %d", w)
	}
}

// TestOpenSplit feeds a stream of records cut at every offset, in two
// calls, keeping what the first leaves as the caller does.
func TestOpenSplit(t *testing.T) {
	for _, s := range testSuites {
		t.Run(s.name, func(t *testing.T) {
			cli := newLayer(t, s.id, true)
			var wire, want []byte
			for i, n := range []int{1, 37, 0, 300, 5} {
				msg := testBytes(n)
				want = append(want, msg...)
				wire = cli.Seal(wire, msg, nil)
				if i == 2 {
					wire = cli.AppendKeyUpdate(wire, true)
					wire = append(wire, rawRecord(cli, contentAppData)...) // empty
				}
			}
			for cut := 0; cut <= len(wire); cut++ {
				srv := newLayer(t, s.id, false)
				first := bytes.Clone(wire[:cut])
				plain, used, err := srv.Open(first)
				if err != nil {
					t.Fatalf("cut %d: %v", cut, err)
				}
				got := bytes.Clone(plain)
				second := append(bytes.Clone(first[used:]), wire[cut:]...)
				plain, used, err = srv.Open(second)
				if err != nil || used != len(second) {
					t.Fatalf("cut %d: used %d of %d, %v", cut, used, len(second), err)
				}
				got = append(got, plain...)
				if !bytes.Equal(got, want) {
					t.Fatalf("cut %d: got %d bytes, want %d", cut, len(got), len(want))
				}
				if !srv.Pending() {
					t.Fatalf("cut %d: the KeyUpdate request was lost", cut)
				}
			}
		})
	}
}

func TestKeyUpdateFragmented(t *testing.T) {
	msg := []byte{msgKeyUpdate, 0, 0, 1, 0}
	for _, split := range [][]int{{1, 1, 1, 1, 1}, {4, 1}, {1, 4}, {2, 3}, {3, 2}} {
		t.Run(fmt.Sprint(split), func(t *testing.T) {
			cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
			wire := cli.Seal(nil, []byte("before "), nil)
			rest := msg
			for _, n := range split {
				wire = append(wire, hsRecord(cli, rest[:n]...)...)
				rest = rest[n:]
			}
			cli.out.update(cli.p)
			wire = cli.Seal(wire, []byte("after"), nil)
			if got := openAll(t, srv, wire); string(got) != "before after" {
				t.Fatalf("Open = %q", got)
			}
			if r, _ := srv.Seq(); r != 1 {
				t.Fatalf("read sequence %d: the key did not change at the KeyUpdate", r)
			}
			if srv.Pending() {
				t.Fatal("update_not_requested made the layer owe a KeyUpdate")
			}
		})
	}
}

func TestKeyUpdateCoalesced(t *testing.T) {
	ticket := func(n int) []byte {
		return append([]byte{msgNewSessionTicket, 0, byte(n >> 8), byte(n)}, testBytes(n)...)
	}
	ku := []byte{msgKeyUpdate, 0, 0, 1, 1}

	t.Run("ticket and KeyUpdate in one record", func(t *testing.T) {
		cli, srv := layerPair(t, tls.TLS_CHACHA20_POLY1305_SHA256)
		wire := hsRecord(srv, append(ticket(40), ku...)...)
		srv.out.update(srv.p)
		wire = srv.Seal(wire, []byte("after"), nil)
		if got := openAll(t, cli, wire); string(got) != "after" {
			t.Fatalf("Open = %q", got)
		}
		if !cli.Pending() {
			t.Fatal("update_requested was lost")
		}
	})

	t.Run("ticket over records, KeyUpdate ending the last", func(t *testing.T) {
		cli, srv := layerPair(t, tls.TLS_AES_256_GCM_SHA384)
		msgs := append(ticket(3000), ticket(10)...)
		msgs = append(msgs, ku...)
		var wire []byte
		for len(msgs) > 0 {
			n := min(len(msgs), 700)
			wire = append(wire, hsRecord(srv, msgs[:n]...)...)
			msgs = msgs[n:]
		}
		srv.out.update(srv.p)
		wire = srv.Seal(wire, []byte("after"), nil)
		if got := openAll(t, cli, wire); string(got) != "after" {
			t.Fatalf("Open = %q", got)
		}
	})
}

func TestKeyUpdateRequested(t *testing.T) {
	for _, s := range testSuites {
		t.Run(s.name, func(t *testing.T) {
			cli, srv := layerPair(t, s.id)
			if srv.Pending() {
				t.Fatal("Pending before any request")
			}
			req := cli.AppendKeyUpdate(nil, true)
			if inner := openRaw(t, newLayer(t, s.id, false), req); !bytes.Equal(inner, []byte{msgKeyUpdate, 0, 0, 1, 1, contentHandshake}) {
				t.Fatalf("AppendKeyUpdate sealed %x", inner)
			}
			if got := openAll(t, srv, req); len(got) != 0 {
				t.Fatalf("a KeyUpdate gave %q", got)
			}
			if !srv.Pending() {
				t.Fatal("update_requested did not make the layer owe a KeyUpdate")
			}

			// The answer goes before the next record, and the peer reads both.
			wire := srv.Seal(nil, []byte("answer"), nil)
			if n := len(splitRecords(t, wire)); n != 2 {
				t.Fatalf("%d records, want the KeyUpdate and the data", n)
			}
			if inner := openRaw(t, newLayer(t, s.id, true), wire[:keyUpdateLen]); !bytes.Equal(inner, []byte{msgKeyUpdate, 0, 0, 1, 0, contentHandshake}) {
				t.Fatalf("the answer is %x, not update_not_requested", inner)
			}
			if srv.Pending() {
				t.Fatal("still Pending after answering")
			}
			if got := openAll(t, cli, wire); string(got) != "answer" {
				t.Fatalf("Open = %q", got)
			}
			if r, _ := cli.Seq(); r != 1 {
				t.Fatalf("client read sequence %d: it did not update its read key", r)
			}
			if cli.Pending() {
				t.Fatal("update_not_requested made the client owe one")
			}

			// Three requests, one answer.
			var reqs []byte
			for range 3 {
				reqs = cli.AppendKeyUpdate(reqs, true)
			}
			openAll(t, srv, reqs)
			if got := srv.Seal(nil, nil, nil); len(got) != keyUpdateLen {
				t.Fatalf("Seal of nothing appended %d bytes, want one KeyUpdate", len(got))
			} else {
				openAll(t, cli, got)
			}
			if got := srv.AppendPending(nil); len(got) != 0 {
				t.Fatalf("a second answer of %d bytes", len(got))
			}
			if got := openAll(t, cli, srv.Seal(nil, []byte("x"), nil)); string(got) != "x" {
				t.Fatalf("Open = %q", got)
			}
		})
	}
}

func TestRekeyLimit(t *testing.T) {
	cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	cli.rekeyAt = 3
	var wire, want []byte
	for i := range 10 {
		msg := []byte(fmt.Sprint(i))
		want = append(want, msg...)
		wire = cli.Seal(wire, msg, nil)
		if _, w := cli.Seq(); w > 3 {
			t.Fatalf("write sequence %d under one key", w)
		}
	}
	// One large write crosses the limit twice.
	big := testBytes(5 * MaxPlaintext)
	want = append(want, big...)
	wire = cli.Seal(wire, big, nil)
	if got := openAll(t, srv, wire); !bytes.Equal(got, want) {
		t.Fatal("data lost over the KeyUpdates")
	}
	// 15 data records, a KeyUpdate after every 3.
	if n := len(splitRecords(t, wire)); n != 15+4 {
		t.Fatalf("%d records, want 15 and 4 KeyUpdates", n)
	}
	if srv.Pending() {
		t.Fatal("the sender's own KeyUpdates asked for answers")
	}
}

func TestNewRefuses(t *testing.T) {
	s32, s48 := make([]byte, 32), make([]byte, 48)
	for _, c := range []struct {
		name string
		s    Secrets
	}{
		{"TLS 1.2 suite", Secrets{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, s32, s32}},
		{"CCM", Secrets{0x1304, s32, s32}},
		{"SHA-384 secret for SHA-256", Secrets{tls.TLS_AES_128_GCM_SHA256, s48, s32}},
		{"SHA-256 secret for SHA-384", Secrets{tls.TLS_AES_256_GCM_SHA384, s48, s32}},
		{"short", Secrets{tls.TLS_CHACHA20_POLY1305_SHA256, s32, s32[:31]}},
	} {
		if _, err := New(c.s, false, 0); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestWriteSeq(t *testing.T) {
	cs, ss := testSecrets(tls.TLS_AES_256_GCM_SHA384)
	srv, err := New(Secrets{Suite: tls.TLS_AES_256_GCM_SHA384, Read: cs, Write: ss}, false, 5)
	if err != nil {
		t.Fatal(err)
	}
	wire := srv.Seal(nil, []byte("x"), nil)
	if r, w := srv.Seq(); r != 0 || w != 6 {
		t.Fatalf("Seq = %d, %d", r, w)
	}
	cli := newLayer(t, tls.TLS_AES_256_GCM_SHA384, true)
	_, _, err = cli.Open(bytes.Clone(wire))
	wantAlert(t, err, AlertBadRecordMAC) // sequence 0 is not 5
	cli = newLayer(t, tls.TLS_AES_256_GCM_SHA384, true)
	cli.in.seq = 5
	if got := openAll(t, cli, wire); string(got) != "x" {
		t.Fatalf("Open = %q", got)
	}
}

func TestPaddingAndEmpty(t *testing.T) {
	cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	wire := rawRecord(cli, contentAppData)
	wire = append(wire, rawRecord(cli, append([]byte("padded"), contentAppData, 0, 0, 0)...)...)
	wire = append(wire, rawRecord(cli, append(testBytes(MaxPlaintext), contentAppData)...)...)
	got := openAll(t, srv, wire)
	if want := append([]byte("padded"), testBytes(MaxPlaintext)...); !bytes.Equal(got, want) {
		t.Fatal("padded or full records came back different")
	}
}

func TestCool(t *testing.T) {
	cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	if cli.Cool() {
		t.Fatal("Cool kept AEADs nothing used")
	}
	wire := cli.Seal(nil, []byte("one"), nil)
	if !cli.Cool() {
		t.Fatal("Cool dropped an AEAD used since the last Cool")
	}
	if cli.out.aead == nil || cli.in.aead != nil {
		t.Fatal("Cool kept or dropped the wrong AEAD")
	}
	if cli.Cool() {
		t.Fatal("the second Cool kept an AEAD unused since the first")
	}
	wire = cli.Seal(wire, []byte(" two"), nil)
	srv.Cool()
	if got := openAll(t, srv, wire); string(got) != "one two" {
		t.Fatalf("Open = %q", got)
	}
}

func TestAlerts(t *testing.T) {
	if s := AlertBadRecordMAC.String(); s != "bad_record_mac" {
		t.Errorf("String = %q", s)
	}
	if s := Alert(255).String(); s != "alert(255)" {
		t.Errorf("String = %q", s)
	}
	for _, c := range []struct {
		a     Alert
		level byte
	}{{AlertCloseNotify, 1}, {AlertUserCanceled, 1}, {AlertInternalError, 2}, {AlertDecodeError, 2}} {
		cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
		rec := cli.AppendAlert(nil, c.a)
		if inner := openRaw(t, srv, rec); !bytes.Equal(inner, []byte{c.level, byte(c.a), contentAlert}) {
			t.Errorf("%v: sealed %x", c.a, inner)
		}
	}
}

func TestCloseNotify(t *testing.T) {
	cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	wire := cli.Seal(nil, []byte("last words"), nil)
	wire = cli.AppendAlert(wire, AlertCloseNotify)
	wire = cli.Seal(wire, []byte(" and more"), nil)
	plain, _, err := srv.Open(wire)
	if !errors.Is(err, ErrCloseNotify) || string(plain) != "last words" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	plain, _, err = srv.Open(cli.Seal(nil, []byte("late"), nil))
	if !errors.Is(err, ErrCloseNotify) || len(plain) != 0 {
		t.Fatalf("Open after close_notify = %q, %v", plain, err)
	}
}

func TestRemoteAlert(t *testing.T) {
	for _, a := range []Alert{AlertBadRecordMAC, AlertUserCanceled, Alert(200)} {
		cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
		wire := cli.Seal(nil, []byte("data"), nil)
		wire = cli.AppendAlert(wire, a)
		plain, _, err := srv.Open(wire)
		var ae *AlertError
		if !errors.As(err, &ae) || ae.Alert != a || !ae.Remote || string(plain) != "data" {
			t.Fatalf("Open = %q, %v; want the peer's %v", plain, err, a)
		}
		if _, _, err2 := srv.Open(cli.Seal(nil, []byte("x"), nil)); err2 != err {
			t.Fatalf("a second Open: %v", err2)
		}
	}
}

// TestOpenRefuses sends a good record and then a bad one: the good one's
// data comes out, the bad one's does not, and the error sticks.
func TestOpenRefuses(t *testing.T) {
	flip := func(rec []byte, i int) []byte { rec[i] ^= 0x10; return rec }
	big := testBytes(MaxPlaintext + 1)
	for _, c := range []struct {
		name   string
		client bool // the reading layer is a client's
		bad    func(from *Conn) []byte
		want   Alert
	}{
		{"version bit", false, func(f *Conn) []byte { return flip(f.Seal(nil, []byte("x"), nil), 2) }, AlertBadRecordMAC},
		{"length less one", false, func(f *Conn) []byte {
			r := f.Seal(nil, []byte("xy"), nil)
			r[4]--
			return r[:len(r)-1]
		}, AlertBadRecordMAC},
		{"body bit", false, func(f *Conn) []byte { return flip(f.Seal(nil, []byte("xyz"), nil), HeaderLen) }, AlertBadRecordMAC},
		{"tag bit", false, func(f *Conn) []byte { r := f.Seal(nil, []byte("xyz"), nil); return flip(r, len(r)-1) }, AlertBadRecordMAC},
		{"body shorter than a tag and a type", false, func(*Conn) []byte { return append([]byte{23, 3, 3, 0, 16}, make([]byte, 16)...) }, AlertBadRecordMAC},
		{"body over MaxCiphertext", false, func(*Conn) []byte {
			return []byte{23, 3, 3, byte((MaxCiphertext + 1) >> 8), byte((MaxCiphertext + 1) & 0xff)}
		}, AlertRecordOverflow},
		{"content over MaxPlaintext", false, func(f *Conn) []byte { return rawRecord(f, append(big, contentAppData)...) }, AlertRecordOverflow},
		{"padding over MaxPlaintext", false, func(f *Conn) []byte { return rawRecord(f, append(big[:MaxPlaintext], contentAppData, 0)...) }, AlertRecordOverflow},
		{"change_cipher_spec", false, func(*Conn) []byte { return []byte{20, 3, 3, 0, 1, 1} }, AlertUnexpectedMessage},
		{"unprotected alert", false, func(*Conn) []byte { return []byte{21, 3, 3, 0, 2, 2, 40} }, AlertUnexpectedMessage},
		{"unprotected handshake", false, func(*Conn) []byte { return []byte{22, 3, 3, 0, 5, 24, 0, 0, 1, 0} }, AlertUnexpectedMessage},
		{"outer type byte alone", false, func(*Conn) []byte { return []byte{22} }, AlertUnexpectedMessage},
		{"inner plaintext of zeros", false, func(f *Conn) []byte { return rawRecord(f, 0, 0, 0, 0) }, AlertUnexpectedMessage},
		{"unknown inner type", false, func(f *Conn) []byte { return rawRecord(f, 'x', 24) }, AlertUnexpectedMessage},
		{"change_cipher_spec inside", false, func(f *Conn) []byte { return rawRecord(f, 1, contentChangeCipherSpec) }, AlertUnexpectedMessage},
		{"empty handshake", false, func(f *Conn) []byte { return rawRecord(f, contentHandshake) }, AlertUnexpectedMessage},
		{"empty alert", false, func(f *Conn) []byte { return rawRecord(f, contentAlert) }, AlertUnexpectedMessage},
		{"alert of 1 byte", false, func(f *Conn) []byte { return rawRecord(f, 0, contentAlert) }, AlertDecodeError},
		{"alert of 3 bytes", false, func(f *Conn) []byte { return rawRecord(f, 1, 0, 0, contentAlert) }, AlertDecodeError},
		{"KeyUpdate of 2 bytes", false, func(f *Conn) []byte { return hsRecord(f, msgKeyUpdate, 0, 0, 2, 0, 0) }, AlertDecodeError},
		{"KeyUpdate of 0 bytes", false, func(f *Conn) []byte { return hsRecord(f, msgKeyUpdate, 0, 0, 0) }, AlertDecodeError},
		{"KeyUpdate of 2", false, func(f *Conn) []byte { return hsRecord(f, msgKeyUpdate, 0, 0, 1, 2) }, AlertIllegalParameter},
		{"two KeyUpdates in a record", false, func(f *Conn) []byte { return hsRecord(f, 24, 0, 0, 1, 0, 24, 0, 0, 1, 0) }, AlertUnexpectedMessage},
		{"KeyUpdate and a byte more", false, func(f *Conn) []byte { return hsRecord(f, 24, 0, 0, 1, 1, 24) }, AlertUnexpectedMessage},
		{"Finished", false, func(f *Conn) []byte { return hsRecord(f, append([]byte{20, 0, 0, 32}, make([]byte, 32)...)...) }, AlertUnexpectedMessage},
		{"ClientHello", false, func(f *Conn) []byte { return hsRecord(f, 1, 0, 0, 0) }, AlertUnexpectedMessage},
		{"NewSessionTicket to a server", false, func(f *Conn) []byte { return hsRecord(f, msgNewSessionTicket, 0, 0, 20) }, AlertUnexpectedMessage},
		{"NewSessionTicket over 64 KiB", true, func(f *Conn) []byte { return hsRecord(f, msgNewSessionTicket, 1, 0, 1) }, AlertDecodeError},
		{"data inside a handshake message", true, func(f *Conn) []byte {
			r := hsRecord(f, msgNewSessionTicket, 0, 0, 20, 1, 2)
			return f.Seal(r, []byte("x"), nil)
		}, AlertUnexpectedMessage},
		{"alert inside a handshake message", false, func(f *Conn) []byte {
			return f.AppendAlert(hsRecord(f, msgKeyUpdate, 0), AlertCloseNotify)
		}, AlertUnexpectedMessage},
	} {
		t.Run(c.name, func(t *testing.T) {
			from, to := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
			if c.client {
				from, to = to, from
			}
			wire := from.Seal(nil, []byte("good"), nil)
			good := len(wire)
			wire = append(wire, c.bad(from)...)
			plain, used, err := to.Open(wire)
			wantAlert(t, err, c.want)
			if string(plain) != "good" {
				t.Fatalf("Open = %q, want only the good record's data", plain)
			}
			if used < good || used >= len(wire) {
				t.Fatalf("used %d of %d", used, len(wire))
			}
			plain, _, err2 := to.Open(from.Seal(nil, []byte("more"), nil))
			if err2 != err || len(plain) != 0 {
				t.Fatalf("the next Open = %q, %v", plain, err2)
			}
		})
	}
}

// TestEveryBitFlipped flips each bit of a record but its type and length
// bytes: each one fails authentication and returns nothing of the record.
func TestEveryBitFlipped(t *testing.T) {
	for _, s := range testSuites {
		cli := newLayer(t, s.id, true)
		rec := cli.Seal(nil, []byte("a secret"), nil)
		for bit := 8; bit < len(rec)*8; bit++ {
			if i := bit / 8; i == 3 || i == 4 {
				continue
			}
			bad := bytes.Clone(rec)
			bad[bit/8] ^= 1 << (bit % 8)
			srv := newLayer(t, s.id, false)
			plain, _, err := srv.Open(bad)
			wantAlert(t, err, AlertBadRecordMAC)
			if len(plain) != 0 {
				t.Fatalf("%s bit %d: Open returned %q", s.name, bit, plain)
			}
		}
	}
}

// TestWipe: a wiped layer holds no key material and no cipher, and opens
// nothing more.
func TestWipe(t *testing.T) {
	cli, srv := layerPair(t, tls.TLS_AES_128_GCM_SHA256)
	wire := cli.Seal(nil, []byte("before"), nil)
	srv.Wipe()
	for _, d := range []*direction{&srv.in, &srv.out} {
		if d.secret != [48]byte{} || d.key != [32]byte{} || d.iv != [12]byte{} || d.aead != nil {
			t.Fatal("key material left after Wipe")
		}
	}
	if srv.Cool() {
		t.Fatal("a wiped layer still holds a cipher")
	}
	if plain, _, err := srv.Open(wire); err == nil || len(plain) != 0 {
		t.Fatalf("Open after Wipe: %q, %v", plain, err)
	}
}
