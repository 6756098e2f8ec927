package codec

import (
	"bytes"
	"errors"
	"io"

	"github.com/klauspost/compress/flate"
)

// The permessage-deflate extension (RFC 7692): compressed message payloads.
//
// A compressed message is the DEFLATE data (RFC 1951) of its payload,
// ended by a sync flush whose last four bytes (00 00 ff ff) are left off
// on the wire; the first frame of the message has RSV1 set. Compressor and
// Decompressor hold the DEFLATE state a server needs for any number of
// connections, one message at a time: a window that survives a message
// (context takeover) is the caller's, as a dictionary of the last bytes of
// the messages before it (Window).

// DefaultDeflateLevel is the compression level of a Compressor made with
// level 0.
const DefaultDeflateLevel = 1

// syncTail is what a sync flush ends with, and what the sender leaves off.
var syncTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// inflateTail is what the decompressor reads after a message's payload:
// the four bytes left off, then an empty final block, so that data that
// ends where a block does ends the stream (io.EOF), and data cut inside a
// block does not.
var inflateTail = [9]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// ErrInvalidDeflate is a compressed message that is not valid DEFLATE data.
var ErrInvalidDeflate = protocolError(StatusInvalidPayload, "invalid compressed data")

// A Compressor compresses messages one at a time. Its memory (a few hundred
// kilobytes for the full window, less for each smaller one a peer asks for,
// made when first asked for) is one per event loop, not per connection.
// It is used by one goroutine at a time.
type Compressor struct {
	level int
	out   appendWriter
	dict  bool                                         // full was last primed with a dictionary
	full  *flate.Writer                                // a 2^15 window
	small [MaxWindowBits - MinWindowBits]*flate.Writer // by window bits, 8 to 14
}

// NewCompressor returns a Compressor at level 1 (fastest) to 9 (smallest);
// 0 means DefaultDeflateLevel.
func NewCompressor(level int) (*Compressor, error) {
	if level == 0 {
		level = DefaultDeflateLevel
	}
	if level < 1 || level > 9 {
		return nil, errors.New("codec: deflate level out of 1..9")
	}
	return &Compressor{level: level}, nil
}

// Append appends the compressed payload of message p to dst: DEFLATE data
// that refers no more than 2^bits bytes back (bits 0 means 15) and ends
// with a sync flush, without its last four bytes. dict, when not empty, is
// the end of what the peer's window holds (the plaintext of the messages
// compressed before, with context takeover) and may be referred to; it is
// used only with a full window, and ignored otherwise.
func (z *Compressor) Append(dst, p []byte, bits uint8, dict []byte) []byte {
	z.out.b = dst
	var w *flate.Writer
	if bits == 0 || bits >= MaxWindowBits {
		if z.full == nil {
			z.full, _ = flate.NewWriter(&z.out, z.level) // the level was checked
		}
		w = z.full
		switch {
		case len(dict) > 0:
			w.ResetDict(&z.out, dict)
			z.dict = true
		case z.dict:
			// The writer would prime itself with the last dictionary
			// on a plain Reset.
			w.ResetDict(&z.out, nil)
			z.dict = false
		default:
			w.Reset(&z.out)
		}
	} else {
		bits = max(bits, MinWindowBits)
		i := bits - MinWindowBits
		if z.small[i] == nil {
			z.small[i], _ = flate.NewWriterWindow(&z.out, 1<<bits) // within its bounds
		} else {
			z.small[i].Reset(&z.out)
		}
		w = z.small[i]
	}
	// Writes to an appendWriter do not fail.
	_, _ = w.Write(p)
	_ = w.Flush()
	out := z.out.b
	z.out.b = nil // let go of dst
	return out[:len(out)-len(syncTail)]
}

// appendWriter is an io.Writer that appends to a slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// A Decompressor inflates compressed messages one at a time, within a
// bound on the size of each. Like a Compressor, it is one per event loop
// (its window, 32 KiB, is reused), used by one goroutine at a time.
type Decompressor struct {
	r  io.ReadCloser // implements flate.Resetter
	in []byte        // the message's payload and inflateTail
	br bytes.Reader  // reading in
}

