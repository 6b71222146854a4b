package claim169

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Identity is the claim 169 map ("identity-data"). Every attribute is
// optional; the zero value of a field means the attribute is absent. The
// comment on each field gives its CBOR key and idpass JSON name.
type Identity struct {
	ID                 string           // 1 id
	Version            string           // 2 version
	Language           string           // 3 language (ISO 639-3)
	FullName           string           // 4 fullName
	FirstName          string           // 5 firstName
	MiddleName         string           // 6 middleName
	LastName           string           // 7 lastName
	DateOfBirth        string           // 8 dateOfBirth (spec: YYYYMMDD; kept as opaque text)
	Gender             Gender           // 9 gender
	Address            string           // 10 address (lines separated by "\n")
	Email              string           // 11 email
	Phone              string           // 12 phone (E.123)
	Nationality        string           // 13 nationality (ISO 3166)
	MaritalStatus      MaritalStatus    // 14 maritalStatus
	Guardian           string           // 15 guardian
	Photo              []byte           // 16 photo (deprecated in v1.2.1: use Face)
	PhotoFormat        PhotoFormat      // 17 photoFormat (deprecated in v1.2.1)
	BestQualityFingers []FingerPosition // 18 bestQualityFingers
	SecondaryFullName  string           // 19 secondaryFullName
	SecondaryLanguage  string           // 20 secondaryLanguage
	LocationCode       string           // 21 locationCode
	LegalStatus        string           // 22 legalStatus
	CountryOfIssuance  string           // 23 countryOfIssuance

	RightThumb         []Biometric // 50
	RightPointerFinger []Biometric // 51
	RightMiddleFinger  []Biometric // 52
	RightRingFinger    []Biometric // 53
	RightLittleFinger  []Biometric // 54
	LeftThumb          []Biometric // 55
	LeftPointerFinger  []Biometric // 56
	LeftMiddleFinger   []Biometric // 57
	LeftRingFinger     []Biometric // 58
	LeftLittleFinger   []Biometric // 59
	RightIris          []Biometric // 60
	LeftIris           []Biometric // 61
	Face               []Biometric // 62
	RightPalm          []Biometric // 63
	LeftPalm           []Biometric // 64
	Voice              []Biometric // 65

	// Unknown holds keys this package does not know (24-49, 66-99, ...),
	// each as one raw CBOR item. They are written back unchanged.
	Unknown map[uint64][]byte
}

// Biometric is one entry of a biometric key (50-65).
type Biometric struct {
	Data      []byte           // 0, required
	Format    *BiometricFormat // 1, nil if absent
	SubFormat *SubFormat       // 2, nil if absent; meaning depends on Format
	Issuer    string           // 3, e.g. a vendor name
	// Unknown holds other keys of the entry, as raw CBOR, written back unchanged.
	Unknown map[uint64][]byte
}

// Claim 169 keys of the text attributes, with their JSON names.
var textKeys = [...]struct {
	key  uint64
	name string
	get  func(*Identity) *string
}{
	{1, "id", func(id *Identity) *string { return &id.ID }},
	{2, "version", func(id *Identity) *string { return &id.Version }},
	{3, "language", func(id *Identity) *string { return &id.Language }},
	{4, "fullName", func(id *Identity) *string { return &id.FullName }},
	{5, "firstName", func(id *Identity) *string { return &id.FirstName }},
	{6, "middleName", func(id *Identity) *string { return &id.MiddleName }},
	{7, "lastName", func(id *Identity) *string { return &id.LastName }},
	{8, "dateOfBirth", func(id *Identity) *string { return &id.DateOfBirth }},
	{10, "address", func(id *Identity) *string { return &id.Address }},
	{11, "email", func(id *Identity) *string { return &id.Email }},
	{12, "phone", func(id *Identity) *string { return &id.Phone }},
	{13, "nationality", func(id *Identity) *string { return &id.Nationality }},
	{15, "guardian", func(id *Identity) *string { return &id.Guardian }},
	{19, "secondaryFullName", func(id *Identity) *string { return &id.SecondaryFullName }},
	{20, "secondaryLanguage", func(id *Identity) *string { return &id.SecondaryLanguage }},
	{21, "locationCode", func(id *Identity) *string { return &id.LocationCode }},
	{22, "legalStatus", func(id *Identity) *string { return &id.LegalStatus }},
	{23, "countryOfIssuance", func(id *Identity) *string { return &id.CountryOfIssuance }},
}

