package iris

import (
	"math"
	"math/bits"
)

// Matching defaults.
const (
	// DefaultShifts is the rotation searched either way, in code columns
	// of 360/256 = 1.41°: ±12 covers ±17° of head tilt and cyclotorsion.
	DefaultShifts = 12
	// NominalBits is the bits compared that a normalised distance is
	// scaled to (Daugman's 911 for his codes; about the median number
	// compared between two of our synthetic captures: 6,538 at CI size).
	NominalBits = 6500
	// MinBits is the fewest bits compared for a distance to count.
	MinBits = 2 * MinValid
	// DefaultThreshold: a normalised distance at or below it is a match.
	// See docs/performance.md for the synthetic distributions behind it.
	DefaultThreshold = 0.36
)

// Score is the outcome of a comparison.
type Score struct {
	// Distance is the normalised fractional Hamming distance at the best
	// shift: 0.5 − (0.5 − Raw)·√(Bits/NominalBits). 1 when no shift had
	// MinBits in common.
	Distance float64
	// Raw is the fractional Hamming distance at that shift.
	Raw float64
	// Bits is the number of bits compared there.
	Bits int
	// Shift is the rotation: column c of a lines up with column c+Shift
	// of b (positive when b's eye is turned clockwise in the image
	// relative to a's).
	Shift int
}

// Match reports whether two templates are of one eye at DefaultThreshold.
func Match(a, b *Template) bool {
	return Compare(a, b, DefaultShifts).Distance <= DefaultThreshold
}

// Compare is the smallest normalised masked Hamming distance between a and
// b rotated by −shifts..shifts columns. shifts is capped at Cols/2.
func Compare(a, b *Template, shifts int) Score {
	shifts = max(0, min(shifts, Cols/2))
	best := Score{Distance: 1, Raw: 1}
	var rc [2 * ringWords]uint64
	var rm [ringWords]uint64
	for s := -shifts; s <= shifts; s++ {
		u := ((s % Cols) + Cols) % Cols
		q, o := u/64, uint(u%64)
		diff, n := 0, 0
		for row := range Rows {
			rotate(rm[:], b.Mask[row*ringWords:(row+1)*ringWords], q, o)
			rotate(rc[:ringWords], b.Code[row*2*ringWords:(row*2+1)*ringWords], q, o)
			rotate(rc[ringWords:], b.Code[(row*2+1)*ringWords:(row*2+2)*ringWords], q, o)
			am := a.Mask[row*ringWords : (row+1)*ringWords]
			ac := a.Code[row*2*ringWords : (row*2+2)*ringWords]
			for k := range ringWords {
				m := am[k] & rm[k]
				n += bits.OnesCount64(m)
				diff += bits.OnesCount64((ac[k]^rc[k])&m) + bits.OnesCount64((ac[ringWords+k]^rc[ringWords+k])&m)
			}
		}
		n *= 2
		if n < MinBits {
			continue
		}
		raw := float64(diff) / float64(n)
		d := 0.5 - (0.5-raw)*math.Sqrt(float64(n)/NominalBits)
		if d < best.Distance {
			best = Score{Distance: d, Raw: raw, Bits: n, Shift: s}
		}
	}
	return best
}

// rotate sets dst to the 256-bit ring src read from bit 64q+o on: bit i of
// dst is bit (i+64q+o) mod 256 of src. In Go a shift by 64 is 0, so o = 0
// needs no branch.
func rotate(dst, src []uint64, q int, o uint) {
	for i := range ringWords {
		dst[i] = src[(i+q)&(ringWords-1)]>>o | src[(i+q+1)&(ringWords-1)]<<(64-o)
	}
}
