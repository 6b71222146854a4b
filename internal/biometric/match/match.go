package match

import (
	"bytes"
	"errors"
	"fmt"
	"math"
)

// Modality of a biometric sample.
type Modality uint8

const (
	Finger Modality = 1
	Iris   Modality = 2
	Face   Modality = 3
)

func (m Modality) String() string {
	switch m {
	case Finger:
		return "finger"
	case Iris:
		return "iris"
	case Face:
		return "face"
	}
	return fmt.Sprintf("modality(%d)", uint8(m))
}

// ErrModalityNotSupported is matched by errors.Is for every
// *UnsupportedError.
var ErrModalityNotSupported = errors.New("modality not supported here")

// UnsupportedError says that no matcher for a modality is configured.
type UnsupportedError struct{ Modality Modality }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("biometric: %s: modality not supported here", e.Modality)
}

// Is makes errors.Is(err, ErrModalityNotSupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrModalityNotSupported }

// Matcher extracts comparable templates from ISO/IEC 19794 records and
// scores pairs of them.
type Matcher interface {
	// Extract makes a template from a record.
	Extract(isoRecord []byte) (Template, error)
	// Score is the similarity of two templates; higher is more alike.
	// Templates of another modality score 0.
	Score(probe, candidate Template) float64
	// Threshold is the lowest score to accept for a target false-match
	// rate (e.g. 1e-3).
	Threshold(targetFMR float64) float64
}

// Verify is the decision: probe and candidate match at targetFMR. It
// returns an error, never true, when the templates' modality has no
// matcher or differs.
func Verify(m Matcher, probe, candidate Template, targetFMR float64) (bool, float64, error) {
	if probe.Modality != candidate.Modality {
		return false, 0, fmt.Errorf("biometric: cannot compare %s with %s", probe.Modality, candidate.Modality)
	}
	if u, ok := m.(Unsupported); ok {
		return false, 0, &UnsupportedError{u.Modality}
	}
	s := m.Score(probe, candidate)
	return s >= m.Threshold(targetFMR), s, nil
}

// DetectModality reads the format identifier of an ISO/IEC 19794 record.
func DetectModality(rec []byte) (Modality, error) {
	if len(rec) < 4 {
		return 0, errors.New("biometric: record too short")
	}
	switch {
	case bytes.Equal(rec[:4], []byte("FIR\x00")), bytes.Equal(rec[:4], []byte("FMR\x00")):
		return Finger, nil
	case bytes.Equal(rec[:4], []byte("IIR\x00")):
		return Iris, nil
	case bytes.Equal(rec[:4], []byte("FAC\x00")):
		return Face, nil
	}
	return 0, fmt.Errorf("biometric: unknown record format %q", rec[:4])
}

// For returns the matcher configured for a modality: fingerprints get the
// MCC matcher, iris and face an Unsupported one.
func For(m Modality) Matcher {
	if m == Finger {
		return NewFingerprint()
	}
	return Unsupported{m}
}

// Unsupported is the matcher of a modality without one: every call says
// "modality not supported here" and nothing ever matches.
type Unsupported struct{ Modality Modality }

// Extract always fails with *UnsupportedError.
func (u Unsupported) Extract([]byte) (Template, error) {
	return Template{}, &UnsupportedError{u.Modality}
}

// Score is always 0.
func (Unsupported) Score(Template, Template) float64 { return 0 }

// Threshold is +Inf: no score reaches it.
func (Unsupported) Threshold(float64) float64 { return math.Inf(1) }