// keepIn bounds the input buffer a Decompressor keeps between messages.
const keepIn = 64 << 10

// NewDecompressor returns a Decompressor.
func NewDecompressor() *Decompressor {
	d := &Decompressor{}
	d.r = flate.NewReader(&d.br)
	return d
}

// Append appends the inflated payload of compressed message p to dst.
// dict, when not empty, is the end of the window the peer compressed with
// (context takeover). The inflated payload may not be more than limit
// bytes: past that, Append stops and returns ErrMessageTooBig, having
// done no more than the limit's worth of work (and at most one window
// more), whatever the data would inflate to. Data that is not DEFLATE
// gives ErrInvalidDeflate. Part of the payload may have been appended to
// dst when an error is returned.
func (d *Decompressor) Append(dst, p []byte, limit int64, dict []byte) ([]byte, error) {
	// The payload is copied next to the tail, so that the decompressor
	// reads one bytes.Reader, which it has a fast path for: the copy is of
	// the compressed bytes, and costs less than reading them a byte at a
	// time through an interface.
	d.in = append(append(d.in[:0], p...), inflateTail[:]...)
	d.br.Reset(d.in)
	defer func() {
		if cap(d.in) > keepIn {
			d.in = nil
		}
		d.br.Reset(nil)
	}()
	if err := d.r.(flate.Resetter).Reset(&d.br, dict); err != nil {
		return dst, ErrInvalidDeflate
	}
	start := len(dst)
	bound := int64(start) + limit + 1 // room for one byte too many
	for {
		if len(dst) == cap(dst) {
			if int64(len(dst)) >= bound {
				return dst, ErrMessageTooBig
			}
			// Grow by what is likely to come, within the bound.
			want := max(2*(len(dst)-start), 4*len(p), 512)
			n := int(min(int64(cap(dst)+want), bound))
			grown := make([]byte, len(dst), n)
			copy(grown, dst)
			dst = grown
		}
		n, err := d.r.Read(dst[len(dst):min(int64(cap(dst)), bound)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)-start) > limit {
			return dst, ErrMessageTooBig
		}
		switch err {
		case nil:
		case io.EOF:
			// A final block ended the data: the one after the sync
			// flush put back, or the message's own (RFC 7692 section
			// 7.2.3.4 allows it).
			return dst, nil
		default:
			return dst, ErrInvalidDeflate
		}
	}
}

// Window keeps the last bytes of a direction's compressed messages, as a
// window that survives them (context takeover): it returns w with p's
// bytes added and only the last size of them kept. Its buffer is made for
// the first message alone when that is short (a quarter of size or less),
// and at size when more is needed: a connection that sends one short
// message keeps a short window, and one that fills its window makes it
// once more at most.
func Window(w, p []byte, size int) []byte {
	if len(p) >= size {
		if cap(w) < size {
			w = make([]byte, 0, size)
		}
		return append(w[:0], p[len(p)-size:]...)
	}
	if need := len(w) + len(p); cap(w) < need {
		n := size
		if cap(w) == 0 && need <= size/4 {
			n = need
		}
		grown := make([]byte, len(w), n)
		copy(grown, w)
		w = grown
	}
	if over := len(w) + len(p) - size; over > 0 {
		n := copy(w, w[over:])
		w = w[:n]
	}
	return append(w, p...)
}

// AppendCompressedHeader appends an unmasked header for the single frame
// of a compressed message of n payload bytes: RSV1 set.
func AppendCompressedHeader(dst []byte, op OpCode, n int) []byte {
	start := len(dst)
	dst = AppendHeader(dst, true, op, n)
	dst[start] |= rsv1Bit
	return dst
}

// rsv1Bit is RSV1 in a frame's first byte; rsv1 is it in Header.Rsv.
const (
	rsv1Bit = 0x40
	rsv1    = 0x4
)
