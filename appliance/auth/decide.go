package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/internal/records/tokenid"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/internal/biometric/face"
	"github.com/edgetrust/edgetrust/internal/biometric/iris"
	"github.com/edgetrust/edgetrust/internal/biometric/isoimage"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/records/normalize"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

// verdict is a decision before it is counted, signed and audited.
type verdict struct {
	errs      []Error
	authTypes []string
	device    string
	rec       *recordfeed.Record
	maxUses   int
	usage     records.Usage
	mismatch  bool // a failed match: counts towards the lockout
}

func (v *verdict) fail(code, format string, a ...any) {
	v.errs = append(v.errs, Error{Code: code, Message: fmt.Sprintf(format, a...)})
}

// Decide makes, counts, signs and audits the decision for an
// authenticated relying party's parsed request. The error (with the HTTP
// status to answer) is for requests that get no decision: the audit
// record could not be written (503) or an internal failure (500).
func (h *Handler) Decide(ctx context.Context, rp *truststate.RPRecord, req *Request) (*Response, int, error) {
	now := h.cfg.Now()
	v, err := h.evaluate(rp, req, now)
	if err != nil {
		h.log.Error("authentication failed internally", "rp", rp.ID, "err", err.Error())
		return nil, http.StatusInternalServerError, errors.New("internal error")
	}
	// Count: a success takes a use of a limited VID (atomically, so two
	// requests cannot both take the last one) and clears failures; a
	// failed match counts towards the lockout.
	took := false
	switch {
	case len(v.errs) == 0:
		if v.maxUses > 0 || v.usage.Failures > 0 || !v.usage.LockedUntil.IsZero() {
			_, err := h.cfg.Records.Succeeded(req.IndividualID, v.maxUses)
			switch {
			case errors.Is(err, records.ErrUsedUp):
				v.fail(CodeVIDUsed, "this one-time VID has already been used")
			case errors.Is(err, records.ErrTampered):
				h.log.Error("a VID's stored counters failed their integrity check; refusing it", "rp", rp.ID)
				v.fail(CodeTampered, "the appliance's stored data for this VID failed its integrity check")
			case err != nil:
				h.log.Error("counting a VID use", "rp", rp.ID, "err", err.Error())
				return nil, http.StatusInternalServerError, errors.New("internal error")
			default:
				took = v.maxUses > 0
			}
		}
	case v.mismatch && h.cfg.LockoutFailures > 0:
		u, err := h.cfg.Records.Failed(req.IndividualID, now, h.cfg.LockoutFailures, h.cfg.LockoutDuration)
		if err != nil {
			h.log.Error("counting a failed match", "rp", rp.ID, "err", err.Error())
		} else if u.Locked(now) {
			h.log.Warn("VID locked out after repeated failed matches", "rp", rp.ID, "until", u.LockedUntil.UTC().Format(time.RFC3339))
		}
	}
	giveBack := func() {
		if took {
			if err := h.cfg.Records.ReleaseUse(req.IndividualID); err != nil {
				h.log.Error("giving back a VID use", "rp", rp.ID, "err", err.Error())
			}
		}
	}

	d := Decision{TransactionID: req.TransactionID, AuthStatus: len(v.errs) == 0, Errors: v.errs,
		ResponseTime: now.UTC().Format("2006-01-02T15:04:05.000Z"), ApplianceID: h.cfg.ApplianceID, RP: rp.ID}
	if d.Errors == nil {
		d.Errors = []Error{}
	}
	if d.AuthStatus {
		// The person's token seed comes in the signed record, so one
		// relying party gets the same token ID on every appliance.
		tok, err := tokenFor(v.rec.TokenSeed, v.rec.UIN, rp.ID)
		if err != nil {
			giveBack()
			return nil, http.StatusInternalServerError, errors.New("internal error")
		}
		d.AuthToken = tok
		for _, a := range rp.Attributes {
			if val, ok := v.rec.Demographics[a]; ok {
				if d.KYC == nil {
					d.KYC = map[string]string{}
				}
				d.KYC[a] = val
			}
		}
	}
	payload, err := json.Marshal(d)
	if err != nil {
		giveBack()
		return nil, http.StatusInternalServerError, err
	}
	jws, err := h.jws.sign(payload)
	if err != nil {
		giveBack()
		h.log.Error("signing a decision", "rp", rp.ID, "err", err.Error())
		return nil, http.StatusInternalServerError, errors.New("internal error")
	}
	codes := make([]string, len(d.Errors))
	for i, e := range d.Errors {
		codes[i] = e.Code
	}
	ad := AuditDecision{Time: now, RP: rp.ID, TransactionID: req.TransactionID, VID: req.IndividualID,
		AuthTypes: v.authTypes, Status: d.AuthStatus, Reasons: codes, Device: v.device}
	if err := h.cfg.Auditor.Decision(ctx, ad); err != nil {
		giveBack()
		h.log.Error("the audit log refused a decision; answering 503 (no decision is given unaudited)", "rp", rp.ID, "err", err.Error())
		return nil, http.StatusServiceUnavailable, errors.New("the decision could not be recorded in the audit log; nothing was decided, retry later")
	}

	result := "failure"
	if d.AuthStatus {
		result = "success"
	}
	h.m.decisions.WithLabelValues(rp.ID, result).Inc()
	for _, c := range codes {
		h.m.reasons.WithLabelValues(rp.ID, metricCode(c)).Inc()
	}
	attrs := []any{"rp", rp.ID, "authStatus", d.AuthStatus, "authTypes", v.authTypes, "reasons", codes}
	if v.device != "" {
		attrs = append(attrs, "device", v.device)
	}
	h.log.Info("authentication decided", attrs...)
	return &Response{JWS: jws, Decision: d}, http.StatusOK, nil
}

