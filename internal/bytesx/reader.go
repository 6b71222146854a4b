package bytesx

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrShort is what a Reader reports on an overrun when NewReader was given
// no error of the caller's own.
var ErrShort = errors.New("bytesx: data too short")

// Reader reads big-endian fields from a byte slice. After the first read
// that does not fit, every read returns zero (or nil) and Err reports the
// overrun, so a parser may read a whole header and check once.
type Reader struct {
	b     []byte
	off   int
	base  int // offset of b in the outermost slice, for Offset and errors
	short error
	err   error
}

// NewReader returns a Reader on b. An overrun is reported as short, wrapped
// with where it happened; nil means ErrShort.
func NewReader(b []byte, short error) *Reader {
	if short == nil {
		short = ErrShort
	}
	return &Reader{b: b, short: short}
}

// Bytes returns the next n bytes, aliasing the slice given to NewReader,
// or nil when fewer than n are left (or n is negative).
func (r *Reader) Bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", r.short, n, r.base+r.off, len(r.b)-r.off)
		return nil
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s
}

// Skip passes over n bytes.
func (r *Reader) Skip(n int) { r.Bytes(n) }

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if s := r.Bytes(1); s != nil {
		return s[0]
	}
	return 0
}

// U16 reads a big-endian uint16.
func (r *Reader) U16() uint16 {
	if s := r.Bytes(2); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

// U24 reads a 3-byte big-endian unsigned integer.
func (r *Reader) U24() uint32 {
	if s := r.Bytes(3); s != nil {
		return uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])
	}
	return 0
}

// U32 reads a big-endian uint32.
func (r *Reader) U32() uint32 {
	if s := r.Bytes(4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

// Sub takes the next n bytes as a Reader of their own, so that a nested
// structure cannot read past its declared length. Its offsets continue the
// parent's. When the parent cannot give n bytes, the sub-reader starts
// failed with the parent's error.
func (r *Reader) Sub(n int) *Reader {
	at := r.base + r.off
	s := r.Bytes(n)
	return &Reader{b: s, base: at, short: r.short, err: r.err}
}

// Offset is the position of the next read, counted from the start of the
// outermost Reader's slice.
func (r *Reader) Offset() int { return r.base + r.off }

// Len is the number of bytes left.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Err is the first overrun, or nil.
func (r *Reader) Err() error { return r.err }
