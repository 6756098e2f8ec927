package tlsrec

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// The values below are from RFC 8448, section 3 ("Simple 1-RTT
// Handshake"), which uses TLS_AES_128_GCM_SHA256. The records were sent in
// this order, each direction counting from sequence 0 under its
// application traffic key: the server's NewSessionTicket (server 0), the
// client's application data (client 0), the server's (server 1), the
// client's close_notify (client 1), the server's (server 2).
const (
	// {server}  derive secret "tls13 c ap traffic": expanded (32 octets)
	rfc8448ClientSecret = `9e 40 64 6c e7 9a 7f 9d c0 5a f8 88 9b ce 65 52
		87 5a fa 0b 06 df 00 87 f7 92 eb b7 c1 75 04 a5`
	// {server}  derive secret "tls13 s ap traffic": expanded (32 octets)
	rfc8448ServerSecret = `a1 1a f9 f0 55 31 f8 56 ad 47 11 6b 45 a9 50 32
		82 04 b4 f4 4b fb 6b 3a 4b 4f 1f 3f cb 63 16 43`

	// {server}  derive write traffic keys for application data
	rfc8448ServerKey = `9f 02 28 3b 6c 9c 07 ef c2 6b b9 f2 ac 92 e3 56`
	rfc8448ServerIV  = `cf 78 2b 88 dd 83 54 9a ad f1 e9 84`
	// {client}  derive write traffic keys for application data
	rfc8448ClientKey = `17 42 2d da 59 6e d5 d9 ac d8 90 e3 c6 3f 50 51`
	rfc8448ClientIV  = `5b 78 92 3d ee 08 57 90 33 e5 23 d9`

	// {server}  construct a NewSessionTicket handshake message (205 octets)
	rfc8448Ticket = `04 00 00 c9 00 00 00 1e fa d6 aa
		c5 02 00 00 00 b2 2c 03 5d 82 93 59 ee 5f f7 af 4e c9 00 00 00
		00 26 2a 64 94 dc 48 6d 2c 8a 34 cb 33 fa 90 bf 1b 00 70 ad 3c
		49 88 83 c9 36 7c 09 a2 be 78 5a bc 55 cd 22 60 97 a3 a9 82 11
		72 83 f8 2a 03 a1 43 ef d3 ff 5d d3 6d 64 e8 61 be 7f d6 1d 28
		27 db 27 9c ce 14 50 77 d4 54 a3 66 4d 4e 6d a4 d2 9e e0 37 25
		a6 a4 da fc d0 fc 67 d2 ae a7 05 29 51 3e 3d a2 67 7f a5 90 6c
		5b 3f 7d 8f 92 f2 28 bd a4 0d da 72 14 70 f9 fb f2 97 b5 ae a6
		17 64 6f ac 5c 03 27 2e 97 07 27 c6 21 a7 91 41 ef 5f 7d e6 50
		5e 5b fb c3 88 e9 33 43 69 40 93 93 4a e4 d3 57 00 08 00 2a 00
		04 00 00 04 00`
	// {server}  send handshake record: complete record (227 octets)
	rfc8448TicketRecord = `17 03 03 00 de 3a 6b 8f 90 41 4a 97 d6 95 9c 34
		87 68 0d e5 13 4a 2b 24 0e 6c ff ac 11 6e 95 d4 1d 6a f8 f6 b5
		80 dc f3 d1 1d 63 c7 58 db 28 9a 01 59 40 25 2f 55 71 3e 06 1d
		c1 3e 07 88 91 a3 8e fb cf 57 53 ad 8e f1 70 ad 3c 73 53 d1 6d
		9d a7 73 b9 ca 7f 2b 9f a1 b6 c0 d4 a3 d0 3f 75 e0 9c 30 ba 1e
		62 97 2a c4 6f 75 f7 b9 81 be 63 43 9b 29 99 ce 13 06 46 15 13
		98 91 d5 e4 c5 b4 06 f1 6e 3f c1 81 a7 7c a4 75 84 00 25 db 2f
		0a 77 f8 1b 5a b0 5b 94 c0 13 46 75 5f 69 23 2c 86 51 9d 86 cb
		ee ac 87 aa c3 47 d1 43 f9 60 5d 64 f6 50 db 4d 02 3e 70 e9 52
		ca 49 fe 51 37 12 1c 74 bc 26 97 68 7e 24 87 46 d6 df 35 30 05
		f3 bc e1 86 96 12 9c 81 53 55 6b 3b 6c 67 79 b3 7b f1 59 85 68
		4f`

	// {client}  send application_data record: complete record (72 octets);
	// its payload (50 octets) is 00 01 02 ... 31, as is the server's.
	rfc8448ClientData = `17 03 03 00 43 a2 3f 70 54 b6 2c 94 d0 af fa fe
		82 28 ba 55 cb ef ac ea 42 f9 14 aa 66 bc ab 3f 2b 98 19 a8 a5
		b4 6b 39 5b d5 4a 9a 20 44 1e 2b 62 97 4e 1f 5a 62 92 a2 97 70
		14 bd 1e 3d ea e6 3a ee bb 21 69 49 15 e4`
	// {server}  send application_data record: complete record (72 octets)
	rfc8448ServerData = `17 03 03 00 43 2e 93 7e 11 ef 4a c7 40 e5 38 ad
		36 00 5f c4 a4 69 32 fc 32 25 d0 5f 82 aa 1b 36 e3 0e fa f9 7d
		90 e6 df fc 60 2d cb 50 1a 59 a8 fc c4 9c 4b f2 e5 f0 a2 1c 00
		47 c2 ab f3 32 54 0d d0 32 e1 67 c2 95 5d`

	// {client}  send alert record: payload 01 00, complete record (24 octets)
	rfc8448ClientAlert = `17 03 03 00 13 c9 87 27 60 65 56 66 b7 4d 7f f1
		15 3e fd 6d b6 d0 b0 e3`
	// {server}  send alert record: payload 01 00, complete record (24 octets)
	rfc8448ServerAlert = `17 03 03 00 13 b5 8f d6 71 66 eb f5 99 d2 47 20
		cf be 7e fa 7a 88 64 a9`
)

