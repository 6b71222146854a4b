package sbi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

type captureCase struct {
	b    *Builder
	req  *CaptureRequest
	resp *CaptureResponse
	exp  Expect
}

// authCase builds a valid L1 auth capture of two fingers.
func authCase(t *testing.T) captureCase {
	t.Helper()
	p := getPKI(t)
	b := newBuilder(p, TypeFinger, PurposeAuth, CertL1)
	req := authRequest(TypeFinger, 2, SubtypeUnknown, SubtypeUnknown)
	segs := []Segment{
		{SubType: "Left IndexFinger", ISO: readISO(t, "auth_left_index.iso"), Quality: 50},
		{SubType: "Right IndexFinger", ISO: readISO(t, "auth_left_index_wsq.iso"), Quality: 61.5},
	}
	resp, err := b.Capture(req, segs, p.encCert)
	if err != nil {
		t.Fatal(err)
	}
	info := deviceResult(t, b)
	return captureCase{b: b, req: req, resp: resp, exp: Expect{Request: req, Device: info}}
}

// regCase builds a valid L0 registration capture of a left slap, one finger excepted.
func regCase(t *testing.T) captureCase {
	t.Helper()
	p := getPKI(t)
	b := newBuilder(p, TypeFinger, PurposeRegistration, CertL0)
	req := regRequest(TypeFinger, 1, 3, "Left RingFinger")
	iso := readISO(t, "reg_finger1.iso")
	var segs []Segment
	for _, s := range Segments(PurposeRegistration, &req.Bio[0]) {
		segs = append(segs, Segment{SubType: s, ISO: iso, Quality: 70})
	}
	resp, err := b.Capture(req, segs, nil)
	if err != nil {
		t.Fatal(err)
	}
	return captureCase{b: b, req: req, resp: resp, exp: Expect{Request: req, Device: deviceResult(t, b)}}
}

func deviceResult(t *testing.T, b *Builder) *InfoResult {
	t.Helper()
	e, err := b.Info(StatusReady)
	if err != nil {
		t.Fatal(err)
	}
	res, ps := newVerifier(getPKI(t)).VerifyInfo(&e, 0)
	if len(ps) != 0 {
		t.Fatalf("device info: %s", checks(ps))
	}
	return res
}