// textIndex maps a key to its textKeys entry (+1; 0 = not a text key).
var textIndex = func() (m [24]uint8) {
	for i, k := range textKeys {
		m[k.key] = uint8(i + 1)
	}
	return m
}()

const (
	keyGender        = 9
	keyMaritalStatus = 14
	keyPhoto         = 16
	keyPhotoFormat   = 17
	keyBestFingers   = 18
)

// Biometric returns the entries stored under part, or nil.
func (id *Identity) Biometric(part BiometricPart) []Biometric {
	if p := id.biometric(part); p != nil {
		return *p
	}
	return nil
}

func (id *Identity) biometric(part BiometricPart) *[]Biometric {
	switch part {
	case RightThumb:
		return &id.RightThumb
	case RightPointerFinger:
		return &id.RightPointerFinger
	case RightMiddleFinger:
		return &id.RightMiddleFinger
	case RightRingFinger:
		return &id.RightRingFinger
	case RightLittleFinger:
		return &id.RightLittleFinger
	case LeftThumb:
		return &id.LeftThumb
	case LeftPointerFinger:
		return &id.LeftPointerFinger
	case LeftMiddleFinger:
		return &id.LeftMiddleFinger
	case LeftRingFinger:
		return &id.LeftRingFinger
	case LeftLittleFinger:
		return &id.LeftLittleFinger
	case RightIris:
		return &id.RightIris
	case LeftIris:
		return &id.LeftIris
	case Face:
		return &id.Face
	case RightPalm:
		return &id.RightPalm
	case LeftPalm:
		return &id.LeftPalm
	case Voice:
		return &id.Voice
	}
	return nil
}

// UnmarshalCBOR decodes a claim 169 map. It is strict where the reference
// implementation is lenient: a known key holding the wrong type is an error,
// not silently dropped, because a verifier must not show less than was
// signed. Unknown codes (e.g. gender 7) are kept. A biometric given as a
// single map instead of an array is accepted, as in the spec's own example.
func (id *Identity) UnmarshalCBOR(data []byte) error {
	return id.unmarshal(bytes.Clone(data)) // the values alias it
}

// unmarshal decodes a claim 169 map from a buffer the Identity may keep.
func (id *Identity) unmarshal(data []byte) error {
	pairs, err := mapPairs("claim 169", data)
	if err != nil {
		return err
	}
	var out Identity
	seen := make([]uint64, 0, len(pairs))
	for _, p := range pairs {
		k, err := decodeUint("", p[0], math.MaxUint64)
		if err != nil {
			return label("claim 169", fmt.Errorf("keys must be unsigned integers: %w", err))
		}
		if slices.Contains(seen, k) {
			return label("claim 169", errDupKey(k))
		}
		seen = append(seen, k)
		if err := out.decodeKey(k, p[1]); err != nil {
			return err
		}
	}
	*id = out
	return nil
}

// keyTypeError explains a failed decode into map[uint64]: the only type
// that can mismatch is a key's.
func keyTypeError(err error) error {
	var te *cbor.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("keys must be unsigned integers: %w", err)
	}
	return err
}

func keyLabel(k uint64) string {
	switch {
	case k < uint64(len(textIndex)) && textIndex[k] != 0:
		return fmt.Sprintf("key %d (%s)", k, textKeys[textIndex[k]-1].name)
	case k == keyGender:
		return "key 9 (gender)"
	case k == keyMaritalStatus:
		return "key 14 (maritalStatus)"
	case k == keyPhoto:
		return "key 16 (photo)"
	case k == keyPhotoFormat:
		return "key 17 (photoFormat)"
	case k == keyBestFingers:
		return "key 18 (bestQualityFingers)"
	case k >= uint64(RightThumb) && k <= uint64(Voice):
		return fmt.Sprintf("key %d (%s)", k, BiometricPart(k))
	}
	return fmt.Sprintf("key %d", k)
}

