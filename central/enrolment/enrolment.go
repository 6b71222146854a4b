package enrolment

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/keys"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// Service runs the enrolment protocol (internal/enrol): a session per
// enrolment or rotation, TPM proofs checked against the EK policy, and
// certificates issued by the vendor's provider CA or the appliance CA.
type Service struct {
	Store    store.Store
	Keys     *keys.Keyring
	Registry *registry.Registry // vendors and their CAs
	Now      func() time.Time
	Log      *slog.Logger
	TTL      time.Duration // between start and finish
	// EK is the current EK trust policy.
	EK func() enrol.EKPolicy
	// Backfill publishes, inside tx, the records of a newly enrolled
	// appliance's group (the people concept); Kick runs the rest of it
	// after the commit.
	Backfill func(ctx context.Context, tx store.Tx, ap *store.Appliance) error
	Kick     func()
}

func tokenInvalid() error {
	return core.Fail(http.StatusUnauthorized, enrol.CodeTokenInvalid, "the enrolment token is not valid (ask a central admin for one: edgetrust-central token create)")
}

// checkEnrolToken validates an enrolment token at now without consuming it.
func checkEnrolToken(t *store.Token, secret string, now time.Time) error {
	if !core.SecretMatches(secret, t.SecretHash) || (t.Kind != store.TokenDevice && t.Kind != store.TokenAppliance) || t.Revoked {
		return tokenInvalid()
	}
	if !t.Used.IsZero() {
		return core.Fail(http.StatusUnauthorized, enrol.CodeTokenUsed, "the enrolment token was already used; tokens are single-use, ask for a new one")
	}
	if !now.Before(t.Expires) {
		return core.Fail(http.StatusUnauthorized, enrol.CodeTokenExpired, "the enrolment token expired at %s; ask for a new one", t.Expires.Format(time.RFC3339))
	}
	return nil
}

func (c *Service) lookupEnrolToken(ctx context.Context, tx store.Tx, tok string) (*store.Token, error) {
	id, secret, ok := core.SplitToken(core.EnrolPrefix, tok)
	if !ok {
		return nil, tokenInvalid()
	}
	t, err := tx.Token(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		core.SecretMatches(secret, make([]byte, 32))
		return nil, tokenInvalid()
	}
	if err != nil {
		return nil, err
	}
	if err := checkEnrolToken(t, secret, c.Now()); err != nil {
		return nil, err
	}
	return t, nil
}

