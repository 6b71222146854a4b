package captureverify

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

// StalePolicy is what happens when the trust data is older than the
// declared maximum staleness.
type StalePolicy string

// Policies.
const (
	StaleReject StalePolicy = "reject" // answers are invalid (fail closed; the default)
	StaleWarn   StalePolicy = "warn"   // answers say stale but are judged on the data at hand
)

// Reason codes the appliance adds to sbi's check names (see docs/api/appliance.md).
const (
	ReasonNotEnrolled   = "device-not-enrolled"
	ReasonDeviceRevoked = "device-revoked"
	ReasonDeviceSusp    = "device-suspended"
	// ReasonQuarantined: suspended by central's attestation verifier (its
	// quote failed or it stopped answering; docs/decisions/0018-attestation.md).
	ReasonQuarantined    = "device-quarantined"
	ReasonKeyRotated     = "device-key-rotated"
	ReasonNoDeviceCert   = "device-cert-unknown"
	ReasonFTMMismatch    = "ftm-key-mismatch"
	ReasonVendorUnknown  = "vendor-unknown"
	ReasonVendorRevoked  = "vendor-revoked"
	ReasonVendorSusp     = "vendor-suspended"
	ReasonVendorChain    = "vendor-chain"
	ReasonDeviceMismatch = "device-mismatch"
	ReasonUnidentified   = "device-unidentified"
	ReasonHashUnverified = "hash-not-verified"
	ReasonStale          = "trust-stale"
	ReasonNoTrustData    = "no-trust-data"
)

// ReasonAttestationExpired: the device's attestedUntil horizon on the trust
// feed has passed (no good quote within its policy's offline lease, as far
// as this appliance knows), judged by the appliance's own clock, so it holds
// while offline (docs/decisions/0018-attestation.md, "Offline verifiers").
const ReasonAttestationExpired = "device-attestation-expired"

// Verifier verifies captures. Trust is required; the rest have defaults.
type Verifier struct {
	Trust *truststate.Registry
	// Keys decrypt auth bioValues (the appliance's TPM key). Without one,
	// auth captures cannot have their hash chain checked and are invalid
	// with reason hash-not-verified.
	Keys         []sbi.DecryptionKey
	Now          func() time.Time
	MaxAge       time.Duration // how old a capture timestamp may be (default 2 min)
	MaxFuture    time.Duration // how far ahead (default 30 s)
	MaxStaleness time.Duration // trust data older than this is stale (default 10 min)
	StalePolicy  StalePolicy   // default reject

	mu     sync.Mutex
	chain  chainCache
	chains sbiChains
}

// sbiChains holds the SBI verifier's cache of verified x5c chains for one
// snapshot generation: a new generation (vendors changed) gets a new pool
// and an empty cache, so nothing verified against the old trust survives.
type sbiChains struct {
	gen   uint64
	cache *sbi.ChainCache
}

// chainsFor returns the chain cache for snap's generation.
func (v *Verifier) chainsFor(snap *truststate.Snapshot) *sbi.ChainCache {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.chains.cache == nil || v.chains.gen != snap.Generation {
		v.chains = sbiChains{gen: snap.Generation, cache: sbi.NewChainCache(0)}
	}
	return v.chains.cache
}

// chainCache remembers "this pinned device certificate chains to its
// vendor's CA" per snapshot generation. Only certificates the registry
// pins are cached, so its size is bounded by the enrolled devices.
type chainCache struct {
	gen uint64
	m   map[string]bool
}

// Defaults.
const (
	DefaultMaxAge       = 2 * time.Minute
	DefaultMaxFuture    = 30 * time.Second
	DefaultMaxStaleness = 10 * time.Minute
)

// Result is the answer to a verification.
type Result struct {
	Valid         bool   `json:"valid"`
	Stale         bool   `json:"stale"`
	TransactionID string `json:"transactionId"`
	// Purpose is the capture's purpose (Auth or Registration) as checked:
	// the request's, or the signed data's when no request was given.
	Purpose  string    `json:"purpose,omitempty"`
	Device   *Device   `json:"device"`
	Reasons  []string  `json:"reasons"`
	Warnings []string  `json:"warnings,omitempty"`
	Trust    TrustInfo `json:"trust"`
	// Codes are the reason codes (the part of each reason before ':'),
	// for metrics and logs.
	Codes []string `json:"-"`
	// Samples are the verified biometric samples of a valid capture, in
	// the order of its biometrics[] (auth bioValues decrypted with the TPM
	// key): what an authentication matches. Empty unless Valid. Biometric
	// data: never serialised, logged or kept.
	Samples []Sample `json:"-"`
}

