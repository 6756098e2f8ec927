package tlsrec

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Transport is the net.Conn that crypto/tls runs its handshake over, and,
// for a connection that keeps its tls.Conn (TLS 1.2, or a client that
// wants the session tickets that come later), its records after.
//
// During the handshake it is the socket itself, blocking, in a goroutine
// of its own (a TLS worker, or a client's dialer); the handshake's
// deadline is the socket's. It reads the socket into a buffer of its own
// and gives crypto/tls at most one record per Read, so crypto/tls never
// holds a byte past the record it is reading: what the peer sent after its
// last handshake record (often the HTTP upgrade, in the same segment as
// the client's Finished) stays here, for Leftover.
//
// Once the connection is on its event loop (Attach), it reads the raw bytes
// the loop hands it (SetInput) and writes to the loop's connection; when no
// byte is left, Read returns ErrWouldBlock, a temporary net.Error, which
// crypto/tls takes as "try again later" without failing the connection.
// After Attach, it is touched only on the connection's loop.
type Transport struct {
	nc     net.Conn  // the socket, until the loop takes over
	out    io.Writer // the connection on its loop (gnet.Conn), after
	in     []byte    // raw bytes the loop has read, while it reads
	kept   []byte    // raw bytes no Read has taken, from before the last SetInput
	joined bool      // the last SetInput's bytes were joined to kept ones
	local  net.Addr
	remote net.Addr
	client bool

	// During the handshake.
	buf     *[]byte // read from the socket: buf[off:] not given to crypto/tls yet
	off     int
	left    int    // bytes of the record being read crypto/tls may still take
	keys    keyLog // the application traffic secrets, from KeyLogWriter
	written []byte // what crypto/tls wrote once our write secret was known
	err     error  // the first error of a handshake read or write
	hsDone  bool   // Finish was called
}

// NewTransport returns the transport of socket nc, for its handshake, on
// the client's side or the server's.
func NewTransport(nc net.Conn, client bool) *Transport {
	t := &Transport{nc: nc, local: nc.LocalAddr(), remote: nc.RemoteAddr(), client: client}
	t.keys.t = t
	return t
}

// readBufs are the handshake's read buffers: a ClientHello with a
// post-quantum key share, or a server's certificate flight, fits in one.
var readBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

// fill reads more of the socket into t.buf, keeping what is unread.
// Called during the handshake.
func (t *Transport) fill() error {
	if t.buf == nil {
		t.buf = readBufs.Get().(*[]byte)
		*t.buf = (*t.buf)[:0]
		t.off = 0
	}
	b := *t.buf
	if t.off == len(b) {
		b, t.off = b[:0], 0
	} else if len(b) == cap(b) {
		b, t.off = b[:copy(b, b[t.off:])], 0
	}
	n, err := t.nc.Read(b[len(b):cap(b)])
	*t.buf = b[:len(b)+n]
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Read is called by crypto/tls: in a TLS worker or dialer while
// handshaking, on the loop after Attach.
func (t *Transport) Read(p []byte) (int, error) {
	if t.nc == nil {
		if len(t.in) == 0 {
			return 0, ErrWouldBlock
		}
		n := copy(p, t.in)
		t.in = t.in[n:]
		return n, nil
	}
	if t.err != nil {
		return 0, t.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	for t.left == 0 {
		// At a record boundary: learn the next record's length.
		if t.buf != nil && len(*t.buf)-t.off >= HeaderLen {
			t.left = RecordLen((*t.buf)[t.off:])
			break
		}
		if err := t.fill(); err != nil {
			t.err = err
			return 0, err
		}
	}
	if len(*t.buf) == t.off {
		if err := t.fill(); err != nil {
			t.err = err
			return 0, err
		}
	}
	n := copy(p[:min(len(p), t.left)], (*t.buf)[t.off:])
	t.off += n
	t.left -= n
	return n, nil
}

// Write is called by crypto/tls: in a TLS worker or dialer while
// handshaking, on the loop after Attach, where gnet queues what the socket
// does not take at once.
func (t *Transport) Write(p []byte) (int, error) {
	if t.nc == nil {
		return t.out.Write(p)
	}
	if t.keys.write != nil && !t.hsDone {
		// Some of these records may be under our application key
		// already (a server's session tickets): Finish counts them.
		if len(t.written)+len(p) > maxWritten {
			t.err = errors.New("tlsrec: handshake wrote too much after its keys")
			return 0, t.err
		}
		t.written = append(t.written, p...)
	}
	return t.nc.Write(p)
}

// maxWritten bounds what a handshake may write once its application keys
// are known: a certificate flight and a session ticket or two.
const maxWritten = 256 << 10

// Close closes the socket of a handshake that is abandoned. On the loop the
// engine closes the connection itself, so Close does nothing there.
func (t *Transport) Close() error {
	if t.nc != nil {
		return t.nc.Close()
	}
	return nil
}

func (t *Transport) LocalAddr() net.Addr  { return t.local }
func (t *Transport) RemoteAddr() net.Addr { return t.remote }

// Deadlines apply to the handshake; on the loop, the engine's own
// deadlines do.
func (t *Transport) SetDeadline(d time.Time) error {
	if t.nc != nil {
		return t.nc.SetDeadline(d)
	}
	return nil
}

func (t *Transport) SetReadDeadline(d time.Time) error {
	if t.nc != nil {
		return t.nc.SetReadDeadline(d)
	}
	return nil
}

func (t *Transport) SetWriteDeadline(d time.Time) error {
	if t.nc != nil {
		return t.nc.SetWriteDeadline(d)
	}
	return nil
}

// Attach hands the transport of a connection that keeps its tls.Conn to the
// connection's loop: from then on it reads what SetInput gives it, after
// what the handshake left over, and writes to out (the gnet.Conn, which
// queues what the socket does not take at once). Call Finish first.
// Called on the loop.
func (t *Transport) Attach(out io.Writer) {
	t.nc, t.out = nil, out
}

// SetInput gives the transport the raw bytes the loop has read, for the
// reads that follow, behind any kept from before. raw is borrowed: call
// Consumed before the loop's buffer changes. Called on the loop.
func (t *Transport) SetInput(raw []byte) {
	if len(t.kept) == 0 {
		t.in, t.joined = raw, false
		return
	}
	t.in = append(t.kept, raw...)
	t.kept, t.joined = nil, true
}

// Consumed ends the reads of the last SetInput and returns how many of its
// raw bytes the loop may discard. Bytes not read yet (an incomplete record)
// stay in the loop's buffer, or, when they were joined to bytes kept from
// before, are kept here. Called on the loop.
func (t *Transport) Consumed(raw []byte) int {
	defer func() { t.in, t.joined = nil, false }()
	if !t.joined {
		return len(raw) - len(t.in)
	}
	if len(t.in) > 0 {
		t.kept = append([]byte(nil), t.in...)
	}
	return len(raw)
}

// Kept returns how many raw bytes the Transport holds that no Read has
// taken: at first, what the handshake left over. Called on the loop.
func (t *Transport) Kept() int { return len(t.kept) }

// ErrWouldBlock is what an attached Transport's Read returns when no input
// is left: crypto/tls returns it from tls.Conn.Read too, and the
// connection stays usable.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "tlsrec: no TLS bytes buffered" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }
