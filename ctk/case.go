package ctk

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
)

// Checks edgetrust-ctk adds to MOSIP's validators.
const (
	ValBioValue      = "BioValueCheck"      // every bioValue decodes (auth: decrypts with the ctk key) to an ISO record
	ValStream        = "StreamCheck"        // STREAM delivers JPEG frames at >= 3 fps during a streaming case
	ValRequestSchema = "RequestSchemaCheck" // the ctk's own request fits the case's request schema
)

// stricter says how each validator goes beyond MOSIP's.
var stricter = map[string]string{
	suite.ValSchema: "every array element is checked (MOSIP's draft-2019-09 tuple schemas check only the first); " +
		"date-time formats are asserted; an error answer must carry at least one error entry; " +
		"an invalid transactionId must be answered with error 112 (MOSIP's schema accepts a successful capture)",
	suite.ValSignature: "every entry and every signed block is checked: RS256, x5c leaf validity, chain to the roots given, " +
		"digital ID signer per certification level (L0: the device key and DEVICE roots; L1: FTM roots)",
	suite.ValResponseMismatch: "also transactionId (named in MOSIP's description, not checked by its code), env, domainUri, " +
		"requestedScore echo, bioType, duplicate segments, and requested subtypes when named",
	suite.ValHash:      "every segment of every call is checked (MOSIP's result reflects only the last segment)",
	suite.ValTimeCheck: "data.timestamp must be yyyy-MM-ddTHH:mm:ssZ and lie between sending the request and receiving the answer (± clock skew), segments in order; MOSIP only checks it is not too long after the start",
	suite.ValTimeout:   "the answer must also come no later than timeout + slack",
	suite.ValKeyRotation: "make, model and serialNo must all be unchanged (MOSIP's check fails only when all three change); " +
		"the new deviceInfo signature must verify and chain",
	suite.ValISO: "auth bioValues are decrypted with the ctk's key first; every segment is checked",
}

// verdict collects one validator's findings.
type verdict struct {
	name      string
	origin    string
	failures  []string
	passMsg   string
	skip      string
	evaluated bool
}

// caseRun is one case on one device.
type caseRun struct {
	r     *Runner
	c     *suite.Case
	d     *Device
	out   report.Case
	vs    []*verdict
	notes []string
	start time.Time
}

func (r *Runner) newCaseRun(p Planned) *caseRun {
	cr := &caseRun{r: r, c: p.Case, d: p.Device, start: time.Now()}
	cr.out = report.Case{ID: p.Case.ID, Name: p.Case.Name, Description: plainText(p.Case.Description),
		Device: p.Device.ID(), Method: p.Case.Method()}
	for _, v := range p.Case.Validators() {
		cr.vs = append(cr.vs, &verdict{name: v, origin: report.OriginMOSIP})
	}
	return cr
}

func (cr *caseRun) get(name string) *verdict {
	for _, v := range cr.vs {
		if v.name == name {
			return v
		}
	}
	return nil
}

// named reports whether the case names validator v.
func (cr *caseRun) named(v string) bool { return cr.get(v) != nil }

// addOwn adds an edgetrust check to the case.
func (cr *caseRun) addOwn(name string) *verdict {
	if v := cr.get(name); v != nil {
		return v
	}
	v := &verdict{name: name, origin: report.OriginEdgetrust}
	cr.vs = append(cr.vs, v)
	return v
}

// fail records a failure for validator name; for a validator the case does
// not name it becomes a note.
func (cr *caseRun) fail(name, msg string) {
	if v := cr.get(name); v != nil {
		v.evaluated = true
		if len(v.failures) < 20 && !slices.Contains(v.failures, msg) {
			v.failures = append(v.failures, msg)
		}
		return
	}
	cr.note(short(name) + ": " + msg)
}

func (cr *caseRun) note(msg string) {
	if len(cr.notes) < 30 && !slices.Contains(cr.notes, msg) {
		cr.notes = append(cr.notes, msg)
	}
}

// pass marks validator name as evaluated with a success message.
func (cr *caseRun) pass(name, msg string) {
	if v := cr.get(name); v != nil {
		v.evaluated = true
		if v.passMsg == "" {
			v.passMsg = msg
		}
	}
}

// skipValidator records that validator name could not run.
func (cr *caseRun) skipValidator(name, why string) {
	if v := cr.get(name); v != nil && v.skip == "" {
		v.skip = why
	}
}

// skipRest marks every validator that has not run as skipped for why.
func (cr *caseRun) skipRest(why string) {
	for _, v := range cr.vs {
		if v.skip == "" && !v.evaluated && len(v.failures) == 0 {
			v.skip = why
		}
	}
}

func (cr *caseRun) finish() report.Case {
	for _, v := range cr.vs {
		rv := report.Verdict{Name: v.name, Origin: v.origin}
		switch {
		case len(v.failures) > 0:
			rv.Status, rv.Message = report.Failed, strings.Join(v.failures, "; ")
		case v.skip != "":
			rv.Status, rv.Message = report.Skipped, v.skip
		case !v.evaluated:
			rv.Status, rv.Message = report.Skipped, "not evaluated"
		default:
			rv.Status, rv.Message = report.Passed, v.passMsg
		}
		if v.origin == report.OriginMOSIP {
			rv.Stricter = stricter[v.name]
		}
		cr.out.Validators = append(cr.out.Validators, rv)
	}
	cr.out.Notes = cr.notes
	cr.out.Status, cr.out.Reason = report.CaseStatus(cr.out.Validators)
	if strings.Contains(cr.out.Reason, "cannot check") {
		// Name the root cause, not a validator that could not look.
		for _, v := range cr.out.Validators {
			if v.Status == report.Failed && !strings.Contains(v.Message, "cannot check") {
				cr.out.Reason = v.Name + ": " + v.Message
				break
			}
		}
	}
	cr.out.DurationMS = time.Since(cr.start).Milliseconds()
	return cr.out
}

