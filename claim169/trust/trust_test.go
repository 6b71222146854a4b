package trust

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/claim169"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

type fixture struct {
	listPriv  ed25519.PrivateKey
	listKeys  map[string]ed25519.PublicKey
	issuer    *claim169.Issuer
	issuerPub ed25519.PublicKey
	v         *Verifier
	now       time.Time
}

func newFixture(t *testing.T) *fixture {
	lp, lpriv, _ := ed25519.GenerateKey(rand.Reader)
	ip, ipriv, _ := ed25519.GenerateKey(rand.Reader)
	is, err := claim169.NewIssuer(ipriv, &claim169.IssuerOptions{KeyID: []byte{0xab, 0xcd}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{listPriv: lpriv, listKeys: map[string]ed25519.PublicKey{KeyID(lp): lp}, issuer: is, issuerPub: ip, now: t0.Add(time.Hour)}
	f.v = &Verifier{Now: func() time.Time { return f.now }, RejectStale: true}
	f.install(t, StatusActive, t0, t0.AddDate(1, 0, 0), "https://id.example")
	f.revoke(t)
	return f
}

func (f *fixture) install(t *testing.T, status string, nb, na time.Time, iss string) {
	k, err := NewIssuerKey([]byte{0xab, 0xcd}, f.issuerPub, iss, nb, na)
	if err != nil {
		t.Fatal(err)
	}
	k.Status = status
	file, err := SignTrustList(f.listPriv, &TrustList{IssuedAt: t0, NextUpdate: t0.Add(7 * 24 * time.Hour), Keys: []IssuerKey{k}})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := ParseTrustList(file, f.listKeys)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.v.SetTrustList(tl); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) revoke(t *testing.T, rs ...Revocation) {
	file, err := SignRevocationList(f.listPriv, &RevocationList{IssuedAt: t0, NextUpdate: t0.Add(7 * 24 * time.Hour), Revoked: rs})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := ParseRevocationList(file, f.listKeys)
	if err != nil {
		t.Fatal(err)
	}
	f.v.SetRevocationList(rl)
}

func (f *fixture) issue(t *testing.T, id string, iat time.Time) string {
	c := &claim169.Claims{Issuer: "https://id.example", IssuedAt: iat, ExpiresAt: iat.AddDate(1, 0, 0),
		Identity: claim169.Identity{ID: id, FullName: "Test Person"}}
	text, err := f.issuer.Issue(c)
	if err != nil {
		t.Fatal(err)
	}
	return text
}

func TestVerifyValid(t *testing.T) {
	f := newFixture(t)
	r := f.v.Verify(f.issue(t, "1001", t0))
	if !r.Valid || r.Stale || r.Credential.Identity.ID != "1001" || r.KeyID != "abcd" {
		t.Fatalf("%+v %s", r, r.Reason())
	}
}

func TestVerifyRejects(t *testing.T) {
	f := newFixture(t)
	good := f.issue(t, "1001", t0)

	f.revoke(t, Revocation{ID: "1001", IssuedBefore: t0})
	if r := f.v.Verify(good); r.Valid || !errors.Is(r.Err, ErrRevoked) || r.Stage != "revocation" {
		t.Fatalf("revoked: %s", r.Reason())
	}
	if r := f.v.Verify(f.issue(t, "1001", t0.Add(time.Minute))); !r.Valid {
		t.Fatalf("re-issued after the revocation: %s", r.Reason())
	}
	f.revoke(t, Revocation{ID: "1001"})
	if r := f.v.Verify(f.issue(t, "1001", t0.Add(time.Minute))); r.Valid {
		t.Fatal("revocation without issuedBefore must cover every credential of the id")
	}
	f.revoke(t)

	f.install(t, StatusRevoked, t0, t0.AddDate(1, 0, 0), "")
	if r := f.v.Verify(good); r.Valid || !errors.Is(r.Err, ErrKeyRevoked) {
		t.Fatalf("key revoked: %s", r.Reason())
	}
	f.install(t, StatusActive, t0.Add(time.Hour), t0.AddDate(1, 0, 0), "")
	if r := f.v.Verify(good); r.Valid || !errors.Is(r.Err, ErrKeyNotValid) {
		t.Fatalf("issued before the key's validity: %s", r.Reason())
	}
	f.install(t, StatusActive, t0, t0.AddDate(1, 0, 0), "https://other.example")
	if r := f.v.Verify(good); r.Valid || !errors.Is(r.Err, ErrIssuerMismatch) {
		t.Fatalf("issuer mismatch: %s", r.Reason())
	}
	f.install(t, StatusActive, t0, t0.AddDate(1, 0, 0), "")

	// Another issuer's credential with the same kid: signature check fails.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	is2, _ := claim169.NewIssuer(other, &claim169.IssuerOptions{KeyID: []byte{0xab, 0xcd}})
	forged, _ := is2.Issue(&claim169.Claims{IssuedAt: t0, Identity: claim169.Identity{ID: "1001"}})
	if r := f.v.Verify(forged); r.Valid || !errors.Is(r.Err, claim169.ErrBadSignature) || r.Stage != "signature" {
		t.Fatalf("forged: stage %q %s", r.Stage, r.Reason())
	}
	// Wrong algorithm: an ES256 credential under an EdDSA kid.
	ek, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	is3, _ := claim169.NewIssuer(ek, &claim169.IssuerOptions{KeyID: []byte{0xab, 0xcd}})
	wrongAlg, _ := is3.Issue(&claim169.Claims{IssuedAt: t0, Identity: claim169.Identity{ID: "1001"}})
	if r := f.v.Verify(wrongAlg); r.Valid {
		t.Fatal("ES256 credential accepted under an EdDSA key")
	}
	// Expired credential.
	f.now = t0.AddDate(2, 0, 0)
	if r := f.v.Verify(good); r.Valid || !errors.Is(r.Err, claim169.ErrExpired) {
		t.Fatalf("expired: %s", r.Reason())
	}
}

func TestStaleLists(t *testing.T) {
	f := newFixture(t)
	text := f.issue(t, "1001", t0)
	f.now = t0.Add(8 * 24 * time.Hour)
	r := f.v.Verify(text)
	if r.Valid || !r.Stale || !errors.Is(r.Err, ErrStale) || r.Reason() != "trust-list: trust list stale" {
		t.Fatalf("stale, reject policy: %+v %q", r, r.Reason())
	}
	f.v.RejectStale = false
	if r := f.v.Verify(text); !r.Valid || !r.Stale {
		t.Fatalf("stale, warn policy: %+v", r)
	}
}

func TestListSignatures(t *testing.T) {
	f := newFixture(t)
	k, _ := NewIssuerKey([]byte{1}, f.issuerPub, "", t0, t0.AddDate(1, 0, 0))
	file, _ := SignTrustList(f.listPriv, &TrustList{IssuedAt: t0, NextUpdate: t0.Add(time.Hour), Keys: []IssuerKey{k}})
	tampered := []byte(string(file))
	for i := range tampered {
		if tampered[i] == 'A' { // flip one base64 character of the payload or signature
			tampered[i] = 'B'
			break
		}
	}
	if _, err := ParseTrustList(tampered, f.listKeys); err == nil {
		t.Fatal("tampered trust list accepted")
	}
	if _, err := ParseRevocationList(file, f.listKeys); err == nil {
		t.Fatal("a trust list was accepted as a revocation list")
	}
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	file2, _ := SignTrustList(otherPriv, &TrustList{IssuedAt: t0, NextUpdate: t0.Add(time.Hour), Keys: []IssuerKey{k}})
	if _, err := ParseTrustList(file2, f.listKeys); !errors.Is(err, ErrListSignature) {
		t.Fatalf("list from an untrusted signer: %v", err)
	}
	if _, err := SignTrustList(f.listPriv, &TrustList{IssuedAt: t0, NextUpdate: t0.Add(-time.Hour)}); err == nil {
		t.Fatal("nextUpdate before issuedAt accepted")
	}
	var empty Verifier
	if r := empty.Verify("NCF..."); r.Valid || !errors.Is(r.Err, ErrNoTrustList) {
		t.Fatal("verified with no trust list")
	}
}

func FuzzParseTrustList(f *testing.F) {
	lp, lpriv, _ := ed25519.GenerateKey(rand.Reader)
	keys := map[string]ed25519.PublicKey{KeyID(lp): lp}
	ip, _, _ := ed25519.GenerateKey(rand.Reader)
	k, _ := NewIssuerKey([]byte{1}, ip, "", t0, t0.AddDate(1, 0, 0))
	file, _ := SignTrustList(lpriv, &TrustList{IssuedAt: t0, NextUpdate: t0.Add(time.Hour), Keys: []IssuerKey{k}})
	f.Add(file)
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseTrustList(b, keys)
		ParseRevocationList(b, keys)
	})
}

// TestSignedListIsReadStrictly: a validly signed trust list whose payload
// repeats a name is refused: the signer's JSON library and the verifier's
// must not read two different lists from the same signed bytes.
func TestSignedListIsReadStrictly(t *testing.T) {
	f := newFixture(t)
	// seal marshals a value; a json.RawMessage passes the bytes through.
	for _, payload := range []string{
		`{"issuedAt":"2026-01-01T00:00:00Z","issuedAt":"2030-01-01T00:00:00Z","nextUpdate":"2026-01-02T00:00:00Z","keys":[]}`,
		`{"ISSUEDAT":"2026-01-01T00:00:00Z","nextUpdate":"2026-01-02T00:00:00Z","keys":[]}`,
	} {
		file, err := seal(f.listPriv, TypeTrustList, json.RawMessage(payload))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseTrustList(file, f.listKeys); err == nil || errors.Is(err, ErrListSignature) {
			t.Errorf("payload %s: %v, want a strict-JSON refusal", payload, err)
		}
	}
}
