package iris

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A stored template (for an enrolled record) is 1,544 bytes:
//
//	"IC"        2 bytes  magic
//	version     1 byte   1
//	rows        1 byte   16 radial bands
//	cols        2 bytes  256 angles, little-endian
//	wavelength  1 byte   24 (log-Gabor centre wavelength, rubber-sheet columns)
//	bandwidth   1 byte   50 (σ/f₀ × 100)
//	code     1024 bytes  Template.Code, 128 little-endian uint64
//	mask      512 bytes  Template.Mask, 64 little-endian uint64
//
// The parameters are there so a verifier refuses a code made with another
// filter or geometry instead of comparing bits that mean nothing to each
// other; this version accepts exactly its own. Decoding is strict: a code
// bit outside the mask, or fewer than MinValid unmasked locations, is an
// error, so every accepted encoding is the one MarshalBinary would write.
const (
	templateVersion = 1
	headerSize      = 8
	// EncodedSize is the length of MarshalBinary's output.
	EncodedSize = headerSize + 8*(codeWords+maskWords)
)

// Errors from ParseTemplate.
var (
	ErrTemplateFormat = errors.New("iris: not an encoded iris template")
	ErrTemplateParams = errors.New("iris: template made with other parameters")
)

// MarshalBinary encodes t for storage.
func (t *Template) MarshalBinary() ([]byte, error) {
	b := make([]byte, EncodedSize)
	b[0], b[1], b[2], b[3] = 'I', 'C', templateVersion, Rows
	binary.LittleEndian.PutUint16(b[4:], Cols)
	b[6], b[7] = wavelength, byte(bandwidth*100)
	o := headerSize
	for _, w := range t.Code {
		binary.LittleEndian.PutUint64(b[o:], w)
		o += 8
	}
	for _, w := range t.Mask {
		binary.LittleEndian.PutUint64(b[o:], w)
		o += 8
	}
	return b, nil
}

// UnmarshalBinary decodes a stored template into t (see ParseTemplate).
func (t *Template) UnmarshalBinary(b []byte) error {
	p, err := ParseTemplate(b)
	if err != nil {
		return err
	}
	*t = *p
	return nil
}

// ParseTemplate decodes a stored template.
func ParseTemplate(b []byte) (*Template, error) {
	if len(b) != EncodedSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrTemplateFormat, len(b), EncodedSize)
	}
	if b[0] != 'I' || b[1] != 'C' {
		return nil, fmt.Errorf("%w: bad magic", ErrTemplateFormat)
	}
	if b[2] != templateVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrTemplateFormat, b[2], templateVersion)
	}
	if r, c := b[3], binary.LittleEndian.Uint16(b[4:]); r != Rows || c != Cols || b[6] != wavelength || b[7] != byte(bandwidth*100) {
		return nil, fmt.Errorf("%w: %d×%d, wavelength %d, bandwidth %d; want %d×%d, %d, %d",
			ErrTemplateParams, r, c, b[6], b[7], Rows, Cols, wavelength, byte(bandwidth*100))
	}
	t := new(Template)
	o := headerSize
	for i := range t.Code {
		t.Code[i] = binary.LittleEndian.Uint64(b[o:])
		o += 8
	}
	for i := range t.Mask {
		t.Mask[i] = binary.LittleEndian.Uint64(b[o:])
		o += 8
	}
	for row := range Rows {
		for k := range ringWords {
			m := t.Mask[row*ringWords+k]
			if t.Code[row*2*ringWords+k]&^m != 0 || t.Code[(row*2+1)*ringWords+k]&^m != 0 {
				return nil, fmt.Errorf("%w: code bits outside the mask in band %d", ErrTemplateFormat, row)
			}
		}
	}
	if v := t.Valid(); v < MinValid {
		return nil, fmt.Errorf("%w: %d valid locations, fewer than %d", ErrTemplateFormat, v, MinValid)
	}
	return t, nil
}
