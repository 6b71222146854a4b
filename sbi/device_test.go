package sbi

import (
	"crypto"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

func TestDiscoveryBuildAndVerify(t *testing.T) {
	p := getPKI(t)
	b := newBuilder(p, TypeFinger, PurposeRegistration, CertL0)
	v := newVerifier(p)
	d, err := b.Discovery(StatusReady)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal([]Discovery{d})
	// CTK-required shape: strings for deviceSubId, exact success object.
	for _, want := range []string{`"deviceSubId":["0","1","2","3"]`, `"error":{"errorCode":"0","errorInfo":"Success"}`,
		`"callbackId":"http://127.0.0.1:4501/"`, `"specVersion":["0.9.5"]`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("discovery lacks %s: %s", want, raw)
		}
	}
	list, err := ParseDiscoverResponse(raw)
	if err != nil || len(list) != 1 {
		t.Fatal(err)
	}
	did, ps := v.VerifyDiscovery(&list[0], 4501, 0)
	if len(ps) != 0 || did.Type != TypeFinger || did.DateTime != "2025-03-01T12:00:00Z" {
		t.Fatalf("%+v\n%s", did, checks(ps))
	}
	for _, st := range []string{StatusBusy, StatusNotReady, StatusNotRegistered} {
		d, _ := b.Discovery(st)
		if _, ps := v.VerifyDiscovery(&d, 4501, 0); len(ps) != 0 {
			t.Errorf("%s: %s", st, checks(ps))
		}
		if st == StatusNotRegistered && (d.DeviceID != "" || d.DeviceCode != "" || d.Purpose != "" || d.Error.Code != CodeNotRegistered) {
			t.Errorf("not registered discovery %+v", d)
		}
	}

	bad := func(f func(d *Discovery)) Problems {
		d, _ := b.Discovery(StatusReady)
		f(&d)
		_, ps := v.VerifyDiscovery(&d, 4501, 0)
		return ps
	}
	cases := map[string]struct {
		f    func(d *Discovery)
		want Check
	}{
		"port":           {func(d *Discovery) { d.CallbackID = CallbackID(4502) }, CheckField},
		"ready with 111": {func(d *Discovery) { d.Error = NewError(CodeBusy) }, CheckStatus},
		"busy success":   {func(d *Discovery) { d.DeviceStatus = StatusBusy }, CheckStatus},
		"spec":           {func(d *Discovery) { d.SpecVersion = []string{"0.9.2"} }, CheckSpecVersion},
		"cert":           {func(d *Discovery) { d.Certification = "SBI 2.0" }, CheckField},
		"deviceCode":     {func(d *Discovery) { d.DeviceCode = "" }, CheckField},
		"subid":          {func(d *Discovery) { d.DeviceSubID = []NumString{"x"} }, CheckField},
		"signed digital ID": {func(d *Discovery) {
			d.DigitalID, _ = b.SignedDigitalID()
		}, CheckDigitalID},
		"bad pair": {func(d *Discovery) {
			id := b.Device.DigitalID
			id.DeviceSubType, id.DateTime = "Double", "2025-03-01T12:00:00Z"
			d.DigitalID, _ = id.Unsigned()
		}, CheckDigitalID},
		"ms dateTime": {func(d *Discovery) {
			id := b.Device.DigitalID
			id.DateTime = "2025-03-01T12:00:00.000Z"
			d.DigitalID, _ = id.Unsigned()
		}, CheckTimestamp},
	}
	for name, c := range cases {
		ps := bad(c.f)
		if len(ps) != 1 || ps[0].Check != c.want {
			t.Errorf("%s: want one %s, got:\n%s", name, c.want, checks(ps))
		}
	}
}

