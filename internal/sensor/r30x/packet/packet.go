package packet

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/edgetrust/edgetrust/internal/bytesx"
)

// Header is the start code of every packet.
const Header uint16 = 0xEF01

// DefaultAddress is the factory address of a module.
const DefaultAddress uint32 = 0xFFFFFFFF

// MaxPayload is the largest payload accepted. Data packets are at most 256
// bytes (the largest configurable packet size) and no ack is longer, so
// anything bigger is noise, not a packet.
const MaxPayload = 256

// HeaderLen is the number of bytes before the payload; Overhead adds the
// checksum.
const (
	HeaderLen = 9
	Overhead  = HeaderLen + 2
)

// Kind is the packet identifier byte.
type Kind byte

// Packet kinds.
const (
	Command Kind = 0x01
	Data    Kind = 0x02
	Ack     Kind = 0x07
	End     Kind = 0x08
)

func (k Kind) String() string {
	switch k {
	case Command:
		return "command"
	case Data:
		return "data"
	case Ack:
		return "ack"
	case End:
		return "end-of-data"
	}
	return fmt.Sprintf("kind(0x%02x)", byte(k))
}

// Valid reports whether k is one of the four kinds the protocol defines.
func (k Kind) Valid() bool {
	return k == Command || k == Data || k == Ack || k == End
}

// Packet is one decoded frame.
type Packet struct {
	Address uint32
	Kind    Kind
	Payload []byte
}

// Errors returned while decoding. They are distinct so a driver can decide
// what to retry.
var (
	ErrChecksum  = errors.New("packet: checksum mismatch")
	ErrLength    = errors.New("packet: length out of range")
	ErrKind      = errors.New("packet: unknown packet kind")
	ErrShort     = errors.New("packet: truncated")
	ErrNoHeader  = errors.New("packet: no 0xEF01 header found")
	ErrTooLarge  = errors.New("packet: payload larger than 256 bytes")
	ErrEmpty     = errors.New("packet: empty payload")
	ErrBadHeader = errors.New("packet: data does not start with 0xEF01")
)

// Checksum is the 16-bit sum the protocol uses: kind, both length bytes and
// every payload byte, overflow discarded.
func Checksum(kind Kind, payload []byte) uint16 {
	n := uint16(len(payload) + 2)
	sum := uint16(kind) + n>>8 + n&0xFF
	for _, b := range payload {
		sum += uint16(b)
	}
	return sum
}

// Append encodes p and appends it to dst.
func (p Packet) Append(dst []byte) ([]byte, error) {
	if len(p.Payload) > MaxPayload {
		return dst, ErrTooLarge
	}
	if len(p.Payload) == 0 {
		return dst, ErrEmpty
	}
	if !p.Kind.Valid() {
		return dst, ErrKind
	}
	dst = binary.BigEndian.AppendUint16(dst, Header)
	dst = binary.BigEndian.AppendUint32(dst, p.Address)
	dst = append(dst, byte(p.Kind))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.Payload)+2))
	dst = append(dst, p.Payload...)
	dst = binary.BigEndian.AppendUint16(dst, Checksum(p.Kind, p.Payload))
	return dst, nil
}

// Encode returns the wire form of p.
func (p Packet) Encode() ([]byte, error) {
	return p.Append(make([]byte, 0, Overhead+len(p.Payload)))
}

// header checks the 9 fixed bytes that precede a payload and returns the
// payload length. It does not look at the start code.
func header(b []byte) (addr uint32, kind Kind, n int, err error) {
	r := bytesx.NewReader(b, ErrShort)
	r.Skip(2)
	addr, kind = r.U32(), Kind(r.U8())
	l := int(r.U16())
	if err := r.Err(); err != nil {
		return 0, 0, 0, err
	}
	if !kind.Valid() {
		return 0, 0, 0, ErrKind
	}
	if l < 3 || l > MaxPayload+2 {
		return 0, 0, 0, ErrLength
	}
	return addr, kind, l - 2, nil
}

// Parse decodes the packet at the start of b and returns it with the number
// of bytes it used. The payload aliases b. It never resynchronises: use a
// Reader for a byte stream that may hold noise.
func Parse(b []byte) (Packet, int, error) {
	if len(b) < HeaderLen {
		return Packet{}, 0, ErrShort
	}
	if binary.BigEndian.Uint16(b) != Header {
		return Packet{}, 0, ErrBadHeader
	}
	addr, kind, n, err := header(b)
	if err != nil {
		return Packet{}, 0, err
	}
	total := HeaderLen + n + 2
	if len(b) < total {
		return Packet{}, 0, ErrShort
	}
	payload := b[HeaderLen : HeaderLen+n]
	if binary.BigEndian.Uint16(b[HeaderLen+n:]) != Checksum(kind, payload) {
		return Packet{}, total, ErrChecksum
	}
	return Packet{Address: addr, Kind: kind, Payload: payload}, total, nil
}
