package delegate

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

var t0 = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func tpmKey(t testing.TB, kind tpm.KeyKind) crypto.Signer {
	t.Helper()
	tp, err := tpm.Open(context.Background(), "sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	k, err := tp.CreateKey(context.Background(), kind)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIssueVerifyWithTPMParents: a credential signed by a TPM RSA or ECDSA
// key verifies with that key only, names the delegated key exactly, and is
// refused outside its use, subject and validity.
func TestIssueVerifyWithTPMParents(t *testing.T) {
	for _, kind := range []tpm.KeyKind{tpm.RSA2048Sign, tpm.ECCP256Sign} {
		t.Run(kind.String(), func(t *testing.T) {
			parent := tpmKey(t, kind)
			other := newKey(t)
			d := newKey(t)
			cred, err := Issue(parent, Claims{Use: "decision", Subject: "EDGE-A", Key: &d.PublicKey, NotBefore: t0, NotAfter: t0.Add(time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			c, err := Verify(cred, parent.Public(), "decision", "EDGE-A", t0.Add(30*time.Minute), 0)
			if err != nil {
				t.Fatal(err)
			}
			if !c.Key.Equal(&d.PublicKey) || !c.NotAfter.Equal(t0.Add(time.Hour)) {
				t.Fatalf("verified claims %+v do not name the delegated key and validity", c)
			}
			for _, tc := range []struct {
				name   string
				cred   string
				parent crypto.PublicKey
				use    string
				sub    string
				at     time.Time
				want   error
			}{
				{"other parent", cred, &other.PublicKey, "decision", "EDGE-A", t0, nil},
				{"other use", cred, parent.Public(), "capture", "EDGE-A", t0, ErrUse},
				{"other subject", cred, parent.Public(), "decision", "EDGE-B", t0, ErrUse},
				{"expired", cred, parent.Public(), "decision", "EDGE-A", t0.Add(time.Hour), ErrExpired},
				{"not yet valid", cred, parent.Public(), "decision", "EDGE-A", t0.Add(-time.Second), ErrExpired},
				{"payload swapped", swapPayload(t, cred), parent.Public(), "decision", "EDGE-A", t0, ErrSignature},
				{"truncated", cred[:len(cred)-3], parent.Public(), "decision", "EDGE-A", t0, nil},
				{"huge", strings.Repeat("a", MaxCredential+1), parent.Public(), "decision", "EDGE-A", t0, ErrFormat},
			} {
				_, err := Verify(tc.cred, tc.parent, tc.use, tc.sub, tc.at, 0)
				if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
				}
			}
			if _, err := Verify(cred, parent.Public(), "decision", "EDGE-A", t0.Add(time.Hour), time.Minute); err != nil {
				t.Errorf("skew did not widen the validity: %v", err)
			}
		})
	}
}

// swapPayload keeps the signature and header and replaces the payload
// with one naming another key.
func swapPayload(t *testing.T, cred string) string {
	other := newKey(t)
	forged, err := Issue(other, Claims{Use: "decision", Subject: "EDGE-A", Key: &other.PublicKey, NotBefore: t0, NotAfter: t0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Split(cred, ".")
	return p[0] + "." + strings.Split(forged, ".")[1] + "." + p[2]
}

func TestIssueRefusesLongLifetimesAndOtherCurves(t *testing.T) {
	parent := newKey(t)
	d := newKey(t)
	if _, err := Issue(parent, Claims{Key: &d.PublicKey, NotBefore: t0, NotAfter: t0.Add(MaxLifetime + time.Second)}); err == nil {
		t.Error("a credential longer than MaxLifetime was issued")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Issue(parent, Claims{Key: &p384.PublicKey, NotBefore: t0, NotAfter: t0.Add(time.Hour)}); err == nil {
		t.Error("a P-384 delegated key was accepted")
	}
}

// countingSigner counts parent signatures.
type countingSigner struct {
	crypto.Signer
	n    atomic.Int64
	fail atomic.Bool
}

func (c *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.n.Add(1)
	if c.fail.Load() {
		return nil, errors.New("tpm: gone")
	}
	return c.Signer.Sign(r, d, o)
}

// TestHolderSignsWithoutTheParent: a thousand messages cost the TPM one
// signature; every message verifies through the credential; once the
// credential expires and renewal fails, the holder refuses to sign.
func TestHolderSignsWithoutTheParent(t *testing.T) {
	parent := &countingSigner{Signer: tpmKey(t, tpm.RSA2048Sign)}
	now := t0
	h, err := NewHolder(parent, "decision", "EDGE-A", time.Hour, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		key, cred, err := h.Current()
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("decision " + string(rune('a'+i%26)))
		sig, err := SignES256(key, msg)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Verify(cred, parent.Public(), "decision", "EDGE-A", now, 0)
		if err != nil || !VerifyES256(c.Key, msg, sig) {
			t.Fatalf("message %d does not verify through its credential: %v", i, err)
		}
	}
	if n := parent.n.Load(); n != 1 {
		t.Fatalf("the parent signed %d times for 1000 messages, want 1", n)
	}
	first, _, _ := h.Current()
	if err := h.Renew(); err != nil {
		t.Fatal(err)
	}
	if second, _, _ := h.Current(); second.Equal(first) {
		t.Fatal("renewal kept the old key")
	}
	parent.fail.Store(true)
	if err := h.Renew(); err == nil {
		t.Fatal("renewal with a failing parent succeeded")
	}
	if _, _, err := h.Current(); err != nil {
		t.Fatalf("a failed renewal broke a still-valid credential: %v", err)
	}
	now = now.Add(time.Hour)
	if _, _, err := h.Current(); !errors.Is(err, ErrExpired) {
		t.Fatalf("after expiry Current = %v, want ErrExpired", err)
	}
	if r, f := h.Stats(); r != 2 || f != 1 {
		t.Errorf("stats %d renewals, %d failures; want 2, 1", r, f)
	}
}

func FuzzVerify(f *testing.F) {
	parent := newKey(f)
	d := newKey(f)
	cred, _ := Issue(parent, Claims{Use: "decision", Subject: "EDGE-A", Key: &d.PublicKey, NotBefore: t0, NotAfter: t0.Add(time.Hour)})
	f.Add(cred)
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify(s, &parent.PublicKey, "decision", "EDGE-A", t0, time.Minute)
		// Only one payload was ever signed: whatever verifies must carry it
		// (a malleated ECDSA signature may verify; other content may not).
		if err == nil && (c.Key == nil || strings.Split(s, ".")[1] != strings.Split(cred, ".")[1]) {
			t.Fatalf("accepted a credential the parent did not sign")
		}
	})
}
