package engine

import (
	"io"
	"net"
	"time"
)

// TLSTransport is the net.Conn that crypto/tls runs over, so that TLS runs
// on an event loop with the standard library (DESIGN rule 5). During the
// handshake it is the socket itself, blocking, in a goroutine of its own
// (a TLS worker, or a client's dialer); the handshake's deadline is the
// socket's. Once the connection is on its event loop (Attach), it reads
// the raw bytes the loop hands it (SetInput) and writes to the loop's
// connection; when no byte is left, Read returns ErrWouldBlock, a
// temporary net.Error, which crypto/tls takes as "try again later"
// without failing the connection. The server uses it under tls.Server,
// the load generator under tls.Client. After Attach, it is touched only on
// the connection's loop.
type TLSTransport struct {
	nc     net.Conn  // the socket, until the loop takes over
	out    io.Writer // the connection on its loop (gnet.Conn), after
	in     []byte    // raw bytes gnet has buffered, while the loop reads
	local  net.Addr
	remote net.Addr
}

// NewTLSTransport returns the transport of socket nc, for its handshake.
func NewTLSTransport(nc net.Conn) *TLSTransport {
	return &TLSTransport{nc: nc, local: nc.LocalAddr(), remote: nc.RemoteAddr()}
}

// Attach hands the transport to the connection's loop: from then on it
// reads what SetInput gives it and writes to out (the gnet.Conn, which
// queues what the socket does not take at once). Called on the loop.
func (t *TLSTransport) Attach(out io.Writer) { t.nc, t.out = nil, out }

// SetInput gives the transport the raw bytes the loop has read, for the
// reads that follow; Unread then says how many of them TLS has not taken
// (an incomplete record, which stays in the loop's buffer). raw is
// borrowed: call SetInput(nil) before the loop's buffer changes. Called on
// the loop.
func (t *TLSTransport) SetInput(raw []byte) { t.in = raw }

// Unread returns how many bytes of the last SetInput TLS has not read.
// Called on the loop.
func (t *TLSTransport) Unread() int { return len(t.in) }

// ErrWouldBlock is what an attached TLSTransport's Read returns when no
// input is left: crypto/tls returns it from tls.Conn.Read too, and the
// connection stays usable.
var ErrWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "engine: no TLS bytes buffered" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Read is called by crypto/tls: in a TLS worker while handshaking, on the
// loop after.
func (t *TLSTransport) Read(p []byte) (int, error) {
	if t.nc != nil {
		return t.nc.Read(p)
	}
	if len(t.in) == 0 {
		return 0, ErrWouldBlock
	}
	n := copy(p, t.in)
	t.in = t.in[n:]
	return n, nil
}

// Write is called by crypto/tls: in a TLS worker while handshaking, on the
// loop after, where gnet queues what the socket does not take at once.
func (t *TLSTransport) Write(p []byte) (int, error) {
	if t.nc != nil {
		return t.nc.Write(p)
	}
	return t.out.Write(p)
}

// Close closes the socket of a handshake that is abandoned. On the loop the
// engine closes the connection itself, so Close does nothing there.
func (t *TLSTransport) Close() error {
	if t.nc != nil {
		return t.nc.Close()
	}
	return nil
}

func (t *TLSTransport) LocalAddr() net.Addr  { return t.local }
func (t *TLSTransport) RemoteAddr() net.Addr { return t.remote }

// Deadlines apply to the handshake; on the loop, the engine's own
// deadlines do.
func (t *TLSTransport) SetDeadline(d time.Time) error {
	if t.nc != nil {
		return t.nc.SetDeadline(d)
	}
	return nil
}

func (t *TLSTransport) SetReadDeadline(d time.Time) error {
	if t.nc != nil {
		return t.nc.SetReadDeadline(d)
	}
	return nil
}

func (t *TLSTransport) SetWriteDeadline(d time.Time) error {
	if t.nc != nil {
		return t.nc.SetWriteDeadline(d)
	}
	return nil
}
