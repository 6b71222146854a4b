package enrol

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

// TestSoftKeyProof: a software key proof verifies with the signing key
// that made it, for its session nonce and subject only.
func TestSoftKeyProof(t *testing.T) {
	sign, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	soft, _ := rsa.GenerateKey(rand.Reader, 2048)
	nonce, subj := []byte("nonce-0123456789"), ApplianceSubject("EDGE-S")
	p, err := ProveSoftKey(sign, nonce, subj, &soft.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifySoftKey(&sign.PublicKey, nonce, subj, p)
	if err != nil || !got.Equal(&soft.PublicKey) {
		t.Fatalf("a good proof: %v", err)
	}
	forged, _ := ProveSoftKey(other, nonce, subj, &soft.PublicKey)
	for name, c := range map[string]struct {
		p     *SoftKeyProof
		nonce []byte
		subj  []byte
	}{
		"signed by another key": {forged, nonce, subj},
		"another session":       {p, []byte("nonce-other"), subj},
		"another appliance":     {p, nonce, ApplianceSubject("EDGE-T")},
		"key swapped":           {&SoftKeyProof{Public: forged.Public[:len(forged.Public)-1], Signature: p.Signature}, nonce, subj},
	} {
		if _, err := VerifySoftKey(&sign.PublicKey, c.nonce, c.subj, c.p); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
