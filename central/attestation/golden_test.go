package attestation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
)

// vendorPKI gives the harness's vendors provider CAs (as central's
// registry makes them: RSA-2048) and the verifier a way to open them.
type vendorPKI struct{ cas map[string]*pki.CA }

func withVendorCAs(t *testing.T, h *harness, ids ...string) *vendorPKI {
	t.Helper()
	vp := &vendorPKI{cas: map[string]*pki.CA{}}
	for _, id := range ids {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		ca, err := pki.SelfSigned(key, pki.Profile{Subject: pkix.Name{CommonName: id + " Device Provider CA"}, Validity: 10 * 365 * 24 * time.Hour}, h.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		vp.cas[id] = ca
		if err := h.st.Update(ctx, func(tx store.Tx) error {
			return tx.PutVendor(ctx, &store.Vendor{ID: id, Name: id + " Inc", Status: trustfeed.Active, CACert: ca.Cert.Raw, Created: h.clock.Now()})
		}); err != nil {
			t.Fatal(err)
		}
	}
	h.v.cfg.VendorCA = func(v *store.Vendor) (*pki.CA, error) { return vp.cas[v.ID], nil }
	return vp
}

// signer makes a vendor's release-signing key and has central certify it.
func (h *harness) signer(vendor string) (*ecdsa.PrivateKey, *x509.Certificate) {
	h.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "release"}}, key)
	if err != nil {
		h.t.Fatal(err)
	}
	sc, err := h.v.IssueSigner(ctx, h.admin, vendor, csr, 30)
	if err != nil {
		h.t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(sc.Certificate)
	if err != nil {
		h.t.Fatal(err)
	}
	return key, cert
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *enrol.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func (h *harness) auditCount(subject string) int {
	h.t.Helper()
	n := 0
	h.st.View(ctx, func(tx store.Tx) error {
		rows, err := tx.Audit(ctx, store.AuditFilter{Subject: subject})
		n = len(rows)
		return err
	})
	return n
}

// TestSignedGoldenRelease: a vendor's release signed by its
// release-signing key (certified by its provider CA) is accepted,
// versioned and audited; a policy naming it admits that firmware and
// nothing else.
func TestSignedGoldenRelease(t *testing.T) {
	h := newHarness(t)
	withVendorCAs(t, h, "ACME")
	key, cert := h.signer("ACME")
	if !strings.Contains(cert.Subject.String(), signerUnit) || cert.ExtKeyUsage[0] != x509.ExtKeyUsageCodeSigning {
		t.Fatalf("signer certificate %s %v", cert.Subject, cert.ExtKeyUsage)
	}
	good := firmware.Measure(firmware.Report{Firmware: "1.3.0", SystemID: 9})
	sr, err := SignRelease(&Release{Vendor: "ACME", Release: "1.3.0", Firmware: []Golden{{Digest: good.Hex()}}}, key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := h.v.AddRelease(ctx, h.admin, sr)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Version != 1 || rec.Firmware[0].Version != "1.3.0" || rec.Signer == "" || rec.AddedBy != h.admin.Actor() {
		t.Fatalf("release record %+v", rec)
	}
	h.clock.Add(time.Second)
	if rec, err = h.v.AddRelease(ctx, h.admin, sr); err != nil || rec.Version != 2 {
		t.Fatalf("adding 1.3.0 again: %+v %v, want version 2", rec, err)
	}
	if n := h.auditCount(goldenSubject("ACME")); n != 2 {
		t.Fatalf("%d audit rows for ACME's releases, want 2", n)
	}
	rs, err := h.v.Releases(ctx, "ACME")
	if err != nil || len(rs) != 1 || rs[0].Version != 2 {
		t.Fatalf("releases %+v %v", rs, err)
	}

	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", Releases: []string{"1.4.0"}}); err == nil {
		t.Fatal("a policy naming an unregistered release was accepted")
	} else {
		wantCode(t, err, enrol.CodeNotFound)
	}
	p, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", Releases: []string{"1.3.0"}, MinFirmware: "1.3.0"})
	if err != nil || p.GoldenFromReleases != 1 {
		t.Fatalf("policy %+v %v", p, err)
	}
	n := h.enrol("SN1")
	n.flash(t, "1.3.0")
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested || vd.Firmware[0] != "1.3.0" {
		t.Fatalf("firmware of the signed release: %+v", vd)
	}
	n.flash(t, "1.3.1") // re-flashed with firmware in no signed release
	h.next()
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonUnknownFW)
}

// TestUnsignedOrWronglySignedReleaseRefused: every forgery is refused and
// nothing is recorded.
func TestUnsignedOrWronglySignedReleaseRefused(t *testing.T) {
	h := newHarness(t)
	vp := withVendorCAs(t, h, "ACME", "BETA")
	key, cert := h.signer("ACME")
	digest := firmware.Measure(firmware.Report{Firmware: "1.3.0"}).Hex()
	rel := func(vendor string) *Release {
		return &Release{Vendor: vendor, Release: "1.3.0", Firmware: []Golden{{Digest: digest}}}
	}
	sign := func(r *Release, k *ecdsa.PrivateKey, c *x509.Certificate) *SignedRelease {
		sr, err := SignRelease(r, k, []*x509.Certificate{c})
		if err != nil {
			t.Fatal(err)
		}
		return sr
	}
	// A self-signed certificate for a key of the vendor's own choosing.
	selfKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	self, err := pki.SelfSigned(selfKey, pki.Profile{Subject: pkix.Name{CommonName: "ACME release signer"}, Validity: time.Hour}, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A certificate of the right CA without the codeSigning usage (as a
	// device certificate).
	devKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	devCert, err := vp.cas["ACME"].Issue(devKey.Public(), pki.Profile{Subject: pkix.Name{CommonName: "SN1"}, Validity: time.Hour, KeyUsage: x509.KeyUsageDigitalSignature}, h.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	tampered := sign(rel("ACME"), key, cert)
	tampered.Payload = []byte(strings.Replace(string(tampered.Payload), digest, strings.Repeat("a", 64), 1))
	unsigned := sign(rel("ACME"), key, cert)
	unsigned.Signature = nil
	noCert := sign(rel("ACME"), key, cert)
	noCert.Certificates = nil
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cases := []struct {
		name string
		sr   *SignedRelease
		code string
	}{
		{"unsigned", unsigned, enrol.CodeBadRequest},
		{"no certificate", noCert, enrol.CodeBadRequest},
		{"payload edited after signing", tampered, CodeBadRelease},
		{"signed by another key under the signer's certificate", sign(rel("ACME"), otherKey, cert), CodeBadRelease},
		{"self-signed signer", sign(rel("ACME"), selfKey, self.Cert), CodeBadRelease},
		{"vendor certificate without codeSigning", sign(rel("ACME"), devKey, devCert), CodeBadRelease},
		{"ACME's signer for BETA's release", sign(rel("BETA"), key, cert), CodeBadRelease},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.v.AddRelease(ctx, h.admin, c.sr)
			wantCode(t, err, c.code)
		})
	}
	for _, v := range []string{"ACME", "BETA"} {
		if n := h.auditCount(goldenSubject(v)); n != 0 {
			t.Fatalf("%d audit rows for %s's releases after refusals", n, v)
		}
	}
	// An expired signer certificate is refused too.
	h.clock.Add(31 * 24 * time.Hour)
	_, err = h.v.AddRelease(ctx, h.admin, sign(rel("ACME"), key, cert))
	wantCode(t, err, CodeBadRelease)
}