// StartEnrolment checks the token, EK and AK and returns the credential
// challenge. It writes only the session.
func (c *Service) StartEnrolment(ctx context.Context, q *enrol.StartRequest) (*enrol.StartResponse, error) {
	now := c.Now()
	var tok *store.Token
	var vendor *store.Vendor
	err := c.Store.View(ctx, func(tx store.Tx) error {
		var err error
		if tok, err = c.lookupEnrolToken(ctx, tx, q.Token); err != nil {
			return err
		}
		if tok.Kind == store.TokenDevice {
			if vendor, err = tx.Vendor(ctx, tok.VendorID); err != nil {
				return err
			}
			if vendor.Status != trustfeed.Active {
				return core.Fail(http.StatusForbidden, enrol.CodeVendorInactive, "vendor %s is %s: it cannot enrol devices", vendor.ID, vendor.Status)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	fp, how, err := c.EK().Check(q.EKPublic, q.EKCert, now)
	if err != nil {
		return nil, core.Fail(http.StatusForbidden, enrol.CodeEKUntrusted, "%v", err)
	}
	akName, akPub, err := tpm.AKName(q.AKPublic)
	if err != nil {
		return nil, core.Fail(http.StatusBadRequest, enrol.CodeAKInvalid, "%v", err)
	}
	if k, ok := akPub.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
		return nil, core.Fail(http.StatusBadRequest, enrol.CodeAKInvalid, "the AK must be RSA-2048 (tpm.AttestationKey)")
	}
	secret := make([]byte, 32)
	nonce := make([]byte, enrol.NonceSize)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	blob, encSecret, err := tpm.MakeCredential(q.EKPublic, akName, secret)
	if err != nil {
		return nil, core.Fail(http.StatusBadRequest, enrol.CodeEKUntrusted, "cannot make a credential for this EK: %v", err)
	}
	sh := sha256.Sum256(secret)
	s := &store.Session{ID: core.RandomString(32), Kind: tok.Kind, TokenID: tok.ID, EKPublic: q.EKPublic, EKCert: q.EKCert,
		EKFingerprint: fp, AKPublic: q.AKPublic, SecretHash: sh[:], Nonce: nonce, Expires: now.Add(c.TTL).UTC()}
	err = c.Store.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.DeleteExpiredSessions(ctx, now); err != nil {
			return err
		}
		return tx.PutSession(ctx, s)
	})
	if err != nil {
		return nil, err
	}
	c.Log.Info("enrolment started", "token", tok.ID, "kind", tok.Kind, "ek", fp, "ekTrust", how)
	r := &enrol.StartResponse{Session: s.ID, Kind: tok.Kind, CredentialBlob: blob, EncryptedSecret: encSecret, Nonce: nonce, Expires: s.Expires}
	if vendor != nil {
		r.VendorID, r.VendorName = vendor.ID, vendor.Name
	}
	return r, nil
}

// takeSession removes and returns a session: each is finished at most
// once, whatever the outcome.
func (c *Service) takeSession(ctx context.Context, id, kind string) (*store.Session, error) {
	var s *store.Session
	err := c.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		if s, err = tx.Session(ctx, id); err != nil {
			return err
		}
		return tx.DeleteSession(ctx, id)
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && s.Kind != kind) {
		return nil, core.Fail(http.StatusBadRequest, enrol.CodeSession, "unknown or already used session; start again")
	}
	if err != nil {
		return nil, err
	}
	if !c.Now().Before(s.Expires) {
		return nil, core.Fail(http.StatusBadRequest, enrol.CodeSession, "the session expired at %s; start again", s.Expires.Format(time.RFC3339))
	}
	return s, nil
}

// provenDevice is a device whose proofs verified.
type provenDevice struct {
	id       sbi.DigitalID
	ftm, dev *rsa.PublicKey
	ftmCert  *x509.Certificate
	devCert  *x509.Certificate
}

func certifyError(what string, err error) error {
	return core.Fail(http.StatusForbidden, enrol.CodeCertify, "%s: %v", what, err)
}

// FinishEnrolment checks the activated secret and the certify proofs and,
// only if all hold, consumes the token, records the devices or appliance
// and issues their certificates.
func (c *Service) FinishEnrolment(ctx context.Context, q *enrol.FinishRequest) (*enrol.FinishResponse, error) {
	var kind string
	switch {
	case len(q.Devices) > 0:
		kind = store.TokenDevice
	case q.Appliance != nil:
		kind = store.TokenAppliance
	}
	s, err := c.takeSession(ctx, q.Session, kind)
	if err != nil {
		return nil, err
	}
	sh := sha256.Sum256(q.Secret)
	if subtle.ConstantTimeCompare(sh[:], s.SecretHash) != 1 {
		return nil, core.Fail(http.StatusForbidden, enrol.CodeActivation,
			"the credential was not activated: only the TPM holding the EK sent, with the AK sent loaded, can recover it (is the AK from a different TPM?)")
	}
	_, akPub, err := tpm.AKName(s.AKPublic)
	if err != nil {
		return nil, core.Fail(http.StatusBadRequest, enrol.CodeAKInvalid, "%v", err)
	}
	if kind == store.TokenAppliance {
		return c.finishAppliance(ctx, s, akPub.(*rsa.PublicKey), q.Appliance)
	}
	return c.finishDevices(ctx, s, akPub.(*rsa.PublicKey), q.Devices)
}

