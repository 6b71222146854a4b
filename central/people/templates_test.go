package people

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/irissynth"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/jp2"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

func irisISO(t *testing.T, id uint64, occlusion float64) []byte {
	t.Helper()
	img, _ := irissynth.New(irissynth.Seed(5, id)).Image(irissynth.Capture{Seed: id + 1, Occlusion: occlusion})
	data, err := jp2.Encode(img, jp2.Options{Lossless: true})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := isoimage.IrisRecord(isoimage.Header{Captured: time.Now(), Quality: 80}, 2, iso.IrisCropped, isoimage.IrisJP2, iso.IrisLossless,
		img.Rect.Dx(), img.Rect.Dy(), data)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// Iris and face captures become an iris code and a face descriptor at
// enrolment, in formats that decode strictly and are filed under their
// modality; the images are not kept.
func TestTemplatesIrisAndFace(t *testing.T) {
	faceISO, err := os.ReadFile("../../internal/biometric/face/testdata/mosip/Face_Registration.iso")
	if err != nil {
		t.Fatal(err)
	}
	eye := irisISO(t, 1, 0)
	out, err := Templates([]Segment{{Type: sbi.TypeIris, SubType: "Left", ISO: eye, Quality: 80}, {Type: sbi.TypeFace, SubType: "", ISO: faceISO, Quality: 70}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || out[0].Format != recordfeed.TemplateIrisCode || out[1].Format != recordfeed.TemplateFaceDescriptor {
		t.Fatalf("templates %+v", out)
	}
	if _, err := iris.ParseTemplate(out[0].Data); err != nil {
		t.Fatalf("iris template: %v", err)
	}
	m, _ := face.Default()
	if _, err := m.UnmarshalDescriptor(out[1].Data); err != nil {
		t.Fatalf("face template: %v", err)
	}
	for _, b := range out {
		if recordfeed.FormatType(b.Format) != b.Type || len(b.Data) >= len(eye) {
			t.Fatalf("%s template %s of %d bytes", b.Type, b.Format, len(b.Data))
		}
	}
	// A face record presented as an iris, and an unusable eye, are refused
	// with template_failed, saying what to capture again.
	for _, c := range []struct {
		seg  Segment
		want string
	}{
		{Segment{Type: sbi.TypeIris, SubType: "Right", ISO: faceISO}, "capture that eye again"},
		{Segment{Type: sbi.TypeFace, ISO: eye}, "capture the face again"},
	} {
		_, err := Templates([]Segment{c.seg})
		var e *enrol.Error
		if !errors.As(err, &e) || e.Code != "template_failed" || !strings.Contains(e.Message, c.want) {
			t.Fatalf("%s: %v", c.seg.Type, err)
		}
	}
}
