package sbi

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/sbi/iso"
	"github.com/go-json-experiment/json/jsontext"
)

// Check names a verifier check. Every Problem carries one, so a CTK or an
// appliance can branch on it.
type Check string

// Checks, roughly in the order the verifier runs them.
const (
	CheckInput           Check = "input"             // size, JSON shape, missing expectation
	CheckEntryError      Check = "entry-error"       // an entry's error object is not exactly success
	CheckStatus          Check = "status"            // deviceStatus and error code disagree
	CheckSpecVersion     Check = "spec-version"      // entry or device specVersion
	CheckJWS             Check = "jws"               // JWS shape, alg, x5c
	CheckSignature       Check = "signature"         // signature does not verify, or a block is unsigned
	CheckChain           Check = "chain"             // signer does not chain to the root pool
	CheckValidity        Check = "validity"          // signer certificate outside its validity
	CheckDigitalID       Check = "digital-id"        // digital ID content or identity mismatch
	CheckDigitalIDSigner Check = "digital-id-signer" // digital ID signed by the wrong key for the certification
	CheckTimestamp       Check = "timestamp"         // not yyyy-MM-ddTHH:mm:ssZ (e.g. milliseconds)
	CheckSkew            Check = "skew"              // outside the time window, or segments out of order
	CheckTransactionID   Check = "transaction-id"    // not the request's transactionId
	CheckField           Check = "field"             // other echo and required-field rules
	CheckSubtype         Check = "subtype"           // subtype vs deviceSubId, exceptions, duplicates
	CheckThumbprint      Check = "thumbprint"        // unknown or malformed thumbprint
	CheckDecrypt         Check = "decrypt"           // session key or bioValue does not decrypt
	CheckISO             Check = "iso"               // ISO record sanity or profile
	CheckHash            Check = "hash"              // hash chain mismatch or malformed hash
	CheckCount           Check = "count"             // number of entries differs from count
)

// Problem is one reason an answer fails. Segment is the biometrics[] or
// array index, or -1 for the answer as a whole. Field names the JSON element
// checked, e.g. "data", "data.digitalId", "hash". Err never contains
// biometric data or key material.
type Problem struct {
	Check   Check
	Segment int
	Field   string
	Err     error
}

func (p Problem) Error() string {
	s := string(p.Check)
	if p.Segment >= 0 {
		s = fmt.Sprintf("segment %d: %s", p.Segment, s)
	}
	if p.Field != "" {
		s += " (" + p.Field + ")"
	}
	if p.Err == nil {
		return s
	}
	return s + ": " + p.Err.Error()
}

func (p Problem) Unwrap() error { return p.Err }

// Problems is every failure found; empty means the answer passed.
type Problems []Problem

// Has reports whether any problem has check c.
func (ps Problems) Has(c Check) bool {
	return slices.ContainsFunc(ps, func(p Problem) bool { return p.Check == c })
}

// Err joins the problems into one error, or returns nil.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

func (ps *Problems) add(c Check, seg int, field string, err error) {
	*ps = append(*ps, Problem{Check: c, Segment: seg, Field: field, Err: err})
}

func (ps *Problems) addf(c Check, seg int, field, format string, a ...any) {
	ps.add(c, seg, field, fmt.Errorf(format, a...))
}

// DecryptionKey is a bioValue decryption key and its certificate, whose
// thumbprint selects it.
type DecryptionKey struct {
	Cert *x509.Certificate
	Key  crypto.Decrypter
}

// Default time windows. IDA uses 60 s back and 30 s forward for the last
// segment; the registration client allows 5 minutes either way.
const (
	DefaultMaxAge        = 5 * time.Minute
	DefaultMaxFuture     = 30 * time.Second
	DefaultMaxSegmentGap = 120 * time.Second
)

