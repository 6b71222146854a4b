package ctk

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
)

// defaultTimeout is the capture timeout MOSIP's UI sends when the case
// names none (ms).
const defaultTimeout = "10000"

// hashIterations is how many chained captures a hash case makes (MOSIP's
// UI: hashValidatorIterations = 3).
const hashIterations = 3

// segmentName maps the definitions' segment names to SBI subtypes (as
// MOSIP's UI getBioSubType does).
var segmentName = map[string]string{
	"Left": "Left", "Right": "Right", "UNKNOWN": "UNKNOWN", "Face": "null",
	"LeftIndex": "Left IndexFinger", "LeftMiddle": "Left MiddleFinger", "LeftRing": "Left RingFinger",
	"LeftLittle": "Left LittleFinger", "LeftThumb": "Left Thumb",
	"RightIndex": "Right IndexFinger", "RightMiddle": "Right MiddleFinger", "RightRing": "Right RingFinger",
	"RightLittle": "Right LittleFinger", "RightThumb": "Right Thumb",
}

func mapSegments(l []string) []string {
	out := make([]string, 0, len(l))
	for _, s := range l {
		out = append(out, segmentName[s])
	}
	return out
}

// answerKind is what a capture case expects back, from its response schema.
type answerKind int

const (
	answerSuccess  answerKind = iota // Auth/RegistrationCaptureResponseSchema
	answerError                      // ErrorCaptureResponseSchema
	answerTxnError                   // TransactionIdError*ResponseSchema
)

func kindOf(schema string) answerKind {
	switch {
	case strings.HasPrefix(schema, "TransactionIdError"):
		return answerTxnError
	case strings.Contains(schema, "Error"):
		return answerError
	}
	return answerSuccess
}

func newTransactionID(caseID string) string {
	var b [5]byte
	rand.Read(b[:])
	id := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, caseID)
	if len(id) > 30 {
		id = id[:30]
	}
	return id + "-" + hex.EncodeToString(b[:])
}

// buildCapture builds the CAPTURE or RCAPTURE body MOSIP's UI would send.
func (cr *caseRun) buildCapture(prevHash string) []byte {
	a := &cr.c.Attrs
	timeout := a.Timeout
	if timeout == "" {
		timeout = defaultTimeout
	}
	txn := a.TransactionID
	if txn == "" {
		txn = newTransactionID(cr.c.ID)
	}
	bio := map[string]any{"type": cr.d.Type(), "count": a.BioCount, "requestedScore": a.RequestedScore,
		"deviceId": cr.d.ID(), "deviceSubId": a.DeviceSubID, "previousHash": prevHash,
		"bioSubType": mapSegments(a.Segments)}
	req := map[string]any{"env": cr.r.o.Env, "purpose": cr.d.Purpose(), "specVersion": cr.d.SpecVersion(),
		"timeout": timeout, "captureTime": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"transactionId": txn, "bio": []any{bio}, "customOpts": nil}
	if cr.c.Method() == suite.MethodRCapture {
		bio["exception"] = mapSegments(a.Exceptions)
	} else {
		req["domainUri"] = cr.r.o.DomainURI
	}
	if attr := a.InvalidRequestAttribute; attr != "" {
		renameAttr(req, attr)
	}
	b, _ := json.Marshal(req)
	return b
}

// renameAttr renames the attribute at a path like "env" or "bio[0].count"
// to "<name>XXX", as MOSIP's invalid-request cases ask.
func renameAttr(req map[string]any, path string) {
	obj := req
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		name, idx, _ := strings.Cut(strings.TrimSuffix(p, "]"), "[")
		next, ok := obj[name]
		if !ok {
			return
		}
		if idx != "" {
			i, err := strconv.Atoi(idx)
			arr, ok := next.([]any)
			if err != nil || !ok || i < 0 || i >= len(arr) {
				return
			}
			next = arr[i]
		}
		m, ok := next.(map[string]any)
		if !ok {
			return
		}
		obj = m
	}
	last := parts[len(parts)-1]
	if v, ok := obj[last]; ok {
		delete(obj, last)
		obj[last+"XXX"] = v
	}
}

