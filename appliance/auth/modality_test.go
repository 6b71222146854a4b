package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

// presentAll puts synthetic person seed before every emulated sensor.
func (f *fixture) presentAll(seed uint64) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := f.ag.Present(ctx, seed, "Left IndexFinger", fingerReg, fingerAuth, irisReg, irisAuth, faceReg, faceAuth); err != nil {
		f.t.Fatal(err)
	}
}

// enrolEyesAndFace captures person seed's two eyes and face for
// registration and makes the templates central makes (an iris code per
// eye, a face descriptor).
func (f *fixture) enrolEyesAndFace(seed uint64) []recordfeed.Biometric {
	f.t.Helper()
	f.presentAll(seed)
	var out []recordfeed.Biometric
	for _, c := range []struct {
		dev, typ string
		subID, n int
	}{{irisReg, sbi.TypeIris, 3, 2}, {faceReg, sbi.TypeFace, 0, 1}} {
		req := agenttest.RegRequest(c.dev, c.typ, c.subID, c.n)
		raw := f.ag.Capture(f.t, req)
		p, err := captureverify.ParseCapture(req.TransactionID, raw)
		if err != nil {
			f.t.Fatal(err)
		}
		res, err := f.capv.Verify(p)
		if err != nil || !res.Valid {
			f.t.Fatalf("%s registration capture: %v %q", c.typ, err, res.Reasons)
		}
		for _, s := range res.Samples {
			b := recordfeed.Biometric{Type: s.BioType, SubType: s.BioSubType}
			if s.BioType == sbi.TypeIris {
				img, _, err := isoimage.DecodeIris(s.ISO)
				if err != nil {
					f.t.Fatal(err)
				}
				tp, _, err := iris.Encode(img)
				if err != nil {
					f.t.Fatal(err)
				}
				b.Format = recordfeed.TemplateIrisCode
				b.Data, _ = tp.MarshalBinary()
			} else {
				m, _ := face.Default()
				img, _, err := isoimage.DecodeFace(s.ISO)
				if err != nil {
					f.t.Fatal(err)
				}
				d, _, err := m.Descriptor(img)
				if err != nil {
					f.t.Fatal(err)
				}
				b.Format = recordfeed.TemplateFaceDescriptor
				b.Data = m.MarshalDescriptor(d)
			}
			out = append(out, b)
		}
	}
	if len(out) != 3 {
		f.t.Fatalf("%d iris and face templates, want 3", len(out))
	}
	return out
}

// capture is authCapture, with no bioSubType for a face (SBI: faces have none).
func (f *fixture) capture(dev, typ, txn string) json.RawMessage {
	f.t.Helper()
	if typ != sbi.TypeFace {
		return f.authCapture(dev, typ, txn)
	}
	req := agenttest.AuthRequest(dev, typ, 1)
	req.TransactionID, req.Bio[0].BioSubType = txn, nil
	return f.ag.Capture(f.t, req)
}

func multiReq(number, txn string, captures ...json.RawMessage) map[string]any {
	r := bioReq(number, txn, nil)
	r["biometrics"] = captures
	return r
}

