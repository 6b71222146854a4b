package people

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/sbi"
)

// EnrolMinMinutiae is the fewest minutiae an enrolled finger template may
// have (authentication samples need match.MinMinutiae; a reference needs
// more to match them reliably).
const EnrolMinMinutiae = 12

// CaptureLimits bound one capture of an enrolment (an RCAPTURE answer, or
// {request, response}) while it is decoded: at most sbi.MaxBiometrics
// biometrics and bio elements and 16 subtypes or exceptions, counted as
// they arrive; no duplicate members or invalid UTF-8. The contract is
// open (SBI documents carry members central does not read).
var CaptureLimits = jsonx.Limits{MaxBytes: MaxCaptureBytes, MaxDepth: 6, MaxArray: 16, MaxMembers: 64, Open: true}

// MaxCaptureBytes bounds the RCAPTURE answers of one enrolment together.
const MaxCaptureBytes = 4 << 20

// Segment is one verified biometric of an enrolment.
type Segment struct {
	Type, SubType string
	ISO           []byte
	Quality       int
}

// VerifyRegistration checks one RCAPTURE answer against central's own
// registry: signature and chain to an active vendor's provider CA, digital
// ID, hash chain, timestamps, purpose Registration, and the signing device
// enrolled, active, under an active vendor, with its current certificate.
// It returns the segments, the device serial and the thumbprint of the
// device certificate that signed them.
func VerifyRegistration(ctx context.Context, st store.Store, now func() time.Time, maxAge time.Duration, raw json.RawMessage) ([]Segment, string, string, error) {
	var env struct {
		Request  json.RawMessage `json:"request"`
		Response json.RawMessage `json:"response"`
	}
	respRaw := raw
	var req *sbi.CaptureRequest
	// Open: a bare RCAPTURE answer has members the envelope does not name.
	if err := jsonx.Unmarshal(raw, &env, CaptureLimits); err != nil {
		return nil, "", "", core.BadRequest("capture: %v", err)
	}
	if len(env.Response) > 0 {
		respRaw = env.Response
		if len(env.Request) > 0 {
			r, err := sbi.ParseCaptureRequest(env.Request)
			if err != nil {
				return nil, "", "", core.BadRequest("capture request: %v", err)
			}
			req = r
		}
	}
	resp, err := sbi.ParseCaptureResponse(respRaw)
	if err != nil {
		return nil, "", "", core.BadRequest("not an SBI RCAPTURE answer: %v", err)
	}
	if len(resp.Biometrics) == 0 {
		return nil, "", "", core.BadRequest("the RCAPTURE answer holds no biometrics")
	}
	if req == nil {
		req = sbi.MinimalRequest("", "", resp)
		if req == nil {
			return nil, "", "", core.BadRequest("the RCAPTURE answer carries no readable signed data")
		}
	}
	if req.Purpose != sbi.PurposeRegistration {
		return nil, "", "", core.BadRequest("captures for enrolment must have purpose Registration (RCAPTURE), not %q", req.Purpose)
	}
	roots := x509.NewCertPool()
	var devices map[string]*store.Device
	var vendors []store.Vendor
	serials := map[string]bool{}
	for _, e := range resp.Biometrics {
		if s := peekSerial(e.Data); s != "" {
			serials[s] = true
		}
	}
	err = st.View(ctx, func(tx store.Tx) error {
		var err error
		if vendors, err = tx.Vendors(ctx); err != nil {
			return err
		}
		devices, err = tx.DevicesBySerial(ctx, keysOf(serials))
		return err
	})
	if err != nil {
		return nil, "", "", err
	}
	vendorStatus := map[string]string{}
	for _, v := range vendors {
		vendorStatus[v.ID] = v.Status
		if v.Status != trustfeed.Active {
			continue
		}
		if ca, err := x509.ParseCertificate(v.CACert); err == nil {
			roots.AddCert(ca)
		}
	}
	ver := &sbi.Verifier{DeviceRoots: roots, FTMRoots: roots, Now: now, MaxAge: maxAge}
	res, ps := ver.VerifyCaptureResponse(resp, sbi.Expect{Request: req})
	if len(ps) > 0 {
		msgs := make([]string, 0, 3)
		for _, p := range ps[:min(3, len(ps))] {
			msgs = append(msgs, p.Error())
		}
		hint := ""
		switch {
		case slices.ContainsFunc(ps, func(p sbi.Problem) bool { return p.Check == sbi.CheckSkew }):
			hint = fmt.Sprintf(" (captures may be at most %s old: capture again, or raise serve --capture-max-age)", maxAge)
		case slices.ContainsFunc(ps, func(p sbi.Problem) bool { return p.Check == sbi.CheckChain }):
			hint = " (is the device's vendor registered and active?)"
		}
		return nil, "", "", core.Fail(http.StatusUnprocessableEntity, "capture_invalid", "the RCAPTURE answer does not verify: %s%s", strings.Join(msgs, "; "), hint)
	}
	var serial string
	var out []Segment
	for i, sg := range res.Segments {
		if sg.DigitalID == nil || sg.Data == nil {
			return nil, "", "", core.Fail(http.StatusUnprocessableEntity, "capture_invalid", "biometric %d has no signed digital ID", i)
		}
		if serial == "" {
			serial = sg.DigitalID.SerialNo
		} else if serial != sg.DigitalID.SerialNo {
			return nil, "", "", core.Fail(http.StatusUnprocessableEntity, "capture_invalid", "the biometrics come from different devices")
		}
		d := devices[serial]
		if d == nil {
			return nil, "", "", core.Fail(http.StatusUnprocessableEntity, "device_unknown", "device %s is not registered with central; enrol it first", serial)
		}
		if d.Status != trustfeed.Active || vendorStatus[d.VendorID] != trustfeed.Active {
			return nil, "", "", core.Fail(http.StatusUnprocessableEntity, "device_not_active", "device %s (vendor %s) is not active: its captures cannot enrol anyone", serial, d.VendorID)
		}
		if j, err := sbi.ParseJWS(resp.Biometrics[i].Data); err != nil || len(j.Chain) == 0 || feeds.Thumb(j.Chain[0].Raw) != feeds.Thumb(d.DeviceCert) {
			return nil, "", "", core.Fail(http.StatusUnprocessableEntity, "device_key_retired", "device %s signed with a key that is not its current certificate", serial)
		}
		q := 0
		if f, err := strconv.ParseFloat(string(sg.Data.QualityScore), 64); err == nil && f >= 0 && f <= 100 {
			q = int(f)
		}
		out = append(out, Segment{Type: sg.Data.BioType, SubType: sg.Data.BioSubType, ISO: sg.ISO, Quality: q})
	}
	return out, serial, feeds.Thumb(devices[serial].DeviceCert), nil
}