// timeout returns the case's capture timeout.
func (cr *caseRun) timeout() time.Duration {
	t := cr.c.Attrs.Timeout
	if t == "" {
		t = defaultTimeout
	}
	ms, err := strconv.Atoi(t)
	if err != nil || ms < 0 || ms > 10*60*1000 {
		ms = 10000
	}
	return time.Duration(ms) * time.Millisecond
}

// captureOnce sends one capture and checks the answer. It returns the
// verified result for success answers (nil otherwise).
func (cr *caseRun) captureOnce(ctx context.Context, step, prevHash string) (*sbi.CaptureResult, *sbi.CaptureResponse) {
	body := cr.buildCapture(prevHash)
	if !cr.checkRequest(body) {
		return nil, nil
	}
	e := cr.exchange(ctx, step, cr.c.Method(), "capture", body, cr.timeout()+cr.r.o.Slack+30*time.Second)
	return cr.checkCapture(ctx, e, body, step)
}

func (cr *caseRun) checkCapture(ctx context.Context, e *exch, body []byte, step string) (*sbi.CaptureResult, *sbi.CaptureResponse) {
	what := "answer"
	if step != "" {
		what = step + ": answer"
	}
	prefix := ""
	if step != "" {
		prefix = step + ": "
	}
	if e.err != nil {
		cr.callFailed(e)
		return nil, nil
	}
	kind := kindOf(cr.c.ResponseSchema())
	view, err := decodeView(cr.c.Method(), e.raw)
	if err != nil {
		cr.fail(suite.ValSchema, prefix+err.Error())
		return nil, nil
	}
	cr.checkSchema(view, what)
	var entries []any
	if m, ok := view.(map[string]any); ok {
		entries, _ = m["biometrics"].([]any)
	}
	switch kind {
	case answerError:
		if len(entries) == 0 && cr.c.Attrs.BioCount != "0" {
			cr.fail(suite.ValSchema, prefix+"the answer carries no error entry (an empty biometrics array)")
		}
	case answerTxnError:
		if len(entries) == 0 {
			cr.fail(suite.ValSchema, prefix+"the answer carries no entry; an invalid transactionId must be answered with error 112")
		}
		for i, en := range entries {
			code := ""
			if m, ok := en.(map[string]any); ok {
				if er, ok := m["error"].(map[string]any); ok {
					code = fmt.Sprint(er["errorCode"])
				}
			}
			if code != sbi.CodeInvalidTransactionID {
				cr.fail(suite.ValSchema, fmt.Sprintf("%sentry %d: an invalid transactionId (%d characters) was answered with errorCode %.8q, want %q",
					prefix, i, len(cr.c.Attrs.TransactionID), code, sbi.CodeInvalidTransactionID))
			}
		}
	}
	var res *sbi.CaptureResult
	var resp *sbi.CaptureResponse
	if kind == answerSuccess {
		res, resp = cr.verifyCapture(ctx, e, body, prefix)
	}
	if cr.named(suite.ValTimeout) {
		cr.checkTimeout(e, kind, res, prefix)
	}
	return res, resp
}

// routeCapture maps a capture problem to the validator that owns it.
func routeCapture(p sbi.Problem) string {
	switch p.Check {
	case sbi.CheckJWS, sbi.CheckSignature, sbi.CheckChain, sbi.CheckValidity, sbi.CheckDigitalIDSigner:
		return suite.ValSignature
	case sbi.CheckTimestamp, sbi.CheckSkew:
		return suite.ValTimeCheck
	case sbi.CheckTransactionID, sbi.CheckSubtype, sbi.CheckCount:
		return suite.ValResponseMismatch
	case sbi.CheckHash:
		return suite.ValHash
	case sbi.CheckThumbprint, sbi.CheckDecrypt:
		return ValBioValue
	case sbi.CheckISO:
		return suite.ValISO
	case sbi.CheckField:
		switch p.Field {
		case "data.purpose", "data.env", "data.domainUri", "data.requestedScore", "data.bioType":
			return suite.ValResponseMismatch
		case "data.bioValue":
			return ValBioValue
		}
	}
	return suite.ValSchema
}