func roundTrip(t *testing.T, resp *CaptureResponse) []byte {
	t.Helper()
	raw, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestVerifyAuthCapture(t *testing.T) {
	c := authCase(t)
	raw := roundTrip(t, c.resp)
	res, ps := newVerifier(getPKI(t)).VerifyCapture(raw, c.exp)
	if len(ps) != 0 {
		t.Fatalf("valid auth capture has problems:\n%s", checks(ps))
	}
	if len(res.Segments) != 2 || !bytes.Equal(res.Segments[0].ISO, readISO(t, "auth_left_index.iso")) ||
		res.Segments[1].Data.BioSubType != "Right IndexFinger" || res.Segments[0].DigitalID.SerialNo != "SN0123456789AB" {
		t.Fatalf("result %+v", res.Segments[0].Data)
	}
	p := getPKI(t)
	if sg := res.Segments[0]; len(sg.Chain) != 2 || !sg.Chain[0].Equal(p.device.Chain[0]) ||
		len(sg.DigitalIDChain) != 1 || !sg.DigitalIDChain[0].Equal(p.ftm.Chain[0]) {
		t.Fatalf("segment chains: %d device, %d digital ID", len(sg.Chain), len(sg.DigitalIDChain))
	}
	// Wire shape: CAPTURE entries have sessionKey and thumbprint, hashes
	// chain from SHA-256("") over the plain records (§9 checks 22, 25).
	var generic struct {
		Biometrics []map[string]json.RawMessage `json:"biometrics"`
	}
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for i, e := range generic.Biometrics {
		for _, k := range []string{"specVersion", "data", "hash", "sessionKey", "thumbprint", "error"} {
			if _, ok := e[k]; !ok {
				t.Errorf("entry %d lacks %s", i, k)
			}
		}
		if string(e["error"]) != `{"errorCode":"0","errorInfo":"Success"}` {
			t.Errorf("entry %d error %s", i, e["error"])
		}
	}
	hc, _ := NewHashChain("")
	if c.resp.Biometrics[0].Hash != hc.Next(readISO(t, "auth_left_index.iso")) || c.resp.Biometrics[1].Hash != hc.Next(readISO(t, "auth_left_index_wsq.iso")) {
		t.Error("hash chain not over plaintext")
	}
	if *c.resp.Biometrics[0].Thumbprint != Thumbprint(getPKI(t).encCert) {
		t.Error("thumbprint")
	}
	// Data payload shape: strings for scores, no ms, domainUri echoed.
	j, _ := ParseJWS(c.resp.Biometrics[0].Data)
	var m map[string]any
	json.Unmarshal(j.Payload, &m)
	if m["requestedScore"] != "40.0" || m["qualityScore"] != "50.0" || m["timestamp"] != "2025-03-01T12:00:00Z" ||
		m["domainUri"] != "https://ida.example.org" || m["purpose"] != "Auth" {
		t.Errorf("data payload %v", m)
	}
}

func TestVerifyRegistrationCapture(t *testing.T) {
	c := regCase(t)
	raw := roundTrip(t, c.resp)
	if bytes.Contains(raw, []byte("sessionKey")) || bytes.Contains(raw, []byte("thumbprint")) {
		t.Error("registration entries carry sessionKey/thumbprint")
	}
	res, ps := newVerifier(getPKI(t)).VerifyCapture(raw, c.exp)
	if len(ps) != 0 {
		t.Fatalf("valid registration capture has problems:\n%s", checks(ps))
	}
	if len(res.Segments) != 3 || res.Segments[2].Data.BioSubType != "Left LittleFinger" {
		t.Fatalf("segments %d", len(res.Segments))
	}
	j, _ := ParseJWS(c.resp.Biometrics[0].Data)
	var d CaptureData
	json.Unmarshal(j.Payload, &d)
	if d.BioValue != EncodeUnsigned(readISO(t, "reg_finger1.iso")) || d.DomainURI != nil {
		t.Error("registration bioValue is not plain unpadded base64url of the ISO bytes")
	}
}

func TestVerifyFaceAndIris(t *testing.T) {
	p := getPKI(t)
	v := newVerifier(p)
	// Auth face (L1) and registration iris pair (L1).
	b := newBuilder(p, TypeFace, PurposeAuth, CertL1)
	req := authRequest(TypeFace, 1)
	resp, err := b.Capture(req, []Segment{{SubType: "ignored", ISO: readISO(t, "auth_face.iso"), Quality: 80}}, p.encCert)
	if err != nil {
		t.Fatal(err)
	}
	if _, ps := v.VerifyCapture(roundTrip(t, resp), Expect{Request: req, Device: deviceResult(t, b)}); len(ps) != 0 {
		t.Fatalf("face:\n%s", checks(ps))
	}
	j, _ := ParseJWS(resp.Biometrics[0].Data)
	if bytes.Contains(j.Payload, []byte("bioSubType")) {
		t.Error("face data carries bioSubType")
	}

	b = newBuilder(p, TypeIris, PurposeRegistration, CertL1)
	req = regRequest(TypeIris, 3, 2)
	iris := readISO(t, "reg_iris1.iso")
	resp, err = b.Capture(req, []Segment{{SubType: "Left", ISO: iris, Quality: 90}, {SubType: "Right", ISO: iris, Quality: 91}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ps := v.VerifyCapture(roundTrip(t, resp), Expect{Request: req, Device: deviceResult(t, b)}); len(ps) != 0 {
		t.Fatalf("iris:\n%s", checks(ps))
	}
}

// Each negative case must produce exactly its own problem.
func TestVerifyCaptureNegative(t *testing.T) {
	p := getPKI(t)
	type tc struct {
		name  string
		build func(t *testing.T) captureCase
		alter func(c *captureCase, v *Verifier)
		want  []Problem
	}
	reSignData := func(c *captureCase, i int, f func(m map[string]any)) {
		c.resp.Biometrics[i].Data = resign(t, p.device, c.resp.Biometrics[i].Data, f)
	}
	cases := []tc{
		{"wrong signature", authCase, func(c *captureCase, v *Verifier) {
			a, b := strings.Split(c.resp.Biometrics[0].Data, "."), strings.Split(c.resp.Biometrics[1].Data, ".")
			c.resp.Biometrics[0].Data = a[0] + "." + a[1] + "." + b[2]
		}, []Problem{{Check: CheckSignature, Segment: 0}}},
		{"unchained device cert", authCase, func(c *captureCase, v *Verifier) {
			c.b.DeviceKey = p.rogue
			c.resp, _ = c.b.Capture(c.req, []Segment{{SubType: "Left IndexFinger", ISO: readISO(t, "auth_left_index.iso")}, {SubType: "Right IndexFinger", ISO: readISO(t, "auth_left_index.iso")}}, p.encCert)
		}, []Problem{{Check: CheckChain, Segment: 0}, {Check: CheckChain, Segment: 1}}},
		{"expired leaf", regCase, func(c *captureCase, v *Verifier) {
			c.b.DeviceKey = p.expired
			c.resp, _ = c.b.Capture(c.req, []Segment{{SubType: "Left IndexFinger", ISO: readISO(t, "reg_finger1.iso")}, {SubType: "Left MiddleFinger", ISO: readISO(t, "reg_finger1.iso")}, {SubType: "Left LittleFinger", ISO: readISO(t, "reg_finger1.iso")}}, nil)
			c.exp.Device = nil // the device info was built with the valid leaf
		}, []Problem{
			// data and (L0) digital ID are both signed by the expired leaf.
			{Check: CheckValidity, Segment: 0}, {Check: CheckValidity, Segment: 1}, {Check: CheckValidity, Segment: 2},
			{Check: CheckValidity, Segment: 0}, {Check: CheckValidity, Segment: 1}, {Check: CheckValidity, Segment: 2}}},
		{"milliseconds in timestamp", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 1, func(m map[string]any) { m["timestamp"] = "2025-03-01T12:00:00.123Z" })
		}, []Problem{{Check: CheckTimestamp, Segment: 1}}},
		{"clock skew", authCase, func(c *captureCase, v *Verifier) {
			v.Now = func() time.Time { return testNow.Add(10 * time.Minute) }
		}, []Problem{
			{Check: CheckSkew, Segment: 0}, {Check: CheckSkew, Segment: 1}, // data.timestamp
			{Check: CheckSkew, Segment: 0}, {Check: CheckSkew, Segment: 1}}}, // digital ID dateTime
		{"segments out of order", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 2, func(m map[string]any) { m["timestamp"] = "2025-03-01T11:59:00Z" })
		}, []Problem{{Check: CheckSkew, Segment: 2}}},
		{"broken hash chain", authCase, func(c *captureCase, v *Verifier) {
			c.resp.Biometrics[1].Hash = strings.Repeat("AB", 32)
		}, []Problem{{Check: CheckHash, Segment: 1}}},
		{"wrong previousHash", regCase, func(c *captureCase, v *Verifier) {
			c.req.Bio[0].PreviousHash = strings.Repeat("0", 64)
		}, []Problem{{Check: CheckHash, Segment: 0}}},
		{"lower-case hash", authCase, func(c *captureCase, v *Verifier) {
			c.resp.Biometrics[0].Hash = strings.ToLower(c.resp.Biometrics[0].Hash)
		}, []Problem{{Check: CheckHash, Segment: 0}, {Check: CheckHash, Segment: 0}}},
		{"wrong count", authCase, func(c *captureCase, v *Verifier) {
			c.req.Bio[0].Count = "3"
		}, []Problem{{Check: CheckCount, Segment: -1}}},
		{"bioValue for another key", authCase, func(c *captureCase, v *Verifier) {
			c.resp, _ = c.b.Capture(c.req, []Segment{{SubType: "Left IndexFinger", ISO: readISO(t, "auth_left_index.iso")}, {SubType: "Right IndexFinger", ISO: readISO(t, "auth_left_index.iso")}}, p.otherEncCert)
		}, []Problem{{Check: CheckThumbprint, Segment: 0}, {Check: CheckThumbprint, Segment: 1}}},
		{"session key for another key, known thumbprint", authCase, func(c *captureCase, v *Verifier) {
			other, _ := c.b.Capture(c.req, []Segment{{SubType: "Left IndexFinger", ISO: readISO(t, "auth_left_index.iso")}, {SubType: "Right IndexFinger", ISO: readISO(t, "auth_left_index.iso")}}, p.otherEncCert)
			c.resp.Biometrics[0].SessionKey = other.Biometrics[0].SessionKey
		}, []Problem{{Check: CheckDecrypt, Segment: 0}}},
		{"transactionId mismatch", authCase, func(c *captureCase, v *Verifier) {
			c.req.TransactionID = "another-tx-0001"
		}, []Problem{{Check: CheckTransactionID, Segment: 0}, {Check: CheckTransactionID, Segment: 1}}},
		{"env and domainUri not echoed", authCase, func(c *captureCase, v *Verifier) {
			c.req.Env = EnvProduction
			c.req.DomainURI = "https://other"
		}, []Problem{{Check: CheckField, Segment: 0}, {Check: CheckField, Segment: 0}, {Check: CheckField, Segment: 1}, {Check: CheckField, Segment: 1}}},
		{"requestedScore not echoed", regCase, func(c *captureCase, v *Verifier) {
			c.req.Bio[0].RequestedScore = "61"
		}, []Problem{{Check: CheckField, Segment: 0}, {Check: CheckField, Segment: 1}, {Check: CheckField, Segment: 2}}},
		{"subtype outside deviceSubId", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 0, func(m map[string]any) { m["bioSubType"] = "Right IndexFinger" })
		}, []Problem{{Check: CheckSubtype, Segment: 0}}},
		{"excepted segment returned", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 1, func(m map[string]any) { m["bioSubType"] = "Left RingFinger" })
		}, []Problem{{Check: CheckSubtype, Segment: 1}}},
		{"segment returned twice", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 1, func(m map[string]any) { m["bioSubType"] = "Left IndexFinger" })
		}, []Problem{{Check: CheckSubtype, Segment: 1}}},
		{"entry error not success", authCase, func(c *captureCase, v *Verifier) {
			c.resp.Biometrics[1].Error = Error{Code: "0", Info: "OK"}
		}, []Problem{{Check: CheckEntryError, Segment: 1}}},
		{"registration entry with thumbprint", regCase, func(c *captureCase, v *Verifier) {
			c.resp.Biometrics[0].Thumbprint = strPtr("")
		}, []Problem{{Check: CheckField, Segment: 0}}},
		{"spec version", regCase, func(c *captureCase, v *Verifier) {
			c.resp.Biometrics[2].SpecVersion = "1.0.0"
		}, []Problem{{Check: CheckSpecVersion, Segment: 2}}},
		{"not an ISO record", regCase, func(c *captureCase, v *Verifier) {
			junk := []byte("not an iso record at all")
			reSignData(c, 0, func(m map[string]any) { m["bioValue"] = EncodeUnsigned(junk) })
			hc, _ := NewHashChain("")
			c.resp.Biometrics[0].Hash = hc.Next(junk)
			c.resp.Biometrics[1].Hash = hc.Next(readISO(t, "reg_finger1.iso"))
			c.resp.Biometrics[2].Hash = hc.Next(readISO(t, "reg_finger1.iso"))
		}, []Problem{{Check: CheckISO, Segment: 0}}},
		{"ISO modality differs from bioType", regCase, func(c *captureCase, v *Verifier) {
			face := readISO(t, "reg_face.iso")
			reSignData(c, 0, func(m map[string]any) { m["bioValue"] = EncodeUnsigned(face) })
			hc, _ := NewHashChain("")
			c.resp.Biometrics[0].Hash = hc.Next(face)
			c.resp.Biometrics[1].Hash = hc.Next(readISO(t, "reg_finger1.iso"))
			c.resp.Biometrics[2].Hash = hc.Next(readISO(t, "reg_finger1.iso"))
		}, []Problem{{Check: CheckISO, Segment: 0}}},
		{"auth ISO profile in registration", regCase, func(c *captureCase, v *Verifier) {
			lossy := readISO(t, "auth_left_index.iso")
			reSignData(c, 0, func(m map[string]any) { m["bioValue"] = EncodeUnsigned(lossy) })
			hc, _ := NewHashChain("")
			c.resp.Biometrics[0].Hash = hc.Next(lossy)
			c.resp.Biometrics[1].Hash = hc.Next(readISO(t, "reg_finger1.iso"))
			c.resp.Biometrics[2].Hash = hc.Next(readISO(t, "reg_finger1.iso"))
		}, []Problem{{Check: CheckISO, Segment: 0}}},
		{"padded bioValue", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 0, func(m map[string]any) { m["bioValue"] = m["bioValue"].(string) + "==" })
		}, []Problem{{Check: CheckField, Segment: 0}}},
		{"L1 digital ID signed by device key", authCase, func(c *captureCase, v *Verifier) {
			c.b.FTMKey = p.device
			c.resp, _ = c.b.Capture(c.req, []Segment{{SubType: "Left IndexFinger", ISO: readISO(t, "auth_left_index.iso")}, {SubType: "Right IndexFinger", ISO: readISO(t, "auth_left_index.iso")}}, p.encCert)
		}, []Problem{{Check: CheckChain, Segment: 0}, {Check: CheckChain, Segment: 1}}},
		{"L0 digital ID signed by another key", regCase, func(c *captureCase, v *Verifier) {
			did, _ := c.b.digitalID().Sign(p.ftm)
			reSignData(c, 0, func(m map[string]any) { m["digitalId"] = did })
		}, []Problem{{Check: CheckDigitalIDSigner, Segment: 0}, {Check: CheckChain, Segment: 0}}},
		{"digital ID type mismatch", regCase, func(c *captureCase, v *Verifier) {
			d := c.b.digitalID()
			d.Type, d.DeviceSubType = TypeIris, "Double"
			did, _ := d.Sign(p.device)
			reSignData(c, 0, func(m map[string]any) { m["digitalId"] = did })
		}, []Problem{{Check: CheckDigitalID, Segment: 0}, {Check: CheckDigitalID, Segment: 0}}}, // type vs bioType, identity vs device info
		{"unsigned digital ID", regCase, func(c *captureCase, v *Verifier) {
			did, _ := c.b.digitalID().Unsigned()
			reSignData(c, 0, func(m map[string]any) { m["digitalId"] = did })
		}, []Problem{{Check: CheckSignature, Segment: 0}}},
		{"deviceCode differs", regCase, func(c *captureCase, v *Verifier) {
			reSignData(c, 0, func(m map[string]any) { m["deviceCode"] = "someone-else" })
		}, []Problem{{Check: CheckField, Segment: 0}}},
		{"sent after capture", regCase, func(c *captureCase, v *Verifier) {
			c.exp.Sent = testNow.Add(2 * time.Second)
			c.exp.Received = testNow.Add(3 * time.Second)
		}, []Problem{{Check: CheckSkew, Segment: 0}, {Check: CheckSkew, Segment: 1}, {Check: CheckSkew, Segment: 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cc := c.build(t)
			v := newVerifier(p)
			c.alter(&cc, v)
			_, ps := v.VerifyCapture(roundTrip(t, cc.resp), cc.exp)
			only(t, ps, c.want...)
			for _, p := range ps {
				if p.Field == "" && p.Segment >= 0 {
					t.Errorf("problem without field: %v", p)
				}
			}
		})
	}
}