// Sample is one verified biometric sample.
type Sample struct {
	BioType    string // Finger, Iris, Face
	BioSubType string // e.g. "Left IndexFinger"; "UNKNOWN" or "" when the device did not say
	ISO        []byte // the ISO/IEC 19794 record
}

// Device is what the registry says about the capturing device.
type Device struct {
	Serial       string `json:"serial"`
	Vendor       string `json:"vendor,omitempty"`
	Status       string `json:"status"` // active, suspended, revoked, or unknown (not enrolled)
	VendorStatus string `json:"vendorStatus,omitempty"`
	Type         string `json:"type,omitempty"`
	SubType      string `json:"subType,omitempty"`
}

// TrustInfo says how fresh the trust data used was.
type TrustInfo struct {
	Size                uint64     `json:"size"`
	CheckpointTime      *time.Time `json:"checkpointTime,omitempty"`
	AgeSeconds          int64      `json:"ageSeconds"` // -1: no checkpoint yet
	MaxStalenessSeconds int64      `json:"maxStalenessSeconds"`
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func or(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Staleness reports the trust data's age and whether it is past the bound.
func (v *Verifier) Staleness(snap *truststate.Snapshot, now time.Time) (TrustInfo, bool) {
	bound := or(v.MaxStaleness, DefaultMaxStaleness)
	ti := TrustInfo{Size: snap.Size, AgeSeconds: -1, MaxStalenessSeconds: int64(bound / time.Second)}
	if snap.CheckpointTime.IsZero() {
		return ti, true
	}
	t := snap.CheckpointTime
	ti.CheckpointTime = &t
	age := snap.Age(now)
	ti.AgeSeconds = int64(age / time.Second)
	return ti, age > bound
}

type results struct {
	r *Result
}

func (rs results) add(code, format string, a ...any) {
	rs.r.Reasons = append(rs.r.Reasons, code+": "+fmt.Sprintf(format, a...))
	rs.r.Codes = append(rs.r.Codes, code)
}

// Verify judges a parsed request. The error is for internal failures
// (storage) only; every problem with the capture is a reason.
func (v *Verifier) Verify(p *Parsed) (*Result, error) {
	now := v.now()
	snap := v.Trust.Snapshot()
	res := &Result{TransactionID: p.TransactionID, Reasons: []string{}}
	rs := results{res}
	var stale bool
	res.Trust, stale = v.Staleness(snap, now)
	res.Stale = stale
	switch {
	case snap.CheckpointTime.IsZero():
		rs.add(ReasonNoTrustData, "no checkpoint from central has been accepted yet; nothing can be trusted")
	case stale:
		msg := fmt.Sprintf("trust data is %s old, over the maximum staleness of %s (is central reachable?)",
			snap.Age(now).Truncate(time.Second), or(v.MaxStaleness, DefaultMaxStaleness))
		if v.StalePolicy == StaleWarn {
			res.Warnings = append(res.Warnings, ReasonStale+": "+msg)
		} else {
			rs.add(ReasonStale, "%s", msg)
		}
	}

	if p.Response == nil {
		rs.add(string(sbi.CheckInput), "response is not an SBI capture answer: %v", p.ResponseErr)
		return res, nil
	}
	if p.Request == nil {
		rs.add(string(sbi.CheckInput), "the capture answer carries no readable data to verify")
		return res, nil
	}
	res.Purpose = p.Request.Purpose
	sv := &sbi.Verifier{DeviceRoots: snap.Roots, FTMRoots: snap.Roots, Keys: v.Keys, Now: func() time.Time { return now },
		MaxAge: or(v.MaxAge, DefaultMaxAge), MaxFuture: or(v.MaxFuture, DefaultMaxFuture), Chains: v.chainsFor(snap)}
	cr, problems := sv.VerifyCaptureResponse(p.Response, sbi.Expect{Request: p.Request})

	// Segments whose bioValue no key of ours opens: the hash chain and ISO
	// record there are unchecked, which must never pass silently.
	noKey := map[int]bool{}
	if p.Request.Purpose == sbi.PurposeAuth {
		for i := range p.Response.Biometrics {
			if tp := p.Response.Biometrics[i].Thumbprint; tp != nil && wellFormedThumbprint(*tp) && !v.hasKey(*tp) {
				noKey[i] = true
			}
		}
	}
	for _, pr := range problems {
		if pr.Check == sbi.CheckThumbprint && noKey[pr.Segment] {
			if len(v.Keys) == 0 {
				continue // reported below as hash-not-verified
			}
			rs.add(string(sbi.CheckThumbprint), "segment %d: the capture is encrypted to another key than this appliance's SBI encryption certificate", pr.Segment)
			continue
		}
		rs.add(string(pr.Check), "%s", problemText(pr))
	}
	for i := range p.Response.Biometrics {
		if !noKey[i] {
			continue
		}
		if len(v.Keys) == 0 {
			rs.add(ReasonHashUnverified, "segment %d: no decryption key is configured (start the appliance with --tpm), so bioValue cannot be decrypted and the hash chain and ISO record cannot be checked", i)
		} else {
			rs.add(ReasonHashUnverified, "segment %d: bioValue is not decryptable here, so the hash chain and ISO record cannot be checked", i)
		}
	}

	if err := v.checkDevice(rs, snap, p.Response, cr, now); err != nil {
		return nil, err
	}
	res.Valid = len(res.Reasons) == 0
	if res.Valid && cr != nil {
		for _, sg := range cr.Segments {
			if sg.Data == nil || len(sg.ISO) == 0 {
				continue
			}
			res.Samples = append(res.Samples, Sample{BioType: sg.Data.BioType, BioSubType: sg.Data.BioSubType, ISO: sg.ISO})
		}
	}
	return res, nil
}

// wellFormedThumbprint is the SBI form: 64 upper-case hex digits (sbi
// reports other forms itself).
func wellFormedThumbprint(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (v *Verifier) hasKey(tp string) bool {
	for _, k := range v.Keys {
		if k.Cert != nil && sbi.Thumbprint(k.Cert) == tp {
			return true
		}
	}
	return false
}

// problemText is a Problem without its check name (the code says it).
func problemText(p sbi.Problem) string {
	var b strings.Builder
	if p.Segment >= 0 {
		fmt.Fprintf(&b, "segment %d", p.Segment)
	}
	if p.Field != "" {
		if b.Len() > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "(%s)", p.Field)
	}
	if p.Err != nil {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(p.Err.Error())
	}
	return b.String()
}

// checkDevice identifies the device from the signed digital IDs and checks
// it and its vendor against the registry.
func (v *Verifier) checkDevice(rs results, snap *truststate.Snapshot, resp *sbi.CaptureResponse, cr *sbi.CaptureResult, now time.Time) error {
	var serial, devThumb, ftmThumb string
	var devChain []*x509.Certificate
	var did *sbi.DigitalID
	mismatch := false
	for i := range resp.Biometrics {
		if cr == nil || i >= len(cr.Segments) || cr.Segments[i].DigitalID == nil || cr.Segments[i].Data == nil {
			continue
		}
		// The x5c chains as the sbi verifier parsed them: decoded once.
		sg := cr.Segments[i]
		chain := sg.Chain
		if len(chain) == 0 {
			continue
		}
		var ft string
		if fc := sg.DigitalIDChain; len(fc) > 0 {
			ft = thumbprint(fc[0].Raw)
		}
		dt := thumbprint(chain[0].Raw)
		if serial == "" {
			serial, devThumb, ftmThumb, devChain, did = sg.DigitalID.SerialNo, dt, ft, chain, sg.DigitalID
			continue
		}
		if sg.DigitalID.SerialNo != serial || dt != devThumb || ft != ftmThumb {
			mismatch = true
		}
	}
	if serial == "" {
		rs.add(ReasonUnidentified, "no segment carries a readable, signed digital ID, so the device is unknown")
		return nil
	}
	if mismatch {
		rs.add(ReasonDeviceMismatch, "segments come from different devices or keys")
	}
	res := rs.r
	res.Device = &Device{Serial: serial, Status: "unknown", Type: did.Type, SubType: did.DeviceSubType}
	rec, err := v.Trust.Device(serial)
	if err != nil {
		return fmt.Errorf("reading device %q: %w", serial, err)
	}
	if rec == nil {
		rs.add(ReasonNotEnrolled, "device %s is not enrolled (not in central's trust feed)", serial)
		return nil
	}
	res.Device.Vendor, res.Device.Status = rec.VendorID, rec.Status
	switch rec.Status {
	case trustfeed.Revoked:
		rs.add(ReasonDeviceRevoked, "device %s is revoked by central%s", serial, because(rec.Reason))
	case trustfeed.Suspended:
		if strings.HasPrefix(rec.Reason, "attestation-") {
			rs.add(ReasonQuarantined, "device %s is quarantined by central: its TPM attestation failed or went stale (%s); an admin must release it or it must attest again", serial, rec.Reason)
		} else {
			rs.add(ReasonDeviceSusp, "device %s is suspended by central%s", serial, because(rec.Reason))
		}
	default:
		if !rec.AttestedUntil.IsZero() && now.After(rec.AttestedUntil) {
			rs.add(ReasonAttestationExpired, "device %s has no TPM attestation recent enough: central last vouched for it at %s, until %s; it must attest again, and this appliance receive central's trust feed, before its captures are accepted",
				serial, rec.AttestedAt.UTC().Format(time.RFC3339), rec.AttestedUntil.UTC().Format(time.RFC3339))
		}
	}
	switch {
	case rec.DeviceCertSHA256 == "":
		rs.add(ReasonNoDeviceCert, "central published no device certificate for %s, so its signing key cannot be recognised", serial)
	case !strings.EqualFold(rec.DeviceCertSHA256, devThumb):
		rs.add(ReasonKeyRotated, "the capture is signed by a certificate that is not device %s's current one (rotated out, or never issued by central)", serial)
	}
	if rec.FTMCertSHA256 != "" && ftmThumb != "" && !strings.EqualFold(rec.FTMCertSHA256, ftmThumb) {
		rs.add(ReasonFTMMismatch, "the digital ID is signed by an FTM certificate that is not device %s's", serial)
	}
	ven := snap.Vendors[rec.VendorID]
	if ven == nil {
		rs.add(ReasonVendorUnknown, "vendor %s of device %s is not in the trust feed", rec.VendorID, serial)
		return nil
	}
	res.Device.VendorStatus = ven.Status
	switch ven.Status {
	case trustfeed.Revoked:
		rs.add(ReasonVendorRevoked, "vendor %s is revoked by central, and with it all its devices%s", ven.ID, because(ven.Reason))
		return nil
	case trustfeed.Suspended:
		rs.add(ReasonVendorSusp, "vendor %s is suspended by central, and with it all its devices%s", ven.ID, because(ven.Reason))
		return nil
	}
	if strings.EqualFold(rec.DeviceCertSHA256, devThumb) && !v.chainsToVendor(snap, ven, devThumb, devChain, now) {
		rs.add(ReasonVendorChain, "the device certificate of %s does not chain to the CA of its vendor %s", serial, ven.ID)
	}
	return nil
}

func because(reason string) string {
	if reason == "" {
		return ""
	}
	if len(reason) > 200 {
		reason = reason[:200]
	}
	return " (" + strings.ToValidUTF8(reason, "?") + ")"
}

// chainsToVendor checks that the pinned device certificate chains to its
// own vendor's CA (the sbi check accepts any active vendor's).
func (v *Verifier) chainsToVendor(snap *truststate.Snapshot, ven *truststate.Vendor, thumb string, chain []*x509.Certificate, now time.Time) bool {
	if ven.Pool == nil {
		return false
	}
	key := ven.ID + "/" + thumb
	v.mu.Lock()
	if v.chain.gen != snap.Generation || v.chain.m == nil {
		v.chain = chainCache{gen: snap.Generation, m: map[string]bool{}}
	}
	ok, hit := v.chain.m[key]
	v.mu.Unlock()
	if hit {
		return ok
	}
	ok = verifyChain(ven.Pool, chain, now)
	v.mu.Lock()
	if v.chain.gen == snap.Generation {
		v.chain.m[key] = ok
	}
	v.mu.Unlock()
	return ok
}

func verifyChain(roots *x509.CertPool, chain []*x509.Certificate, now time.Time) bool {
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	// The leaf's validity is judged by the sbi checks (reported once, as
	// validity); here only the path matters, so check inside it.
	t := now
	if t.Before(leaf.NotBefore) {
		t = leaf.NotBefore
	}
	if t.After(leaf.NotAfter) {
		t = leaf.NotAfter
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: t,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

func sha256Sum(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}