// Verifier checks SBI answers the way MOSIP servers and the CTK do (spec
// digest §4.3, §7.4). The zero value checks everything except trust and
// decryption, which need roots and keys; missing roots are reported as
// chain problems.
type Verifier struct {
	DeviceRoots   *x509.CertPool // DEVICE partner domain: deviceInfo, data, L0 digital IDs
	FTMRoots      *x509.CertPool // FTM partner domain: L1 digital IDs
	Keys          []DecryptionKey
	Now           func() time.Time
	MaxAge        time.Duration // how far a timestamp may lie in the past
	MaxFuture     time.Duration // how far a timestamp may lie in the future
	MaxSegmentGap time.Duration // between consecutive segments
	ISOProfile    bool          // also apply the §8.2 capture profile to ISO records
	// Chains, if set, remembers chains that verified (see ChainCache: the
	// pools above must then never change once built).
	Chains *ChainCache
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func durOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// checkWindow reports whether t lies within [now-MaxAge, now+MaxFuture].
func (v *Verifier) checkWindow(t, now time.Time) error {
	if t.Before(now.Add(-durOr(v.MaxAge, DefaultMaxAge))) {
		return errors.New("timestamp too old")
	}
	if t.After(now.Add(durOr(v.MaxFuture, DefaultMaxFuture))) {
		return errors.New("timestamp in the future")
	}
	return nil
}

// verifyBlock checks signature, leaf validity and trust of one JWS.
func (v *Verifier) verifyBlock(ps *Problems, j *JWS, roots *x509.CertPool, now time.Time, seg int, field string) {
	if err := j.VerifySignature(); err != nil {
		ps.add(CheckSignature, seg, field, err)
	}
	if err := j.CheckValidity(now); err != nil {
		ps.add(CheckValidity, seg, field, err)
	}
	if _, err := v.Chains.verify(j, roots, now); err != nil {
		ps.add(CheckChain, seg, field, err)
	}
}

// verifyDigitalID checks a signed digital ID: content, type, freshness,
// signature and signer. For L1 it must chain to FTMRoots; for L0 it must be
// signed by the same key as the enclosing block (outer) and chain to
// DeviceRoots. An empty certification accepts either.
// verifyDigitalID returns the digital ID and, when it is signed, its
// (parsed, checked) JWS.
func (v *Verifier) verifyDigitalID(ps *Problems, s, cert string, outer *JWS, bioType string, now time.Time, seg int, field string) (*DigitalID, *JWS) {
	d, j, err := decodeDigitalIDCached(s)
	if err != nil {
		ps.add(CheckDigitalID, seg, field, err)
		return nil, nil
	}
	v.checkDigitalIDContent(ps, d, bioType, now, seg, field)
	if j == nil {
		ps.addf(CheckSignature, seg, field, "digital ID is unsigned")
		return d, nil
	}
	// The same digital ID comes in every capture for up to
	// DigitalIDMaxAge: its signature is verified once (verifySignatureOnce).
	if err := j.verifySignatureOnce(); err != nil {
		ps.add(CheckSignature, seg, field, err)
	}
	if err := j.CheckValidity(now); err != nil {
		ps.add(CheckValidity, seg, field, err)
	}
	sameKey := outer != nil && publicKeyEqual(j.Leaf().PublicKey, outer.Leaf().PublicKey)
	switch cert {
	case CertL1:
		if _, err := v.Chains.verify(j, v.FTMRoots, now); err != nil {
			ps.add(CheckChain, seg, field, err)
		}
	case CertL0:
		if !sameKey {
			ps.addf(CheckDigitalIDSigner, seg, field, "L0 digital ID not signed by the device key")
		}
		if _, err := v.Chains.verify(j, v.DeviceRoots, now); err != nil {
			ps.add(CheckChain, seg, field, err)
		}
	default:
		_, ftmErr := v.Chains.verify(j, v.FTMRoots, now)
		_, devErr := v.Chains.verify(j, v.DeviceRoots, now)
		if ftmErr != nil && !(sameKey && devErr == nil) {
			ps.addf(CheckDigitalIDSigner, seg, field, "digital ID neither chains to FTM roots nor is signed by the trusted device key")
		}
	}
	return d, j
}

func (v *Verifier) checkDigitalIDContent(ps *Problems, d *DigitalID, bioType string, now time.Time, seg int, field string) {
	for _, err := range d.Check() {
		if errors.Is(err, ErrTimeFormat) || errors.Is(err, ErrMilliseconds) {
			ps.add(CheckTimestamp, seg, field+".dateTime", err)
		} else {
			ps.add(CheckDigitalID, seg, field, err)
		}
	}
	if bioType != "" && d.Type != bioType {
		ps.addf(CheckDigitalID, seg, field, "digital ID type does not match bioType")
	}
	if t, err := ParseTime(d.DateTime); err == nil {
		if err := v.checkWindow(t, now); err != nil {
			ps.add(CheckSkew, seg, field+".dateTime", err)
		}
	}
}

func publicKeyEqual(a, b any) bool {
	ka, ok := a.(*rsa.PublicKey)
	return ok && ka.Equal(b)
}

// upperHex64 matches the CTK pattern ^[A-Z0-9]{64}$ restricted to hex.
func upperHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// Expect is what a capture answer is checked against.
type Expect struct {
	// Request is the CAPTURE or RCAPTURE request sent (required): purpose,
	// env, domainUri, transactionId, specVersion, counts, subtypes,
	// exceptions and previousHash come from it.
	Request *CaptureRequest
	// Device is the verified device info of the capturing device. It gives
	// the certification level (which key must sign the digital ID) and the
	// identity the entries must carry. Optional.
	Device *InfoResult
	// Sent and Received, when set, bound data.timestamp (§9 check 27).
	Sent, Received time.Time
}

// SegmentResult is what a verified entry carried.
type SegmentResult struct {
	Data      *CaptureData
	DigitalID *DigitalID
	ISO       []byte      // the plain ISO record (decrypted for Auth)
	Record    *iso.Record // its parsed header
	// Chain is data's x5c and DigitalIDChain the signed digital ID's (nil
	// when unsigned), parsed, leaf first, as the verifier read them:
	// callers that pick trust records by certificate need not decode them
	// again.
	Chain          []*x509.Certificate
	DigitalIDChain []*x509.Certificate
}

// CaptureResult holds one SegmentResult per biometrics[] entry (nil
// members where an entry could not be read).
type CaptureResult struct {
	Segments []SegmentResult
}

// VerifyCapture parses and verifies a raw CAPTURE or RCAPTURE answer.
func (v *Verifier) VerifyCapture(raw []byte, exp Expect) (*CaptureResult, Problems) {
	resp, err := ParseCaptureResponse(raw)
	if err != nil {
		return nil, Problems{{Check: CheckInput, Segment: -1, Err: err}}
	}
	return v.VerifyCaptureResponse(resp, exp)
}

// VerifyCaptureResponse verifies a parsed answer and returns every problem.
func (v *Verifier) VerifyCaptureResponse(resp *CaptureResponse, exp Expect) (*CaptureResult, Problems) {
	var ps Problems
	req := exp.Request
	if req == nil || len(req.Bio) == 0 || resp == nil {
		ps.addf(CheckInput, -1, "", "request and response required")
		return nil, ps
	}
	if len(resp.Biometrics) > MaxBiometrics {
		ps.add(CheckInput, -1, "biometrics", ErrTooMany)
		return nil, ps
	}
	now := v.now()
	auth := req.Purpose == PurposeAuth
	cert := ""
	if exp.Device != nil && exp.Device.Info != nil {
		cert = exp.Device.Info.Certification
	}
	chain, err := NewHashChain(req.Bio[0].PreviousHash)
	if err != nil {
		ps.add(CheckInput, -1, "previousHash", err)
		chain, _ = NewHashChain("")
	}
	res := &CaptureResult{Segments: make([]SegmentResult, len(resp.Biometrics))}
	var prevTS time.Time
	var seen []string
	for i := range resp.Biometrics {
		e := &resp.Biometrics[i]
		sr := &res.Segments[i]
		isoBytes := v.verifyEntry(&ps, e, sr, exp, auth, cert, now, i, &prevTS, &seen)
		if !upperHex64(e.Hash) {
			ps.addf(CheckHash, i, "hash", "hash is not 64 upper-case hex digits")
		}
		if isoBytes == nil {
			chain.Skip(e.Hash)
			continue
		}
		if want := chain.Next(isoBytes); want != e.Hash {
			ps.addf(CheckHash, i, "hash", "hash does not continue the chain")
			// Resynchronise on the reported hash so one break is reported once.
			chain.Skip(e.Hash)
		}
	}
	want := 0
	for _, b := range req.Bio {
		n, err := b.Count.Int()
		if err == nil {
			want += n
		}
	}
	if len(resp.Biometrics) != want {
		ps.addf(CheckCount, -1, "biometrics", "%d entries, request count %d", len(resp.Biometrics), want)
	}
	return res, ps
}

// verifyEntry checks one entry and returns its plain ISO record, or nil.
func (v *Verifier) verifyEntry(ps *Problems, e *Biometric, sr *SegmentResult, exp Expect, auth bool, cert string, now time.Time, i int, prevTS *time.Time, seen *[]string) []byte {
	req := exp.Request
	if e.Error != Success {
		ps.addf(CheckEntryError, i, "error", "error object is not {\"errorCode\":\"0\",\"errorInfo\":\"Success\"} (code %q)", truncate(string(e.Error.Code), 8))
	}
	if want := req.SpecVersion; want != "" && e.SpecVersion != want {
		ps.addf(CheckSpecVersion, i, "specVersion", "entry specVersion differs from the request")
	}
	if auth {
		if e.SessionKey == nil || *e.SessionKey == "" {
			ps.addf(CheckField, i, "sessionKey", "auth entry without sessionKey")
		}
		if e.Thumbprint == nil || !upperHex64(*e.Thumbprint) {
			ps.addf(CheckThumbprint, i, "thumbprint", "thumbprint is not 64 upper-case hex digits")
		}
	} else if e.SessionKey != nil || e.Thumbprint != nil {
		ps.addf(CheckField, i, "sessionKey", "registration entry carries sessionKey or thumbprint")
	}
	if e.Data == "" {
		ps.addf(CheckJWS, i, "data", "data is empty")
		return nil
	}
	j, err := ParseJWS(e.Data)
	if err != nil {
		ps.add(CheckJWS, i, "data", err)
		return nil
	}
	v.verifyBlock(ps, j, v.DeviceRoots, now, i, "data")
	d, err := ParseCaptureData(j.Payload)
	if err != nil {
		ps.add(CheckInput, i, "data", err)
		return nil
	}
	sr.Data, sr.Chain = d, j.Chain
	v.checkDataFields(ps, d, j.Payload, exp, auth, i, seen)

	// Timestamps.
	if t, err := ParseTime(d.Timestamp); err != nil {
		ps.add(CheckTimestamp, i, "data.timestamp", err)
	} else {
		if err := v.checkWindow(t, now); err != nil {
			ps.add(CheckSkew, i, "data.timestamp", err)
		}
		if !exp.Sent.IsZero() && t.Before(exp.Sent.Truncate(time.Second)) {
			ps.addf(CheckSkew, i, "data.timestamp", "timestamp before the request was sent")
		}
		if !exp.Received.IsZero() && t.After(exp.Received) {
			ps.addf(CheckSkew, i, "data.timestamp", "timestamp after the response was received")
		}
		if !prevTS.IsZero() {
			if t.Before(*prevTS) {
				ps.addf(CheckSkew, i, "data.timestamp", "timestamp earlier than the previous segment")
			} else if t.Sub(*prevTS) > durOr(v.MaxSegmentGap, DefaultMaxSegmentGap) {
				ps.addf(CheckSkew, i, "data.timestamp", "segments too far apart")
			}
		}
		*prevTS = t
	}

	// Digital ID.
	if d.DigitalID == "" {
		ps.addf(CheckDigitalID, i, "data.digitalId", "digitalId is empty")
	} else {
		var dj *JWS
		sr.DigitalID, dj = v.verifyDigitalID(ps, d.DigitalID, cert, j, d.BioType, now, i, "data.digitalId")
		if dj != nil {
			sr.DigitalIDChain = dj.Chain
		}
		if dev := exp.Device; dev != nil && dev.DigitalID != nil && sr.DigitalID != nil && !sameDevice(dev.DigitalID, sr.DigitalID) {
			ps.addf(CheckDigitalID, i, "data.digitalId", "digital ID identity differs from the device info")
		}
	}

	// bioValue.
	var plain []byte
	if auth {
		plain = v.decrypt(ps, e, d, i)
	} else if len(d.BioValue) > MaxJWSSize {
		ps.add(CheckInput, i, "data.bioValue", ErrTooLarge)
	} else if plain, err = b64.DecodeString(d.BioValue); err != nil || len(plain) == 0 {
		// Strict: the registration processor rebuilds the signed payload
		// from the ISO bytes, so only canonical unpadded base64url round-trips.
		ps.addf(CheckField, i, "data.bioValue", "bioValue is not canonical unpadded base64url")
		plain = nil
	}
	if plain == nil {
		return nil
	}
	sr.ISO = plain
	rec, err := iso.Parse(plain)
	if err != nil {
		ps.add(CheckISO, i, "data.bioValue", err)
		return plain
	}
	sr.Record = rec
	if rec.Modality.String() != d.BioType {
		ps.addf(CheckISO, i, "data.bioValue", "ISO record is %v, bioType is not", rec.Modality)
	}
	if v.ISOProfile {
		for _, err := range rec.CheckProfile(req.Purpose) {
			ps.add(CheckISO, i, "data.bioValue", err)
		}
	}
	return plain
}

// checkDataFields checks the data payload against the request.
func (v *Verifier) checkDataFields(ps *Problems, d *CaptureData, payload []byte, exp Expect, auth bool, i int, seen *[]string) {
	req := exp.Request
	if d.DeviceCode == "" {
		ps.addf(CheckField, i, "data.deviceCode", "deviceCode is empty")
	} else if exp.Device != nil && exp.Device.Info != nil && d.DeviceCode != exp.Device.Info.DeviceCode {
		ps.addf(CheckField, i, "data.deviceCode", "deviceCode differs from the device info")
	}
	if d.DeviceServiceVersion == "" {
		ps.addf(CheckField, i, "data.deviceServiceVersion", "deviceServiceVersion is empty")
	}
	if d.Purpose != req.Purpose {
		ps.addf(CheckField, i, "data.purpose", "purpose differs from the request")
	}
	if d.Env != req.Env {
		ps.addf(CheckField, i, "data.env", "env differs from the request")
	}
	if auth {
		if d.DomainURI == nil || *d.DomainURI != req.DomainURI {
			ps.addf(CheckField, i, "data.domainUri", "domainUri differs from the request")
		}
	} else if d.DomainURI != nil {
		ps.addf(CheckField, i, "data.domainUri", "registration data carries domainUri")
	}
	if d.TransactionID != req.TransactionID {
		ps.addf(CheckTransactionID, i, "data.transactionId", "transactionId differs from the request")
	}
	if !ValidScore(string(d.QualityScore)) {
		ps.addf(CheckField, i, "data.qualityScore", "qualityScore is not a 0-100 decimal string")
	}
	var bio *BioRequest
	for k := range req.Bio {
		if req.Bio[k].Type == d.BioType {
			bio = &req.Bio[k]
			break
		}
	}
	if bio == nil {
		ps.addf(CheckField, i, "data.bioType", "bioType was not requested")
	} else {
		if !ValidScore(string(d.RequestedScore)) {
			ps.addf(CheckField, i, "data.requestedScore", "requestedScore is not a 0-100 decimal string")
		} else if got, _ := d.RequestedScore.Float(); bio.RequestedScore != "" {
			if want, err := bio.RequestedScore.Float(); err == nil && got != want {
				ps.addf(CheckField, i, "data.requestedScore", "requestedScore does not echo the request")
			}
		}
		v.checkSubtype(ps, d, payload, bio, i, seen)
	}
}

func (v *Verifier) checkSubtype(ps *Problems, d *CaptureData, payload []byte, bio *BioRequest, i int, seen *[]string) {
	if d.BioType == TypeFace {
		var keys map[string]jsontext.Value
		if decode(payload, MaxJWSSize, &keys) == nil {
			if _, ok := keys["bioSubType"]; ok {
				ps.addf(CheckSubtype, i, "data.bioSubType", "face entry carries bioSubType")
			}
		}
		return
	}
	subID, err := bio.DeviceSubID.Int()
	if bio.DeviceSubID == "" {
		subID, err = 0, nil
	}
	switch {
	case !ValidSubtype(d.BioType, d.BioSubType):
		ps.addf(CheckSubtype, i, "data.bioSubType", "bioSubType is not a valid %s subtype", d.BioType)
	case err != nil || !SubtypeAllowed(d.BioType, subID, d.BioSubType):
		ps.addf(CheckSubtype, i, "data.bioSubType", "bioSubType does not fit deviceSubId")
	case slices.Contains(bio.Exception, d.BioSubType):
		ps.addf(CheckSubtype, i, "data.bioSubType", "an excepted segment was returned")
	case d.BioSubType != SubtypeUnknown && slices.Contains(*seen, d.BioType+"/"+d.BioSubType):
		ps.addf(CheckSubtype, i, "data.bioSubType", "segment returned twice")
	}
	*seen = append(*seen, d.BioType+"/"+d.BioSubType)
}

// decrypt selects the key by thumbprint and opens bioValue. IV and AAD use
// the data's own transactionId, so a mismatch with the request is reported
// once, as CheckTransactionID, rather than also as a decryption failure.
func (v *Verifier) decrypt(ps *Problems, e *Biometric, d *CaptureData, i int) []byte {
	if e.Thumbprint == nil || e.SessionKey == nil {
		return nil
	}
	var key *DecryptionKey
	for k := range v.Keys {
		if v.Keys[k].Cert != nil && Thumbprint(v.Keys[k].Cert) == *e.Thumbprint {
			key = &v.Keys[k]
			break
		}
	}
	if key == nil {
		if upperHex64(*e.Thumbprint) {
			ps.addf(CheckThumbprint, i, "thumbprint", "no decryption key for this thumbprint")
		}
		return nil
	}
	plain, err := DecryptBioValue(key.Key, d.BioValue, *e.SessionKey, d.Timestamp, d.TransactionID)
	if err != nil {
		ps.add(CheckDecrypt, i, "data.bioValue", err)
		return nil
	}
	return plain
}

func sameDevice(a, b *DigitalID) bool {
	return a.SerialNo == b.SerialNo && a.Make == b.Make && a.Model == b.Model &&
		a.Type == b.Type && a.DeviceProviderID == b.DeviceProviderID
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "?")
}
