package claim169

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// CWT claim keys (RFC 8392).
const (
	cwtIss      = 1
	cwtSub      = 2
	cwtExp      = 4
	cwtNbf      = 5
	cwtIat      = 6
	cwtClaim169 = 169
)

// NumericDates outside 1970-01-01..9999-12-31 are rejected: no credential
// needs them, and the range keeps time.Time exact and the zero Time free to
// mean "absent".
const maxNumericDate = 253402300799

// Claims is the CWT claims map, the payload of the COSE_Sign1.
type Claims struct {
	Issuer    string    // 1 iss; v1.2.1 wants a full URI
	Subject   string    // 2 sub
	ExpiresAt time.Time // 4 exp; zero = absent
	NotBefore time.Time // 5 nbf; zero = absent
	IssuedAt  time.Time // 6 iat; zero = absent
	Identity  Identity  // 169 identity-data

	// Unknown holds other integer-keyed claims as raw CBOR, written back
	// unchanged. Text-keyed claims are ignored on decode, as in the
	// reference implementation.
	Unknown map[int64][]byte
}

// UnmarshalCBOR decodes a CWT claims map. Claim 169 must be present and be
// a map (ErrNoClaim169 otherwise).
func (c *Claims) UnmarshalCBOR(data []byte) error {
	_, err := c.unmarshal(data)
	return err
}

// unmarshal reports which stage failed so Decode can label its error.
func (c *Claims) unmarshal(data []byte) (Stage, error) {
	data = bytes.Clone(data) // the values below alias it
	pairs, err := mapPairs("CWT claims", data)
	if err != nil {
		return StageCWT, err
	}
	var out Claims
	var id []byte
	var seenInt []int64
	var seenText []string
	for _, p := range pairs {
		kraw, raw := p[0], p[1]
		var key int64
		switch major(kraw) {
		case majorUint, majorNegInt:
			if key, err = decodeInt("CWT claim key", kraw); err != nil {
				return StageCWT, err
			}
			if slices.Contains(seenInt, key) {
				return StageCWT, fmt.Errorf("CWT claims: %w", errDupKey(key))
			}
			seenInt = append(seenInt, key)
		case majorText:
			t, err := decodeText("CWT claim key", kraw)
			if err != nil {
				return StageCWT, err
			}
			if slices.Contains(seenText, t) {
				return StageCWT, fmt.Errorf("CWT claims: %w", errDupKey(strconv.Quote(t)))
			}
			seenText = append(seenText, t)
			continue
		default:
			return StageCWT, fmt.Errorf("CWT claim key: want integer or text, got %s", majorName(kraw))
		}
		var err error
		switch key {
		case cwtIss:
			out.Issuer, err = decodeText("iss (1)", raw)
		case cwtSub:
			out.Subject, err = decodeText("sub (2)", raw)
		case cwtExp:
			out.ExpiresAt, err = decodeDate("exp (4)", raw)
		case cwtNbf:
			out.NotBefore, err = decodeDate("nbf (5)", raw)
		case cwtIat:
			out.IssuedAt, err = decodeDate("iat (6)", raw)
		case cwtClaim169:
			id = raw
		default:
			if err = checkRaw(raw); err != nil {
				err = fmt.Errorf("claim %d: %w", key, err)
				break
			}
			if out.Unknown == nil {
				out.Unknown = make(map[int64][]byte)
			}
			out.Unknown[key] = raw
		}
		if err != nil {
			return StageCWT, err
		}
	}
	if id == nil {
		return StageClaim169, ErrNoClaim169
	}
	if err := out.Identity.unmarshal(id); err != nil {
		return StageClaim169, err
	}
	*c = out
	return 0, nil
}

func decodeDate(what string, raw []byte) (time.Time, error) {
	v, err := decodeInt(what, raw)
	if err != nil {
		return time.Time{}, err
	}
	if v < 0 || v > maxNumericDate {
		return time.Time{}, fmt.Errorf("%s: %d is outside 1970..9999", what, v)
	}
	return time.Unix(v, 0).UTC(), nil
}

// MarshalCBOR encodes the claims map with core deterministic encoding, so
// the usual claims come out in the order 1, 2, 4, 5, 6, 169.
func (c *Claims) MarshalCBOR() ([]byte, error) {
	id, err := c.Identity.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("claim 169: %w", err)
	}
	m := newMapBuilder(6+len(c.Unknown), 64+len(c.Issuer)+len(c.Subject)+len(id))
	for _, s := range [...]struct {
		k int64
		v string
	}{{cwtIss, c.Issuer}, {cwtSub, c.Subject}} {
		if s.v == "" {
			continue
		}
		if !utf8.ValidString(s.v) {
			return nil, fmt.Errorf("claim %d: not valid UTF-8", s.k)
		}
		m.text(s.k, s.v)
	}
	for _, d := range [...]struct {
		k int64
		t time.Time
	}{{cwtExp, c.ExpiresAt}, {cwtNbf, c.NotBefore}, {cwtIat, c.IssuedAt}} {
		if d.t.IsZero() {
			continue
		}
		sec := d.t.Unix()
		if sec < 0 || sec > maxNumericDate {
			return nil, fmt.Errorf("claim %d: %v is outside 1970..9999", d.k, d.t)
		}
		m.int(d.k, sec)
	}
	m.raw(cwtClaim169, id)
	for _, k := range slices.Sorted(maps.Keys(c.Unknown)) {
		v := c.Unknown[k]
		if k == cwtIss || k == cwtSub || k == cwtExp || k == cwtNbf || k == cwtIat || k == cwtClaim169 {
			return nil, fmt.Errorf("the Unknown map holds claim %d, which has a field of its own", k)
		}
		if err := checkRaw(v); err != nil {
			return nil, fmt.Errorf("unknown claim %d: %w", k, err)
		}
		m.raw(k, v)
	}
	return m.encode(), nil
}