func TestVerifyFaceSubtypeKey(t *testing.T) {
	p := getPKI(t)
	b := newBuilder(p, TypeFace, PurposeRegistration, CertL0)
	req := regRequest(TypeFace, 0, 1)
	resp, err := b.Capture(req, []Segment{{ISO: readISO(t, "reg_face.iso"), Quality: 80}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(p)
	exp := Expect{Request: req, Device: deviceResult(t, b)}
	if _, ps := v.VerifyCaptureResponse(resp, exp); len(ps) != 0 {
		t.Fatalf("valid face:\n%s", checks(ps))
	}
	resp.Biometrics[0].Data = resign(t, p.device, resp.Biometrics[0].Data, func(m map[string]any) { m["bioSubType"] = "null" })
	_, ps := v.VerifyCaptureResponse(resp, exp)
	only(t, ps, Problem{Check: CheckSubtype, Segment: 0})
}

// The verifier reports every reason, not only the first.
func TestVerifyReportsEverything(t *testing.T) {
	p := getPKI(t)
	c := regCase(t)
	c.resp.Biometrics[0].Data = resign(t, p.device, c.resp.Biometrics[0].Data, func(m map[string]any) {
		m["timestamp"] = "2025-03-01T12:00:00.5Z"
		m["transactionId"] = "other-tx"
	})
	c.resp.Biometrics[2].Hash = strings.Repeat("0", 64)
	c.req.Bio[0].Count = "2"
	_, ps := newVerifier(p).VerifyCaptureResponse(c.resp, c.exp)
	only(t, ps,
		Problem{Check: CheckTimestamp, Segment: 0},
		Problem{Check: CheckTransactionID, Segment: 0},
		Problem{Check: CheckHash, Segment: 2},
		Problem{Check: CheckCount, Segment: -1})
	if !ps.Has(CheckHash) || ps.Has(CheckDecrypt) || ps.Err() == nil {
		t.Error("Problems helpers")
	}
	var pr Problem
	if !errors.As(ps.Err(), &pr) || !errors.Is(ps[0], ps[0].Err) {
		t.Error("problems do not unwrap")
	}
	if !errors.Is(ps.Err(), ErrMilliseconds) {
		t.Error("ms problem does not wrap ErrMilliseconds")
	}
}

func TestVerifyNoSecretsInErrors(t *testing.T) {
	p := getPKI(t)
	c := authCase(t)
	v := newVerifier(p)
	v.Keys = []DecryptionKey{{Cert: p.encCert, Key: p.otherEncKey}} // right thumbprint, wrong key
	c.req.TransactionID = "tx-mismatch-9"
	_, ps := v.VerifyCaptureResponse(c.resp, c.exp)
	if !ps.Has(CheckDecrypt) {
		t.Fatalf("want decrypt problems:\n%s", checks(ps))
	}
	msg := ps.Err().Error()
	j, _ := ParseJWS(c.resp.Biometrics[0].Data)
	var d CaptureData
	json.Unmarshal(j.Payload, &d)
	for _, secret := range []string{d.BioValue[:16], (*c.resp.Biometrics[0].SessionKey)[:16], "tx-mismatch-9", "a1b2c3d4-tx"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error text contains %q", secret)
		}
	}
}

func TestVerifyCaptureInput(t *testing.T) {
	v := newVerifier(getPKI(t))
	for name, raw := range map[string]string{"not JSON": "<html>", "too many": `{"biometrics":[` + strings.Repeat(`{},`, MaxBiometrics) + `{}]}`} {
		_, ps := v.VerifyCapture([]byte(raw), Expect{Request: authRequest(TypeFace, 1)})
		if len(ps) != 1 || ps[0].Check != CheckInput {
			t.Errorf("%s: %s", name, checks(ps))
		}
	}
	_, ps := v.VerifyCapture([]byte(`{"biometrics":[]}`), Expect{})
	if len(ps) != 1 || ps[0].Check != CheckInput {
		t.Errorf("no request: %s", checks(ps))
	}
	// An error answer is reported as an entry error and a count mismatch, not a crash.
	raw, _ := json.Marshal(ErrorCapture(PurposeAuth, SpecVersion, NewError(CodeNoBiometric)))
	_, ps = v.VerifyCapture(raw, Expect{Request: authRequest(TypeFace, 1)})
	if !ps.Has(CheckEntryError) || !ps.Has(CheckJWS) {
		t.Errorf("error answer: %s", checks(ps))
	}
}
