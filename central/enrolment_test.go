package central

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/edgetrust/edgetrust/central/enrolment"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// wantRefused checks err is central's refusal with code and that nothing
// was written to the registry, audit log or feed.
func (h *harness) wantRefused(t *testing.T, err error, code string, before snapshot) {
	t.Helper()
	var e *enrol.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want central's refusal %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("refused with %s (%s), want %s", e.Code, e.Message, code)
	}
	if e.Message == "" {
		t.Error("refusal without a reason")
	}
	if after := h.snapshot(); after != before {
		t.Fatalf("a refused enrolment changed the registry: before %+v, after %+v", before, after)
	}
}

func TestEnrolDevicesAndRotate(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t, "SN-0001", "SN-0002")
	h.allow(a)
	tok := h.deviceToken("ACME")
	start := h.clock.Now()
	r, err := a.prover().EnrolDevices(ctx, h.client, tok, a.devs)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(r.CACert)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if len(r.Devices) != 2 {
		t.Fatalf("%d devices issued, want 2", len(r.Devices))
	}
	for i, d := range r.Devices {
		for _, c := range []struct {
			der      []byte
			key      *tpm.Key
			unit     string
			validity time.Duration
		}{{d.DeviceCert, a.devs[i].Device, "Device", DeviceValidity}, {d.FTMCert, a.devs[i].FTM, "FTM", FTMValidity}} {
			crt, err := x509.ParseCertificate(c.der)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := crt.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: start.Add(time.Hour), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Errorf("%s %s certificate does not chain to the vendor CA: %v", d.Serial, c.unit, err)
			}
			if !pki.SameKey(c.key.Public(), crt.PublicKey) {
				t.Errorf("%s %s certificate is for another key than the TPM's", d.Serial, c.unit)
			}
			if crt.Version != 3 || crt.SignatureAlgorithm != x509.SHA256WithRSA || crt.Subject.CommonName != d.Serial ||
				crt.Subject.Organization[0] != "Acme Biometrics" || crt.Subject.OrganizationalUnit[0] != c.unit {
				t.Errorf("%s %s certificate: v%d %s subject %s", d.Serial, c.unit, crt.Version, crt.SignatureAlgorithm, crt.Subject)
			}
			if got := crt.NotAfter.Sub(crt.NotBefore); got != c.validity {
				t.Errorf("%s %s validity %s, want %s", d.Serial, c.unit, got, c.validity)
			}
		}
	}
	// The token is spent; the trust feed says the devices are active with
	// these certificates; the audit chain holds.
	h.wantRefused(t, func() error {
		_, err := a.prover().EnrolDevices(ctx, h.client, tok, a.devs)
		return err
	}(), enrol.CodeTokenUsed, h.snapshot())
	fo := h.follower()
	entries := fo.sync(t, h)
	var got []*trustfeed.Device
	for _, e := range entries {
		if e.Kind == trustfeed.KindDevice {
			v, err := trustfeed.Decode(e.Kind, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v.(*trustfeed.Device))
		}
	}
	if len(got) != 2 || got[0].Status != trustfeed.Active || got[0].DeviceCertSHA256 != feeds.Thumb(r.Devices[0].DeviceCert) ||
		got[1].FTMCertSHA256 != feeds.Thumb(r.Devices[1].FTMCert) || got[0].VendorID != "ACME" {
		t.Fatalf("device feed entries = %+v", got)
	}
	if n, err := h.c.VerifyAudit(ctx); err != nil || n < 5 {
		t.Errorf("audit verify: %d rows, %v", n, err)
	}

	// Rotation: a new TPM key, proven by the enrolled AK.
	h.clock.Add(time.Hour)
	nk, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := a.prover().RotateDevice(ctx, h.client, "SN-0001", nk)
	if err != nil {
		t.Fatal(err)
	}
	nc, _ := x509.ParseCertificate(rr.DeviceCert)
	oc, _ := x509.ParseCertificate(r.Devices[0].DeviceCert)
	if !pki.SameKey(nk.Public(), nc.PublicKey) || nc.NotBefore.Before(oc.NotBefore) {
		t.Errorf("rotated certificate: key match %v, notBefore %s (old %s)", pki.SameKey(nk.Public(), nc.PublicKey), nc.NotBefore, oc.NotBefore)
	}
	dv, err := h.c.Device(ctx, "SN-0001")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dv.DeviceCert, rr.DeviceCert) || len(dv.Certs) != 3 || len(dv.History) != 2 || dv.History[1].Action != "device.rotate" {
		t.Errorf("device after rotation: %d certs, history %+v", len(dv.Certs), dv.History)
	}
	more := fo.sync(t, h)
	if len(more) != 1 || !strings.Contains(string(more[0].Data), feeds.Thumb(rr.DeviceCert)) {
		t.Errorf("rotation feed entries = %d", len(more))
	}

	// A key from another TPM cannot be rotated in: the AK differs.
	b := newAgentTPM(t, "SN-X")
	before := h.snapshot()
	_, err = (&enrol.Prover{TPM: b.tpm, AK: b.ak}).RotateDevice(ctx, h.client, "SN-0002", b.devs[0].Device)
	h.wantRefused(t, err, enrol.CodeCertify, before)

	// A suspended device cannot rotate; reinstated, it can again.
	if _, err := h.c.SetDeviceStatus(ctx, h.admin, []string{"SN-0002"}, StatusChange{Status: trustfeed.Suspended}); err != nil {
		t.Fatal(err)
	}
	before = h.snapshot()
	_, err = a.prover().RotateDevice(ctx, h.client, "SN-0002", nk)
	h.wantRefused(t, err, enrol.CodeNotActive, before)
}

