package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
)

// Stream limits.
const (
	MaxFrameSize   = 8 << 20
	maxLineLength  = 1024
	maxHeaderLines = 32
	maxSkipLines   = 64
)

// ErrFrame is returned for a malformed MJPEG part.
var ErrFrame = errors.New("sbi client: malformed stream part")

// FrameReader reads JPEG frames from an SBI multipart/x-mixed-replace
// stream. It does not trust the boundary parameter: MockMDS declares
// "boundary=--BoundaryString" but writes "--BoundaryString" lines, so any
// line starting with "--" starts a part, and each part must carry a
// Content-Length header (the registration client relies on it too).
type FrameReader struct {
	r *bufio.Reader
	c io.Closer
}

// NewFrameReader reads frames from r. If r is an io.Closer, Close closes it.
func NewFrameReader(r io.Reader) *FrameReader {
	f := &FrameReader{r: bufio.NewReaderSize(r, 4096)}
	if c, ok := r.(io.Closer); ok {
		f.c = c
	}
	return f
}

// Close ends the stream.
func (f *FrameReader) Close() error {
	if f.c != nil {
		return f.c.Close()
	}
	return nil
}

// readLine returns one line without its CR LF, refusing long lines.
func (f *FrameReader) readLine() (string, error) {
	var buf []byte
	for {
		chunk, err := f.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxLineLength {
			return "", ErrFrame
		}
		if err == nil {
			return strings.TrimRight(string(buf), "\r\n"), nil
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(buf) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
}

// Next returns the next JPEG frame, or io.EOF at the closing boundary or
// the end of the stream.
func (f *FrameReader) Next() ([]byte, error) {
	var line string
	var err error
	for skipped := 0; ; skipped++ {
		if skipped > maxSkipLines {
			return nil, ErrFrame
		}
		if line, err = f.readLine(); err != nil {
			return nil, err
		}
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "--") {
			if strings.HasSuffix(line, "--") && len(line) > 4 {
				return nil, io.EOF
			}
			line = ""
		}
		break
	}
	length := -1
	for n := 0; ; n++ {
		if line == "" {
			if line, err = f.readLine(); err != nil {
				return nil, err
			}
			if line == "" {
				break
			}
		}
		if n >= maxHeaderLines {
			return nil, ErrFrame
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return nil, ErrFrame
		}
		if strings.EqualFold(strings.TrimSpace(k), "Content-Length") {
			length, err = strconv.Atoi(strings.TrimSpace(v))
			if err != nil || length < 0 || length > MaxFrameSize {
				return nil, ErrFrame
			}
		}
		line = ""
	}
	if length < 0 {
		return nil, ErrFrame
	}
	// Some devices put extra line breaks before the JPEG; skip to 0xFF.
	for i := 0; i < 4; i++ {
		b, err := f.r.Peek(1)
		if err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		if b[0] != '\r' && b[0] != '\n' {
			break
		}
		f.r.ReadByte()
	}
	frame := make([]byte, length)
	if _, err := io.ReadFull(f.r, frame); err != nil {
		return nil, io.ErrUnexpectedEOF
	}
	return frame, nil
}

// IsJPEG reports whether b starts with the JPEG SOI marker.
func IsJPEG(b []byte) bool { return bytes.HasPrefix(b, []byte{0xFF, 0xD8}) }