func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// peekSerial reads the device serial from a data JWS's digital ID without
// verifying anything (the verifier does; this only picks registry rows).
func peekSerial(jws string) string {
	p, err := sbi.PeekPayload(jws)
	if err != nil {
		return ""
	}
	d, err := sbi.ParseCaptureData(p)
	if err != nil {
		return ""
	}
	p, err = sbi.PeekPayload(d.DigitalID)
	if err != nil {
		return ""
	}
	id, err := sbi.ParseDigitalID(p)
	if err != nil {
		return ""
	}
	return id.SerialNo
}

// Templates turns verified segments into stored templates: an MCC
// template per finger, an iris code per eye (internal/biometric/iris) and
// a face descriptor (internal/biometric/face), each made once here so the
// appliance pays only for the probe; the images themselves are not kept.
func Templates(segs []Segment) ([]recordfeed.Biometric, error) {
	fp := match.NewFingerprint()
	bySub := map[string]recordfeed.Biometric{}
	var order []string
	for _, s := range segs {
		key := s.Type + "/" + s.SubType
		var b recordfeed.Biometric
		switch s.Type {
		case sbi.TypeFinger:
			t, err := fp.Extract(s.ISO)
			if err == nil && len(t.Minutiae) < EnrolMinMinutiae {
				err = fmt.Errorf("%w: %d", match.ErrNoMinutiae, len(t.Minutiae))
			}
			if errors.Is(err, match.ErrNoMinutiae) {
				return nil, core.Fail(http.StatusUnprocessableEntity, "template_failed",
					"%s: too few minutiae for an enrolment template (at least %d needed); clean the sensor and capture that finger again", s.SubType, EnrolMinMinutiae)
			}
			if err != nil {
				return nil, core.Fail(http.StatusUnprocessableEntity, "template_failed", "%s: no usable template (%v); capture that finger again", s.SubType, err)
			}
			data, err := t.MarshalBinary()
			if err != nil {
				return nil, err
			}
			b = recordfeed.Biometric{Type: s.Type, SubType: s.SubType, Format: recordfeed.TemplateMCC, Quality: s.Quality, Data: data}
		case sbi.TypeIris:
			data, err := IrisTemplate(s.ISO)
			if err != nil {
				return nil, core.Fail(http.StatusUnprocessableEntity, "template_failed", "iris %s: no usable template (%v); capture that eye again", s.SubType, err)
			}
			b = recordfeed.Biometric{Type: s.Type, SubType: s.SubType, Format: recordfeed.TemplateIrisCode, Quality: s.Quality, Data: data}
		case sbi.TypeFace:
			data, err := FaceTemplate(s.ISO)
			if err != nil {
				return nil, core.Fail(http.StatusUnprocessableEntity, "template_failed", "face: no usable template (%v); capture the face again", err)
			}
			b = recordfeed.Biometric{Type: s.Type, SubType: s.SubType, Format: recordfeed.TemplateFaceDescriptor, Quality: s.Quality, Data: data}
		default:
			continue
		}
		if len(b.Data) > recordfeed.MaxTemplate {
			return nil, core.Fail(http.StatusUnprocessableEntity, "template_failed", "%s %s: record of %d bytes is larger than %d", s.Type, s.SubType, len(b.Data), recordfeed.MaxTemplate)
		}
		if _, seen := bySub[key]; !seen {
			order = append(order, key)
		}
		bySub[key] = b // a later capture of the same finger replaces an earlier one
	}
	out := make([]recordfeed.Biometric, 0, len(order))
	for _, k := range order {
		out = append(out, bySub[k])
	}
	if len(out) > recordfeed.MaxBiometrics {
		return nil, core.BadRequest("at most %d biometrics per person", recordfeed.MaxBiometrics)
	}
	return out, nil
}