func (id *Identity) decodeKey(k uint64, raw []byte) error {
	var err error
	switch {
	case k < uint64(len(textIndex)) && textIndex[k] != 0:
		*textKeys[textIndex[k]-1].get(id), err = decodeText("", raw)
	case k == keyGender:
		var v int64
		v, err = decodeCode(raw)
		id.Gender = Gender(v)
	case k == keyMaritalStatus:
		var v int64
		v, err = decodeCode(raw)
		id.MaritalStatus = MaritalStatus(v)
	case k == keyPhotoFormat:
		var v int64
		v, err = decodeCode(raw)
		id.PhotoFormat = PhotoFormat(v)
	case k == keyPhoto:
		id.Photo, err = decodeBytes("", raw)
	case k == keyBestFingers:
		id.BestQualityFingers, err = decodeFingers(raw)
	case k >= uint64(RightThumb) && k <= uint64(Voice):
		*id.biometric(BiometricPart(k)), err = decodeBiometrics(raw)
	default:
		if err = checkRaw(raw); err == nil {
			if id.Unknown == nil {
				id.Unknown = make(map[uint64][]byte)
			}
			id.Unknown[k] = raw
		}
	}
	if err != nil {
		// Built only on failure: this is the hot path.
		return label(keyLabel(k), err)
	}
	return nil
}

// decodeCode decodes a code-list value. Zero is rejected because every
// claim 169 list starts at 1 and zero means "absent" in Identity.
func decodeCode(raw []byte) (int64, error) {
	v, err := decodeUint("", raw, math.MaxInt64)
	if err == nil && v == 0 {
		err = errors.New("0 is not a defined code")
	}
	return int64(v), err
}

func decodeFingers(raw []byte) ([]FingerPosition, error) {
	if major(raw) != majorArray {
		return nil, typeError("", "array", raw)
	}
	var items []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]FingerPosition, len(items))
	for i, it := range items {
		v, err := decodeUint(fmt.Sprintf("[%d]", i), it, math.MaxInt64)
		if err != nil {
			return nil, err
		}
		out[i] = FingerPosition(v)
	}
	return out, nil
}

