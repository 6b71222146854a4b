package attestation

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
)

// ReleaseType is the type every golden release document carries, so a
// signature over it cannot be taken for a signature over anything else.
const ReleaseType = "edgetrust/golden-release/v1"

// Release is a vendor's golden values for one firmware release: the
// measurements its modules extend into PCR 14. The vendor signs it; central
// keeps it only when the signature verifies under a release-signing
// certificate of the vendor's provider CA.
type Release struct {
	Type string `json:"type"`
	// Vendor is the vendor id the release is for.
	Vendor string `json:"vendor"`
	// Release names the firmware release (its version, e.g. "1.3.0").
	Release string `json:"release"`
	// Firmware are its golden values (1–256).
	Firmware []Golden `json:"firmware"`
	// Issued is when the vendor signed it.
	Issued time.Time `json:"issued"`
}

// SignedRelease is what a vendor hands central: the release document's
// exact bytes, a signature over them and the signer's certificate.
type SignedRelease struct {
	// Payload is the Release JSON exactly as signed.
	Payload []byte `json:"payload"`
	// Signature is over Payload with SHA-256: ECDSA (ASN.1), RSA PKCS#1
	// v1.5, or Ed25519 (over Payload itself).
	Signature []byte `json:"signature"`
	// Certificates are DER, the signer's first; it must be a release-signing
	// certificate (extended key usage codeSigning) issued by the vendor's
	// provider CA (IssueSigner).
	Certificates [][]byte `json:"certificates"`
}

// ReleaseRecord is a release central accepted. Releases are versioned:
// adding a release whose name exists makes its next version, which is the
// one policies use; every version stays in the audit log.
type ReleaseRecord struct {
	Vendor   string    `json:"vendor"`
	Release  string    `json:"release"`
	Version  int       `json:"version"`
	Firmware []Golden  `json:"firmware"`
	Issued   time.Time `json:"issued"`
	// Signer is the upper-hex SHA-256 of the signer's certificate, and its
	// subject.
	Signer        string    `json:"signer"`
	SignerSubject string    `json:"signerSubject"`
	Added         time.Time `json:"added"`
	AddedBy       string    `json:"addedBy"`
	// Signed is the envelope as received: anyone can verify it again.
	Signed *SignedRelease `json:"signed"`
}

// Limits of signed releases.
var (
	SignedReleaseLimits = jsonx.Limits{MaxBytes: 256 << 10, MaxDepth: 2, MaxArray: 8, MaxMembers: 8}
	releaseLimits       = jsonx.Limits{MaxBytes: 128 << 10, MaxDepth: 3, MaxArray: MaxGolden, MaxMembers: 16}
)

// Audit actions and subjects of golden releases and their signers.
const (
	ActionGoldenAdd   = "attest-golden.add"
	ActionSignerIssue = "attest-signer.issue"
	signerUnit        = "Release Signing"
	// MaxSignerDays bounds a release-signing certificate's life.
	MaxSignerDays = 730
)

func goldenSubject(vendor string) string { return "attest-golden:" + vendor }

// releaseAlgorithm is the signature algorithm used with pub.
func releaseAlgorithm(pub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch pub.(type) {
	case *ecdsa.PublicKey:
		return x509.ECDSAWithSHA256, nil
	case *rsa.PublicKey:
		return x509.SHA256WithRSA, nil
	case ed25519.PublicKey:
		return x509.PureEd25519, nil
	}
	return 0, fmt.Errorf("a %T key cannot sign releases (want ECDSA, RSA or Ed25519)", pub)
}