// unhex decodes hex written as the RFC prints it, in pairs and lines.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func rfc8448Payload() []byte {
	p := make([]byte, 50)
	for i := range p {
		p[i] = byte(i)
	}
	return p
}

// rfc8448Layers returns the record layers of the trace's client and
// server, each about to write its first application data record.
func rfc8448Layers(t *testing.T) (client, server *Conn) {
	t.Helper()
	cs, ss := unhex(t, rfc8448ClientSecret), unhex(t, rfc8448ServerSecret)
	client, err := New(Secrets{Suite: tls.TLS_AES_128_GCM_SHA256, Read: ss, Write: cs}, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The server sent its NewSessionTicket under sequence 0.
	server, err = New(Secrets{Suite: tls.TLS_AES_128_GCM_SHA256, Read: cs, Write: ss}, false, 1)
	if err != nil {
		t.Fatal(err)
	}
	return client, server
}

func TestRFC8448Keys(t *testing.T) {
	client, server := rfc8448Layers(t)
	for _, c := range []struct {
		name    string
		d       *direction
		key, iv string
	}{
		{"client write", &client.out, rfc8448ClientKey, rfc8448ClientIV},
		{"client read", &client.in, rfc8448ServerKey, rfc8448ServerIV},
		{"server write", &server.out, rfc8448ServerKey, rfc8448ServerIV},
		{"server read", &server.in, rfc8448ClientKey, rfc8448ClientIV},
	} {
		if got, want := c.d.key[:16], unhex(t, c.key); !bytes.Equal(got, want) {
			t.Errorf("%s key = %x, want %x", c.name, got, want)
		}
		if got, want := c.d.iv[:], unhex(t, c.iv); !bytes.Equal(got, want) {
			t.Errorf("%s iv = %x, want %x", c.name, got, want)
		}
	}
}

func TestRFC8448ServerRecords(t *testing.T) {
	client, _ := rfc8448Layers(t)
	var in []byte
	in = append(in, unhex(t, rfc8448TicketRecord)...)
	in = append(in, unhex(t, rfc8448ServerData)...)
	in = append(in, unhex(t, rfc8448ServerAlert)...)
	plain, _, err := client.Open(in)
	if !errors.Is(err, ErrCloseNotify) {
		t.Fatalf("Open: %v, want close_notify", err)
	}
	if !bytes.Equal(plain, rfc8448Payload()) {
		t.Fatalf("Open = %x, want the 50-byte payload", plain)
	}
	if r, _ := client.Seq(); r != 3 {
		t.Errorf("read sequence %d after three records", r)
	}

	// A server's layer does not take a NewSessionTicket.
	_, server := rfc8448Layers(t)
	server.in.set(server.p, unhex(t, rfc8448ServerSecret)) // read as the client does
	_, _, err = server.Open(unhex(t, rfc8448TicketRecord))
	wantAlert(t, err, AlertUnexpectedMessage)
}

func TestRFC8448ClientRecords(t *testing.T) {
	_, server := rfc8448Layers(t)
	var in []byte
	in = append(in, unhex(t, rfc8448ClientData)...)
	in = append(in, unhex(t, rfc8448ClientAlert)...)
	plain, _, err := server.Open(in)
	if !errors.Is(err, ErrCloseNotify) {
		t.Fatalf("Open: %v, want close_notify", err)
	}
	if !bytes.Equal(plain, rfc8448Payload()) {
		t.Fatalf("Open = %x, want the 50-byte payload", plain)
	}
}

func TestRFC8448Seal(t *testing.T) {
	client, server := rfc8448Layers(t)

	got := client.Seal(nil, rfc8448Payload()[:20], rfc8448Payload()[20:])
	got = client.AppendAlert(got, AlertCloseNotify)
	want := append(unhex(t, rfc8448ClientData), unhex(t, rfc8448ClientAlert)...)
	if !bytes.Equal(got, want) {
		t.Errorf("client records:\n got %x\nwant %x", got, want)
	}

	got = server.Seal(nil, rfc8448Payload(), nil)
	got = server.AppendAlert(got, AlertCloseNotify)
	want = append(unhex(t, rfc8448ServerData), unhex(t, rfc8448ServerAlert)...)
	if !bytes.Equal(got, want) {
		t.Errorf("server records:\n got %x\nwant %x", got, want)
	}

	// The ticket, sealed as crypto/tls sealed it, at the server's sequence 0.
	_, server = rfc8448Layers(t)
	server.out.seq = 0
	got = server.appendRecord(nil, contentHandshake, unhex(t, rfc8448Ticket))
	if want := unhex(t, rfc8448TicketRecord); !bytes.Equal(got, want) {
		t.Errorf("ticket record:\n got %x\nwant %x", got, want)
	}
}