// Issue #18: iris and face captures authenticate offline against the
// templates central made at enrolment; another person is refused by each
// modality; a sample is never compared with another modality's template;
// a multi-modal request passes only when every modality matches.
func TestIrisAndFace(t *testing.T) {
	f := newFixture(t, nil)
	f.addRP("kiosk-m", trustfeed.Active, []string{recordfeed.AuthDemo, recordfeed.AuthFinger, recordfeed.AuthIris, recordfeed.AuthFace}, nil)
	asha := map[string]string{"fullName": "Asha Rao"}
	bio := append(f.enrolFingers(7), f.enrolEyesAndFace(7)...)
	number := f.person("4820193746", "perpetual", asha, bio, nil)
	fingersOnly := f.person("4820193747", "perpetual", asha, f.enrolFingers(7), nil)

	auth1 := func(dev, typ string, vid string) answer {
		txn := txnID()
		return f.post("kiosk-m", bioReq(vid, txn, f.capture(dev, typ, txn)))
	}
	t.Run("the person's own iris and face", func(t *testing.T) {
		f.presentAll(7)
		wantDecision(t, auth1(irisAuth, sbi.TypeIris, number), true, "")
		wantDecision(t, auth1(faceAuth, sbi.TypeFace, number), true, "")
		if d := f.audit.last(); d.Device != faceAuth || len(d.AuthTypes) != 1 || d.AuthTypes[0] != recordfeed.AuthFace {
			t.Fatalf("audit %+v", d)
		}
	})
	t.Run("another person's iris and face", func(t *testing.T) {
		f.presentAll(8)
		wantDecision(t, auth1(irisAuth, sbi.TypeIris, number), false, auth.CodeBioMismatch)
		wantDecision(t, auth1(faceAuth, sbi.TypeFace, number), false, auth.CodeBioMismatch)
	})
	t.Run("no template of the sample's modality", func(t *testing.T) {
		f.presentAll(7)
		for _, c := range []struct{ dev, typ, what string }{{irisAuth, sbi.TypeIris, "no iris template"}, {faceAuth, sbi.TypeFace, "no face template"}} {
			a := auth1(c.dev, c.typ, fingersOnly)
			wantDecision(t, a, false, auth.CodeNoTemplate)
			if m := a.resp.Decision.Errors[0].Message; !strings.Contains(m, c.what) {
				t.Fatalf("message %q does not say %q", m, c.what)
			}
		}
	})
	t.Run("multi-modal: every modality must match", func(t *testing.T) {
		f.presentAll(7)
		txn := txnID()
		a := f.post("kiosk-m", multiReq(number, txn, f.authCapture(fingerAuth, sbi.TypeFinger, txn),
			f.authCapture(irisAuth, sbi.TypeIris, txn), f.capture(faceAuth, sbi.TypeFace, txn)))
		wantDecision(t, a, true, "")
		if d := f.audit.last(); len(d.AuthTypes) != 3 || strings.Count(d.Device, ",") != 2 {
			t.Fatalf("audit of a three-modality decision: %+v", d)
		}
		// Person 7's finger and iris with person 8's face: refused.
		txn = txnID()
		fc, ir := f.authCapture(fingerAuth, sbi.TypeFinger, txn), f.authCapture(irisAuth, sbi.TypeIris, txn)
		f.presentAll(8)
		wantDecision(t, f.post("kiosk-m", multiReq(number, txn, fc, ir, f.capture(faceAuth, sbi.TypeFace, txn))), false, auth.CodeBioMismatch)
	})
	t.Run("a relying party not allowed face", func(t *testing.T) {
		f.presentAll(7)
		txn := txnID()
		wantDecision(t, f.post("kiosk-a", bioReq(number, txn, f.capture(faceAuth, sbi.TypeFace, txn))), false, auth.CodeAuthType)
	})
	t.Run("malformed multi-modal requests are 400s", func(t *testing.T) {
		txn := txnID()
		c := f.authCapture(irisAuth, sbi.TypeIris, txn)
		for name, body := range map[string]map[string]any{
			"four captures": multiReq(number, txn, c, c, c, c),
			"empty array":   multiReq(number, txn),
			"not objects":   multiReq(number, txn, json.RawMessage(`"x"`)),
		} {
			if a := f.post("kiosk-m", body); a.status != http.StatusBadRequest {
				t.Errorf("%s: HTTP %d %s", name, a.status, a.body)
			}
		}
	})
}

// The iris and face thresholds are the handler's: a strict iris threshold
// refuses the genuine eye that passes at the default; out-of-range
// thresholds are refused at start.
func TestModalityThresholds(t *testing.T) {
	f := newFixture(t, func(c *auth.Config) { c.IrisThreshold, c.FaceThreshold = 0.01, 0.01 })
	f.addRP("kiosk-m", trustfeed.Active, []string{recordfeed.AuthIris, recordfeed.AuthFace}, nil)
	number := f.person("4820193746", "perpetual", nil, f.enrolEyesAndFace(7), nil)
	for _, c := range []struct{ dev, typ string }{{irisAuth, sbi.TypeIris}, {faceAuth, sbi.TypeFace}} {
		txn := txnID()
		wantDecision(t, f.post("kiosk-m", bioReq(number, txn, f.capture(c.dev, c.typ, txn))), false, auth.CodeBioMismatch)
	}
	base := auth.Config{Trust: f.reg, Records: f.recs, Captures: f.capv, SigningKey: f.signer.Key, Chain: f.signer.Chain, ApplianceID: "X", Auditor: f.audit}
	for _, c := range []struct{ iris, face float64 }{{0.5, 0}, {-0.1, 0}, {0, 1.5}, {0, -1}} {
		cfg := base
		cfg.IrisThreshold, cfg.FaceThreshold = c.iris, c.face
		if _, err := auth.New(cfg); err == nil {
			t.Errorf("thresholds iris %v face %v accepted", c.iris, c.face)
		}
	}
}
