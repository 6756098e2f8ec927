package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/wssd/wssd/engine/tlsrec"
	"github.com/wssd/wssd/security"
)

// session is a TLS connection on its way to, and then on, its loop. A
// TLS 1.3 connection has its record layer (rec), and crypto/tls is done
// with it; a TLS 1.2 one keeps its tls.Conn (tc), over its transport.
type session struct {
	rec      *tlsrec.Stream
	tc       *tls.Conn
	t        *tlsrec.Transport
	deadline int64 // the tick by which the connection must have upgraded
	notified bool  // close_notify was sent (TLS 1.3)
}

// kept reports whether the handshake left bytes the client sent after it
// with the session. Called on the loop.
func (s *session) kept() bool {
	if s.rec != nil {
		return s.rec.Kept() > 0
	}
	return s.t.Kept() > 0
}

// pendingTLS is an accepted socket on its way through the TLS workers. Its
// handshake deadline is on the server's handshake wheel.
type pendingTLS struct {
	timer    timer
	nc       net.Conn
	srv      *Server
	adm      security.Admission
	addr     netip.Addr // the client's, which holds a share of the slots; none yet behind a balancer
	remote   net.Addr   // the client's, as the loop and the logs see it
	proxied  bool       // from a trusted balancer: a PROXY header comes first
	deadline int64      // the tick by which the connection must have upgraded
}

// expire ends a handshake that is late, queued or under way: the socket's
// deadline passes at once, so the worker's read or write fails (or its
// handshake fails at the first one) and the worker closes the socket.
// Called by the ticker, under hsMu.
func (p *pendingTLS) expire(int64) {
	p.srv.expired.add(expHandshake)
	_ = p.nc.SetDeadline(longAgo)
}

// longAgo is a deadline that has passed.
var longAgo = time.Unix(1, 0)

// queueTLS hands an accepted socket to the TLS workers, or closes it when
// its address holds its share of the workers and queue already, or the
// queue is full. A socket from a trusted balancer takes its client's
// share once its PROXY header has named the client (readProxyTLS).
// Called by an acceptor.
func (s *Server) queueTLS(nc net.Conn, adm security.Admission, proxy proxyState, rlog *refusalLog) {
	now := s.clock()
	var addr netip.Addr
	if proxy != proxyExpect {
		addr = remoteAddr(nc)
		if !s.tlsShares.Take(addr) {
			s.release(adm)
			s.refuseAtAccept(nc, nc.RemoteAddr(), refTLSShare, now, rlog)
			return
		}
	}
	p := &pendingTLS{nc: nc, srv: s, adm: adm, addr: addr, remote: nc.RemoteAddr(), proxied: proxy == proxyExpect,
		deadline: now + s.hsTicks}
	p.timer.owner = p
	s.hsMu.Lock()
	s.hsWheel.schedule(&p.timer, p.deadline)
	s.hsMu.Unlock()
	select {
	case s.tlsQueue <- p:
		s.startTLSWorker()
	default:
		s.settle(p)
		if addr.IsValid() {
			s.tlsShares.Return(addr)
		}
		s.release(adm)
		s.refuseAtAccept(nc, nc.RemoteAddr(), refTLSQueue, now, rlog)
	}
}

// settle takes p's handshake deadline off the wheel, and reports whether
// it had not fired yet.
func (s *Server) settle(p *pendingTLS) bool {
	s.hsMu.Lock()
	defer s.hsMu.Unlock()
	return s.hsWheel.cancel(&p.timer)
}

// startTLSWorker starts a TLS worker if fewer than TLSWorkers run. Workers
// start as sockets are queued and end when the queue has been empty for
// TLSWorkerIdle: a server runs as many as its handshakes need, and an idle one
// has none, nor their stacks for the collector to scan. Safe for
// concurrent use.
func (s *Server) startTLSWorker() {
	for {
		n := s.tlsRunning.Load()
		if n >= int64(s.cfg.TLSWorkers) {
			return
		}
		if s.tlsRunning.CompareAndSwap(n, n+1) {
			s.tlsWorkers.Add(1)
			go s.handshakes(s.tlsCtx)
			return
		}
	}
}

