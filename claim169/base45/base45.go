package base45

import (
	"strconv"
)

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

// invalid marks bytes outside the alphabet in decodeMap.
const invalid = 0xff

var decodeMap = func() (m [256]byte) {
	for i := range m {
		m[i] = invalid
	}
	for i := 0; i < len(alphabet); i++ {
		m[alphabet[i]] = byte(i)
	}
	return m
}()

// CorruptInputError reports the offset of the first character group that
// cannot be decoded.
type CorruptInputError struct {
	Offset int    // byte offset in the input
	Reason string // what is wrong with it
}

func (e *CorruptInputError) Error() string {
	return "base45: illegal data at input byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// EncodedLen returns the length of the Base45 encoding of n bytes.
func EncodedLen(n int) int { return n/2*3 + n%2*2 }

// DecodedLen returns the number of bytes that n Base45 characters decode to.
// It returns -1 if no valid encoding has length n.
func DecodedLen(n int) int {
	if n < 0 || n%3 == 1 {
		return -1
	}
	return n/3*2 + n%3/2
}

// AppendEncode appends the Base45 encoding of src to dst.
func AppendEncode(dst, src []byte) []byte {
	for len(src) >= 2 {
		n := int(src[0])<<8 | int(src[1])
		dst = append(dst, alphabet[n%45], alphabet[n/45%45], alphabet[n/2025])
		src = src[2:]
	}
	if len(src) == 1 {
		n := int(src[0])
		dst = append(dst, alphabet[n%45], alphabet[n/45])
	}
	return dst
}

// EncodeToString returns the Base45 encoding of src.
func EncodeToString(src []byte) string {
	return string(AppendEncode(make([]byte, 0, EncodedLen(len(src))), src))
}

// AppendDecode appends the bytes encoded by the Base45 text src to dst.
// On error it returns dst unchanged and a *CorruptInputError.
func AppendDecode(dst []byte, src string) ([]byte, error) {
	if len(src)%3 == 1 {
		return dst, &CorruptInputError{len(src) - 1, "dangling single character (length must not be 1 more than a multiple of 3)"}
	}
	orig := len(dst)
	for i := 0; i < len(src); i += 3 {
		if len(src)-i == 2 {
			c, d := decodeMap[src[i]], decodeMap[src[i+1]]
			if c == invalid || d == invalid {
				return dst[:orig], badChar(src, i, 2)
			}
			n := int(c) + int(d)*45
			if n > 0xff {
				return dst[:orig], &CorruptInputError{i, "final 2-character group exceeds 255"}
			}
			dst = append(dst, byte(n))
			break
		}
		c, d, e := decodeMap[src[i]], decodeMap[src[i+1]], decodeMap[src[i+2]]
		if c == invalid || d == invalid || e == invalid {
			return dst[:orig], badChar(src, i, 3)
		}
		n := int(c) + int(d)*45 + int(e)*2025
		if n > 0xffff {
			return dst[:orig], &CorruptInputError{i, "3-character group exceeds 65535"}
		}
		dst = append(dst, byte(n>>8), byte(n))
	}
	return dst, nil
}

// DecodeString returns the bytes encoded by the Base45 text s.
func DecodeString(s string) ([]byte, error) {
	n := DecodedLen(len(s))
	if n < 0 {
		n = 0
	}
	out, err := AppendDecode(make([]byte, 0, n), s)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func badChar(src string, i, n int) error {
	for j := i; j < i+n; j++ {
		if decodeMap[src[j]] == invalid {
			ch := "byte 0x" + strconv.FormatUint(uint64(src[j]), 16)
			if src[j] < 0x80 {
				ch = "character " + strconv.QuoteRune(rune(src[j]))
			}
			return &CorruptInputError{j, ch + " is not in the Base45 alphabet (0-9, A-Z, space, $%*+-./:)"}
		}
	}
	return &CorruptInputError{i, "invalid character"}
}
