package claim169

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// CBOR limits on untrusted input. Real credentials nest 5 deep (CWT map,
// claim 169 map, biometric array, biometric map, value) and hold tens of
// items; the decompressed-size limit bounds everything else.
const (
	MaxCBORDepth    = 16
	MaxCBORArray    = 1024
	MaxCBORMapPairs = 256
)

var (
	// encMode is RFC 8949 core deterministic encoding: shortest integers,
	// definite lengths, map keys sorted bytewise.
	encMode cbor.EncMode
	// decMode rejects duplicate map keys, indefinite lengths, invalid UTF-8
	// and anything past the limits above.
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		MaxNestedLevels:  MaxCBORDepth,
		MaxArrayElements: MaxCBORArray,
		MaxMapPairs:      MaxCBORMapPairs,
		IntDec:           cbor.IntDecConvertSignedOrFail,
		UTF8:             cbor.UTF8RejectInvalid,
		// Byte strings are never text: a bstr where a tstr belongs is an error.
		ByteStringToString: cbor.ByteStringToStringForbidden,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// CBOR major types, as found in the top 3 bits of an item's first byte.
const (
	majorUint   = 0
	majorNegInt = 1
	majorBytes  = 2
	majorText   = 3
	majorArray  = 4
	majorMap    = 5
	majorTag    = 6
	majorSimple = 7
)

var majorNames = [8]string{"unsigned integer", "negative integer", "byte string", "text string", "array", "map", "tag", "simple value or float"}

func major(raw []byte) int {
	if len(raw) == 0 {
		return -1
	}
	return int(raw[0] >> 5)
}

func majorName(raw []byte) string {
	if m := major(raw); m >= 0 {
		return majorNames[m]
	}
	return "nothing"
}

// typeError describes a value of the wrong CBOR type. what may be empty
// when the caller adds the context.
func typeError(what, want string, raw []byte) error {
	return label(what, fmt.Errorf("want %s, got %s", want, majorName(raw)))
}

func label(what string, err error) error {
	if what == "" || err == nil {
		return err
	}
	return fmt.Errorf("%s: %w", what, err)
}

// The scalar decoders below read leaves out of RawMessage values that
// fxamacker has already split out and validated (limits, duplicate keys,
// definite lengths). Reading the head directly instead of calling Unmarshal
// per field halves the cost of the CWT and claim 169 stages.

// readHead returns the major type and argument of the single item in b and
// the length of its head. ok is false for indefinite lengths, reserved
// values and truncated input.
func readHead(b []byte) (maj int, arg uint64, n int, ok bool) {
	if len(b) == 0 {
		return -1, 0, 0, false
	}
	maj, ai := int(b[0]>>5), b[0]&0x1f
	switch {
	case ai < 24:
		return maj, uint64(ai), 1, true
	case ai == 24 && len(b) >= 2:
		return maj, uint64(b[1]), 2, true
	case ai == 25 && len(b) >= 3:
		return maj, uint64(binary.BigEndian.Uint16(b[1:])), 3, true
	case ai == 26 && len(b) >= 5:
		return maj, uint64(binary.BigEndian.Uint32(b[1:])), 5, true
	case ai == 27 && len(b) >= 9:
		return maj, binary.BigEndian.Uint64(b[1:]), 9, true
	}
	return maj, 0, 0, false
}

// stringBody returns the content of a definite-length byte or text string
// that fills raw exactly.
func stringBody(raw []byte, want int) ([]byte, bool) {
	maj, arg, n, ok := readHead(raw)
	if !ok || maj != want || arg != uint64(len(raw)-n) {
		return nil, false
	}
	return raw[n:], true
}

func decodeText(what string, raw []byte) (string, error) {
	b, ok := stringBody(raw, majorText)
	if !ok {
		return "", typeError(what, "text string", raw)
	}
	if !utf8.Valid(b) {
		return "", label(what, errors.New("invalid UTF-8"))
	}
	return string(b), nil
}

// decodeBytes returns a byte string's content. It aliases raw, which is
// always a private copy made by fxamacker.
func decodeBytes(what string, raw []byte) ([]byte, error) {
	b, ok := stringBody(raw, majorBytes)
	if !ok {
		return nil, typeError(what, "byte string", raw)
	}
	return b[:len(b):len(b)], nil
}

// decodeUint decodes an unsigned integer no larger than max.
func decodeUint(what string, raw []byte, max uint64) (uint64, error) {
	maj, v, n, ok := readHead(raw)
	if !ok || maj != majorUint || n != len(raw) {
		return 0, typeError(what, "unsigned integer", raw)
	}
	if v > max {
		return 0, label(what, fmt.Errorf("%d is out of range (max %d)", v, max))
	}
	return v, nil
}

// decodeInt decodes a signed or unsigned integer that fits in an int64.
func decodeInt(what string, raw []byte) (int64, error) {
	maj, v, n, ok := readHead(raw)
	if !ok || (maj != majorUint && maj != majorNegInt) || n != len(raw) {
		return 0, typeError(what, "integer", raw)
	}
	if v > math.MaxInt64 {
		return 0, label(what, errors.New("integer overflows int64"))
	}
	if maj == majorNegInt {
		return -1 - int64(v), nil
	}
	return int64(v), nil
}

// mapPairs returns the keys and values of the CBOR map that fills data
// exactly, as raw items that alias data, after one well-formedness pass
// under decMode's limits (depth, counts, definite lengths, no trailing
// bytes). Walking the map by hand instead of decoding it into a Go map
// through reflection is most of what the CWT and claim 169 stages cost. It
// does not look for duplicate keys: callers compare the decoded keys, as
// DupMapKeyEnforcedAPF would.
func mapPairs(what string, data []byte) ([][2][]byte, error) {
	if major(data) != majorMap {
		return nil, typeError(what, "map", data)
	}
	if err := decMode.Wellformed(data); err != nil {
		return nil, label(what, err)
	}
	_, n, off, _ := readHead(data) // n ≤ MaxCBORMapPairs: Wellformed checked it
	pairs := make([][2][]byte, n)
	for i := range pairs {
		k := itemEnd(data, off)
		v := itemEnd(data, k)
		pairs[i] = [2][]byte{data[off:k:k], data[k:v:v]}
		off = v
	}
	return pairs, nil
}

// itemEnd returns the offset just past the item that starts at off in
// data, which Wellformed has checked (so every head is complete, every
// length in bounds and the nesting at most MaxCBORDepth deep).
func itemEnd(data []byte, off int) int {
	maj, arg, n, _ := readHead(data[off:])
	off += n
	switch maj {
	case majorBytes, majorText:
		off += int(arg)
	case majorArray:
		for range arg {
			off = itemEnd(data, off)
		}
	case majorMap:
		for range 2 * arg {
			off = itemEnd(data, off)
		}
	case majorTag:
		off = itemEnd(data, off)
	}
	return off
}

// errDupKey is what a repeated map key gives, as fxamacker words it.
func errDupKey(k any) error { return fmt.Errorf("cbor: found duplicate map key %v", k) }

// checkRaw validates an opaque value kept for re-encoding: well-formed,
// within limits, no duplicate keys at any depth.
func checkRaw(raw []byte) error {
	var v any
	return decMode.Unmarshal(raw, &v)
}

// mapBuilder writes a CBOR map in RFC 8949 core deterministic encoding
// (shortest heads, definite lengths, keys sorted bytewise by their
// encoding, as fxamacker's CoreDetEncOptions): values go straight into one
// buffer instead of through reflection one by one. TestMapBuilderMatches-
// Fxamacker checks it against fxamacker.
type mapBuilder struct {
	buf   []byte
	items []mapItem
}

// newMapBuilder sizes the buffers: n items, about size bytes.
func newMapBuilder(n, size int) mapBuilder {
	return mapBuilder{buf: make([]byte, 0, size), items: make([]mapItem, 0, n)}
}

// mapItem: the key is buf[k:v], the value buf[v:end].
type mapItem struct{ k, v, end int }

// key starts an item. Callers give each key once: known keys are
// written by code, unknown ones come from a Go map and are checked not to
// shadow a known one.
func (m *mapBuilder) key(k int64) {
	if k >= 0 {
		m.keyHead(majorUint, uint64(k))
	} else {
		m.keyHead(majorNegInt, uint64(-1-k))
	}
}

func (m *mapBuilder) keyHead(maj byte, arg uint64) {
	it := mapItem{k: len(m.buf)}
	m.buf = appendHead(m.buf, maj, arg)
	it.v = len(m.buf)
	m.items = append(m.items, it)
}

func (m *mapBuilder) done() { m.items[len(m.items)-1].end = len(m.buf) }

func (m *mapBuilder) text(k int64, s string) {
	m.key(k)
	m.buf = appendHead(m.buf, majorText, uint64(len(s)))
	m.buf = append(m.buf, s...)
	m.done()
}

func (m *mapBuilder) bytes(k int64, b []byte) {
	m.key(k)
	m.buf = appendHead(m.buf, majorBytes, uint64(len(b)))
	m.buf = append(m.buf, b...)
	m.done()
}

// int writes a signed integer value.
func (m *mapBuilder) int(k, v int64) {
	m.key(k)
	if v >= 0 {
		m.buf = appendHead(m.buf, majorUint, uint64(v))
	} else {
		m.buf = appendHead(m.buf, majorNegInt, uint64(-1-v))
	}
	m.done()
}

// raw writes an encoded value as it is (checked by the caller).
func (m *mapBuilder) raw(k int64, v []byte) {
	m.key(k)
	m.buf = append(m.buf, v...)
	m.done()
}

// rawU is raw with an unsigned key (claim 169's keys are uint64).
func (m *mapBuilder) rawU(k uint64, v []byte) {
	m.keyHead(majorUint, k)
	m.buf = append(m.buf, v...)
	m.done()
}

// array writes an array of encoded items.
func (m *mapBuilder) array(k int64, items [][]byte) {
	m.key(k)
	m.buf = appendHead(m.buf, majorArray, uint64(len(items)))
	for _, it := range items {
		m.buf = append(m.buf, it...)
	}
	m.done()
}

// uints writes an array of unsigned integers.
func (m *mapBuilder) uints(k int64, vs []uint64) {
	m.key(k)
	m.buf = appendHead(m.buf, majorArray, uint64(len(vs)))
	for _, v := range vs {
		m.buf = appendHead(m.buf, majorUint, v)
	}
	m.done()
}

// encode returns the map, its keys sorted.
func (m *mapBuilder) encode() []byte {
	slices.SortFunc(m.items, func(a, b mapItem) int {
		return bytes.Compare(m.buf[a.k:a.v], m.buf[b.k:b.v])
	})
	out := make([]byte, 0, 9+len(m.buf))
	out = appendHead(out, majorMap, uint64(len(m.items)))
	for _, it := range m.items {
		out = append(out, m.buf[it.k:it.end]...)
	}
	return out
}
