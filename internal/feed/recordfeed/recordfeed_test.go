package recordfeed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/records/vid"
)

func testRecord(t testing.TB) *Record {
	t.Helper()
	v, err := vid.New(vid.OneTime, time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC), 0)
	if err != nil {
		t.Fatal(err)
	}
	return &Record{
		Version: Version, UIN: "4820193746", VID: v.Number, VIDKind: "one-time",
		VIDIssued: v.IssuedAt, VIDExpires: v.ExpiresAt, Issued: v.IssuedAt,
		Demographics: map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01"},
		Biometrics:   []Biometric{{Type: "Finger", SubType: "Left IndexFinger", Format: TemplateMCC, Data: []byte{1, 2, 3}}},
		Locked:       []string{AuthIris},
		TokenSeed:    bytes.Repeat([]byte{7}, TokenSeedLen),
	}
}

func rsaCert(t testing.TB) (*x509.Certificate, *rsa.PrivateKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "appliance"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, k
}

func TestRecordRoundTripAndPolicy(t *testing.T) {
	r := testRecord(t)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := r.Marshal()
	if !bytes.Equal(b, b2) {
		t.Fatal("Marshal is not deterministic")
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.UIN != r.UIN || got.Demographics["fullName"] != "Asha Rao" || !got.IsLocked(AuthIris) || got.IsLocked(AuthFinger) {
		t.Fatalf("round trip changed the record: %+v", got)
	}
	p, err := got.VIDPolicy()
	if err != nil || p.Kind != vid.OneTime || p.MaxUses != 1 {
		t.Fatalf("%+v %v", p, err)
	}
	if err := p.Check(r.VIDIssued.Add(time.Minute), 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(r.VIDIssued.Add(time.Minute), 1); !errors.Is(err, vid.ErrUsedUp) {
		t.Fatalf("second use: %v", err)
	}
	if err := p.Check(r.VIDIssued.Add(31*time.Minute), 0); !errors.Is(err, vid.ErrExpired) {
		t.Fatalf("after 31 min: %v", err)
	}
}

func TestUnmarshalStrict(t *testing.T) {
	b, _ := testRecord(t).Marshal()
	var m map[string]any
	json.Unmarshal(b, &m)
	bad := map[string]func(map[string]any){
		"unknown field": func(m map[string]any) { m["admin"] = true },
		"version":       func(m map[string]any) { m["v"] = 2 },
		"bad vid":       func(m map[string]any) { m["vid"] = "1234567890123456" },
		"vid kind":      func(m map[string]any) { m["vidKind"] = "forever" },
		"no uin":        func(m map[string]any) { delete(m, "uin") },
		"token seed":    func(m map[string]any) { m["tokenSeed"] = "AAAA" },
		"lock":          func(m map[string]any) { m["locked"] = []string{"otp-by-pigeon"} },
		"bio type": func(m map[string]any) {
			m["bio"] = []map[string]any{{"type": "Palm", "subType": "x", "format": "f", "data": "AQ=="}}
		},
		"empty tpl": func(m map[string]any) { m["bio"] = []map[string]any{{"type": "Finger", "subType": "x", "format": "f"}} },
		"iris code filed as a face": func(m map[string]any) {
			m["bio"] = []map[string]any{{"type": "Face", "subType": "", "format": TemplateIrisCode, "data": "AQ=="}}
		},
		"face descriptor filed as a finger": func(m map[string]any) {
			m["bio"] = []map[string]any{{"type": "Finger", "subType": "x", "format": TemplateFaceDescriptor, "data": "AQ=="}}
		},
		"mcc template filed as an iris": func(m map[string]any) {
			m["bio"] = []map[string]any{{"type": "Iris", "subType": "Left", "format": TemplateMCC, "data": "AQ=="}}
		},
	}
	for name, f := range bad {
		c := map[string]any{}
		json.Unmarshal(b, &c)
		f(c)
		cb, _ := json.Marshal(c)
		if _, err := Unmarshal(cb); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Unmarshal(append(bytes.Clone(b), []byte(` {}`)...)); err == nil {
		t.Error("trailing data accepted")
	}
	if _, err := Unmarshal(bytes.Repeat([]byte(" "), MaxRecordBytes+1)); err == nil {
		t.Error("oversized accepted")
	}
}

// Every known format belongs to exactly one modality; unknown formats to none.
func TestFormatType(t *testing.T) {
	for f, want := range map[string]string{TemplateMCC: "Finger", TemplateISO197942: "Finger", TemplateIrisCode: "Iris",
		ImageISO197946: "Iris", TemplateFaceDescriptor: "Face", ImageISO197945: "Face", "x-other": ""} {
		if got := FormatType(f); got != want {
			t.Errorf("FormatType(%q) = %q, want %q", f, got, want)
		}
	}
	r := testRecord(t)
	r.Biometrics = append(r.Biometrics, Biometric{Type: "Iris", SubType: "Left", Format: TemplateIrisCode, Data: []byte{1}},
		Biometric{Type: "Face", Format: TemplateFaceDescriptor, Data: []byte{1}})
	if _, err := r.Marshal(); err != nil {
		t.Fatalf("a record with iris and face templates: %v", err)
	}
}

func TestErrorsDoNotQuoteValues(t *testing.T) {
	r := testRecord(t)
	r.Demographics["fullName"] = string(bytes.Repeat([]byte("Z"), MaxAttrValue+1))
	_, err := r.Marshal()
	if err == nil || bytes.Contains([]byte(err.Error()), []byte("ZZZ")) || bytes.Contains([]byte(err.Error()), []byte(r.UIN)) {
		t.Fatalf("error %v", err)
	}
}

func TestSignVerify(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	b, _ := testRecord(t).Marshal()
	sig := Sign(priv, b)
	if err := (Verifier{Keys: []ed25519.PublicKey{other, pub}}).Verify(b, sig); err != nil {
		t.Fatal(err)
	}
	if err := (Verifier{Keys: []ed25519.PublicKey{other}}).Verify(b, sig); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
	b[10] ^= 1
	if err := (Verifier{Keys: []ed25519.PublicKey{pub}}).Verify(b, sig); !errors.Is(err, ErrSignature) {
		t.Fatalf("altered record: %v", err)
	}
	// The prefix separates record signatures from raw signatures (e.g. feed checkpoints).
	b[10] ^= 1
	if err := (Verifier{Keys: []ed25519.PublicKey{pub}}).Verify(b, ed25519.Sign(priv, b)); err == nil {
		t.Fatal("a signature without the domain prefix verified")
	}
}

func sealTest(t *testing.T) (*Sealed, *x509.Certificate, *rsa.PrivateKey, *Batch) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	cert, key := rsaCert(t)
	rb, _ := testRecord(t).Marshal()
	del, _ := vid.Generate()
	batch := &Batch{Ops: []Op{{Put: &Signed{Record: rb, Sig: Sign(priv, rb)}}, {Delete: del}}}
	s, err := Seal(batch, "appl-1", cert)
	if err != nil {
		t.Fatal(err)
	}
	return s, cert, key, batch
}

func TestSealOpen(t *testing.T) {
	s, cert, key, batch := sealTest(t)
	data, _ := json.Marshal(s)
	s2, err := DecodeSealed(data)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(s2, "appl-1", cert, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ops) != 2 || !bytes.Equal(got.Ops[0].Put.Record, batch.Ops[0].Put.Record) || got.Ops[1].Delete != batch.Ops[1].Delete {
		t.Fatalf("opened batch differs: %+v", got)
	}
	if bytes.Contains(data, []byte("4820193746")) || bytes.Contains(data, []byte(batch.Ops[1].Delete)) {
		t.Fatal("plaintext identity data in the sealed batch")
	}
}

func TestOpenRefuses(t *testing.T) {
	s, cert, key, _ := sealTest(t)
	otherCert, otherKey := rsaCert(t)
	if _, err := Open(s, "appl-2", cert, key); !errors.Is(err, ErrNotForUs) {
		t.Errorf("other appliance id: %v", err)
	}
	if _, err := Open(s, "appl-1", otherCert, otherKey); !errors.Is(err, ErrNotForUs) {
		t.Errorf("other certificate: %v", err)
	}
	// Relabelled for another appliance: the AAD no longer matches.
	r := *s
	r.Appliance, r.CertSHA256 = "appl-2", Thumbprint(otherCert)
	if _, err := Open(&r, "appl-2", otherCert, otherKey); !errors.Is(err, ErrOpen) {
		t.Errorf("relabelled batch: %v", err)
	}
	c := *s
	c.Ciphertext = bytes.Clone(s.Ciphertext)
	c.Ciphertext[5] ^= 1
	if _, err := Open(&c, "appl-1", cert, key); !errors.Is(err, ErrOpen) {
		t.Errorf("altered ciphertext: %v", err)
	}
	w := *s
	w.WrappedKey = bytes.Clone(s.WrappedKey)
	w.WrappedKey[0] ^= 1
	if _, err := Open(&w, "appl-1", cert, key); !errors.Is(err, ErrOpen) {
		t.Errorf("altered key: %v", err)
	}
}

func TestBatchLimits(t *testing.T) {
	cert, _ := rsaCert(t)
	if _, err := Seal(&Batch{}, "a", cert); err == nil {
		t.Error("empty batch sealed")
	}
	for _, bad := range []string{`{"ops":[]}`, `{"ops":[{}]}`, `{"ops":[{"delete":"123"}]}`,
		`{"ops":[{"put":{"record":"e30=","sig":"AA=="}}]}`, `{"ops":[{"delete":"x"}],"more":1}`, `[`} {
		if _, err := DecodeBatch([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestFeedName(t *testing.T) {
	if id, ok := ApplianceOf(FeedName("kiosk-7")); !ok || id != "kiosk-7" {
		t.Fatal(id, ok)
	}
	if _, ok := ApplianceOf("trust"); ok {
		t.Fatal("trust is not a records feed")
	}
}