func (c *Service) finishDevices(ctx context.Context, s *store.Session, ak *rsa.PublicKey, reqs []enrol.DeviceRequest) (*enrol.FinishResponse, error) {
	proven := make([]*provenDevice, 0, len(reqs))
	seen := map[string]bool{}
	for _, r := range reqs {
		id := r.DigitalID
		if !sbi.ValidType(id.Type) || !sbi.ValidDeviceSubType(id.Type, id.DeviceSubType) {
			return nil, core.Fail(http.StatusBadRequest, enrol.CodeDigitalID, "device %s: type %q / deviceSubType %q is not an SBI pairing", id.SerialNo, id.Type, id.DeviceSubType)
		}
		subj := enrol.DigitalIDSubject(id)
		ftm, err := enrol.VerifyKeyProof(ak, r.FTMKey, enrol.CertifyNonce(s.Nonce, enrol.RoleFTM, subj), enrol.UseSign)
		if err != nil {
			return nil, certifyError("device "+id.SerialNo+" FTM key", err)
		}
		dev, err := enrol.VerifyKeyProof(ak, r.DeviceKey, enrol.CertifyNonce(s.Nonce, enrol.RoleDevice, subj), enrol.UseSign)
		if err != nil {
			return nil, certifyError("device "+id.SerialNo+" device key", err)
		}
		for _, k := range []*rsa.PublicKey{ftm, dev} {
			kid, err := pki.KeyID(k)
			if err != nil {
				return nil, err
			}
			if seen[string(kid)] {
				return nil, core.Fail(http.StatusBadRequest, enrol.CodeCertify, "device %s: every FTM and device key must be distinct", id.SerialNo)
			}
			seen[string(kid)] = true
		}
		proven = append(proven, &provenDevice{id: id, ftm: ftm, dev: dev})
	}
	now := c.Now().UTC()
	var resp enrol.FinishResponse
	err := c.Store.Update(ctx, func(tx store.Tx) error {
		tok, err := unspentToken(ctx, tx, s.TokenID, now)
		if err != nil {
			return err
		}
		v, err := tx.Vendor(ctx, tok.VendorID)
		if err != nil {
			return err
		}
		if v.Status != trustfeed.Active {
			return core.Fail(http.StatusForbidden, enrol.CodeVendorInactive, "vendor %s is %s: it cannot enrol devices", v.ID, v.Status)
		}
		ca, err := c.Registry.VendorCA(v)
		if err != nil {
			return err
		}
		resp = enrol.FinishResponse{CACert: v.CACert}
		entries := make([]store.NewEntry, 0, len(proven))
		for _, p := range proven {
			id := p.id
			if id.DeviceProviderID != v.ID || id.DeviceProvider != v.Name {
				return core.Fail(http.StatusBadRequest, enrol.CodeDigitalID,
					"device %s: digital ID names provider %q (%q) but the token is for vendor %q (%q): set the agent's provider and providerId",
					id.SerialNo, id.DeviceProvider, id.DeviceProviderID, v.Name, v.ID)
			}
			if _, err := tx.Device(ctx, id.SerialNo); err == nil {
				return core.Fail(http.StatusConflict, enrol.CodeConflict, "device %s is already enrolled", id.SerialNo)
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if p.ftmCert, err = keys.Issue(ca, p.ftm, keys.Leaf{CommonName: id.SerialNo, Organization: v.Name, Unit: "FTM",
				Validity: keys.FTMValidity, Usage: x509.KeyUsageDigitalSignature}, now); err != nil {
				return err
			}
			if p.devCert, err = keys.Issue(ca, p.dev, keys.Leaf{CommonName: id.SerialNo, Organization: v.Name, Unit: "Device",
				Validity: keys.DeviceValidity, Usage: x509.KeyUsageDigitalSignature}, now); err != nil {
				return err
			}
			d := &store.Device{Serial: id.SerialNo, VendorID: v.ID, Make: id.Make, Model: id.Model, Type: id.Type, SubType: id.DeviceSubType,
				DeviceProvider: id.DeviceProvider, DeviceProviderID: id.DeviceProviderID, Status: trustfeed.Active,
				EKPublic: s.EKPublic, EKCert: s.EKCert, EKFingerprint: s.EKFingerprint, AKPublic: s.AKPublic,
				DeviceCert: p.devCert.Raw, FTMCert: p.ftmCert.Raw, Enrolled: now, Updated: now,
				Certs: []store.CertRecord{certRecord("ftm", p.ftmCert, now), certRecord("device", p.devCert, now)}}
			if err := tx.PutDevices(ctx, d); err != nil {
				return err
			}
			if err := core.Audit(ctx, tx, c.Now(), "enrol:"+tok.ID, "device.enrol", "device:"+d.Serial, map[string]string{
				"vendorId": v.ID, "ekFingerprint": s.EKFingerprint, "deviceCertSha256": feeds.Thumb(d.DeviceCert), "ftmCertSha256": feeds.Thumb(d.FTMCert)}); err != nil {
				return err
			}
			entries = append(entries, feeds.DeviceEntry(d))
			resp.Devices = append(resp.Devices, enrol.IssuedDevice{Serial: d.Serial, DeviceCert: d.DeviceCert, FTMCert: d.FTMCert})
		}
		tok.Used = now
		if err := tx.PutToken(ctx, tok); err != nil {
			return err
		}
		if err := core.Audit(ctx, tx, c.Now(), "enrol:"+tok.ID, "enrol-token.use", "token:"+tok.ID, map[string]int{"devices": len(proven)}); err != nil {
			return err
		}
		return feeds.Publish(ctx, tx, c.Now(), entries...)
	})
	if err != nil {
		return nil, err
	}
	for _, d := range resp.Devices {
		c.Log.Info("device enrolled", "device", d.Serial, "token", s.TokenID, "ek", s.EKFingerprint)
	}
	return &resp, nil
}

func certRecord(role string, c *x509.Certificate, now time.Time) store.CertRecord {
	return store.CertRecord{Role: role, SHA256: sbi.Thumbprint(c), Issued: now, NotBefore: c.NotBefore, NotAfter: c.NotAfter}
}

// SoftEncryptionUnit is the OU of an appliance encryption certificate
// issued to a software key the appliance's TPM signing key vouched for,
// not to a key the TPM proved its own.
const SoftEncryptionUnit = "Encryption (software key, TPM-sealed at rest)"

func (c *Service) finishAppliance(ctx context.Context, s *store.Session, ak *rsa.PublicKey, r *enrol.ApplianceRequest) (*enrol.FinishResponse, error) {
	subj := enrol.ApplianceSubject(r.ID)
	encKey, err := enrol.VerifyKeyProof(ak, r.EncryptionKey, enrol.CertifyNonce(s.Nonce, enrol.RoleApplianceEncrypt, subj), enrol.UseDecrypt)
	if err != nil {
		return nil, certifyError("appliance encryption key", err)
	}
	signKey, err := enrol.VerifyKeyProof(ak, r.SigningKey, enrol.CertifyNonce(s.Nonce, enrol.RoleApplianceSign, subj), enrol.UseSign)
	if err != nil {
		return nil, certifyError("appliance signing key", err)
	}
	// A software decryption key (TPM-sealed at rest, decision 0017) is
	// certified instead of the TPM's when the proven signing key vouches
	// for it; its certificate says so in the OU.
	encUnit := "Encryption"
	if r.SoftEncryptionKey != nil {
		if encKey, err = enrol.VerifySoftKey(signKey, s.Nonce, subj, r.SoftEncryptionKey); err != nil {
			return nil, certifyError("appliance software encryption key", err)
		}
		encUnit = SoftEncryptionUnit
	}
	now := c.Now().UTC()
	ca := c.Keys.ApplianceCA
	var resp enrol.FinishResponse
	err = c.Store.Update(ctx, func(tx store.Tx) error {
		tok, err := unspentToken(ctx, tx, s.TokenID, now)
		if err != nil {
			return err
		}
		if tok.Name != "" && tok.Name != r.ID {
			return core.Fail(http.StatusForbidden, enrol.CodeTokenInvalid, "the enrolment token is for appliance %q, not %q", tok.Name, r.ID)
		}
		if _, err := tx.Appliance(ctx, r.ID); err == nil {
			return core.Fail(http.StatusConflict, enrol.CodeConflict, "appliance %s is already enrolled", r.ID)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		encCert, err := keys.Issue(ca, encKey, keys.Leaf{CommonName: r.ID, Organization: "edgetrust", Unit: encUnit,
			Validity: keys.ApplianceValidity, Usage: x509.KeyUsageKeyEncipherment}, now)
		if err != nil {
			return err
		}
		signCert, err := keys.Issue(ca, signKey, keys.Leaf{CommonName: r.ID, Organization: "edgetrust", Unit: "Signing",
			Validity: keys.ApplianceValidity, Usage: x509.KeyUsageDigitalSignature}, now)
		if err != nil {
			return err
		}
		a := &store.Appliance{ID: r.ID, Status: trustfeed.Active, EKPublic: s.EKPublic, EKCert: s.EKCert, EKFingerprint: s.EKFingerprint,
			AKPublic: s.AKPublic, EncryptionCert: encCert.Raw, SigningCert: signCert.Raw, Enrolled: now, Updated: now,
			Certs: []store.CertRecord{certRecord("encryption", encCert, now), certRecord("signing", signCert, now)}}
		if err := tx.PutAppliance(ctx, a); err != nil {
			return err
		}
		tok.Used = now
		if err := tx.PutToken(ctx, tok); err != nil {
			return err
		}
		if err := core.Audit(ctx, tx, c.Now(), "enrol:"+tok.ID, "appliance.enrol", "appliance:"+a.ID, map[string]string{
			"ekFingerprint": s.EKFingerprint, "encryptionCertSha256": feeds.Thumb(a.EncryptionCert), "signingCertSha256": feeds.Thumb(a.SigningCert)}); err != nil {
			return err
		}
		resp = enrol.FinishResponse{CACert: ca.Cert.Raw, Appliance: &enrol.IssuedAppliance{ID: a.ID, EncryptionCert: a.EncryptionCert, SigningCert: a.SigningCert}}
		if err := feeds.Publish(ctx, tx, c.Now(), feeds.ApplianceEntry(a)); err != nil {
			return err
		}
		// Its records feed starts with every record of its group.
		return c.Backfill(ctx, tx, a)
	})
	if err != nil {
		return nil, err
	}
	c.Kick()
	c.Log.Info("appliance enrolled", "appliance", r.ID, "token", s.TokenID, "ek", s.EKFingerprint)
	return &resp, nil
}

// StartRotation opens a device-key rotation for an active device.
func (c *Service) StartRotation(ctx context.Context, q *enrol.RotateStartRequest) (*enrol.RotateStartResponse, error) {
	now := c.Now()
	err := c.Store.View(ctx, func(tx store.Tx) error {
		d, err := tx.Device(ctx, q.Serial)
		if errors.Is(err, store.ErrNotFound) {
			return core.NotFound("device", q.Serial)
		}
		if err != nil {
			return err
		}
		v, err := tx.Vendor(ctx, d.VendorID)
		if err != nil {
			return err
		}
		if e := registry.Effective(v.Status, d.Status); e != trustfeed.Active {
			return core.Fail(http.StatusForbidden, enrol.CodeNotActive, "device %s is %s: it cannot rotate its key", d.Serial, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, enrol.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	s := &store.Session{ID: core.RandomString(32), Kind: "rotate", Serial: q.Serial, Nonce: nonce, Expires: now.Add(c.TTL).UTC()}
	if err := c.Store.Update(ctx, func(tx store.Tx) error { return tx.PutSession(ctx, s) }); err != nil {
		return nil, err
	}
	return &enrol.RotateStartResponse{Session: s.ID, Nonce: nonce, Expires: s.Expires}, nil
}

// FinishRotation certifies a new device key proven by the device's
// enrolled AK.
func (c *Service) FinishRotation(ctx context.Context, q *enrol.RotateFinishRequest) (*enrol.RotateFinishResponse, error) {
	s, err := c.takeSession(ctx, q.Session, "rotate")
	if err != nil {
		return nil, err
	}
	now := c.Now().UTC()
	var resp enrol.RotateFinishResponse
	err = c.Store.Update(ctx, func(tx store.Tx) error {
		d, err := tx.Device(ctx, s.Serial)
		if err != nil {
			return err
		}
		v, err := tx.Vendor(ctx, d.VendorID)
		if err != nil {
			return err
		}
		if e := registry.Effective(v.Status, d.Status); e != trustfeed.Active {
			return core.Fail(http.StatusForbidden, enrol.CodeNotActive, "device %s is %s: it cannot rotate its key", d.Serial, e)
		}
		_, akPub, err := tpm.AKName(d.AKPublic)
		if err != nil {
			return err
		}
		key, err := enrol.VerifyKeyProof(akPub, q.DeviceKey, enrol.CertifyNonce(s.Nonce, enrol.RoleRotateDevice, enrol.SerialSubject(d.Serial)), enrol.UseSign)
		if err != nil {
			return certifyError("new device key (it must be certified by the AK enrolled with this device)", err)
		}
		old, err := x509.ParseCertificate(d.DeviceCert)
		if err != nil {
			return err
		}
		ftm, err := x509.ParseCertificate(d.FTMCert)
		if err != nil {
			return err
		}
		if pki.SameKey(key, old.PublicKey) || pki.SameKey(key, ftm.PublicKey) {
			return core.Fail(http.StatusBadRequest, enrol.CodeCertify, "the new device key must differ from the current device and FTM keys")
		}
		ca, err := c.Registry.VendorCA(v)
		if err != nil {
			return err
		}
		crt, err := keys.Issue(ca, key, keys.Leaf{CommonName: d.Serial, Organization: v.Name, Unit: "Device", Validity: keys.DeviceValidity,
			Usage: x509.KeyUsageDigitalSignature, NotBefore: old.NotBefore}, now)
		if err != nil {
			return err
		}
		d.DeviceCert, d.Updated = crt.Raw, now
		d.Certs = append(d.Certs, certRecord("device", crt, now))
		if err := tx.PutDevices(ctx, d); err != nil {
			return err
		}
		if err := core.Audit(ctx, tx, c.Now(), "device:"+d.Serial, "device.rotate", "device:"+d.Serial, map[string]string{
			"oldCertSha256": sbi.Thumbprint(old), "deviceCertSha256": sbi.Thumbprint(crt)}); err != nil {
			return err
		}
		resp = enrol.RotateFinishResponse{Serial: d.Serial, DeviceCert: crt.Raw, CACert: v.CACert}
		return feeds.Publish(ctx, tx, c.Now(), feeds.DeviceEntry(d))
	})
	if err != nil {
		return nil, err
	}
	c.Log.Info("device key rotated", "device", s.Serial)
	return &resp, nil
}

// unspentToken re-reads an enrolment token inside the finishing
// transaction: another enrolment may have spent it, or it may have expired,
// since the challenge was issued.
func unspentToken(ctx context.Context, tx store.Tx, id string, now time.Time) (*store.Token, error) {
	tok, err := tx.Token(ctx, id)
	if err != nil {
		return nil, err
	}
	if !tok.Used.IsZero() {
		return nil, core.Fail(http.StatusUnauthorized, enrol.CodeTokenUsed, "the enrolment token was used by another enrolment meanwhile")
	}
	if !now.Before(tok.Expires) {
		return nil, core.Fail(http.StatusUnauthorized, enrol.CodeTokenExpired, "the enrolment token expired at %s; ask for a new one", tok.Expires.Format(time.RFC3339))
	}
	return tok, nil
}
