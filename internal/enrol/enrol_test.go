package enrol

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

func validFinish() FinishRequest {
	kp := KeyProof{PublicArea: []byte{1, 2, 3}, Certify: tpm.Attestation{Attest: []byte{4}, Signature: []byte{5}}}
	return FinishRequest{Session: "s", Secret: []byte{1}, Devices: []DeviceRequest{{
		DigitalID: sbi.DigitalID{SerialNo: "SN1", Make: "m", Model: "m", Type: "Finger", DeviceSubType: "Single",
			DeviceProvider: "Acme", DeviceProviderID: "ACME"}, FTMKey: kp, DeviceKey: kp}}}
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestDecodeFinishRejects(t *testing.T) {
	if _, err := DecodeFinish(strings.NewReader(enc(validFinish()))); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	mut := func(f func(q *FinishRequest)) string {
		q := validFinish()
		f(&q)
		return enc(q)
	}
	for name, body := range map[string]string{
		"unknown field":    `{"session":"s","secret":"AQ==","devices":[],"extra":1}`,
		"trailing data":    enc(validFinish()) + `{}`,
		"too large":        `{"session":"` + strings.Repeat("a", MaxRequestBytes) + `"}`,
		"no session":       mut(func(q *FinishRequest) { q.Session = "" }),
		"empty secret":     mut(func(q *FinishRequest) { q.Secret = nil }),
		"long secret":      mut(func(q *FinishRequest) { q.Secret = make([]byte, MaxSecret+1) }),
		"nothing":          mut(func(q *FinishRequest) { q.Devices = nil }),
		"both":             mut(func(q *FinishRequest) { q.Appliance = &ApplianceRequest{ID: "A"} }),
		"bad serial":       mut(func(q *FinishRequest) { q.Devices[0].DigitalID.SerialNo = "SN 1/../x" }),
		"control chars":    mut(func(q *FinishRequest) { q.Devices[0].DigitalID.Model = "a\nb" }),
		"missing make":     mut(func(q *FinishRequest) { q.Devices[0].DigitalID.Make = "" }),
		"long model":       mut(func(q *FinishRequest) { q.Devices[0].DigitalID.Model = strings.Repeat("m", MaxField+1) }),
		"duplicate serial": mut(func(q *FinishRequest) { q.Devices = append(q.Devices, q.Devices[0]) }),
		"big public area":  mut(func(q *FinishRequest) { q.Devices[0].FTMKey.PublicArea = make([]byte, MaxPublicArea+1) }),
		"no signature":     mut(func(q *FinishRequest) { q.Devices[0].DeviceKey.Certify.Signature = nil }),
		"too many devices": mut(func(q *FinishRequest) {
			for i := 0; i < MaxDevices; i++ {
				d := q.Devices[0]
				d.DigitalID.SerialNo = "X" + strings.Repeat("1", i+1)
				q.Devices = append(q.Devices, d)
			}
		}),
	} {
		if _, err := DecodeFinish(strings.NewReader(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestDecodeStartRejects(t *testing.T) {
	ok := StartRequest{Token: "t", EKPublic: []byte{1}, AKPublic: []byte{2}}
	if _, err := DecodeStart(strings.NewReader(enc(ok))); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]StartRequest{
		"no token":    {EKPublic: []byte{1}, AKPublic: []byte{2}},
		"long token":  {Token: strings.Repeat("t", MaxToken+1), EKPublic: []byte{1}, AKPublic: []byte{2}},
		"no EK":       {Token: "t", AKPublic: []byte{2}},
		"no AK":       {Token: "t", EKPublic: []byte{1}},
		"big EK cert": {Token: "t", EKPublic: []byte{1}, AKPublic: []byte{2}, EKCert: make([]byte, MaxEKCert+1)},
	} {
		if _, err := DecodeStart(strings.NewReader(enc(q))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestNonceBinding: every input of a certify nonce changes it, and the
// length prefixes keep fields from sliding into each other.
func TestNonceBinding(t *testing.T) {
	n := []byte("nonce")
	base := CertifyNonce(n, RoleDevice, []byte("subject"))
	for name, other := range map[string][]byte{
		"role":    CertifyNonce(n, RoleFTM, []byte("subject")),
		"nonce":   CertifyNonce([]byte("nonc3"), RoleDevice, []byte("subject")),
		"subject": CertifyNonce(n, RoleDevice, []byte("subjecT")),
		"shift":   CertifyNonce(append(n, 'd'), "evice", []byte("subject")),
	} {
		if bytes.Equal(base, other) {
			t.Errorf("changing the %s does not change the nonce", name)
		}
	}
	if len(base) > tpm.MaxNonce {
		t.Errorf("nonce of %d bytes exceeds what a TPM takes", len(base))
	}
	id := sbi.DigitalID{SerialNo: "A", Make: "B"}
	id2 := sbi.DigitalID{SerialNo: "AB"}
	if bytes.Equal(DigitalIDSubject(id), DigitalIDSubject(id2)) {
		t.Error("digital ID fields slide into each other")
	}
	id3 := id
	id3.DateTime = time.Now().Format(time.RFC3339)
	if !bytes.Equal(DigitalIDSubject(id), DigitalIDSubject(id3)) {
		t.Error("dateTime changes the subject (it must not: it changes per signature)")
	}
}

func TestEKPolicyRejectsMalformed(t *testing.T) {
	p := EKPolicy{Allow: map[string]bool{}}
	for _, b := range [][]byte{nil, {0}, bytes.Repeat([]byte{0xff}, 300)} {
		if _, _, err := p.Check(b, nil, time.Now()); err == nil {
			t.Errorf("EK %x accepted", b)
		}
	}
}

// TestDecodeStrict: enrolment requests are decoded strictly (issue #19),
// and a count bomb of devices is refused as it streams, within budget.
func TestDecodeStrict(t *testing.T) {
	bomb := httpxtest.CountBomb(`{"session":"s","secret":"AQ==","devices":`, (MaxRequestBytes-64)/3, `}`)
	for name, body := range map[string]string{
		"duplicate":    `{"token":"a","token":"b","ekPublic":"AA==","akPublic":"AA=="}`,
		"invalid utf8": "{\"token\":\"a\xff\",\"ekPublic\":\"AA==\",\"akPublic\":\"AA==\"}",
		"case":         `{"Token":"a","ekPublic":"AA==","akPublic":"AA=="}`,
		"unknown":      `{"token":"a","ekPublic":"AA==","akPublic":"AA==","x":1}`,
		"devices bomb": bomb,
	} {
		var err error
		n := httpxtest.Allocated(func() {
			if name == "devices bomb" {
				_, err = DecodeFinish(strings.NewReader(body))
			} else {
				_, err = DecodeStart(strings.NewReader(body))
			}
		})
		var je *jsonx.Error
		if !errors.As(err, &je) {
			t.Errorf("%s: %v, want a *jsonx.Error", name, err)
		}
		if n > httpxtest.Budget(len(body)) {
			t.Errorf("%s: refusing %d bytes allocated %d (budget %d)", name, len(body), n, httpxtest.Budget(len(body)))
		}
	}
	if _, err := DecodeStart(strings.NewReader(`{"token":"a","ekPublic":"AA==","akPublic":"AA=="}`)); err != nil {
		t.Fatalf("a good start request: %v", err)
	}
}
