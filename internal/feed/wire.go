package feed

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Batches travel as JSON, gzip-compressed when the follower asks for it
// (Accept-Encoding: gzip) and the batch is large enough to gain. The
// encoding is transport only: the entries inside are the exact bytes
// hashed, verified one by one after decompression, and the checkpoint
// signature covers the root, so compression changes nothing a follower
// trusts.

// GzipMin is the smallest JSON batch a server compresses: an empty or
// one-entry long-poll answer gains nothing.
const GzipMin = 1024

// ErrTooLarge is returned when a batch body, compressed or not, is over
// the follower's limit: a zip bomb is cut at the limit, not decompressed.
var ErrTooLarge = errors.New("feed: batch body over the limit")

// AcceptsGzip reports whether an Accept-Encoding header value lists gzip
// with a non-zero quality.
func AcceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// ReadBody reads a batch body sent with Content-Encoding encoding ("" or
// "identity" for none, "gzip"), decompressing at most max bytes: over max,
// it returns ErrTooLarge without reading further. The wire bytes read are
// returned too, for metrics.
func ReadBody(r io.Reader, encoding string, max int64) (body []byte, wire int64, err error) {
	cr := &countingReader{r: io.LimitReader(r, max+1)}
	var src io.Reader = cr
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(cr)
		if err != nil {
			return nil, cr.n, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
		}
		// One member only: a second concatenated stream is not a batch.
		zr.Multistream(false)
		defer zr.Close()
		src = zr
	default:
		return nil, cr.n, fmt.Errorf("%w: unsupported Content-Encoding %q", ErrMalformed, encoding)
	}
	var buf bytes.Buffer
	n, err := buf.ReadFrom(io.LimitReader(src, max+1))
	if n > max || cr.n > max {
		return nil, cr.n, fmt.Errorf("%w (%d bytes)", ErrTooLarge, max)
	}
	if err != nil {
		if errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, cr.n, fmt.Errorf("%w: gzip: %v", ErrMalformed, err)
		}
		return nil, cr.n, err
	}
	return buf.Bytes(), cr.n, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