// TestEnrolRefusals: each bad input is refused with its reason and leaves
// the registry as it was. Two real swtpm processes play two TPMs.
func TestEnrolRefusals(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t, "SN-A")
	b := newAgentTPM(t, "SN-B")
	h.allow(a)
	h.allow(b)

	t.Run("malformed token", func(t *testing.T) {
		before := h.snapshot()
		_, err := a.prover().EnrolDevices(ctx, h.client, "ete_nothex_x", a.devs)
		h.wantRefused(t, err, enrol.CodeTokenInvalid, before)
		_, err = a.prover().EnrolDevices(ctx, h.client, "ete_0123456789abcdef_guess", a.devs)
		h.wantRefused(t, err, enrol.CodeTokenInvalid, before)
	})

	t.Run("admin token is not an enrolment token", func(t *testing.T) {
		before := h.snapshot()
		_, err := a.prover().EnrolDevices(ctx, h.client, h.token, a.devs)
		h.wantRefused(t, err, enrol.CodeTokenInvalid, before)
	})

	t.Run("expired token", func(t *testing.T) {
		tok := h.deviceToken("ACME")
		h.clock.Add(DefaultTokenTTL + time.Second)
		defer h.clock.Add(-DefaultTokenTTL - time.Second)
		before := h.snapshot()
		_, err := a.prover().EnrolDevices(ctx, h.client, tok, a.devs)
		h.wantRefused(t, err, enrol.CodeTokenExpired, before)
	})

	t.Run("token expires between start and finish", func(t *testing.T) {
		r, err := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenDevice, VendorID: "ACME", TTL: "30s"})
		if err != nil {
			t.Fatal(err)
		}
		p := a.prover()
		q, _ := p.StartRequest(ctx, r.Token)
		sr, err := h.client.Start(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		f := finishFor(t, p, sr, a.devs)
		h.clock.Add(time.Minute)
		defer h.clock.Add(-time.Minute)
		before := h.snapshot()
		_, err = h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeTokenExpired, before)
	})

	t.Run("forged EK: not allow-listed, no certificate", func(t *testing.T) {
		c := newAgentTPM(t, "SN-C") // its EK is on no list
		tok := h.deviceToken("ACME")
		before := h.snapshot()
		_, err := c.prover().EnrolDevices(ctx, h.client, tok, c.devs)
		h.wantRefused(t, err, enrol.CodeEKUntrusted, before)
	})

	t.Run("forged EK: self-made certificate", func(t *testing.T) {
		c := newAgentTPM(t, "SN-C")
		ek, err := c.tpm.EndorsementKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		forger, _ := newTestCA(t, "Forged TPM Manufacturer")
		p := c.prover()
		p.EKCert = forger.ekCert(t, ek.Public())
		h.ek.Roots = x509.NewCertPool()
		realMfr, _ := newTestCA(t, "Real TPM Manufacturer")
		h.ek.Roots.AddCert(realMfr.cert)
		h.setEK()
		defer func() { h.ek.Roots = nil; h.setEK() }()
		tok := h.deviceToken("ACME")
		before := h.snapshot()
		_, err = p.EnrolDevices(ctx, h.client, tok, c.devs)
		h.wantRefused(t, err, enrol.CodeEKUntrusted, before)
	})

	t.Run("EK public area that is not an EK", func(t *testing.T) {
		p := a.prover()
		q, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		q.EKPublic = a.ak.PublicArea() // a signing key posing as the EK
		before := h.snapshot()
		_, err := h.client.Start(ctx, q)
		h.wantRefused(t, err, enrol.CodeEKUntrusted, before)
	})

	t.Run("AK that is not an attestation key", func(t *testing.T) {
		p := a.prover()
		q, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		q.AKPublic = a.devs[0].Device.PublicArea() // unrestricted key
		before := h.snapshot()
		_, err := h.client.Start(ctx, q)
		h.wantRefused(t, err, enrol.CodeAKInvalid, before)
	})

	t.Run("AK from a different TPM", func(t *testing.T) {
		// EK of TPM A (trusted), AK of TPM B: the credential is bound to A's
		// EK and B's AK Name; neither TPM can recover it.
		q, _ := a.prover().StartRequest(ctx, h.deviceToken("ACME"))
		q.AKPublic = b.ak.PublicArea()
		sr, err := h.client.Start(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.tpm.ActivateCredential(ctx, b.ak, sr.CredentialBlob, sr.EncryptedSecret); err == nil {
			t.Fatal("TPM B activated a credential made for TPM A's EK")
		}
		if _, err := a.tpm.LoadKey(ctx, b.ak.Blob()); err == nil {
			t.Fatal("TPM A loaded TPM B's AK blob")
		}
		if _, err := a.tpm.ActivateCredential(ctx, a.ak, sr.CredentialBlob, sr.EncryptedSecret); err == nil {
			t.Fatal("TPM A activated a credential bound to another AK's Name")
		}
		// So the attacker guesses; B's AK then certifies B's keys.
		guess := make([]byte, 32)
		rand.Read(guess)
		f := &enrol.FinishRequest{Session: sr.Session, Secret: guess}
		subj := enrol.DigitalIDSubject(b.devs[0].DigitalID)
		pb := b.prover()
		ftm, _ := pb.Prove(ctx, b.devs[0].FTM, sr.Nonce, enrol.RoleFTM, subj)
		dev, _ := pb.Prove(ctx, b.devs[0].Device, sr.Nonce, enrol.RoleDevice, subj)
		f.Devices = []enrol.DeviceRequest{{DigitalID: b.devs[0].DigitalID, FTMKey: ftm, DeviceKey: dev}}
		before := h.snapshot()
		_, err = h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeActivation, before)
	})

	t.Run("certify proof for a software key", func(t *testing.T) {
		p := a.prover()
		q, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		sr, err := h.client.Start(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := p.Activate(ctx, sr)
		if err != nil {
			t.Fatal(err)
		}
		f := finishFor(t, p, sr, a.devs)
		f.Secret = secret
		// The genuine AK certifies a key loaded from software
		// (TPM2_LoadExternal): the swtpm allows one client, so step aside.
		a.tpm.Close()
		subj := enrol.DigitalIDSubject(a.devs[0].DigitalID)
		pub, att, _, err := enroltest.CertifySoftwareKey(a.sw.Addr, a.ak.Blob(), enrol.CertifyNonce(sr.Nonce, enrol.RoleDevice, subj))
		a.reopen()
		if err != nil {
			t.Fatal(err)
		}
		f.Devices[0].DeviceKey = enrol.KeyProof{PublicArea: pub, Certify: *att}
		before := h.snapshot()
		_, err = h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeCertify, before)
		if !strings.Contains(err.Error(), "fixedTPM") {
			t.Errorf("refusal does not say the key is not TPM-resident: %v", err)
		}
	})

	t.Run("software key dressed as a TPM key", func(t *testing.T) {
		// Same proof, but the public area claims fixedTPM|fixedParent|
		// sensitiveDataOrigin: its Name no longer matches what the AK signed.
		p := a.prover()
		q, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		sr, err := h.client.Start(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := p.Activate(ctx, sr)
		f := finishFor(t, p, sr, a.devs)
		f.Secret = secret
		a.tpm.Close()
		subj := enrol.DigitalIDSubject(a.devs[0].DigitalID)
		pub, att, _, err := enroltest.CertifySoftwareKey(a.sw.Addr, a.ak.Blob(), enrol.CertifyNonce(sr.Nonce, enrol.RoleDevice, subj))
		a.reopen()
		if err != nil {
			t.Fatal(err)
		}
		pt, _ := tpm2.Unmarshal[tpm2.TPMTPublic](pub)
		pt.ObjectAttributes.FixedTPM, pt.ObjectAttributes.FixedParent, pt.ObjectAttributes.SensitiveDataOrigin = true, true, true
		f.Devices[0].DeviceKey = enrol.KeyProof{PublicArea: tpm2.Marshal(*pt), Certify: *att}
		before := h.snapshot()
		_, err = h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeCertify, before)
		if !strings.Contains(err.Error(), "Name does not match") {
			t.Errorf("refusal does not name the Name mismatch: %v", err)
		}
	})

	t.Run("certify proof replayed from another session", func(t *testing.T) {
		p := a.prover()
		q1, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		s1, err := h.client.Start(ctx, q1)
		if err != nil {
			t.Fatal(err)
		}
		old := finishFor(t, p, s1, a.devs)
		q2, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		s2, err := h.client.Start(ctx, q2)
		if err != nil {
			t.Fatal(err)
		}
		f := finishFor(t, p, s2, a.devs)
		f.Devices[0].FTMKey = old.Devices[0].FTMKey
		before := h.snapshot()
		_, err = h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeCertify, before)
	})

	t.Run("proof for another device's digital ID", func(t *testing.T) {
		p := a.prover()
		q, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		sr, _ := h.client.Start(ctx, q)
		f := finishFor(t, p, sr, a.devs)
		f.Devices[0].DigitalID.SerialNo = "SN-OTHER" // proofs bound SN-A
		before := h.snapshot()
		_, err := h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeCertify, before)
	})

	t.Run("digital ID of another vendor", func(t *testing.T) {
		devs := append([]enrol.DeviceKeys(nil), a.devs...)
		devs[0].DigitalID.DeviceProviderID = "OTHER"
		tok := h.deviceToken("ACME")
		before := h.snapshot()
		_, err := a.prover().EnrolDevices(ctx, h.client, tok, devs)
		h.wantRefused(t, err, enrol.CodeDigitalID, before)
	})

	t.Run("session used twice or expired", func(t *testing.T) {
		p := a.prover()
		q, _ := p.StartRequest(ctx, h.deviceToken("ACME"))
		sr, _ := h.client.Start(ctx, q)
		f := finishFor(t, p, sr, a.devs)
		f.Devices[0].DigitalID.Model = "tampered" // first attempt fails on the proofs
		if _, err := h.client.Finish(ctx, f); err == nil {
			t.Fatal("tampered digital ID accepted")
		}
		f = finishFor(t, p, sr, a.devs)
		before := h.snapshot()
		_, err := h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeSession, before)

		q, _ = p.StartRequest(ctx, h.deviceToken("ACME"))
		sr, _ = h.client.Start(ctx, q)
		f = finishFor(t, p, sr, a.devs)
		before = h.snapshot()
		h.clock.Add(3 * time.Minute)
		defer h.clock.Add(-3 * time.Minute)
		_, err = h.client.Finish(ctx, f)
		h.wantRefused(t, err, enrol.CodeSession, before)
	})

	t.Run("vendor revoked after the token was made", func(t *testing.T) {
		if _, err := h.c.AddVendor(ctx, h.admin, "GONE", "Gone Ltd"); err != nil {
			t.Fatal(err)
		}
		tok := h.deviceToken("GONE")
		if _, err := h.c.SetVendorStatus(ctx, h.admin, "GONE", StatusChange{Status: trustfeed.Revoked}); err != nil {
			t.Fatal(err)
		}
		before := h.snapshot()
		_, err := a.prover().EnrolDevices(ctx, h.client, tok, a.devs)
		h.wantRefused(t, err, enrol.CodeVendorInactive, before)
	})

	// After all that, the genuine enrolment still works, once.
	if _, err := a.prover().EnrolDevices(ctx, h.client, h.deviceToken("ACME"), a.devs); err != nil {
		t.Fatalf("genuine enrolment after the refusals: %v", err)
	}
	tok := h.deviceToken("ACME")
	before := h.snapshot()
	_, err := a.prover().EnrolDevices(ctx, h.client, tok, a.devs)
	h.wantRefused(t, err, enrol.CodeConflict, before)
}

