package tlsrec

// Stream is a record layer fed from a socket's read buffer: it keeps the
// incomplete record at the end of one read until the next completes it, in
// a buffer of that record's size, and nothing else. Touched only on the
// connection's loop.
type Stream struct {
	*Conn
	raw []byte // an incomplete record; at first, what the handshake left over
	hot bool   // on its loop's list of layers that hold ciphers
}

// Input decrypts the raw bytes read from the socket, in place, behind any
// kept from the last read. The application data comes out in two pieces:
// first, from the record the last read left incomplete (in the Stream's
// buffer, valid until the next Input), and rest, from raw (in raw's
// memory, or, the first time, a buffer of the Stream's). Whatever of raw is
// not a complete record is kept: the caller may reuse all of raw once it
// has done with rest. After an error, first
// and rest still hold the application data of the records before the
// one that failed.
func (s *Stream) Input(raw []byte) (first, rest []byte, err error) {
	if len(s.raw) > 0 {
		n := RecordLen(s.raw)
		if n > HeaderLen+MaxCiphertext {
			_, _, err = s.Open(s.raw) // refused now, not once it is whole
			return nil, nil, err
		}
		if len(s.raw) > n && n > 0 {
			// The handshake's leftover, with more than one record in
			// it: read it and raw as one.
			buf := append(s.raw, raw...)
			s.raw = nil
			rest, used, err := s.Open(buf)
			if err == nil {
				s.keep(buf[used:])
			}
			return nil, rest, err
		}
		for n == 0 || len(s.raw) < n {
			if len(raw) == 0 {
				return nil, nil, nil
			}
			if n == 0 {
				n = HeaderLen // the header is not whole yet
			}
			take := min(n-len(s.raw), len(raw))
			s.raw = append(s.raw, raw[:take]...)
			raw = raw[take:]
			if len(s.raw) == HeaderLen {
				if n = RecordLen(s.raw); n > HeaderLen+MaxCiphertext {
					_, _, err = s.Open(s.raw)
					return nil, nil, err
				}
				s.raw = append(make([]byte, 0, n), s.raw...)
			}
		}
		first, _, err = s.Open(s.raw)
		s.raw = nil
		if err != nil {
			return first, nil, err
		}
	}
	rest, used, err := s.Open(raw)
	if err == nil {
		s.keep(raw[used:])
	}
	return first, rest, err
}

// keep copies an incomplete record into a buffer of its size.
func (s *Stream) keep(b []byte) {
	if len(b) == 0 {
		return
	}
	n := max(RecordLen(b), len(b), HeaderLen)
	s.raw = append(make([]byte, 0, n), b...)
}

// Kept returns how many raw bytes the Stream holds between reads.
func (s *Stream) Kept() int { return len(s.raw) }

// Listed and SetListed mark the Stream as on its loop's list of layers
// that hold expanded ciphers (see Conn.Cool), so it is listed once.
func (s *Stream) Listed() bool      { return s.hot }
func (s *Stream) SetListed(on bool) { s.hot = on }
