// Package tlsrec is wss://'s TLS after the handshake: the transport that
// crypto/tls handshakes over, the hand-off of a TLS 1.3 connection's keys
// from crypto/tls, and the TLS 1.3 record layer (RFC 8446 section 5) that
// protects its records from then on, on an event loop. The server and the
// load generator both use it.
//
// # The hand-off
//
// crypto/tls does every handshake, with the server's configuration
// (certificates, policy, ALPN, session tickets and resumption, curves), in
// a goroutine that may block: a TLS worker, or a client's dialer. It runs
// over a Transport, which reads the socket for it and gives it at most one
// record per Read, so what the peer sends after its Finished (the HTTP
// upgrade, often in the same segment) stays with the Transport instead of
// in crypto/tls's buffer. ServerConfig (and Transport.ClientConfig) point
// each handshake's Config.KeyLogWriter at its own Transport, which keeps
// the two application traffic secrets in memory; they are never written
// anywhere. Transport.Finish then builds the record layer from them: for
// TLS 1.3 the tls.Conn, and every buffer it holds, is dropped. The records
// crypto/tls already sealed with the new keys (a server's session
// tickets, sent with its first flight) are counted by opening them as the
// peer would, so the write sequence goes on from the right number. TLS 1.2
// connections, and clients that want the tickets that arrive later, keep
// their tls.Conn over the Transport, which the loop feeds
// (Attach, SetInput, Consumed).
//
// # Records
//
// A Conn holds a connection's keys: per direction, the traffic secret
// (for KeyUpdate), the key, the IV and the sequence number. Records are
// opened in place, in the buffer the loop read them into: the first
// record's application data stays where it was decrypted and the others'
// is moved up behind it, so a message that arrived whole is read by the
// frame codec where it lies; Stream keeps an
// incomplete record between reads, in a buffer of that record's size, and
// nothing else. Writes seal straight into the buffer that goes to the
// socket: one copy of the plaintext, made by the encryption itself. The
// AEADs are built on first use and dropped by Cool when the connection
// has been quiet, so an idle connection holds its keys and no expanded
// cipher state.
//
// After the handshake a peer may send application data, alerts
// (close_notify is the clean end; any other ends the connection) and
// KeyUpdate, which updates the read key and, when the peer asks, makes
// the layer owe a KeyUpdate of its own, sent before its next record and
// once however many requests came. Anything else is unexpected_message.
// A record that fails to authenticate is bad_record_mac: none of its bytes
// come out, and the layer is done. The write direction updates its own key
// well before the AEAD limits of RFC 8446 section 5.5.
//
// # Kernel TLS
//
// Linux's kernel TLS (kTLS) can take over the same job from the same
// secrets: once Finish has the key, IV and sequence number of each
// direction, setsockopt(fd, SOL_TCP, TCP_ULP, "tls") and then
// setsockopt(fd, SOL_TLS, TLS_TX or TLS_RX, crypto_info) with a
// tls12_crypto_info_aes_gcm_128 (or _256, or chacha20_poly1305) for version
// TLS_1_3_VERSION, filled with the key, the IV's last 8 bytes as iv, its
// first 4 as salt and the big-endian sequence number as rec_seq, move the
// record layer into the kernel: the loop then reads and writes plaintext,
// and sendfile and splice work on wss://. Records that are not application
// data reach user space through recvmsg's TLS_GET_RECORD_TYPE control
// message, so KeyUpdate needs the kernel's TLS_TX/TLS_RX rekeying (Linux
// 6.13 and later) or the connection must end before its keys wear out.
// wssd does not do this yet; this package is where it would go.
package tlsrec