// finishFor builds a correct finish request for sr (activating in p's TPM).
func finishFor(t *testing.T, p *enrol.Prover, sr *enrol.StartResponse, devs []enrol.DeviceKeys) *enrol.FinishRequest {
	t.Helper()
	secret, err := p.Activate(ctx, sr)
	if err != nil {
		t.Fatal(err)
	}
	f := &enrol.FinishRequest{Session: sr.Session, Secret: secret}
	for _, d := range devs {
		subj := enrol.DigitalIDSubject(d.DigitalID)
		ftm, err := p.Prove(ctx, d.FTM, sr.Nonce, enrol.RoleFTM, subj)
		if err != nil {
			t.Fatal(err)
		}
		dev, err := p.Prove(ctx, d.Device, sr.Nonce, enrol.RoleDevice, subj)
		if err != nil {
			t.Fatal(err)
		}
		f.Devices = append(f.Devices, enrol.DeviceRequest{DigitalID: d.DigitalID, FTMKey: ftm, DeviceKey: dev})
	}
	return f
}

// testCA is a TPM manufacturer CA for EK certificates.
type testCA struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newTestCA(t *testing.T, name string) (*testCA, *x509.CertPool) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCA{cert: c, key: k}, pool
}

// ekCert issues an EK certificate the way TPM manufacturers do: empty
// subject, a critical subjectAltName holding only a directoryName.
func (ca *testCA) ekCert(t *testing.T, pub any) []byte {
	t.Helper()
	dir, err := asn1.Marshal(pkix.Name{ExtraNames: []pkix.AttributeTypeAndValue{
		{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 1}, Value: "id:53575450"}, // tcg-at-tpmManufacturer
		{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 2}, Value: "swtpm"},
		{Type: asn1.ObjectIdentifier{2, 23, 133, 2, 3}, Value: "id:20191023"},
	}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	san, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dir}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:        x509.KeyUsageKeyEncipherment,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 17}, Critical: true, Value: san}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestEKCertificateChain: with no allow-list, an EK is trusted only through