func TestInfoBuildAndVerify(t *testing.T) {
	p := getPKI(t)
	v := newVerifier(p)
	for _, cert := range []string{CertL0, CertL1} {
		b := newBuilder(p, TypeIris, PurposeAuth, cert)
		for _, st := range []string{StatusReady, StatusBusy, StatusNotReady, StatusNotRegistered} {
			e, err := b.Info(st)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal([]InfoEntry{e})
			list, err := ParseInfoResponse(raw)
			if err != nil {
				t.Fatal(err)
			}
			res, ps := v.VerifyInfo(&list[0], 0)
			if len(ps) != 0 {
				t.Fatalf("%s %s:\n%s", cert, st, checks(ps))
			}
			if res.Info.DeviceStatus != st || res.DigitalID == nil || res.DigitalID.Type != TypeIris {
				t.Errorf("%s %s: %+v", cert, st, res)
			}
			if signed := strings.Count(e.DeviceInfo, ".") == 2; signed != (st != StatusNotRegistered) || res.Signed != signed {
				t.Errorf("%s %s: signed=%v", cert, st, signed)
			}
			if st == StatusNotRegistered && (res.Info.Env != EnvNone || e.Error.Code != CodeNotRegistered || strings.Contains(res.Info.DigitalID, ".")) {
				t.Errorf("not registered: %+v %+v", res.Info, e.Error)
			}
		}
	}
}

