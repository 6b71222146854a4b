package face

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A stored descriptor (for an enrolled record) is 523 bytes:
//
//	"FD"      2 bytes  magic
//	version   1 byte   1
//	tag       8 bytes  the model's Tag
//	values  512 bytes  128 float32, little-endian
//
// The tag lets a verifier refuse a descriptor from another model instead
// of comparing numbers that mean nothing to each other.
const (
	descriptorVersion = 1
	// EncodedSize is the length of MarshalDescriptor's output.
	EncodedSize = 2 + 1 + 8 + 4*128
	// maxValue bounds a component: real descriptors stay well inside
	// (|v| < 0.5 on our samples); anything larger is not one of ours.
	maxValue = 8
)

// Errors from ParseDescriptor and UnmarshalDescriptor.
var (
	ErrDescriptorFormat = errors.New("face: not an encoded face descriptor")
	ErrDescriptorModel  = errors.New("face: descriptor made by another model")
)

// MarshalDescriptor encodes d, made by m, for storage.
func (m *Model) MarshalDescriptor(d Descriptor) []byte {
	return encodeDescriptor(m.nets.tag, d)
}

func encodeDescriptor(tag Tag, d Descriptor) []byte {
	b := make([]byte, EncodedSize)
	b[0], b[1], b[2] = 'F', 'D', descriptorVersion
	copy(b[3:11], tag[:])
	for i, v := range d {
		binary.LittleEndian.PutUint32(b[11+4*i:], math.Float32bits(v))
	}
	return b
}

// UnmarshalDescriptor decodes a stored descriptor and checks it was made
// by m.
func (m *Model) UnmarshalDescriptor(b []byte) (Descriptor, error) {
	d, tag, err := ParseDescriptor(b)
	if err != nil {
		return Descriptor{}, err
	}
	if tag != m.nets.tag {
		return Descriptor{}, fmt.Errorf("%w: tag %x, this model is %x", ErrDescriptorModel, tag, m.nets.tag)
	}
	return d, nil
}

// ParseDescriptor decodes a stored descriptor and the tag of the model that
// made it.
func ParseDescriptor(b []byte) (Descriptor, Tag, error) {
	var d Descriptor
	var tag Tag
	if len(b) != EncodedSize {
		return d, tag, fmt.Errorf("%w: %d bytes, want %d", ErrDescriptorFormat, len(b), EncodedSize)
	}
	if b[0] != 'F' || b[1] != 'D' {
		return d, tag, fmt.Errorf("%w: bad magic", ErrDescriptorFormat)
	}
	if b[2] != descriptorVersion {
		return d, tag, fmt.Errorf("%w: version %d, want %d", ErrDescriptorFormat, b[2], descriptorVersion)
	}
	copy(tag[:], b[3:11])
	for i := range d {
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[11+4*i:]))
		if !(v > -maxValue && v < maxValue) { // also refuses NaN
			return Descriptor{}, Tag{}, fmt.Errorf("%w: value %d is %v", ErrDescriptorFormat, i, v)
		}
		d[i] = v
	}
	return d, tag, nil
}