// metricCode keeps the label set bounded: capture checks stay apart,
// anything else unexpected is "other".
func metricCode(c string) string {
	if len(c) > 64 {
		return "other"
	}
	return c
}

// evaluate runs the checks. The error is for internal failures only.
func (h *Handler) evaluate(rp *truststate.RPRecord, req *Request, now time.Time) (*verdict, error) {
	v := &verdict{}
	var parsed []*captureverify.Parsed
	var captureErr string
	if req.RequestedAuth.Demo {
		v.authTypes = append(v.authTypes, recordfeed.AuthDemo)
	}
	if req.RequestedAuth.Bio {
		// The auth types the captures declare (verified below).
		for i, raw := range req.Captures() {
			p, err := captureverify.ParseCapture(req.TransactionID, raw)
			if err != nil {
				captureErr = strings.TrimPrefix(err.Error(), captureverify.ErrBadRequest.Error()+": ")
			} else if types := declaredBioTypes(p); len(types) == 0 {
				captureErr = "biometrics is not an SBI CAPTURE answer with readable data"
			} else {
				for _, t := range types {
					at, _ := recordfeed.AuthTypeOf(t) // sbi.ValidType: always known
					if !slices.Contains(v.authTypes, at) {
						v.authTypes = append(v.authTypes, at)
					}
				}
			}
			if captureErr != "" {
				if len(req.Captures()) > 1 {
					captureErr = fmt.Sprintf("capture %d: %s", i, captureErr)
				}
				break
			}
			parsed = append(parsed, p)
		}
	}

	if !req.Consent {
		v.fail(CodeConsent, "the person's consent is required (consent: true)")
		return v, nil
	}
	if code, msg := h.stale(now); code != "" {
		v.fail(code, "%s", msg)
		return v, nil
	}
	if captureErr != "" {
		v.fail(CodeCapturePrefix+string(sbi.CheckInput), "%s", captureErr)
		return v, nil
	}
	for _, at := range v.authTypes {
		if !rp.AllowsAuthType(at) {
			v.fail(CodeAuthType, "relying party %s is not allowed %s authentication", rp.ID, at)
			return v, nil
		}
	}

	if vid.Validate(req.IndividualID) != nil {
		v.fail(CodeVIDInvalid, "individualId is not a valid VID (16 digits with a Verhoeff check digit)")
		return v, nil
	}
	raw, err := h.cfg.Records.Get(req.IndividualID)
	switch {
	case errors.Is(err, records.ErrNotFound):
		v.fail(CodeVIDUnknown, "no record for this VID on this appliance (unknown, revoked or not yet synchronised)")
		return v, nil
	case errors.Is(err, records.ErrTampered):
		h.log.Error("a stored identity record failed its integrity check (decryption or central's signature); refusing it", "rp", rp.ID)
		v.fail(CodeTampered, "the stored record for this VID failed its integrity check; the appliance's operator has been alerted")
		return v, nil
	case err != nil:
		return nil, err
	}
	rec, err := recordfeed.Unmarshal(raw)
	if err != nil || rec.VID != req.IndividualID {
		h.log.Error("a stored identity record does not parse or is filed under another VID; refusing it", "rp", rp.ID)
		v.fail(CodeTampered, "the stored record for this VID failed its integrity check; the appliance's operator has been alerted")
		return v, nil
	}
	pol, err := rec.VIDPolicy()
	if err != nil {
		v.fail(CodeTampered, "the stored record for this VID has an unknown VID kind")
		return v, nil
	}
	if v.usage, err = h.cfg.Records.Usage(req.IndividualID); err != nil {
		if errors.Is(err, records.ErrTampered) {
			h.log.Error("a VID's stored counters failed their integrity check; refusing it", "rp", rp.ID)
			v.fail(CodeTampered, "the appliance's stored data for this VID failed its integrity check")
			return v, nil
		}
		return nil, err
	}
	switch err := pol.Check(now, int(v.usage.Uses)); {
	case errors.Is(err, vid.ErrExpired):
		v.fail(CodeVIDExpired, "this %s VID has expired", pol.Kind)
		return v, nil
	case errors.Is(err, vid.ErrUsedUp):
		v.fail(CodeVIDUsed, "this one-time VID has already been used")
		return v, nil
	case errors.Is(err, vid.ErrNotValid):
		v.fail(CodeVIDNotYetValid, "this VID is not valid yet")
		return v, nil
	case err != nil:
		v.fail(CodeVIDInvalid, "this VID is not usable")
		return v, nil
	}
	v.rec, v.maxUses = rec, pol.MaxUses
	for _, at := range v.authTypes {
		if rec.IsLocked(at) {
			v.fail(CodeLocked, "the person has locked %s authentication", at)
			return v, nil
		}
	}
	if v.usage.Locked(now) {
		v.fail(CodeLockedOut, "too many failed attempts for this VID; locked until %s", v.usage.LockedUntil.UTC().Format(time.RFC3339))
		return v, nil
	}

	if req.RequestedAuth.Demo {
		if code, msg := h.matchDemo(rec, req); code != "" {
			v.fail(code, "%s", msg)
			v.mismatch = code == CodeDemoMismatch
			return v, nil
		}
	}
	if req.RequestedAuth.Bio {
		var samples []captureverify.Sample
		var devices []string
		for ci, p := range parsed {
			at := ""
			if len(parsed) > 1 {
				at = fmt.Sprintf("capture %d: ", ci)
			}
			res, err := h.cfg.Captures.Verify(p)
			if err != nil {
				return nil, err
			}
			if res.Device != nil && !slices.Contains(devices, res.Device.Serial) {
				devices = append(devices, res.Device.Serial)
				v.device = strings.Join(devices, ",")
			}
			if !res.Valid {
				for i, c := range res.Codes {
					v.fail(captureCode(c), "%s%s", at, strings.TrimPrefix(res.Reasons[i], c+": "))
				}
				return v, nil
			}
			if res.Purpose != sbi.PurposeAuth {
				v.fail(CodeCapturePrefix+"purpose", "%sthe capture's purpose is %q; authentication needs an Auth capture (encrypted to this appliance)", at, res.Purpose)
				return v, nil
			}
			// A capture authenticates once: a relying party (or anyone who saw
			// the request) cannot present it again while its timestamp is fresh.
			if win := h.replayWindow(); win > 0 {
				first, err := h.cfg.Records.FirstUse(captureID(p), win)
				if err != nil {
					return nil, err
				}
				if !first {
					v.fail(CodeReplayed, "%sthis capture was already presented; capture the biometric again", at)
					return v, nil
				}
			}
			samples = append(samples, res.Samples...)
		}
		if code, msg := h.matchBio(rp, rec, samples); code != "" {
			v.fail(code, "%s", msg)
			v.mismatch = code == CodeBioMismatch
			return v, nil
		}
	}
	return v, nil
}

