// Package irissynth generates synthetic near-infrared eye images with known
// ground truth, for measuring the iris matcher (internal/biometric/iris) the
// way internal/biometric/synth measures the fingerprint matcher: any number
// of identities and captures, deterministic from (identity seed, capture
// seed).
//
// An identity is an iris texture defined on the normalised rubber sheet
// (radius 0 at the pupil, 1 at the limbus; angle around the pupil centre):
// multi-scale smooth noise, radial furrows, crypts and a wavy collarette,
// plus the iris size, brightness and the pupil's offset from the iris
// centre. A capture places that eye in a 640×480 8-bit grey frame with a
// rotation, a pupil dilation (with a mildly non-linear radial stretch, as
// real tissue does not deform like a rubber sheet), eyelids that occlude
// the iris, eyelashes, specular reflections of the illuminator, defocus
// blur and sensor noise, and reports where everything went (Truth).
//
// It owns synthetic test data only and imports only the standard library.
// Rates measured on it are not real-world rates.
package irissynth