func short(v string) string { return strings.TrimSuffix(v, "Validator") }

// exchange calls the device and records the exchange (redacted) in the
// case. body nil sends no body.
func (cr *caseRun) exchange(ctx context.Context, step, method, path string, body []byte, timeout time.Duration) *exch {
	e := &exch{method: method}
	e.sent = time.Now()
	e.raw, _, e.err = cr.r.call(ctx, sbiVerb(method), path, body, timeout)
	e.recv = time.Now()
	rec := report.Exchange{Step: step, Method: sbiVerb(method), URL: cr.r.o.Target.URL + "/" + path,
		ElapsedMS: e.recv.Sub(e.sent).Milliseconds(), SentAt: e.sent.UTC(), ReceivedAt: e.recv.UTC()}
	if body != nil {
		rec.Request = json.RawMessage(body)
	}
	if e.err != nil {
		rec.Error = e.err.Error()
	}
	if e.raw != nil {
		rec.Response = redactRaw(method, e.raw)
	}
	if len(cr.out.Exchanges) < 40 {
		cr.out.Exchanges = append(cr.out.Exchanges, rec)
	}
	return e
}

// exch is one call's outcome.
type exch struct {
	method     string
	raw        []byte
	err        error
	sent, recv time.Time
}

func (e *exch) elapsed() time.Duration { return e.recv.Sub(e.sent) }

func sbiVerb(method string) string {
	switch method {
	case suite.MethodDevice:
		return sbi.MethodDiscover
	case suite.MethodInfo:
		return sbi.MethodInfo
	case suite.MethodCapture:
		return sbi.MethodCapture
	case suite.MethodRCapture:
		return sbi.MethodRCapture
	}
	return strings.ToUpper(method)
}

// checkRequest validates the ctk's own request against the case's request
// schema, as MOSIP's UI does before calling the device. A mismatch means
// the test definition and the ctk disagree; the device is not called.
func (cr *caseRun) checkRequest(body []byte) bool {
	sch := cr.r.o.Suite.Schemas.Get(cr.c.SpecVersion, cr.c.RequestSchema())
	if sch == nil {
		cr.addOwn(ValRequestSchema).failures = []string{"request schema " + cr.c.RequestSchema() + " is not loaded"}
		return false
	}
	if body == nil {
		body = []byte("{}")
	}
	doc, err := suite.DecodeJSON(body)
	if err == nil {
		if msgs := suite.Validate(sch, doc, 5); len(msgs) > 0 {
			err = fmt.Errorf("%s", strings.Join(msgs, "; "))
		}
	}
	if err != nil {
		v := cr.addOwn(ValRequestSchema)
		v.failures = append(v.failures, "the ctk's request does not fit "+cr.c.RequestSchema()+
			" (a ctk or test-definition problem; the device was not called): "+err.Error())
		return false
	}
	return true
}

// checkSchema validates a decoded view against the case's response schema.
func (cr *caseRun) checkSchema(view any, what string) {
	if !cr.named(suite.ValSchema) {
		return
	}
	sch := cr.r.o.Suite.Schemas.Get(cr.c.SpecVersion, cr.c.ResponseSchema())
	if sch == nil {
		cr.fail(suite.ValSchema, "response schema "+cr.c.ResponseSchema()+" is not loaded")
		return
	}
	msgs := suite.Validate(sch, view, 8)
	for _, m := range msgs {
		cr.fail(suite.ValSchema, what+" "+m)
	}
	if len(msgs) == 0 {
		cr.pass(suite.ValSchema, what+" fits "+cr.c.ResponseSchema())
	}
}

// act puts the device into a state: through the control hook when there
// is one, else by asking the person at the keyboard. It reports whether the
// hook did it, and why it could not be done ("" when done).
func (cr *caseRun) act(ctx context.Context, hook func(Controller) error, instruction string) (byHook bool, why string) {
	var hookErr error
	if c := cr.r.o.Control; c != nil && hook != nil {
		if hookErr = hook(c); hookErr == nil {
			return true, ""
		}
		cr.r.o.Log.Warn("control hook failed", "case", cr.c.ID, "device", cr.d.ID(), "err", hookErr)
	}
	if p := cr.r.o.Prompter; p != nil {
		if err := p.Ask(ctx, cr.c.ID+" on "+cr.d.ID()+": "+instruction); err != nil {
			return false, "the person at the keyboard did not confirm (" + err.Error() + ")"
		}
		return false, ""
	}
	why = "needs a person at the device to: " + instruction + " (run without --non-interactive"
	if hookErr != nil {
		why += "; the control hook could not do it: " + hookErr.Error()
	} else if cr.r.o.Control == nil {
		why += ", or give --control for a device that offers a control hook"
	}
	return false, why + ")"
}

// plainText strips the HTML MOSIP puts in descriptions.
func plainText(s string) string {
	s = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<b>", "", "</b>", "", "<i>", "", "</i>", "").Replace(s)
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(b.String())
}

// runCase runs one planned case.
func (r *Runner) runCase(ctx context.Context, p Planned) report.Case {
	cr := r.newCaseRun(p)
	for _, v := range cr.vs {
		if !slices.Contains(suite.KnownValidators, v.name) {
			v.skip = "validator " + v.name + " is not implemented by this edgetrust-ctk version"
		}
	}
	switch p.Case.Method() {
	case suite.MethodDevice:
		cr.runDiscovery(ctx)
	case suite.MethodInfo:
		cr.runInfo(ctx)
	case suite.MethodCapture, suite.MethodRCapture:
		cr.runCapture(ctx)
	}
	return cr.finish()
}