// RecheckSigners checks, inside the enrolment's transaction, that every
// signing device is still active under an active vendor and still has the
// certificate that signed.
func RecheckSigners(ctx context.Context, tx store.Tx, signers map[string]string) error {
	devs, err := tx.DevicesBySerial(ctx, slices.Sorted(maps.Keys(signers)))
	if err != nil {
		return err
	}
	for sn, cert := range signers {
		d := devs[sn]
		if d == nil {
			return core.Fail(http.StatusUnprocessableEntity, "device_unknown", "device %s is not registered with central; enrol it first", sn)
		}
		v, err := tx.Vendor(ctx, d.VendorID)
		if err != nil {
			return err
		}
		if d.Status != trustfeed.Active || v.Status != trustfeed.Active {
			return core.Fail(http.StatusUnprocessableEntity, "device_not_active", "device %s (vendor %s) is not active: its captures cannot enrol anyone", sn, d.VendorID)
		}
		if feeds.Thumb(d.DeviceCert) != cert {
			return core.Fail(http.StatusUnprocessableEntity, "device_key_retired", "device %s signed with a key that is not its current certificate", sn)
		}
	}
	return nil
}

// IrisTemplate decodes an ISO/IEC 19794-6 record's image and encodes the
// iris (segmentation, rubber sheet, log-Gabor code and mask).
func IrisTemplate(rec []byte) ([]byte, error) {
	img, _, err := isoimage.DecodeIris(rec)
	if err != nil {
		return nil, err
	}
	t, _, err := iris.Encode(img)
	if err != nil {
		return nil, err
	}
	return t.MarshalBinary()
}

// FaceTemplate decodes an ISO/IEC 19794-5 record's image and computes the
// descriptor of the one face in it with the embedded model.
func FaceTemplate(rec []byte) ([]byte, error) {
	m, err := face.Default()
	if err != nil {
		return nil, err
	}
	img, _, err := isoimage.DecodeFace(rec)
	if err != nil {
		return nil, err
	}
	d, _, err := m.Descriptor(img)
	if err != nil {
		return nil, err
	}
	return m.MarshalDescriptor(d), nil
}