// SignRelease signs r with key for the chain (signer first): what a vendor
// runs (edgetrust-central attest golden sign), offline.
func SignRelease(r *Release, key crypto.Signer, chain []*x509.Certificate) (*SignedRelease, error) {
	if len(chain) == 0 {
		return nil, errors.New("attest: signing a release needs the signer's certificate")
	}
	r.Type = ReleaseType
	if r.Issued.IsZero() {
		r.Issued = time.Now().UTC().Truncate(time.Second)
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	if _, err := releaseAlgorithm(key.Public()); err != nil {
		return nil, err
	}
	var sig []byte
	if _, ok := key.Public().(ed25519.PublicKey); ok {
		sig, err = key.Sign(rand.Reader, payload, crypto.Hash(0))
	} else {
		h := sha256.Sum256(payload)
		sig, err = key.Sign(rand.Reader, h[:], crypto.SHA256)
	}
	if err != nil {
		return nil, err
	}
	sr := &SignedRelease{Payload: payload, Signature: sig}
	for _, c := range chain {
		sr.Certificates = append(sr.Certificates, c.Raw)
	}
	return sr, nil
}

// VerifyRelease checks a signed release against the vendor's provider CA
// at now and returns the release and the signer's certificate.
func VerifyRelease(sr *SignedRelease, vendorCA *x509.Certificate, now time.Time) (*Release, *x509.Certificate, error) {
	if len(sr.Payload) == 0 || len(sr.Signature) == 0 || len(sr.Certificates) == 0 {
		return nil, nil, core.BadRequest("an unsigned release: want {payload, signature, certificates} as edgetrust-central attest golden sign writes it")
	}
	certs := make([]*x509.Certificate, 0, len(sr.Certificates))
	for i, der := range sr.Certificates {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, core.BadRequest("certificates[%d]: %v", i, err)
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	roots := x509.NewCertPool()
	roots.AddCert(vendorCA)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}}); err != nil {
		return nil, nil, core.Fail(http.StatusForbidden, CodeBadRelease, "the release's signer certificate does not chain to the vendor's provider CA (or is expired): %v", err)
	}
	// A leaf without extended key usages passes Verify for any usage:
	// device certificates of the same CA must not sign releases.
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageCodeSigning) {
		return nil, nil, core.Fail(http.StatusForbidden, CodeBadRelease, "the signer certificate is not a release-signing certificate (no codeSigning usage): issue one with attest signer issue")
	}
	alg, err := releaseAlgorithm(leaf.PublicKey)
	if err != nil {
		return nil, nil, core.Fail(http.StatusForbidden, CodeBadRelease, "%v", err)
	}
	if err := leaf.CheckSignature(alg, sr.Payload, sr.Signature); err != nil {
		return nil, nil, core.Fail(http.StatusForbidden, CodeBadRelease, "the release's signature does not verify with its signer certificate: it was altered or signed by another key")
	}
	var r Release
	if err := jsonx.Unmarshal(sr.Payload, &r, releaseLimits); err != nil {
		return nil, nil, core.BadRequest("the signed payload is not a release document: %v", err)
	}
	if r.Type != ReleaseType {
		return nil, nil, core.BadRequest("the signed payload's type is %q, want %q", r.Type, ReleaseType)
	}
	return &r, leaf, nil
}

// CodeBadRelease is the API code of a release whose signature or signer
// central refuses.
const CodeBadRelease = "attest_bad_release"

// checkRelease validates a release's contents.
func checkRelease(r *Release) error {
	if err := enrol.CheckID("vendor", r.Vendor); err != nil {
		return core.BadRequest("%v", err)
	}
	if _, err := firmware.ParseVersion(r.Release); err != nil {
		return core.BadRequest("release %q: want a firmware version such as 1.3.0: %v", r.Release, err)
	}
	if len(r.Firmware) == 0 || len(r.Firmware) > MaxGolden {
		return core.BadRequest("firmware: 1–%d golden values", MaxGolden)
	}
	p := Policy{Scope: r.Vendor, Firmware: r.Firmware}
	if err := p.Check(); err != nil {
		return err
	}
	for i := range r.Firmware {
		if r.Firmware[i].Version == "" {
			r.Firmware[i].Version = r.Release
		}
	}
	if r.Issued.IsZero() {
		return core.BadRequest("issued: when the vendor signed the release is required")
	}
	return nil
}

// AddRelease verifies a vendor's signed release and keeps it as the next
// version of that release (audited). Unsigned releases, signatures that do
// not verify, and signers not certified by the vendor's provider CA are
// refused and recorded nowhere.
func (v *Verifier) AddRelease(ctx context.Context, a *core.Admin, sr *SignedRelease) (*ReleaseRecord, error) {
	// The vendor is named in the signed payload; read it to find its CA,
	// then verify before trusting anything else in it.
	var peek struct {
		Vendor string `json:"vendor"`
	}
	if len(sr.Payload) == 0 {
		return nil, core.BadRequest("an unsigned release: want {payload, signature, certificates} as edgetrust-central attest golden sign writes it")
	}
	if err := json.Unmarshal(sr.Payload, &peek); err != nil {
		return nil, core.BadRequest("the signed payload is not a release document: %v", err)
	}
	if err := enrol.CheckID("vendor", peek.Vendor); err != nil {
		return nil, core.BadRequest("%v", err)
	}
	now := v.now().UTC()
	var rec *ReleaseRecord
	err := v.st.Update(ctx, func(tx store.Tx) error {
		rec = nil
		vd, err := tx.Vendor(ctx, peek.Vendor)
		if errors.Is(err, store.ErrNotFound) {
			return core.NotFound("vendor", peek.Vendor)
		} else if err != nil {
			return err
		}
		if vd.Status != trustfeed.Active {
			return core.Fail(http.StatusConflict, enrol.CodeConflict, "vendor %s is %s: it cannot register releases", vd.ID, vd.Status)
		}
		ca, err := x509.ParseCertificate(vd.CACert)
		if err != nil {
			return err
		}
		r, signer, err := VerifyRelease(sr, ca, now)
		if err != nil {
			return err
		}
		if err := checkRelease(r); err != nil {
			return err
		}
		old, err := releases(ctx, tx, r.Vendor)
		if err != nil {
			return err
		}
		version := 1
		for _, o := range old {
			if o.Release == r.Release {
				version = o.Version + 1
			}
		}
		sum := sha256.Sum256(signer.Raw)
		rec = &ReleaseRecord{Vendor: r.Vendor, Release: r.Release, Version: version, Firmware: r.Firmware, Issued: r.Issued.UTC(),
			Signer: strings.ToUpper(hex.EncodeToString(sum[:])), SignerSubject: signer.Subject.String(), Added: now.Truncate(time.Second),
			AddedBy: a.Actor(), Signed: sr}
		return core.Audit(ctx, tx, now, a.Actor(), ActionGoldenAdd, goldenSubject(r.Vendor), rec)
	})
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	delete(v.policies, rec.Vendor) // its policy's golden values may have changed
	v.mu.Unlock()
	v.log.Info("golden release added", "vendor", rec.Vendor, "release", rec.Release, "version", rec.Version, "signer", rec.Signer)
	return rec, nil
}