// stale says whether the trust data (relying parties, devices) or the
// records are too old to decide on, under the reject policy.
func (h *Handler) stale(now time.Time) (string, string) {
	snap := h.cfg.Trust.Snapshot()
	if snap.CheckpointTime.IsZero() {
		return CodeNoTrustData, "no checkpoint from central has been accepted yet"
	}
	if h.policy == captureverify.StaleWarn {
		return "", ""
	}
	if ti, stale := h.cfg.Captures.Staleness(snap, now); stale {
		return CodeTrustStale, fmt.Sprintf("the trust data is %ds old, over the maximum staleness of %ds (is central reachable?)", ti.AgeSeconds, ti.MaxStalenessSeconds)
	}
	if h.cfg.RecordsCheckpoint != nil {
		t := h.cfg.RecordsCheckpoint()
		bound := h.cfg.Captures.MaxStaleness
		if bound <= 0 {
			bound = captureverify.DefaultMaxStaleness
		}
		if t.IsZero() || now.Sub(t) > bound {
			return CodeRecordsStale, fmt.Sprintf("the identity records have not been confirmed by central within the maximum staleness of %s", bound)
		}
	}
	return "", ""
}

// declaredBioTypes are the bioTypes the capture's (not yet verified) data
// declare, in order, without repeats.
func declaredBioTypes(p *captureverify.Parsed) []string {
	if p == nil || p.Request == nil {
		return nil
	}
	var out []string
	for _, b := range p.Request.Bio {
		if !slices.Contains(out, b.Type) {
			out = append(out, b.Type)
		}
	}
	return out
}