// handshakes runs TLS handshakes, one at a time, and hands each connection
// that completes one to an event loop, until the queue is closed or has
// been empty for TLSWorkerIdle.
func (s *Server) handshakes(ctx context.Context) {
	defer s.tlsWorkers.Done()
	log := &sampledLog{l: s.cfg.Logger}
	rlog := &refusalLog{l: s.cfg.Logger}
	idle := time.NewTimer(s.cfg.TLSWorkerIdle)
	defer idle.Stop()
	for {
		select {
		case p, ok := <-s.tlsQueue:
			if !ok {
				s.tlsRunning.Add(-1)
				return
			}
			s.handshake(ctx, p, log, rlog)
			idle.Reset(s.cfg.TLSWorkerIdle)
		case <-idle.C:
			s.tlsRunning.Add(-1)
			// A socket queued while this worker was deciding to end
			// may have found every worker busy and started none.
			if len(s.tlsQueue) > 0 {
				s.startTLSWorker()
			}
			return
		}
	}
}

// handshake runs p's handshake (after reading its PROXY header, from a
// trusted balancer) and hands the connection to an event loop, or closes
// it; either way p's slot goes back to its address's share. Called by a
// TLS worker.
func (s *Server) handshake(ctx context.Context, p *pendingTLS, log *sampledLog, rlog *refusalLog) {
	defer func() {
		if p.addr.IsValid() {
			s.tlsShares.Return(p.addr)
		}
	}()
	if ctx.Err() != nil {
		s.settle(p)
		s.release(p.adm)
		p.nc.Close()
		return
	}
	if p.proxied && !s.readProxyTLS(ctx, p, rlog) {
		return
	}
	var nc net.Conn = p.nc
	var first *firstBytes
	if !p.proxied && len(s.cfg.ProxyProtocol) > 0 {
		first = &firstBytes{Conn: p.nc}
		nc = first
	}
	t := tlsrec.NewTransport(nc, false)
	tc := tls.Server(t, s.tlsConfig)
	start := time.Now()
	err := tc.HandshakeContext(ctx)
	var sess *session
	if err == nil {
		sess = &session{deadline: p.deadline}
		sess.rec, err = t.Finish(tc, false)
		if sess.rec == nil {
			sess.tc, sess.t = tc, t
		}
	} else {
		t.Abandon()
	}
	m := s.metrics
	if m != nil && ctx.Err() == nil {
		m.tlsDuration.Observe(time.Since(start).Seconds())
	}
	if !s.settle(p) {
		// The deadline passed, maybe just as the handshake finished.
		if m != nil {
			m.tlsResults[tlsTimeout].Inc()
		}
		s.release(p.adm)
		p.nc.Close()
		return
	}
	if m != nil && ctx.Err() == nil {
		if err != nil {
			m.tlsResults[tlsFailed].Inc()
		} else {
			m.tlsResults[tlsOK].Inc()
		}
	}
	if err != nil {
		s.release(p.adm)
		if first != nil && first.proxyHeader() {
			s.refuseAtAccept(p.nc, p.remote, refProxyUntrusted, s.clock(), rlog)
			return
		}
		p.nc.Close()
		s.cfg.Logger.Debug("TLS handshake failed", "remote", p.remote.String(), "err", err)
		return
	}
	if m != nil {
		path := 0
		if sess.rec != nil {
			path = 1
		}
		m.tlsPaths[path].Inc()
	}
	s.enroll(p.nc, &arrival{adm: p.adm, sess: sess, remote: p.remote}, log)
}

// plainBuf is the decrypted bytes of a wss:// connection, read like gnet's
// buffer.
type plainBuf struct {
	b   []byte
	off int
}

