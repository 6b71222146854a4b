package vid

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Length is the number of digits in a VID, check digit included.
const Length = 16

// DefaultTemporaryTTL is how long a temporary or one-time VID lives unless
// told otherwise (the seed: "valid for 30 minutes").
const DefaultTemporaryTTL = 30 * time.Minute

// Pattern limits, a subset of MOSIP's VID filters: no run of this many
// ascending or descending consecutive digits (1234, 9876) and no digit
// repeated this many times in a row (777).
const (
	SequenceLimit = 4
	RepeatLimit   = 3
)

var (
	ErrFormat   = errors.New("vid: not a 16-digit number starting 2–9")
	ErrCheck    = errors.New("vid: check digit does not match")
	ErrPattern  = errors.New("vid: number has a forbidden pattern (sequence or repetition)")
	ErrExpired  = errors.New("vid: expired")
	ErrUsedUp   = errors.New("vid: already used as often as allowed")
	ErrNotValid = errors.New("vid: not yet valid")
)

// verhoeff tables: d is multiplication in the dihedral group D5, p the
// position permutation, inv the inverse.
var (
	vd = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6},
		{3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8},
		{5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2},
		{7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4},
		{9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	vp = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		{1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2},
		{8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0},
		{4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5},
		{7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
	vinv = [10]byte{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}
)

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// VerhoeffDigit returns the check digit to append to the decimal string
// digits. It panics if digits holds anything but ASCII digits.
func VerhoeffDigit(digits string) byte {
	if !allDigits(digits) {
		panic("vid: VerhoeffDigit of a non-numeric string")
	}
	c := byte(0)
	for i := 0; i < len(digits); i++ {
		c = vd[c][vp[(i+1)%8][digits[len(digits)-1-i]-'0']]
	}
	return '0' + vinv[c]
}

// VerhoeffValid reports whether s (digits, check digit last) is valid.
func VerhoeffValid(s string) bool {
	if len(s) == 0 || !allDigits(s) {
		return false
	}
	c := byte(0)
	for i := 0; i < len(s); i++ {
		c = vd[c][vp[i%8][s[len(s)-1-i]-'0']]
	}
	return c == 0
}

// hasPattern reports a forbidden sequence or repetition.
func hasPattern(s string) bool {
	up, down, same := 1, 1, 1
	for i := 1; i < len(s); i++ {
		a, b := int(s[i-1]), int(s[i])
		up, down, same = next(up, b == a+1), next(down, b == a-1), next(same, b == a)
		if up >= SequenceLimit || down >= SequenceLimit || same >= RepeatLimit {
			return true
		}
	}
	return false
}

func next(run int, cont bool) int {
	if cont {
		return run + 1
	}
	return 1
}

// Validate checks a VID number's format, pattern rules and check digit.
func Validate(s string) error {
	if len(s) != Length || !allDigits(s) || s[0] < '2' {
		return ErrFormat
	}
	if !VerhoeffValid(s) {
		return ErrCheck
	}
	if hasPattern(s) {
		return ErrPattern
	}
	return nil
}

// Generate returns a fresh random VID number that passes Validate: 15
// random digits from crypto/rand (the first 2–9, as MOSIP does not start
// IDs with 0 or 1) and a Verhoeff check digit; numbers with a forbidden
// pattern are drawn again.
func Generate() (string, error) {
	var buf [64]byte
	for range 1000 {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		d := make([]byte, 0, Length)
		for _, b := range buf {
			if len(d) == Length-1 {
				break
			}
			if b >= 250 { // reject to keep digits uniform
				continue
			}
			x := b % 10
			if len(d) == 0 && x < 2 {
				continue
			}
			d = append(d, '0'+x)
		}
		if len(d) < Length-1 {
			continue
		}
		s := string(append(d, VerhoeffDigit(string(d))))
		if !hasPattern(s) {
			return s, nil
		}
	}
	return "", errors.New("vid: could not draw a VID") // astronomically unlikely
}

// Kind says how long and how often a VID may be used.
type Kind uint8

const (
	// Perpetual VIDs do not expire; they end only when revoked (the
	// appliance deletes the record when the revocation feed says so).
	Perpetual Kind = iota + 1
	// Temporary VIDs may be used any number of times until they expire
	// (DefaultTemporaryTTL unless set).
	Temporary
	// OneTime VIDs may be used once, and only before they expire
	// (DefaultTemporaryTTL unless set): "one time use within 30 minutes".
	OneTime
)

func (k Kind) String() string {
	switch k {
	case Perpetual:
		return "perpetual"
	case Temporary:
		return "temporary"
	case OneTime:
		return "one-time"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// VID is a VID number with its policy.
//
// Use counting: MaxUses is the number of successful authentications the
// VID allows (0 = unlimited; OneTime VIDs have 1). The VID value does not
// count; the appliance keeps the use counter (keyed by the same HMAC as the
// record), increments it atomically with the decision, and passes the
// count to Check. A use that fails authentication does not count. After
// the last allowed use the appliance should also delete the record.
type VID struct {
	Number    string
	Kind      Kind
	IssuedAt  time.Time
	ExpiresAt time.Time // zero for Perpetual
	MaxUses   int       // 0 = unlimited
}

// New draws a VID of the given kind issued at now. ttl applies to
// Temporary and OneTime VIDs; 0 means DefaultTemporaryTTL.
func New(kind Kind, now time.Time, ttl time.Duration) (VID, error) {
	n, err := Generate()
	if err != nil {
		return VID{}, err
	}
	if ttl <= 0 {
		ttl = DefaultTemporaryTTL
	}
	v := VID{Number: n, Kind: kind, IssuedAt: now}
	switch kind {
	case Perpetual:
	case Temporary:
		v.ExpiresAt = now.Add(ttl)
	case OneTime:
		v.ExpiresAt, v.MaxUses = now.Add(ttl), 1
	default:
		return VID{}, fmt.Errorf("vid: unknown kind %d", kind)
	}
	return v, nil
}

// Check says whether the VID may be used at now, having been used
// successfully uses times before.
func (v VID) Check(now time.Time, uses int) error {
	if err := Validate(v.Number); err != nil {
		return err
	}
	switch v.Kind {
	case Perpetual, Temporary, OneTime:
	default:
		return fmt.Errorf("vid: unknown kind %d", v.Kind)
	}
	if now.Before(v.IssuedAt) {
		return ErrNotValid
	}
	if v.Kind != Perpetual && (v.ExpiresAt.IsZero() || !now.Before(v.ExpiresAt)) {
		return ErrExpired
	}
	max := v.MaxUses
	if v.Kind == OneTime {
		max = 1
	}
	if max > 0 && uses >= max {
		return ErrUsedUp
	}
	return nil
}

// Mask returns the number with all but the last four digits hidden.
func Mask(number string) string {
	if len(number) <= 4 {
		return "****"
	}
	b := []byte(number)
	for i := 0; i < len(b)-4; i++ {
		b[i] = '*'
	}
	return string(b)
}

// String masks the number so a VID printed by mistake does not leak.
func (v VID) String() string { return fmt.Sprintf("%s VID %s", v.Kind, Mask(v.Number)) }

// LogValue masks the number in structured logs.
func (v VID) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", v.Kind.String()), slog.String("vid", Mask(v.Number)),
		slog.Time("expires", v.ExpiresAt))
}

// GoString masks the number under %#v too.
func (v VID) GoString() string { return "vid.VID{" + v.String() + "}" }
