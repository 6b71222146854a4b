// Package iris encodes and compares iris images, Daugman-style, in pure Go.
//
// Segment finds the pupil and the limbus with Daugman's integro-
// differential operator (coarse at quarter scale, then at full scale; the
// limbus only on its left and right sectors, where lids do not reach),
// fits the eyelids as parabolas, and masks eyelashes and specular
// reflections by grey level. Encode unwraps the iris onto Daugman's rubber
// sheet (64 radii × 512 angles, from the pupil's edge to the limbus along
// rays from the pupil centre), averages it into 16 radial bands, filters
// each band around the circle with a 1-D log-Gabor filter and keeps the
// signs of the real and imaginary parts: a 16 × 256 × 2 = 8,192-bit code
// with a 4,096-bit mask of trustworthy locations. Compare is the masked
// fractional Hamming distance over ±Shifts column rotations, done 64 bits
// at a time, with Daugman's normalisation for the number of bits compared;
// DefaultThreshold separates genuine from impostor on synthetic eyes
// (internal/biometric/irissynth), which is all we have to measure with.
// Templates are stored with MarshalBinary and read back strictly with
// ParseTemplate.
//
// It owns iris images to templates, their encoding and their comparison;
// it imports only the standard library.
package iris