func decodeBiometrics(raw []byte) ([]Biometric, error) {
	switch major(raw) {
	case majorMap:
		// The spec's 3.2.1 example stores a single entry without the array.
		b, err := decodeBiometric("", raw)
		if err != nil {
			return nil, err
		}
		return []Biometric{b}, nil
	case majorArray:
	default:
		return nil, typeError("", "array of biometric maps", raw)
	}
	var items []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &items); err != nil {
		return nil, err
	}
	out := make([]Biometric, len(items))
	for i, it := range items {
		b, err := decodeBiometric(fmt.Sprintf("[%d]", i), it)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func decodeBiometric(what string, raw []byte) (Biometric, error) {
	var b Biometric
	if major(raw) != majorMap {
		return b, typeError(what, "biometric map", raw)
	}
	var m map[uint64]cbor.RawMessage
	if err := decMode.Unmarshal(raw, &m); err != nil {
		return b, label(what, keyTypeError(err))
	}
	for k, v := range m {
		var err error
		switch k {
		case 0:
			b.Data, err = decodeBytes("", v)
		case 1:
			var f uint64
			f, err = decodeUint("", v, math.MaxInt64)
			b.Format = new(BiometricFormat(f))
		case 2:
			var s uint64
			s, err = decodeUint("", v, math.MaxInt64)
			b.SubFormat = new(SubFormat(s))
		case 3:
			b.Issuer, err = decodeText("", v)
		default:
			if err = checkRaw(v); err != nil {
				return b, label(what, fmt.Errorf("key %d: %w", k, err))
			}
			if b.Unknown == nil {
				b.Unknown = make(map[uint64][]byte)
			}
			b.Unknown[k] = v
		}
		if err != nil {
			return b, label(what, fmt.Errorf("%s: %w", [...]string{"data (key 0)", "format (key 1)", "subFormat (key 2)", "issuer (key 3)"}[k], err))
		}
	}
	if b.Data == nil {
		return b, label(what, errors.New("no data (key 0)"))
	}
	return b, nil
}

// MarshalCBOR encodes the identity map with core deterministic encoding
// (keys in ascending order, shortest forms). Biometrics are always written
// as arrays.
func (id *Identity) MarshalCBOR() ([]byte, error) {
	size := 64 + len(id.Photo)
	for i := range textKeys {
		size += 4 + len(*textKeys[i].get(id))
	}
	m := newMapBuilder(len(textKeys)+8+len(id.Unknown), size)
	for i := range textKeys {
		tk := &textKeys[i]
		s := *tk.get(id)
		if s == "" {
			continue
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%s: not valid UTF-8", keyLabel(tk.key))
		}
		m.text(int64(tk.key), s)
	}
	for _, c := range [...]struct {
		k uint64
		v int64
	}{{keyGender, int64(id.Gender)}, {keyMaritalStatus, int64(id.MaritalStatus)}, {keyPhotoFormat, int64(id.PhotoFormat)}} {
		if c.v < 0 {
			return nil, fmt.Errorf("%s: negative code %d", keyLabel(c.k), c.v)
		}
		if c.v != 0 {
			m.int(int64(c.k), c.v)
		}
	}
	if id.Photo != nil {
		m.bytes(keyPhoto, id.Photo)
	}
	if id.BestQualityFingers != nil {
		fs := make([]uint64, len(id.BestQualityFingers))
		for i, f := range id.BestQualityFingers {
			if f < 0 {
				return nil, fmt.Errorf("%s: negative finger position %d", keyLabel(keyBestFingers), f)
			}
			fs[i] = uint64(f)
		}
		m.uints(keyBestFingers, fs)
	}
	for p := RightThumb; p <= Voice; p++ {
		bs := *id.biometric(p)
		if bs == nil {
			continue
		}
		arr := make([][]byte, len(bs))
		for i := range bs {
			var err error
			if arr[i], err = bs[i].marshal(); err != nil {
				return nil, fmt.Errorf("%s[%d]: %w", keyLabel(uint64(p)), i, err)
			}
		}
		m.array(int64(p), arr)
	}
	for _, k := range slices.Sorted(maps.Keys(id.Unknown)) {
		v := id.Unknown[k]
		if isKnownKey(k) {
			return nil, fmt.Errorf("the Unknown map holds %s, which has a field of its own", keyLabel(k))
		}
		if err := checkRaw(v); err != nil {
			return nil, fmt.Errorf("unknown key %s: %w", keyLabel(k), err)
		}
		m.rawU(k, v)
	}
	return m.encode(), nil
}

func isKnownKey(k uint64) bool {
	return (k >= 1 && k <= 23) || (k >= uint64(RightThumb) && k <= uint64(Voice))
}

func (b *Biometric) marshal() ([]byte, error) {
	if b.Data == nil {
		return nil, errors.New("biometric has no Data")
	}
	m := newMapBuilder(4+len(b.Unknown), 32+len(b.Data)+len(b.Issuer))
	m.bytes(0, b.Data)
	if b.Format != nil {
		if *b.Format < 0 {
			return nil, fmt.Errorf("negative format %d", *b.Format)
		}
		m.int(1, int64(*b.Format))
	}
	if b.SubFormat != nil {
		if *b.SubFormat < 0 {
			return nil, fmt.Errorf("negative subFormat %d", *b.SubFormat)
		}
		m.int(2, int64(*b.SubFormat))
	}
	if b.Issuer != "" {
		if !utf8.ValidString(b.Issuer) {
			return nil, errors.New("issuer: not valid UTF-8")
		}
		m.text(3, b.Issuer)
	}
	for _, k := range slices.Sorted(maps.Keys(b.Unknown)) {
		v := b.Unknown[k]
		if k <= 3 {
			return nil, fmt.Errorf("the Unknown map holds key %d, which has a field of its own", k)
		}
		if err := checkRaw(v); err != nil {
			return nil, fmt.Errorf("unknown key %d: %w", k, err)
		}
		m.rawU(k, v)
	}
	return m.encode(), nil
}
