package sbi

import (
	"encoding/json"
	"testing"
)

func BenchmarkBuildAuthCapture(b *testing.B) {
	p := getPKI(b)
	bl := newBuilder(p, TypeFinger, PurposeAuth, CertL1)
	req := authRequest(TypeFinger, 1, SubtypeUnknown)
	segs := []Segment{{SubType: "Left IndexFinger", ISO: readISO(b, "auth_left_index.iso"), Quality: 50}}
	for b.Loop() {
		if _, err := bl.Capture(req, segs, p.encCert); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyAuthCapture(b *testing.B) {
	p := getPKI(b)
	bl := newBuilder(p, TypeFinger, PurposeAuth, CertL1)
	req := authRequest(TypeFinger, 1, SubtypeUnknown)
	resp, err := bl.Capture(req, []Segment{{SubType: "Left IndexFinger", ISO: readISO(b, "auth_left_index.iso"), Quality: 50}}, p.encCert)
	if err != nil {
		b.Fatal(err)
	}
	raw, _ := json.Marshal(resp)
	v := newVerifier(p)
	for b.Loop() {
		if _, ps := v.VerifyCapture(raw, Expect{Request: req}); len(ps) != 0 {
			b.Fatal(ps.Err())
		}
	}
}

func BenchmarkHashChain(b *testing.B) {
	iso := readISO(b, "auth_left_index.iso")
	b.SetBytes(int64(len(iso)))
	c, _ := NewHashChain("")
	for b.Loop() {
		c.Next(iso)
	}
}

func BenchmarkEncryptBioValue(b *testing.B) {
	p := getPKI(b)
	iso := readISO(b, "auth_left_index.iso")
	b.SetBytes(int64(len(iso)))
	for b.Loop() {
		if _, _, err := EncryptBioValue(p.encCert, iso, "2025-03-01T12:00:00Z", "abcd-1234"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecryptBioValue(b *testing.B) {
	p := getPKI(b)
	iso := readISO(b, "auth_left_index.iso")
	bv, sk, _ := EncryptBioValue(p.encCert, iso, "2025-03-01T12:00:00Z", "abcd-1234")
	b.SetBytes(int64(len(iso)))
	for b.Loop() {
		if _, err := DecryptBioValue(p.encKey, bv, sk, "2025-03-01T12:00:00Z", "abcd-1234"); err != nil {
			b.Fatal(err)
		}
	}
}