// a certificate for that very key from a configured manufacturer CA.
func TestEKCertificateChain(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t, "SN-CERT")
	ek, err := a.tpm.EndorsementKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mfr, pool := newTestCA(t, "Test TPM Manufacturer")
	other, _ := newTestCA(t, "Other TPM Manufacturer")
	h.ek.Roots = pool
	h.setEK()

	// A genuine certificate for another TPM's EK.
	b := newAgentTPM(t)
	ekB, _ := b.tpm.EndorsementKey(ctx)
	for _, tc := range []struct {
		name string
		cert []byte
	}{
		{"certificate from an untrusted manufacturer", other.ekCert(t, ek.Public())},
		{"certificate for another EK", mfr.ekCert(t, ekB.Public())},
		{"garbage certificate", []byte("not DER")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := a.prover()
			p.EKCert = tc.cert
			tok := h.deviceToken("ACME")
			before := h.snapshot()
			_, err := p.EnrolDevices(ctx, h.client, tok, a.devs)
			h.wantRefused(t, err, enrol.CodeEKUntrusted, before)
		})
	}
	p := a.prover()
	p.EKCert = mfr.ekCert(t, ek.Public())
	if _, err := p.EnrolDevices(ctx, h.client, h.deviceToken("ACME"), a.devs); err != nil {
		t.Fatalf("EK certified by the trusted manufacturer: %v", err)
	}
	d, err := h.c.Device(ctx, "SN-CERT")
	if err != nil || !bytes.Equal(d.EKCert, p.EKCert) || d.EKFingerprint == "" {
		t.Errorf("device record keeps the EK certificate: %v", err)
	}
}