func (p *plainBuf) InboundBuffered() int { return len(p.b) - p.off }

func (p *plainBuf) Peek(n int) ([]byte, error) {
	if n > len(p.b)-p.off {
		return nil, io.ErrShortBuffer
	}
	return p.b[p.off : p.off+n], nil
}

func (p *plainBuf) Discard(n int) (int, error) {
	n = min(n, len(p.b)-p.off)
	p.off += n
	return n, nil
}

// tlsRecord is the most plaintext one TLS record carries.
const tlsRecord = 16 << 10

// errTLSAnswers is decrypt's error when crypto/tls, reading, has written
// records of its own to a peer that already had MaxOutbound bytes waiting
// (TLS 1.2 only: the server's own record layer writes nothing unasked).
var errTLSAnswers = errors.New("engine: TLS answers past the outbound limit")

// decrypt reads the raw bytes gnet has buffered through TLS, for the
// request and frame readers, which read the plaintext from l.plain. It
// returns the error that ended the TLS stream (tlsrec.ErrCloseNotify after
// the peer's close_notify), if any, or, for TLS 1.2, errTLSAnswers, after
// which nothing more is decrypted. Called on the loop.
func (c *Conn) decrypt() error {
	if c.tls.rec == nil {
		return c.decryptTLS12()
	}
	l := c.loop
	s := c.tls.rec
	raw, _ := c.gc.Peek(c.gc.InboundBuffered())
	// Every byte is taken: decrypted in place, or kept as an incomplete
	// record. raw's memory stays as it is until the loop reads again.
	_, _ = c.gc.Discard(len(raw))
	first, rest, err := s.Input(raw)
	c.coolLater()
	switch {
	case len(c.tail) > 0:
		buf := append(c.tail, first...)
		l.plain = plainBuf{b: append(buf, rest...)}
	case len(first) > 0:
		buf := append(l.work[:0], first...)
		l.work = append(buf, rest...)
		l.plain = plainBuf{b: l.work}
	default:
		l.plain = plainBuf{b: rest} // decrypted where it was read
	}
	// A KeyUpdate the peer asked for goes out in front of the next
	// record the server sends (RFC 8446 section 4.6.3): one answers every
	// request that came before it, and a peer that asks and never reads
	// is sent nothing.
	return err
}

// tlsEnded acts on the error that ended a TLS 1.3 connection's stream:
// close_notify is a clean end, answered with the server's own; an alert
// from the peer is counted; a record that failed to authenticate or broke
// the protocol is refused, counted and answered with its alert. Called on
// the loop.
func (c *Conn) tlsEnded(err error) {
	if c.tls.rec == nil {
		return // crypto/tls has answered already
	}
	var ae *tlsrec.AlertError
	if !errors.As(err, &ae) {
		if errors.Is(err, tlsrec.ErrCloseNotify) {
			if !c.tls.notified {
				c.tls.notified = true
				c.sendAlert(tlsrec.AlertCloseNotify)
			}
		}
		return
	}
	if m := c.loop.srv.metrics; m != nil {
		m.tlsAlert(ae.Alert, ae.Remote, 1)
	}
	if !ae.Remote {
		c.refused(refTLSRecord)
		c.sendAlert(ae.Alert)
	}
}

// sendRecords seals a followed by b as application data, with whatever the
// record layer owes first, and writes the records. Called on the loop.
func (c *Conn) sendRecords(a, b []byte) error { return c.sendRecords3(a, b, nil) }

// sendRecords3 is sendRecords with a third part, z, after b. Called on the
// loop.
func (c *Conn) sendRecords3(a, b, z []byte) error {
	l := c.loop
	l.sealed = c.tls.rec.Seal3(l.sealed[:0], a, b, z)
	c.coolLater()
	_, err := c.gc.Write(l.sealed)
	if cap(l.sealed) > maxLoopWork {
		l.sealed = nil
	}
	return err
}