func TestInfoNegative(t *testing.T) {
	p := getPKI(t)
	v := newVerifier(p)
	type tc struct {
		cert  string
		alter func(b *Builder, e *InfoEntry)
		want  []Check
	}
	resignInfo := func(b *Builder, e *InfoEntry, f func(m map[string]any)) {
		e.DeviceInfo = resign(t, p.device, e.DeviceInfo, f)
	}
	cases := map[string]tc{
		"rogue device key": {CertL1, func(b *Builder, e *InfoEntry) {
			b.DeviceKey = p.rogue
			*e, _ = b.Info(StatusReady)
		}, []Check{CheckChain}},
		"expired device key": {CertL1, func(b *Builder, e *InfoEntry) {
			b.DeviceKey = p.expired
			*e, _ = b.Info(StatusReady)
		}, []Check{CheckValidity}},
		"L1 digital ID by device key": {CertL1, func(b *Builder, e *InfoEntry) {
			b.FTMKey = p.device
			*e, _ = b.Info(StatusReady)
		}, []Check{CheckChain}},
		"L0 digital ID by FTM key": {CertL0, func(b *Builder, e *InfoEntry) {
			did, _ := b.digitalID().Sign(p.ftm)
			resignInfo(b, e, func(m map[string]any) { m["digitalId"] = did })
		}, []Check{CheckDigitalIDSigner, CheckChain}},
		"unsigned but registered": {CertL1, func(b *Builder, e *InfoEntry) {
			j, _ := ParseJWS(e.DeviceInfo)
			e.DeviceInfo = EncodeUnsigned(j.Payload)
		}, []Check{CheckSignature}},
		"busy with success": {CertL1, func(b *Builder, e *InfoEntry) {
			*e, _ = b.Info(StatusBusy)
			e.Error = Success
		}, []Check{CheckStatus}},
		"not ready with success": {CertL1, func(b *Builder, e *InfoEntry) {
			*e, _ = b.Info(StatusNotReady)
			e.Error = Success
		}, []Check{CheckStatus}},
		"not registered without 100": {CertL1, func(b *Builder, e *InfoEntry) {
			*e, _ = b.Info(StatusNotRegistered)
			e.Error = NewError(CodeNotReady)
		}, []Check{CheckStatus}},
		"stale digital ID": {CertL0, func(b *Builder, e *InfoEntry) {
			b.Now = func() time.Time { return testNow.Add(-time.Hour) }
			*e, _ = b.Info(StatusReady)
		}, []Check{CheckSkew}},
		"env None while registered": {CertL1, func(b *Builder, e *InfoEntry) {
			resignInfo(b, e, func(m map[string]any) { m["env"] = EnvNone })
		}, []Check{CheckField}},
		"garbage": {CertL1, func(b *Builder, e *InfoEntry) { e.DeviceInfo = "%%%" }, []Check{CheckInput}},
		"bad JWS": {CertL1, func(b *Builder, e *InfoEntry) { e.DeviceInfo = "a.b.c" }, []Check{CheckJWS}},
	}
	for name, c := range cases {
		b := newBuilder(p, TypeFinger, PurposeRegistration, c.cert)
		e, err := b.Info(StatusReady)
		if err != nil {
			t.Fatal(err)
		}
		c.alter(b, &e)
		_, ps := v.VerifyInfo(&e, 3)
		if len(ps) != len(c.want) {
			t.Errorf("%s: want %v, got:\n%s", name, c.want, checks(ps))
			continue
		}
		for i, w := range c.want {
			if ps[i].Check != w || ps[i].Segment != 3 {
				t.Errorf("%s: want %v, got:\n%s", name, c.want, checks(ps))
			}
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	p := getPKI(t)
	b := newBuilder(p, TypeFinger, PurposeAuth, CertL1)
	b.FTMKey = Identity{}
	if _, err := b.SignedDigitalID(); err == nil {
		t.Error("L1 without FTM key")
	}
	b = newBuilder(p, TypeFinger, PurposeAuth, CertL1)
	if _, err := b.Capture(authRequest(TypeFinger, 1), []Segment{{ISO: []byte{1}}}, nil); err == nil {
		t.Error("auth without encryption certificate")
	}
	if _, err := b.Capture(&CaptureRequest{}, nil, p.encCert); err == nil {
		t.Error("request without bio")
	}
	if _, err := b.Capture(authRequest(TypeFinger, 1), []Segment{{Type: TypeIris, ISO: []byte{1}}}, p.encCert); err == nil {
		t.Error("segment of a type not requested")
	}
	var pr Problem
	if pr.Check, pr.Segment = CheckHash, -1; pr.Error() != "hash" {
		t.Errorf("nil-error problem text %q", pr.Error())
	}
	req := authRequest(TypeFinger, 1)
	req.Bio[0].PreviousHash = "xyz"
	if _, err := b.Capture(req, []Segment{{ISO: []byte{1}}}, p.encCert); err == nil {
		t.Error("bad previousHash")
	}
}

type countSigner struct {
	crypto.Signer
	n *int
}

func (c countSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	*c.n++
	return c.Signer.Sign(r, d, o)
}

func TestDigitalIDCache(t *testing.T) {
	p := getPKI(t)
	b := newBuilder(p, TypeFinger, PurposeAuth, CertL1)
	signs := 0
	b.FTMKey.Signer = countSigner{b.FTMKey.Signer, &signs}
	now := testNow
	b.Now = func() time.Time { return now }
	b.DigitalIDMaxAge = 20 * time.Second
	first, err := b.SignedDigitalID()
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(10 * time.Second)
	again, _ := b.SignedDigitalID()
	if again != first || signs != 1 {
		t.Fatalf("digital ID re-signed within its maximum age (%d signatures)", signs)
	}
	now = now.Add(11 * time.Second)
	fresh, _ := b.SignedDigitalID()
	if fresh == first || signs != 2 {
		t.Fatalf("digital ID reused past its maximum age (%d signatures)", signs)
	}
	d, _, err := DecodeDigitalID(fresh)
	if err != nil || d.DateTime != FormatTime(now) {
		t.Fatalf("fresh digital ID dateTime %v, want %s (%v)", d, FormatTime(now), err)
	}
	// A clock that goes backwards must not serve an ID from the future.
	now = now.Add(-time.Minute)
	if back, _ := b.SignedDigitalID(); back == fresh || signs != 3 {
		t.Fatal("cached digital ID served after the clock went back")
	}
	// Without a maximum age every call signs anew.
	b.DigitalIDMaxAge = 0
	b.SignedDigitalID()
	b.SignedDigitalID()
	if signs != 5 {
		t.Fatalf("%d signatures, want 5", signs)
	}
}
