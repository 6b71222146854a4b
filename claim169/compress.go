package claim169

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	kzlib "github.com/klauspost/compress/zlib"
)

// DefaultMaxDecompressed bounds the inflated payload, as in the reference
// implementation. The largest QR code holds under 3.3 KB of compressed data.
const DefaultMaxDecompressed = 64 << 10

// Compression says how a credential's COSE bytes were compressed.
type Compression int

const (
	Zlib   Compression = iota + 1 // RFC 1950, what every issuer emits
	Brotli                        // allowed since spec v1.2.1
)

func (c Compression) String() string {
	switch c {
	case Zlib:
		return "zlib"
	case Brotli:
		return "brotli"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// isZlib checks the RFC 1950 header: deflate, window <= 32 KiB, no preset
// dictionary, valid check bits. The spec tells zlib and Brotli apart by
// this magic alone.
func isZlib(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	cmf, flg := b[0], b[1]
	return cmf&0x0f == 8 && cmf>>4 <= 7 && flg&0x20 == 0 && (uint16(cmf)<<8|uint16(flg))%31 == 0
}

var zlibReaders sync.Pool // of io.ReadCloser implementing zlib.Resetter

// errLimit is returned by limitReader once more than max bytes were read.
var errLimit = errors.New("limit exceeded")

// limitReader is io.LimitReader that fails instead of reporting EOF, so a
// decompression bomb stops after max+1 bytes of output.
type limitReader struct {
	r io.Reader
	n int // bytes still allowed
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Probe for one more byte: if there is one, the limit is exceeded.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, errLimit
		}
		return 0, err
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}

// decompress appends the inflated form of src to dst. It never produces
// more than max bytes of output, whatever the input claims.
func decompress(dst, src []byte, max int, zlibOnly bool) ([]byte, Compression, error) {
	br := bytes.NewReader(src)
	var r io.Reader
	var kind Compression
	if isZlib(src) {
		kind = Zlib
		zr, _ := zlibReaders.Get().(io.ReadCloser)
		if zr == nil {
			var err error
			if zr, err = zlib.NewReader(br); err != nil {
				return dst, kind, err
			}
		} else if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
			return dst, kind, err
		}
		defer zlibReaders.Put(zr)
		r = zr
	} else {
		if zlibOnly {
			return dst, 0, fmt.Errorf("%w: not a zlib stream (first bytes % x) and Brotli is disabled", ErrMalformed, src[:min(len(src), 2)])
		}
		kind = Brotli
		r = brotli.NewReader(br)
	}
	out, err := readAll(dst, &limitReader{r, max})
	switch {
	case errors.Is(err, errLimit):
		return dst, kind, fmt.Errorf("%w: inflates to more than %d bytes (Decoder.MaxDecompressed)", ErrTooLarge, max)
	case err != nil:
		if kind == Brotli {
			return dst, kind, fmt.Errorf("%w: neither zlib (no RFC 1950 header) nor valid Brotli: %v", ErrMalformed, err)
		}
		return dst, kind, fmt.Errorf("%w: %v", ErrMalformed, err)
	case br.Len() != 0:
		return dst, kind, fmt.Errorf("%w: %d bytes of trailing data after the %v stream", ErrMalformed, br.Len(), kind)
	}
	return out, kind, nil
}

// readAll is io.ReadAll appending to dst.
func readAll(dst []byte, r io.Reader) ([]byte, error) {
	if cap(dst)-len(dst) < 512 {
		dst = append(dst, make([]byte, 512)...)[:len(dst)]
	}
	for {
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
	}
}

var zlibWriters [kzlib.BestCompression + 2]sync.Pool // index level+1

// compress returns src as a zlib stream: klauspost/compress's deflate at
// the given level, or one fixed-Huffman block of literals (zlibFixed) when
// that is smaller or the library fell back to a stored block. Stored
// blocks are what MOSIP's pixelpass 0.6.0 cannot inflate (its Base45 hands
// pako a plain Array), and on credential-sized input the fixed block is
// usually the smallest anyway: a 64-byte signature does not compress.
func compress(src []byte, level int) ([]byte, error) {
	if level < kzlib.DefaultCompression || level > kzlib.BestCompression {
		return nil, fmt.Errorf("zlib level %d out of range", level)
	}
	var buf bytes.Buffer
	buf.Grow(len(src)/2 + 64)
	p := &zlibWriters[level+1]
	zw, _ := p.Get().(*kzlib.Writer)
	if zw == nil {
		var err error
		if zw, err = kzlib.NewWriterLevel(&buf, level); err != nil {
			return nil, err
		}
	} else {
		zw.Reset(&buf)
	}
	defer p.Put(zw)
	if _, err := zw.Write(src); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	z := buf.Bytes()
	if storedFirst(z) || len(src) <= maxFixedTry && fixedLen(src) < len(z) {
		return zlibFixed(make([]byte, 0, fixedLen(src)), src), nil
	}
	return z, nil
}

// maxFixedTry bounds the inputs for which the fixed block is weighed
// against a compressed one: QR-sized payloads, not test bombs.
const maxFixedTry = 8 << 10

// storedFirst reports whether a zlib stream's first deflate block is
// stored (BTYPE 00).
func storedFirst(z []byte) bool { return len(z) > 2 && (z[2]>>1)&3 == 0 }
