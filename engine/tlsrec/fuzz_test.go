package tlsrec

import (
	"bytes"
	"crypto/tls"
	"errors"
	"sync"
	"testing"
)

// fuzzStream is the one stream of records the fuzz seeds are cut from: a
// client's records of a known plaintext, with a requested KeyUpdate, a
// padded and an empty record among them, and a close_notify at the end.
// Every seed comes from this stream, so that a record the fuzzer moves
// from one seed into another still carries, at its sequence number, the
// same bytes of the known plaintext.
var fuzzStream = sync.OnceValues(func() (wire, plain []byte) {
	cli, err := New(fuzzSecrets(true), true, 0)
	if err != nil {
		panic(err)
	}
	for i, n := range []int{0, 1, 16, 100, 3, 600, 40} {
		msg := testBytes(n)
		for j := range msg {
			msg[j] += byte(len(plain))
		}
		plain = append(plain, msg...)
		wire = cli.Seal(wire, msg, nil)
		switch i {
		case 2:
			wire = cli.AppendKeyUpdate(wire, true)
		case 4:
			wire = append(wire, rawRecord(cli, contentAppData)...)
			wire = append(wire, rawRecord(cli, append([]byte("pad"), contentAppData, 0, 0)...)...)
			plain = append(plain, "pad"...)
		}
	}
	wire = cli.AppendAlert(wire, AlertCloseNotify)
	return wire, plain
})

func fuzzSecrets(client bool) Secrets {
	cs, ss := testSecrets(tls.TLS_AES_128_GCM_SHA256)
	if client {
		return Secrets{Suite: tls.TLS_AES_128_GCM_SHA256, Read: ss, Write: cs}
	}
	return Secrets{Suite: tls.TLS_AES_128_GCM_SHA256, Read: cs, Write: ss}
}

// FuzzOpen feeds a server's layer arbitrary bytes, in one piece or two,
// and checks that what comes out is a prefix of the known plaintext: a
// byte that was not sealed by the peer never comes out.
func FuzzOpen(f *testing.F) {
	wire, _ := fuzzStream()
	f.Add(wire, uint16(0))
	f.Add(wire, uint16(7))
	f.Add(wire, uint16(len(wire)/2))
	for n := 0; n < len(wire); n += RecordLen(wire[n:]) {
		f.Add(wire[:n], uint16(n/2))
		f.Add(append(bytes.Clone(wire[:n]), 0x17, 3, 3, 0), uint16(n))
	}
	f.Add([]byte{0x17, 3, 3, 0x41, 1}, uint16(3))
	f.Add([]byte{0x14, 3, 3, 0, 1, 1}, uint16(0))

	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		_, plain := fuzzStream()
		srv, err := New(fuzzSecrets(false), false, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		first := bytes.Clone(data[:int(cut)%(len(data)+1)])
		out, used, err := srv.Open(first)
		got = append(got, out...)
		if used > len(first) {
			t.Fatalf("used %d of %d", used, len(first))
		}
		if err == nil {
			second := append(bytes.Clone(first[used:]), data[len(first):]...)
			out, used, err = srv.Open(second)
			got = append(got, out...)
			if used > len(second) {
				t.Fatalf("used %d of %d", used, len(second))
			}
		}
		if !bytes.HasPrefix(plain, got) {
			t.Fatalf("Open returned %x, not a prefix of what was sealed", got)
		}
		if err != nil {
			var ae *AlertError
			if !errors.Is(err, ErrCloseNotify) && !errors.As(err, &ae) {
				t.Fatalf("an error that is no alert: %v", err)
			}
			if out, _, err2 := srv.Open(bytes.Clone(data)); err2 != err || len(out) != 0 {
				t.Fatalf("after %v, Open returned %x, %v", err, out, err2)
			}
		}
	})
}
