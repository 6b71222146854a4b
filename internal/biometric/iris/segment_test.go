package iris

import (
	"math"
	"testing"

	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
)

// captures is a spread of conditions the tests share.
func captures(n int) []irissynth.Capture {
	cs := make([]irissynth.Capture, n)
	for i := range cs {
		f := float64(i)
		cs[i] = irissynth.Capture{
			Seed:      uint64(i),
			Rotation:  0.12 * math.Sin(2.1*f),
			Dilation:  0.3 + 0.25*math.Mod(f*0.37, 1),
			Occlusion: 0.45 * math.Mod(f*0.61, 1),
			Blur:      0.6 + 0.8*math.Mod(f*0.23, 1),
			Noise:     2 + 3*math.Mod(f*0.71, 1),
		}
	}
	return cs
}

func TestSegmentFindsTruth(t *testing.T) {
	cs := captures(24)
	var worstP, worstI float64
	for i, c := range cs {
		img, tr := irissynth.New(irissynth.Seed(5, uint64(i))).Image(c)
		s, err := Segment(img)
		if err != nil {
			t.Fatalf("capture %d: %v", i, err)
		}
		dp := circleErr(s.Pupil, tr.Pupil)
		di := circleErr(s.Iris, tr.Iris)
		worstP, worstI = math.Max(worstP, dp), math.Max(worstI, di)
		if dp > 3 || di > 4 {
			t.Errorf("capture %d (%+v): pupil %.1f,%.1f r%.1f want %.1f,%.1f r%.1f; iris %.1f,%.1f r%.1f want %.1f,%.1f r%.1f",
				i, c, s.Pupil.X, s.Pupil.Y, s.Pupil.R, tr.Pupil.X, tr.Pupil.Y, tr.Pupil.R,
				s.Iris.X, s.Iris.Y, s.Iris.R, tr.Iris.X, tr.Iris.Y, tr.Iris.R)
		}
		// Upper lid: where it crosses the iris centre column, within a few
		// pixels of the truth when it occludes the iris visibly.
		if tr.Upper.At(tr.Iris.X) > tr.Iris.Y-tr.Iris.R+8 {
			if !s.Upper.Found {
				t.Errorf("capture %d: upper lid at %.0f not found", i, tr.Upper.At(tr.Iris.X))
			} else if d := math.Abs(s.Upper.At(tr.Iris.X) - tr.Upper.At(tr.Iris.X)); d > 5 {
				t.Errorf("capture %d: upper lid at %.0f, want %.0f", i, s.Upper.At(tr.Iris.X), tr.Upper.At(tr.Iris.X))
			}
		}
	}
	t.Logf("worst centre+radius error: pupil %.2f px, iris %.2f px", worstP, worstI)
}

// circleErr is the larger of the centre distance and the radius error.
func circleErr(a Circle, b irissynth.Circle) float64 {
	return math.Max(math.Hypot(a.X-b.X, a.Y-b.Y), math.Abs(a.R-b.R))
}

func TestSegmentRefusesBadImages(t *testing.T) {
	for _, sz := range [][2]int{{10, 10}, {100, 300}, {4000, 2000}} {
		if _, err := Segment(grey(sz[0], sz[1], 128)); err == nil {
			t.Errorf("%v: no error", sz)
		}
	}
	// A flat frame has no pupil edge anywhere.
	if _, err := Segment(grey(640, 480, 128)); err == nil {
		t.Error("flat frame segmented")
	}
}
