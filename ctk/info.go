package ctk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
)

const infoTimeout = 15 * time.Second

// routeDevice maps a discovery or device-info problem to the validator
// that owns it.
func routeDevice(p sbi.Problem) string {
	switch p.Check {
	case sbi.CheckJWS, sbi.CheckSignature, sbi.CheckChain, sbi.CheckValidity, sbi.CheckDigitalIDSigner, sbi.CheckDigitalID:
		return suite.ValSignature
	case sbi.CheckTimestamp, sbi.CheckSkew:
		return suite.ValTimeCheck
	}
	return suite.ValSchema
}

// callFailed fails every validator the case names: there is no answer.
func (cr *caseRun) callFailed(e *exch) {
	for _, v := range cr.vs {
		if v.origin == "mosip" {
			cr.fail(v.name, "the call failed: "+e.err.Error())
		}
	}
}

// runDiscovery runs a "device" case: MOSIPDISC with the device's type (an
// invalid type for the negative case), the answer limited to this device.
func (cr *caseRun) runDiscovery(ctx context.Context) {
	req := map[string]any{"type": cr.d.Type()}
	negative := cr.c.Attrs.InvalidRequestAttribute != "" || strings.Contains(cr.c.ResponseSchema(), "Error")
	if negative {
		req["type"] = cr.d.Type() + "XXX"
	}
	body, _ := json.Marshal(req)
	if !cr.checkRequest(body) {
		return
	}
	e := cr.exchange(ctx, "", suite.MethodDevice, "device", body, infoTimeout)
	if e.err != nil {
		cr.callFailed(e)
		return
	}
	view, err := decodeView(suite.MethodDevice, e.raw)
	if err != nil {
		cr.fail(suite.ValSchema, err.Error())
		cr.fail(suite.ValSignature, err.Error())
		return
	}
	if negative {
		cr.checkSchema(view, "answer")
		return
	}
	list, err := sbi.ParseDiscoverResponse(e.raw)
	if err != nil {
		cr.fail(suite.ValSchema, "answer is not a discovery array: "+err.Error())
		cr.fail(suite.ValSignature, "answer is not a discovery array")
		return
	}
	arr, _ := view.([]any)
	var mine []any
	var idx []int
	for i := range list {
		if discoverySerial(&list[i]) == cr.d.DigitalID.SerialNo && i < len(arr) {
			mine = append(mine, arr[i])
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		msg := fmt.Sprintf("device %s is missing from the answer to {\"type\":%q}", cr.d.ID(), cr.d.Type())
		cr.fail(suite.ValSchema, msg)
		cr.fail(suite.ValSignature, msg)
		return
	}
	cr.checkSchema(mine, "device "+cr.d.ID()+" entry")
	for _, i := range idx {
		_, ps := cr.r.verifier.VerifyDiscovery(&list[i], cr.r.o.Target.Port, i)
		for _, p := range ps {
			cr.fail(routeDevice(p), p.Error())
		}
	}
	cr.pass(suite.ValSignature, "the unsigned discovery digital ID decodes with a valid type and deviceSubType")
}

// infoResult is this device's element of one MOSIPDINFO answer.
type infoResult struct {
	entry    *sbi.InfoEntry
	verified *sbi.InfoResult
	problems sbi.Problems
}

// infoOnce calls MOSIPDINFO, checks this device's element against the
// case's schema and routes the verifier's findings. It returns nil when the
// device's element could not be read.
func (cr *caseRun) infoOnce(ctx context.Context, step string) *infoResult {
	e := cr.exchange(ctx, step, suite.MethodInfo, "info", nil, infoTimeout)
	if e.err != nil {
		cr.callFailed(e)
		return nil
	}
	view, err := decodeView(suite.MethodInfo, e.raw)
	if err != nil {
		cr.fail(suite.ValSchema, err.Error())
		cr.fail(suite.ValSignature, err.Error())
		cr.fail(suite.ValKeyRotation, err.Error())
		return nil
	}
	list, err := sbi.ParseInfoResponse(e.raw)
	if err != nil {
		msg := "answer is not a device info array: " + err.Error()
		cr.fail(suite.ValSchema, msg)
		cr.fail(suite.ValSignature, msg)
		cr.fail(suite.ValKeyRotation, msg)
		return nil
	}
	arr, _ := view.([]any)
	for i := range list {
		if infoSerial(&list[i]) != cr.d.DigitalID.SerialNo || i >= len(arr) {
			continue
		}
		cr.checkSchema([]any{arr[i]}, "device "+cr.d.ID()+" entry")
		res, ps := cr.r.verifier.VerifyInfo(&list[i], i)
		return &infoResult{entry: &list[i], verified: res, problems: ps}
	}
	msg := "device " + cr.d.ID() + " is missing from the device info answer"
	cr.fail(suite.ValSchema, msg)
	cr.fail(suite.ValSignature, msg)
	cr.fail(suite.ValKeyRotation, msg)
	return nil
}

func (cr *caseRun) routeInfo(ir *infoResult) {
	for _, p := range ir.problems {
		cr.fail(routeDevice(p), p.Error())
	}
	if ir.verified != nil && ir.verified.Signed {
		cr.pass(suite.ValSignature, "deviceInfo and its digital ID verify and chain")
	} else if cr.c.ResponseSchema() == "DeviceInfoNotRegisteredResponseSchema" {
		cr.pass(suite.ValSignature, "unsigned deviceInfo from a Not Registered device")
	}
}

// runInfo runs an "info" case.
func (cr *caseRun) runInfo(ctx context.Context) {
	if !cr.checkRequest(nil) {
		return
	}
	switch {
	case cr.c.Attrs.KeyRotation:
		cr.runKeyRotation(ctx)
	case cr.c.ResponseSchema() == "DeviceInfoBusyResponseSchema":
		cr.runState(ctx, sbi.StatusBusy)
	case cr.c.ResponseSchema() == "DeviceInfoNotReadyResponseSchema":
		cr.runState(ctx, sbi.StatusNotReady)
	case cr.c.ResponseSchema() == "DeviceInfoNotRegisteredResponseSchema":
		cr.runState(ctx, sbi.StatusNotRegistered)
	default:
		if ir := cr.infoOnce(ctx, ""); ir != nil {
			cr.routeInfo(ir)
		}
	}
}

// busyHold is how long the control hook keeps a device Busy.
const busyHold = 2500 * time.Millisecond

// runState puts the device in status, reads device info, and brings the
// device back to Ready.
func (cr *caseRun) runState(ctx context.Context, status string) {
	id := cr.d.ID()
	var hook func(Controller) error
	var undo func(Controller) error
	var instr, undoInstr string
	switch status {
	case sbi.StatusBusy:
		hook = func(c Controller) error { return c.HoldBusy(ctx, id, busyHold) }
		instr = "make the device Busy (start a capture on it from another client and keep it running)"
		undoInstr = "let the device become Ready again"
	default:
		hook = func(c Controller) error { return c.SetStatus(ctx, id, status) }
		undo = func(c Controller) error { return c.SetStatus(ctx, id, sbi.StatusReady) }
		instr = "put the device in the " + status + " state"
		undoInstr = "put the device back in the Ready state"
	}
	byHook, why := cr.act(ctx, hook, instr)
	if why != "" {
		cr.skipRest(why)
		return
	}
	cr.r.forgetInfo(cr.d)
	defer cr.r.forgetInfo(cr.d)
	ir := cr.infoOnce(ctx, "device "+status)
	if ir != nil {
		cr.routeInfo(ir)
		if ir.verified != nil && ir.verified.Info != nil && ir.verified.Info.DeviceStatus != status {
			cr.note(fmt.Sprintf("device reported %q after being put in %q", ir.verified.Info.DeviceStatus, status))
		}
	}
	switch {
	case byHook && undo != nil:
		if err := undo(cr.r.o.Control); err != nil {
			cr.note("could not restore Ready through the control hook: " + err.Error())
		}
	case byHook:
		cr.waitReady(ctx, 10*time.Second)
	default:
		if cr.r.o.Prompter != nil {
			cr.r.o.Prompter.Ask(ctx, cr.c.ID+" on "+id+": "+undoInstr)
		}
	}
}

// waitReady polls device info until the device is Ready again.
func (cr *caseRun) waitReady(ctx context.Context, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		raw, _, err := cr.r.call(ctx, sbi.MethodInfo, "info", nil, infoTimeout)
		if err == nil {
			if list, err := sbi.ParseInfoResponse(raw); err == nil {
				for i := range list {
					if infoSerial(&list[i]) == cr.d.DigitalID.SerialNo && list[i].Error.OK() {
						return
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	cr.note("device did not report Ready again within " + max.String())
}

// runKeyRotation reads device info, has the device rotate its key, reads
// it again and compares (MOSIP's KeyRotationValidator, stricter).
func (cr *caseRun) runKeyRotation(ctx context.Context) {
	before := cr.infoOnce(ctx, "before key rotation")
	if before == nil {
		return
	}
	if before.verified == nil || !before.verified.Signed {
		cr.fail(suite.ValKeyRotation, "device info before rotation is not signed (device not registered?)")
		return
	}
	if _, why := cr.act(ctx, func(c Controller) error { return c.RotateKey(ctx, cr.d.ID()) },
		"rotate the device key (the ctk has read device info and will read it again)"); why != "" {
		cr.skipRest(why)
		return
	}
	cr.r.forgetInfo(cr.d)
	after := cr.infoOnce(ctx, "after key rotation")
	if after == nil {
		return
	}
	v := suite.ValKeyRotation
	for _, p := range after.problems {
		if routeDevice(p) == suite.ValSignature {
			cr.fail(v, "device info after rotation: "+p.Error())
		} else {
			cr.note("device info after rotation: " + p.Error())
		}
	}
	if after.verified == nil || !after.verified.Signed || after.verified.Leaf == nil {
		cr.fail(v, "device info after rotation is not signed")
		return
	}
	old, cur := before.verified.Leaf, after.verified.Leaf
	if bytes.Equal(old.Raw, cur.Raw) {
		cr.fail(v, "the deviceInfo signer certificate did not change: the key was not rotated")
	}
	if cur.NotBefore.Before(old.NotBefore) {
		cr.fail(v, fmt.Sprintf("the new certificate's notBefore %s is earlier than the old one's %s",
			cur.NotBefore.UTC().Format(time.RFC3339), old.NotBefore.UTC().Format(time.RFC3339)))
	}
	if bytes.Equal(old.RawSubjectPublicKeyInfo, cur.RawSubjectPublicKeyInfo) {
		cr.fail(v, "the new certificate certifies the same public key")
	}
	a, b := before.verified.DigitalID, after.verified.DigitalID
	if a == nil || b == nil {
		cr.fail(v, "digital ID missing before or after rotation")
		return
	}
	for _, f := range []struct{ name, x, y string }{{"make", a.Make, b.Make}, {"model", a.Model, b.Model}, {"serialNo", a.SerialNo, b.SerialNo}} {
		if f.x != f.y {
			cr.fail(v, "digital ID "+f.name+" changed with the key rotation")
		}
	}
	cr.pass(v, fmt.Sprintf("new signer certificate (serial %s, notBefore %s) verifies and chains; make, model and serialNo unchanged",
		cur.SerialNumber.Text(16), cur.NotBefore.UTC().Format(time.RFC3339)))
}