// releases reads a vendor's releases from the audit log: the newest
// version of each, in the order they were first added.
func releases(ctx context.Context, tx store.Tx, vendor string) ([]ReleaseRecord, error) {
	var out []ReleaseRecord
	var after uint64
	for {
		rows, err := tx.Audit(ctx, store.AuditFilter{Subject: goldenSubject(vendor), After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			if row.Action != ActionGoldenAdd {
				continue
			}
			var r ReleaseRecord
			if err := json.Unmarshal(row.Detail, &r); err != nil {
				return nil, fmt.Errorf("attest: release in audit row %d: %w", row.Seq, err)
			}
			if i := slices.IndexFunc(out, func(o ReleaseRecord) bool { return o.Release == r.Release }); i >= 0 {
				out[i] = r
			} else {
				out = append(out, r)
			}
		}
		if len(rows) < 1000 {
			return out, nil
		}
		after = rows[len(rows)-1].Seq
	}
}

// Releases lists a vendor's releases (the newest version of each).
func (v *Verifier) Releases(ctx context.Context, vendor string) ([]ReleaseRecord, error) {
	if err := enrol.CheckID("vendor", vendor); err != nil {
		return nil, core.BadRequest("%v", err)
	}
	var out []ReleaseRecord
	err := v.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Vendor(ctx, vendor); errors.Is(err, store.ErrNotFound) {
			return core.NotFound("vendor", vendor)
		} else if err != nil {
			return err
		}
		var err error
		out, err = releases(ctx, tx, vendor)
		return err
	})
	if out == nil {
		out = []ReleaseRecord{}
	}
	return out, err
}

// SignerCert is a release-signing certificate central issued.
type SignerCert struct {
	Vendor string `json:"vendor"`
	// Certificate is DER; CertificatePEM the same as PEM, for the vendor's
	// signing tool.
	Certificate []byte    `json:"certificate"`
	SHA256      string    `json:"sha256"`
	NotAfter    time.Time `json:"notAfter"`
}

// IssueSigner certifies a vendor's release-signing key from its CSR under
// the vendor's provider CA (the vendor keeps the key; central never sees
// it), for days (1–730, default 365); audited.
func (v *Verifier) IssueSigner(ctx context.Context, a *core.Admin, vendor string, csrDER []byte, days int) (*SignerCert, error) {
	if v.cfg.VendorCA == nil {
		return nil, core.Fail(http.StatusNotImplemented, "not_implemented", "this central cannot issue release-signing certificates")
	}
	if days == 0 {
		days = 365
	}
	if days < 1 || days > MaxSignerDays {
		return nil, core.BadRequest("days: 1–%d", MaxSignerDays)
	}
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, core.BadRequest("csr: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, core.BadRequest("csr: its signature does not verify (make it with the vendor's own signing key): %v", err)
	}
	if _, err := releaseAlgorithm(csr.PublicKey); err != nil {
		return nil, core.BadRequest("csr: %v", err)
	}
	now := v.now().UTC()
	var out *SignerCert
	err = v.st.Update(ctx, func(tx store.Tx) error {
		vd, err := tx.Vendor(ctx, vendor)
		if errors.Is(err, store.ErrNotFound) {
			return core.NotFound("vendor", vendor)
		} else if err != nil {
			return err
		}
		if vd.Status != trustfeed.Active {
			return core.Fail(http.StatusConflict, enrol.CodeConflict, "vendor %s is %s", vd.ID, vd.Status)
		}
		ca, err := v.cfg.VendorCA(vd)
		if err != nil {
			return err
		}
		cert, err := ca.Issue(csr.PublicKey, pki.Profile{
			Subject:  pkix.Name{CommonName: vd.ID + " release signer", Organization: []string{vd.Name}, OrganizationalUnit: []string{signerUnit}},
			Validity: time.Duration(days) * 24 * time.Hour, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		}, now)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(cert.Raw)
		out = &SignerCert{Vendor: vd.ID, Certificate: cert.Raw, SHA256: strings.ToUpper(hex.EncodeToString(sum[:])), NotAfter: cert.NotAfter.UTC()}
		return core.Audit(ctx, tx, now, a.Actor(), ActionSignerIssue, "vendor:"+vd.ID,
			map[string]any{"sha256": out.SHA256, "notAfter": out.NotAfter, "subject": cert.Subject.String()})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