// captureOwn are capture's verdicts on the device, its vendor and the
// trust data, which keep their codes in a decision.
var captureOwn = map[string]bool{
	captureverify.ReasonNotEnrolled: true, captureverify.ReasonDeviceRevoked: true, captureverify.ReasonDeviceSusp: true,
	captureverify.ReasonKeyRotated: true, captureverify.ReasonNoDeviceCert: true, captureverify.ReasonFTMMismatch: true,
	captureverify.ReasonVendorUnknown: true, captureverify.ReasonVendorRevoked: true, captureverify.ReasonVendorSusp: true,
	captureverify.ReasonVendorChain: true, captureverify.ReasonDeviceMismatch: true, captureverify.ReasonUnidentified: true,
	captureverify.ReasonStale: true, captureverify.ReasonNoTrustData: true,
}

func captureCode(c string) string {
	if captureOwn[c] {
		return c
	}
	return CodeCapturePrefix + c
}

// matchDemo compares every given attribute with the record's: names
// (attributes whose name contains "name") without honorifics, the rest as
// text; exact, or partial at the configured score.
func (h *Handler) matchDemo(rec *recordfeed.Record, req *Request) (string, string) {
	mode := normalize.Exact
	if req.MatchMode == MatchPartial {
		mode = normalize.Partial
	}
	keys := make([]string, 0, len(req.Demographics))
	for k := range req.Demographics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ok := true
	for _, k := range keys {
		want, have := req.Demographics[k], ""
		stored, found := rec.Demographics[k]
		if !found {
			// An attribute the record does not hold cannot match; say so
			// without saying anything about the person.
			return CodeDemoAttribute, fmt.Sprintf("attribute %q is not one this appliance can match", truncate(k, MaxAttrName))
		}
		have = stored
		var m bool
		if strings.Contains(strings.ToLower(k), "name") {
			_, m = normalize.MatchName(want, have, mode, h.cfg.PartialScore)
		} else {
			_, m = normalize.MatchText(want, have, mode, h.cfg.PartialScore)
		}
		ok = ok && m // compare all, so timing does not say which differs
	}
	if !ok {
		return CodeDemoMismatch, "the demographic data do not match the record"
	}
	return "", ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "?")
}