// verifyCapture runs the sbi verifier on a success answer and routes what
// it finds.
func (cr *caseRun) verifyCapture(ctx context.Context, e *exch, body []byte, prefix string) (*sbi.CaptureResult, *sbi.CaptureResponse) {
	bv := cr.addOwn(ValBioValue)
	req, err := sbi.ParseCaptureRequest(body)
	if err != nil {
		cr.fail(ValBioValue, prefix+"the ctk cannot read its own request: "+err.Error())
		return nil, nil
	}
	resp, err := sbi.ParseCaptureResponse(e.raw)
	if err != nil {
		for _, v := range []string{suite.ValSchema, suite.ValResponseMismatch, suite.ValSignature, ValBioValue} {
			cr.fail(v, prefix+"answer is not a capture response: "+err.Error())
		}
		return nil, nil
	}
	v := cr.r.verifier
	res, ps := v.VerifyCaptureResponse(resp, sbi.Expect{Request: req, Device: cr.r.deviceInfo(ctx, cr.d),
		Sent: e.sent.Add(-cr.r.o.ClockSkew), Received: e.recv.Add(cr.r.o.ClockSkew)})
	for _, p := range ps {
		msg := prefix + p.Error()
		if p.Check == sbi.CheckThumbprint && strings.Contains(msg, "no decryption key") {
			msg += " (the device must encrypt to the ctk's certificate: edgetrust-ctk cert; ctk thumbprint " +
				sbi.Thumbprint(cr.r.o.Key.Cert)[:16] + "…)"
		}
		cr.fail(routeCapture(p), msg)
	}
	auth := req.Purpose == sbi.PurposeAuth
	decoded := 0
	if res != nil {
		for i, sr := range res.Segments {
			if sr.Data == nil {
				continue
			}
			if sr.ISO != nil && sr.Record == nil {
				cr.fail(ValBioValue, fmt.Sprintf("%ssegment %d: bioValue is not an ISO/IEC 19794 record", prefix, i))
			}
			if sr.Record != nil {
				decoded++
			}
		}
	}
	if len(resp.Biometrics) > 0 {
		bv.evaluated = true
		how := "base64url-decoded"
		if auth {
			how = "decrypted with the ctk's key"
		}
		bv.passMsg = fmt.Sprintf("%d bioValue(s) %s to ISO/IEC 19794 records", decoded, how)
	}
	cr.checkRequestedSubtypes(req, res, prefix)
	n := len(resp.Biometrics)
	if decoded < n {
		why := fmt.Sprintf("%scannot check: %d of %d bioValue(s) did not decode to an ISO record", prefix, n-decoded, n)
		cr.fail(suite.ValISO, why)
		cr.fail(suite.ValHash, why)
	}
	cr.pass(suite.ValSignature, fmt.Sprintf("%d data block(s) and digital ID(s) verify and chain", n))
	cr.pass(suite.ValResponseMismatch, fmt.Sprintf("%d entries for count %s; purpose, transactionId and segments match the request", n, req.Bio[0].Count))
	cr.pass(suite.ValHash, fmt.Sprintf("hash chain holds over %d segment(s) from previousHash %q", n, abbrev(req.Bio[0].PreviousHash)))
	cr.pass(suite.ValTimeCheck, "every data.timestamp is yyyy-MM-ddTHH:mm:ssZ and within the call")
	cr.pass(suite.ValISO, fmt.Sprintf("%d record(s) fit the ISO 19794 %s profile", decoded, req.Purpose))
	if cr.named(suite.ValQuality) {
		if decoded == len(resp.Biometrics) && decoded > 0 {
			var scores []string
			for _, sr := range res.Segments {
				scores = append(scores, string(sr.Data.QualityScore))
			}
			cr.skipValidator(suite.ValQuality, "needs an adopter biometric SDK (MOSIP's validator sends the records to "+
				"its configured BioSDK check-quality services and compares their score with a threshold); none is "+
				"available offline. The records decoded; the device reported qualityScore "+strings.Join(scores, ", "))
		} else {
			cr.fail(suite.ValQuality, prefix+"cannot assess quality: not every bioValue decoded to an ISO record")
		}
	}
	return res, resp
}