// sendAlert writes a TLS alert: close_notify at the end, or why the
// connection fails. Called on the loop.
func (c *Conn) sendAlert(a tlsrec.Alert) {
	l := c.loop
	l.sealed = c.tls.rec.AppendAlert(l.sealed[:0], a)
	_, _ = c.gc.Write(l.sealed)
}

// coolSeconds is how often a loop lets go of the ciphers of the wss://
// connections that were quiet since the last time: a connection keeps
// them while it hears or sends something every few seconds (a pub/sub
// subscriber, say), and an idle one holds only its keys.
const coolSeconds = 3

// coolLater puts the connection's record layer on its loop's list of
// layers holding ciphers, which lets go of them once the connection has
// been quiet for coolSeconds to twice that. Called on the loop.
func (c *Conn) coolLater() {
	if s := c.tls.rec; !s.Listed() {
		s.SetListed(true)
		c.loop.hot = append(c.loop.hot, s)
	}
}

// cool lets the record layers that were not used since the last call go
// of their ciphers; an idle wss:// connection keeps only its keys. Called
// on the loop, every coolSeconds.
func (l *Loop) cool() {
	hot := l.hot[:0]
	for _, s := range l.hot {
		if s.Cool() {
			hot = append(hot, s)
		} else {
			s.SetListed(false)
		}
	}
	clear(l.hot[len(hot):])
	l.hot = hot
}

// decryptTLS12 is decrypt for a connection that kept its tls.Conn. The
// plaintext goes to the loop's work buffer when nothing was left over from
// the last read, so a message that arrived whole is read from there with
// no copy of its own; else it is appended to the leftover.
func (c *Conn) decryptTLS12() error {
	l := c.loop
	fromLoop := len(c.tail) == 0
	buf := c.tail
	if fromLoop {
		buf = l.work[:0]
	}
	raw, _ := c.gc.Peek(c.gc.InboundBuffered())
	t := c.tls.t
	t.SetInput(raw)
	var err error
	queued, limit := c.gc.OutboundBuffered(), l.srv.cfg.MaxOutbound
	for {
		if cap(buf)-len(buf) < tlsRecord {
			buf = slices.Grow(buf, max(tlsRecord, len(buf)))
		}
		n, rerr := c.tls.tc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if q := c.gc.OutboundBuffered(); q > queued && q > limit {
			err = errTLSAnswers
			break
		}
		if rerr != nil {
			if rerr != tlsrec.ErrWouldBlock {
				err = rerr
			}
			break
		}
	}
	_, _ = c.gc.Discard(t.Consumed(raw))
	if fromLoop {
		l.work = buf[:0]
	}
	l.plain = plainBuf{b: buf}
	return err
}

// keepTail keeps the decrypted bytes not read yet (an incomplete frame or
// request head) for the next read: the only per-connection copy of a
// wss:// connection's input. Called on the loop.
func (c *Conn) keepTail() {
	l := c.loop
	rest := l.plain.b[l.plain.off:]
	switch {
	case len(rest) == 0:
		c.tail = nil
	case len(c.tail) == 0: // rest is in the loop's buffers, or gnet's
		c.tail = append([]byte(nil), rest...)
	case cap(l.plain.b) > 2*len(rest)+512:
		// The tail grew for a burst: keep what is left in a buffer of
		// its size, not the burst's.
		c.tail = append([]byte(nil), rest...)
	default: // rest is at the end of the tail: move it to the front
		c.tail = l.plain.b[:copy(l.plain.b, rest)]
	}
	l.plain = plainBuf{}
	if cap(l.work) > maxLoopWork {
		l.work = nil // a burst is over: do not keep its buffer
	}
}

// maxLoopWork is the size above which a loop lets go of its work buffer
// after use.
const maxLoopWork = 4 << 20
