package claim169

import (
	"encoding/binary"
	"hash/adler32"
)

// zlibFixed returns src as a zlib stream of one fixed-Huffman deflate
// block holding only literals (RFC 1951 §3.2.6): no LZ77, so never smaller
// than a real compressor on repetitive input, but at most 12.5 % over the
// input on incompressible bytes and, unlike a stored block, readable by
// verifiers built on MOSIP's pixelpass 0.6.0 (docs/decisions/0003).
func zlibFixed(dst, src []byte) []byte {
	dst = append(dst, 0x78, 0x01)     // deflate, 32 KiB window, level "fastest"; (0x7801 % 31 == 0)
	acc, n := uint64(1|1<<1), uint(3) // BFINAL=1, BTYPE=01 (fixed Huffman); bits LSB first
	for _, c := range src {
		acc |= uint64(fixedCode[c]) << n
		if n += 8; c >= 144 {
			n++
		}
		if n >= 32 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(acc))
			acc >>= 32
			n -= 32
		}
	}
	for n += 7; n > 0; n -= min(n, 8) { // end of block: code 256 is seven zero bits
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return binary.BigEndian.AppendUint32(dst, adler32.Checksum(src))
}

// fixedLen is len(zlibFixed(nil, src)).
func fixedLen(src []byte) int {
	bits := 3 + 7 + 8*len(src)
	for _, c := range src {
		if c >= 144 {
			bits++
		}
	}
	return 2 + (bits+7)/8 + 4
}

// fixedCode holds the fixed literal codes (RFC 1951 §3.2.6), bit-reversed
// so they can be written LSB first: 0-143 are 8 bits from 0x30, 144-255
// 9 bits from 0x190.
var fixedCode = func() (t [256]uint16) {
	for c := range t {
		if c < 144 {
			t[c] = reverse(0x30+uint16(c), 8)
		} else {
			t[c] = reverse(0x190+uint16(c)-144, 9)
		}
	}
	return t
}()

func reverse(v uint16, bits uint) uint16 {
	var r uint16
	for i := uint(0); i < bits; i++ {
		r = r<<1 | v&1
		v >>= 1
	}
	return r
}
