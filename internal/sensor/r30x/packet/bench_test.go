package packet

import (
	"bytes"
	"testing"
)

func dataPacket() Packet {
	return Packet{Address: DefaultAddress, Kind: Data, Payload: bytes.Repeat([]byte{0x5A}, 128)}
}

func BenchmarkEncode(b *testing.B) {
	p := dataPacket()
	buf := make([]byte, 0, Overhead+MaxPayload)
	b.SetBytes(int64(Overhead + len(p.Payload)))
	for b.Loop() {
		buf, _ = p.Append(buf[:0])
	}
}

func BenchmarkParse(b *testing.B) {
	wire, _ := dataPacket().Encode()
	b.SetBytes(int64(len(wire)))
	for b.Loop() {
		if _, _, err := Parse(wire); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReader decodes the 288 data packets of one R307 image upload.
func BenchmarkReader(b *testing.B) {
	one, _ := dataPacket().Encode()
	stream := bytes.Repeat(one, 288)
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		r := NewReader(bytes.NewReader(stream))
		for range 288 {
			if _, err := r.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