// matchBio decides on the verified samples of all the request's captures.
//
// Fusion rule (decision level, AND): every sample must match a template of
// its own modality in the record, each at its modality's threshold —
// fingers at Config.TargetFMR (the same finger when the device named it,
// any enrolled finger for UNKNOWN), irises at Config.IrisThreshold (the
// same eye, or either for UNKNOWN), the face at Config.FaceThreshold. So a
// multi-modal request is at least as hard to pass as each modality alone:
// its false-match rate is at most the smallest of theirs. A sample is
// compared only with templates of its own modality; a record with none
// answers CodeNoTemplate, never a comparison across modalities.
func (h *Handler) matchBio(rp *truststate.RPRecord, rec *recordfeed.Record, samples []captureverify.Sample) (string, string) {
	if len(samples) == 0 {
		return CodeCapturePrefix + string(sbi.CheckInput), "the capture holds no biometric sample"
	}
	for _, s := range samples {
		at, ok := recordfeed.AuthTypeOf(s.BioType)
		if !ok || !rp.AllowsAuthType(at) {
			return CodeAuthType, fmt.Sprintf("relying party %s is not allowed %s authentication", rp.ID, at)
		}
	}
	// Every sample is compared even after a failure, so the time taken does
	// not say which modality failed; the first failure is the reason.
	code, msg := "", ""
	for i, s := range samples {
		var c, m string
		switch s.BioType {
		case sbi.TypeFinger:
			c, m = h.matchFinger(rec, s, i)
		case sbi.TypeIris:
			c, m = h.matchIris(rec, s, i)
		case sbi.TypeFace:
			c, m = h.matchFace(rec, s, i)
		default:
			c, m = CodeModality, fmt.Sprintf("%s matching is not supported on this appliance", strings.ToLower(s.BioType))
		}
		if code == "" && c != "" {
			code, msg = c, m
		}
	}
	return code, msg
}

// candidates are the record's templates of the sample's modality (and
// subtype, when the device named one in set).
func candidates(rec *recordfeed.Record, s captureverify.Sample, set []string) []recordfeed.Biometric {
	specific := slices.Contains(set, s.BioSubType)
	var out []recordfeed.Biometric
	for _, b := range rec.Biometrics {
		if b.Type == s.BioType && (!specific || b.SubType == s.BioSubType) {
			out = append(out, b)
		}
	}
	return out
}

func noTemplate(s captureverify.Sample) (string, string) {
	what := strings.ToLower(s.BioType)
	if s.BioType == sbi.TypeIris && (s.BioSubType == "Left" || s.BioSubType == "Right") {
		what = strings.ToLower(s.BioSubType) + " iris"
	}
	return CodeNoTemplate, fmt.Sprintf("the record holds no %s template: a %s sample is never compared with another modality's template", what, strings.ToLower(s.BioType))
}

func (h *Handler) matchFinger(rec *recordfeed.Record, s captureverify.Sample, i int) (string, string) {
	cands := candidates(rec, s, sbi.AllFingers)
	if len(cands) == 0 {
		return noTemplate(s)
	}
	probe, err := h.fp.Extract(s.ISO)
	if err != nil {
		return CodeBioQuality, fmt.Sprintf("sample %d: the fingerprint cannot be compared (too few minutiae or an unreadable image); capture again", i)
	}
	for _, b := range cands {
		cand, err := h.template(b)
		if err != nil {
			h.log.Warn("a stored fingerprint template does not decode; skipped", "format", b.Format)
			continue
		}
		ok, _, err := match.Verify(h.fp, probe, cand, h.cfg.TargetFMR)
		if err == nil && ok {
			return "", ""
		}
	}
	return CodeBioMismatch, "the fingerprint does not match the record"
}

