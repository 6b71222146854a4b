package packet

import (
	"bufio"
	"io"
)

// MaxSkip bounds how many noise bytes a Reader discards while looking for a
// header before it gives up, so a babbling line cannot keep it busy forever.
const MaxSkip = 4096

// Reader reads packets from a byte stream, skipping noise before a header.
// A candidate header whose kind or length is impossible is treated as noise
// too, so a stray 0xEF 0x01 inside garbage does not swallow a real packet.
type Reader struct {
	r       *bufio.Reader
	skipped int
	buf     [HeaderLen + MaxPayload + 2]byte
}

// NewReader returns a Reader on r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 1024)}
}

// Skipped returns the number of noise bytes dropped so far, for diagnostics.
func (r *Reader) Skipped() int { return r.skipped }

// Buffered returns how many bytes are waiting in the Reader's buffer.
func (r *Reader) Buffered() int { return r.r.Buffered() }

// Discard drops whatever the Reader has buffered.
func (r *Reader) Discard() {
	_, _ = r.r.Discard(r.r.Buffered())
}

// Next returns the next packet. The payload is only valid until the next
// call. A checksum error consumes the packet, so the caller may go on
// reading. Errors from the underlying reader are returned as is.
func (r *Reader) Next() (Packet, error) {
	skippedHere := 0
	for {
		if err := r.seekHeader(&skippedHere); err != nil {
			return Packet{}, err
		}
		hdr, err := r.r.Peek(HeaderLen)
		if err != nil {
			return Packet{}, err
		}
		addr, kind, n, herr := header(hdr)
		if herr != nil {
			// Not a packet after all: drop the 0xEF and look again.
			_, _ = r.r.Discard(1)
			r.skipped++
			skippedHere++
			continue
		}
		total := HeaderLen + n + 2
		b := r.buf[:total]
		if _, err := io.ReadFull(r.r, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Packet{}, err
		}
		payload := b[HeaderLen : HeaderLen+n]
		if uint16(b[total-2])<<8|uint16(b[total-1]) != Checksum(kind, payload) {
			return Packet{}, ErrChecksum
		}
		return Packet{Address: addr, Kind: kind, Payload: payload}, nil
	}
}

// seekHeader discards bytes until the buffer starts with 0xEF 0x01.
func (r *Reader) seekHeader(skippedHere *int) error {
	for {
		if *skippedHere > MaxSkip {
			return ErrNoHeader
		}
		b, err := r.r.Peek(2)
		if len(b) == 2 && b[0] == 0xEF && b[1] == 0x01 {
			return nil
		}
		if err != nil && len(b) < 2 {
			if len(b) == 1 && b[0] != 0xEF {
				_, _ = r.r.Discard(1)
				r.skipped++
				*skippedHere++
			}
			return err
		}
		_, _ = r.r.Discard(1)
		r.skipped++
		*skippedHere++
	}
}