func abbrev(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// checkRequestedSubtypes fails ResponseMismatch when the answer holds a
// segment that was neither requested by name nor covered by an UNKNOWN.
func (cr *caseRun) checkRequestedSubtypes(req *sbi.CaptureRequest, res *sbi.CaptureResult, prefix string) {
	if res == nil || len(req.Bio) == 0 || req.Bio[0].Type == sbi.TypeFace || len(req.Bio[0].BioSubType) == 0 {
		return
	}
	remaining := slices.Clone(req.Bio[0].BioSubType)
	for i, sr := range res.Segments {
		if sr.Data == nil {
			continue
		}
		got := sr.Data.BioSubType
		if k := slices.Index(remaining, got); k >= 0 {
			remaining = slices.Delete(remaining, k, k+1)
		} else if k := slices.Index(remaining, sbi.SubtypeUnknown); k >= 0 {
			remaining = slices.Delete(remaining, k, k+1)
		} else {
			cr.fail(suite.ValResponseMismatch, fmt.Sprintf("%ssegment %d: %q was not requested (bioSubType %v)", prefix, i, got, req.Bio[0].BioSubType))
		}
	}
}

// checkTimeout applies the TimeoutValidator: with nothing presented the
// answer must not come before the timeout, nor long after it; with a
// biometric presented and a requestedScore it cannot reach, the device must
// keep trying until the timeout.
func (cr *caseRun) checkTimeout(e *exch, kind answerKind, res *sbi.CaptureResult, prefix string) {
	t := cr.timeout()
	el := e.elapsed()
	late := t + cr.r.o.Slack
	desc := fmt.Sprintf("answered after %d ms (timeout %d ms)", el.Milliseconds(), t.Milliseconds())
	switch {
	case el > late:
		cr.fail(suite.ValTimeout, prefix+desc+fmt.Sprintf(": more than %v after the timeout", cr.r.o.Slack))
	case el >= t:
		cr.pass(suite.ValTimeout, desc)
	case kind == answerSuccess && scoreMet(res, cr.c.Attrs.RequestedScore):
		cr.pass(suite.ValTimeout, desc+": early, and every segment met requestedScore "+cr.c.Attrs.RequestedScore)
	default:
		cr.fail(suite.ValTimeout, prefix+desc+": answered before the timeout"+
			map[bool]string{true: " although no segment met requestedScore " + cr.c.Attrs.RequestedScore, false: " with nothing presented"}[kind == answerSuccess])
	}
}

func scoreMet(res *sbi.CaptureResult, requested string) bool {
	want, err := sbi.NumString(requested).Float()
	if err != nil || res == nil || len(res.Segments) == 0 {
		return false
	}
	for _, sr := range res.Segments {
		if sr.Data == nil {
			return false
		}
		got, err := sr.Data.QualityScore.Float()
		if err != nil || got < want {
			return false
		}
	}
	return true
}

// runCapture runs a capture or rcapture case.
func (cr *caseRun) runCapture(ctx context.Context) {
	a := &cr.c.Attrs
	kind := kindOf(cr.c.ResponseSchema())
	switch {
	case a.QualityAssessment:
		cr.runQualityAssessment(ctx)
	case a.HashValidation:
		cr.runHashChain(ctx)
	case cr.c.Has(suite.ValTimeout) && kind == answerError:
		cr.runWithheld(ctx)
	case strings.HasPrefix(strings.ToLower(cr.c.Name), "streaming"):
		cr.runStreaming(ctx)
	default:
		if !cr.humanStep(ctx, "") {
			return
		}
		cr.captureOnce(ctx, "", "")
	}
}

// humanStep shows the case's steps to the person at the keyboard before a
// capture (MOSIP's "Initiate Capture" button). Non-interactive runs go
// straight on: the device must capture on its own (an emulator, or a
// biometric left in place).
func (cr *caseRun) humanStep(ctx context.Context, extra string) bool {
	p := cr.r.o.Prompter
	if p == nil {
		return true
	}
	msg := "get ready, then the ctk starts the capture. " + strings.ReplaceAll(plainText(cr.c.Description), "\n", " ")
	if extra != "" {
		msg = extra + ". " + msg
	}
	if err := p.Ask(ctx, msg); err != nil {
		cr.skipRest("the person at the keyboard did not confirm (" + err.Error() + ")")
		return false
	}
	return true
}

// runHashChain captures three times, each previousHash the last hash of
// the capture before, the first the hex of SHA-256("") as MOSIP's UI sends.
func (cr *caseRun) runHashChain(ctx context.Context) {
	seed := sha256.Sum256(nil)
	prev := hex.EncodeToString(seed[:])
	for i := 1; i <= hashIterations; i++ {
		if !cr.humanStep(ctx, fmt.Sprintf("capture %d of %d", i, hashIterations)) {
			return
		}
		step := fmt.Sprintf("capture %d of %d", i, hashIterations)
		_, resp := cr.captureOnce(ctx, step, prev)
		if resp == nil || len(resp.Biometrics) == 0 {
			cr.fail(suite.ValHash, step+": no hash to continue the chain from")
			return
		}
		last := resp.Biometrics[len(resp.Biometrics)-1].Hash
		if _, err := sbi.NewHashChain(last); err != nil || last == "" {
			cr.fail(suite.ValHash, step+": the last hash is not 64 hex digits; the chain cannot continue")
			return
		}
		prev = last
	}
	if v := cr.get(suite.ValHash); v != nil {
		v.passMsg = fmt.Sprintf("the hash chain holds over %d chained captures (each previousHash is the last hash before)", hashIterations)
	}
}

// runWithheld is a timeout case with nothing presented: the device must
// wait for the timeout and answer with an error.
func (cr *caseRun) runWithheld(ctx context.Context) {
	id := cr.d.ID()
	byHook, why := cr.act(ctx, func(c Controller) error { return c.Present(ctx, id, false) },
		"present nothing to the "+cr.d.Type()+" device: the capture must time out")
	if why != "" {
		cr.skipRest(why)
		return
	}
	if byHook {
		defer func() {
			if err := cr.r.o.Control.Present(context.WithoutCancel(ctx), id, true); err != nil {
				cr.note("could not present the biometric again through the control hook: " + err.Error())
			}
		}()
	}
	cr.captureOnce(ctx, "", "")
}

// runQualityAssessment captures once per person of the demographic group
// the case names. Only a person at the keyboard can bring them.
func (cr *caseRun) runQualityAssessment(ctx context.Context) {
	a := &cr.c.Attrs
	group := strings.Join(nonEmpty(a.Gender, a.AgeGroup, a.Race, a.Occupation), ", ")
	n := cr.c.Repeat()
	if cr.r.o.Prompter == nil {
		cr.skipRest(fmt.Sprintf("quality assessment needs %d different persons (%s) at the device, one capture each; run interactively with them present", n, group))
		return
	}
	for i := 1; i <= n; i++ {
		step := fmt.Sprintf("person %d of %d", i, n)
		if !cr.humanStep(ctx, step+" ("+group+")") {
			return
		}
		cr.captureOnce(ctx, step, "")
	}
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}