func TestEnrolAppliance(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t)
	h.allow(a)
	enc, err := a.tpm.CreateKey(ctx, tpm.RSA2048Decrypt)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenAppliance, Appliance: "EDGE-1"})
	if err != nil {
		t.Fatal(err)
	}
	// The keys' roles cannot be swapped, and the token binds the id.
	before := h.snapshot()
	_, err = a.prover().EnrolAppliance(ctx, h.client, tr.Token, "EDGE-1", sign, enc, nil)
	h.wantRefused(t, err, enrol.CodeCertify, before)
	tr, _ = h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenAppliance, Appliance: "EDGE-1"})
	before = h.snapshot()
	_, err = a.prover().EnrolAppliance(ctx, h.client, tr.Token, "EDGE-2", enc, sign, nil)
	h.wantRefused(t, err, enrol.CodeTokenInvalid, before)
	// A device token does not enrol an appliance.
	_, err = a.prover().EnrolAppliance(ctx, h.client, h.deviceToken("ACME"), "EDGE-1", enc, sign, nil)
	if err == nil || !strings.Contains(err.Error(), "not for an appliance") {
		t.Errorf("device token used for an appliance: %v", err)
	}

	r, err := a.prover().EnrolAppliance(ctx, h.client, tr.Token, "EDGE-1", enc, sign, nil)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := x509.ParseCertificate(r.Appliance.EncryptionCert)
	if err != nil {
		t.Fatal(err)
	}
	if !pki.SameKey(enc.Public(), ec.PublicKey) || ec.KeyUsage != x509.KeyUsageKeyEncipherment {
		t.Error("encryption certificate is not for the TPM decryption key")
	}
	// An agent can encrypt to it and only the TPM decrypts.
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, ec.PublicKey.(*rsa.PublicKey), []byte("session key"), nil)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := enc.DecryptContext(ctx, ct, &rsa.OAEPOptions{Hash: crypto.SHA256})
	if err != nil || string(pt) != "session key" {
		t.Errorf("TPM decrypt of data encrypted to the appliance certificate: %q, %v", pt, err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(h.c.keys.ApplianceCA.Cert)
	if _, err := ec.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: h.clock.Now().Add(time.Minute)}); err != nil {
		t.Errorf("appliance certificate does not chain to the appliance CA: %v", err)
	}
	if _, err := h.c.SetApplianceStatus(ctx, h.admin, "EDGE-1", StatusChange{Status: trustfeed.Revoked, Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	entries := h.follower().sync(t, h)
	last, _ := trustfeed.Decode(entries[len(entries)-1].Kind, entries[len(entries)-1].Data)
	if ap, ok := last.(*trustfeed.Appliance); !ok || ap.ID != "EDGE-1" || ap.Status != trustfeed.Revoked || ap.CertSHA256 != feeds.Thumb(r.Appliance.SigningCert) {
		t.Errorf("last feed entry = %+v", last)
	}
}

// TestEnrolApplianceSoftKey (decision 0017): an appliance that unwraps in
// software has central certify its software decryption key, vouched for
// by its TPM-proven signing key, and the certificate says so (forged
// proofs: internal/enrol TestSoftKeyProof).
func TestEnrolApplianceSoftKey(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t)
	h.allow(a)
	enc, _ := a.tpm.CreateKey(ctx, tpm.RSA2048Decrypt)
	sign, _ := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	soft, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenAppliance, Appliance: "EDGE-S"})
	r, err := a.prover().EnrolAppliance(ctx, h.client, tr.Token, "EDGE-S", enc, sign, &soft.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := x509.ParseCertificate(r.Appliance.EncryptionCert)
	if err != nil {
		t.Fatal(err)
	}
	if !pki.SameKey(ec.PublicKey, &soft.PublicKey) || len(ec.Subject.OrganizationalUnit) != 1 || ec.Subject.OrganizationalUnit[0] != enrolment.SoftEncryptionUnit {
		t.Fatalf("encryption certificate for %T, OU %q: want the software key and %q", ec.PublicKey, ec.Subject.OrganizationalUnit, enrolment.SoftEncryptionUnit)
	}
}