func (h *Handler) matchIris(rec *recordfeed.Record, s captureverify.Sample, i int) (string, string) {
	cands := candidates(rec, s, []string{"Left", "Right"})
	if len(cands) == 0 {
		return noTemplate(s)
	}
	img, _, err := isoimage.DecodeIris(s.ISO)
	if err != nil {
		return CodeBioQuality, fmt.Sprintf("sample %d: the iris image cannot be decoded; capture again", i)
	}
	probe, _, err := iris.Encode(img)
	if err != nil {
		return CodeBioQuality, fmt.Sprintf("sample %d: the iris cannot be compared (no pupil and limbus found, or too little of the iris visible); capture again", i)
	}
	for _, b := range cands {
		var cand *iris.Template
		switch b.Format {
		case recordfeed.TemplateIrisCode:
			cand, err = iris.ParseTemplate(b.Data)
		case recordfeed.ImageISO197946: // a record enrolled before iris codes: encode it now
			var g *image.Gray
			if g, _, err = isoimage.DecodeIris(b.Data); err == nil {
				cand, _, err = iris.Encode(g)
			}
		default:
			err = fmt.Errorf("format %q is not an iris template", b.Format)
		}
		if err != nil {
			h.log.Warn("a stored iris template does not decode; skipped", "format", b.Format)
			continue
		}
		if sc := iris.Compare(probe, cand, iris.DefaultShifts); sc.Bits >= iris.MinBits && sc.Distance <= h.cfg.IrisThreshold {
			return "", ""
		}
	}
	return CodeBioMismatch, "the iris does not match the record"
}

func (h *Handler) matchFace(rec *recordfeed.Record, s captureverify.Sample, i int) (string, string) {
	cands := candidates(rec, s, nil)
	if len(cands) == 0 {
		return noTemplate(s)
	}
	m, err := face.Default()
	if err != nil {
		h.log.Error("the face model does not load", "err", err.Error())
		return CodeModality, "face matching is not available on this appliance"
	}
	img, _, err := isoimage.DecodeFace(s.ISO)
	if err != nil {
		return CodeBioQuality, fmt.Sprintf("sample %d: the face image cannot be decoded; capture again", i)
	}
	probe, _, err := m.Descriptor(img)
	if err != nil {
		return CodeBioQuality, fmt.Sprintf("sample %d: the face cannot be compared (%s); capture again", i, faceProblem(err))
	}
	for _, b := range cands {
		var cand face.Descriptor
		switch b.Format {
		case recordfeed.TemplateFaceDescriptor:
			cand, err = m.UnmarshalDescriptor(b.Data)
		case recordfeed.ImageISO197945: // a record enrolled before descriptors: compute it now
			var fi image.Image
			if fi, _, err = isoimage.DecodeFace(b.Data); err == nil {
				cand, _, err = m.Descriptor(fi)
			}
		default:
			err = fmt.Errorf("format %q is not a face template", b.Format)
		}
		if err != nil {
			h.log.Warn("a stored face template does not decode; skipped", "format", b.Format)
			continue
		}
		if float64(face.Distance(probe, cand)) < h.cfg.FaceThreshold {
			return "", ""
		}
	}
	return CodeBioMismatch, "the face does not match the record"
}

// faceProblem names a descriptor failure without quoting anything else.
func faceProblem(err error) string {
	switch {
	case errors.Is(err, face.ErrNoFace):
		return "no face found"
	case errors.Is(err, face.ErrManyFaces):
		return "more than one face"
	case errors.Is(err, face.ErrFaceTooSmall):
		return "the face is too small"
	}
	return "the image is unusable"
}

// template decodes a stored template: an MCC template, or an ISO/IEC
// 19794 record to extract one from.
func (h *Handler) template(b recordfeed.Biometric) (match.Template, error) {
	if b.Format == recordfeed.TemplateMCC {
		var t match.Template
		err := t.UnmarshalBinary(b.Data)
		return t, err
	}
	return h.fp.Extract(b.Data)
}

func tokenFor(seed []byte, uin, rpID string) (string, error) {
	d, err := tokenid.New(seed)
	if err != nil {
		return "", err
	}
	return d.Decimal(uin, rpID)
}

// replayWindow is how long presented captures are remembered.
func (h *Handler) replayWindow() time.Duration {
	if h.cfg.ReplayWindow != 0 {
		return h.cfg.ReplayWindow
	}
	age, fut := h.cfg.Captures.MaxAge, h.cfg.Captures.MaxFuture
	if age <= 0 {
		age = captureverify.DefaultMaxAge
	}
	if fut <= 0 {
		fut = captureverify.DefaultMaxFuture
	}
	return age + fut
}

// captureID identifies a capture by its signed data blocks.
func captureID(p *captureverify.Parsed) []byte {
	var b []byte
	for _, e := range p.Response.Biometrics {
		b = append(b, e.Data...)
		b = append(b, 0)
	}
	return b
}
