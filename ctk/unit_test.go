package ctk

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/sbi"
)

func testDevice(typ, sub, purpose string, subIDs ...string) *Device {
	var ids []sbi.NumString
	for _, s := range subIDs {
		ids = append(ids, sbi.NumString(s))
	}
	return &Device{
		Discovery: sbi.Discovery{DeviceID: "D-" + typ + sub + purpose, DeviceStatus: sbi.StatusReady, Purpose: purpose,
			SpecVersion: []string{"0.9.5"}, DeviceSubID: ids, Certification: sbi.CertL1},
		DigitalID: sbi.DigitalID{SerialNo: "S-" + typ + sub + purpose, Type: typ, DeviceSubType: sub},
	}
}

func agentLikeDevices() []*Device {
	return []*Device{
		testDevice("Finger", "Single", "Auth", "0"), testDevice("Finger", "Slap", "Registration", "1", "2", "3"),
		testDevice("Iris", "Single", "Auth", "0"), testDevice("Iris", "Double", "Registration", "1", "2", "3"),
		testDevice("Face", "Full face", "Auth", "0"), testDevice("Face", "Full face", "Registration", "0"),
	}
}

func TestPlanSelectsByTypeSubTypePurpose(t *testing.T) {
	st, err := suite.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	devs := agentLikeDevices()
	plan := Plan(st, devs, Filter{})
	per := map[string]int{}
	for _, p := range plan {
		per[p.Device.DigitalID.SerialNo]++
		if !p.Case.Applies(p.Device.Type(), p.Device.SubType(), p.Device.Purpose()) {
			t.Fatalf("%s planned on %s", p.Case.ID, p.Device.ID())
		}
	}
	if len(plan) != 235 {
		t.Errorf("%d planned, want 235 (the agent's six devices)", len(plan))
	}
	if per["S-FingerSlapRegistration"] != 55 || per["S-FaceFull faceAuth"] != 41 {
		t.Errorf("per device %v", per)
	}
	// Filters.
	if n := len(Plan(st, devs, Filter{Purpose: "Auth"})); n >= len(plan) || n == 0 {
		t.Errorf("--purpose Auth kept %d", n)
	}
	if p := Plan(st, devs, Filter{Cases: []string{"SBI1001"}, Devices: []string{"S-IrisSingleAuth"}}); len(p) != 1 || p[0].Device.Type() != "Iris" {
		t.Errorf("--case/--device: %v", p)
	}
	// Test-id order within a device.
	for i := 1; i < len(plan); i++ {
		if plan[i].Device == plan[i-1].Device && plan[i].Case.ID < plan[i-1].Case.ID {
			t.Fatal("cases not in test-id order")
		}
	}
	// A Not Registered device (no purpose) gets nothing.
	nr := testDevice("Finger", "Single", "")
	if p := Plan(st, []*Device{nr}, Filter{}); len(p) != 0 {
		t.Errorf("%d cases planned on an unregistered device", len(p))
	}
}

// Every capture request the ctk builds fits the case's request schema, as
// MOSIP's UI checks before calling the device.
func TestRequestsFitRequestSchemas(t *testing.T) {
	st, err := suite.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{o: Options{Suite: st, Env: sbi.EnvDeveloper, DomainURI: "https://x.invalid"}}
	for _, p := range Plan(st, agentLikeDevices(), Filter{}) {
		cr := r.newCaseRun(p)
		var body []byte
		switch p.Case.Method() {
		case suite.MethodCapture, suite.MethodRCapture:
			body = cr.buildCapture("")
		default:
			continue
		}
		if !cr.checkRequest(body) {
			t.Errorf("%s: %v", p.Case.ID, cr.get(ValRequestSchema).failures)
		}
		var m map[string]any
		json.Unmarshal(body, &m)
		if a := p.Case.Attrs.InvalidRequestAttribute; a != "" {
			if strings.Contains(string(body), `"`+a[strings.LastIndex(a, ".")+1:]+`":`) {
				t.Errorf("%s: attribute %s not renamed: %s", p.Case.ID, a, body)
			}
		}
		if p.Case.Attrs.TransactionID != "" && m["transactionId"] != p.Case.Attrs.TransactionID {
			t.Errorf("%s: transactionId not taken from the case", p.Case.ID)
		} else if id, _ := m["transactionId"].(string); p.Case.Attrs.TransactionID == "" && !sbi.ValidTransactionID(id) {
			t.Errorf("%s: generated transactionId %q is not valid", p.Case.ID, id)
		}
	}
}

func TestRenameAttr(t *testing.T) {
	req := map[string]any{"env": "x", "bio": []any{map[string]any{"count": "1", "deviceSubId": "0"}}}
	renameAttr(req, "env")
	renameAttr(req, "bio[0].count")
	renameAttr(req, "bio[3].count") // out of range: ignored
	renameAttr(req, "nope.x")
	b, _ := json.Marshal(req)
	if string(b) != `{"bio":[{"countXXX":"1","deviceSubId":"0"}],"envXXX":"x"}` {
		t.Fatalf("%s", b)
	}
	if got := mapSegments([]string{"LeftIndex", "RightThumb", "UNKNOWN", "Left"}); strings.Join(got, "|") != "Left IndexFinger|Right Thumb|UNKNOWN|Left" {
		t.Fatalf("mapSegments %v", got)
	}
}

func TestParseTarget(t *testing.T) {
	for in, ok := range map[string]bool{
		"http://127.0.0.1:4501": true, "http://127.0.0.1:4501/": true, "http://[::1]:4501": true,
		"https://127.0.0.1:4501": false, "127.0.0.1:4501": false, "http://127.0.0.1": false,
		"http://127.0.0.1:4501/device": false, "http://127.0.0.1:99999": false,
	} {
		tg, err := ParseTarget(in)
		if (err == nil) != ok {
			t.Errorf("%s: err %v", in, err)
		}
		if ok && (tg.Port != 4501 || strings.HasSuffix(tg.URL, "/")) {
			t.Errorf("%s: %+v", in, tg)
		}
	}
}

// decodeView builds MOSIP's decoded view and redacts every biometric
// field, keeping emptiness so the schema still sees the shape.
func TestDecodeViewRedacts(t *testing.T) {
	payload := `{"bioValue":"QUJDREVGR0hJSktMTU5PUA","digitalId":"","bioType":"Finger"}`
	jws := "eyJhbGciOiJSUzI1NiJ9." + b64url(payload) + ".c2ln"
	raw := `{"biometrics":[{"data":"` + jws + `","sessionKey":"U0VDUkVU","hash":"AB","error":{"errorCode":"0","errorInfo":"Success"}},
		{"data":"","sessionKey":"","hash":"","error":{"errorCode":"101","errorInfo":"x"}}]}`
	v, err := decodeView(suite.MethodCapture, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	out := string(marshalView(v))
	for _, leak := range []string{"QUJDREVGR0hJSktMTU5PUA", "U0VDUkVU", jws} {
		if strings.Contains(out, leak) {
			t.Fatalf("view leaks %q: %s", leak, out)
		}
	}
	for _, want := range []string{`"bioValue":"<redacted> 22 characters"`, `"sessionKey":"<redacted>"`, `"bioType":"Finger"`,
		`"data":"","`, `"sessionKey":""`} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %s: %s", want, out)
		}
	}
	if r := redactRaw(suite.MethodCapture, []byte("not json QUJDREVGR0hJ")); strings.Contains(string(r), "QUJD") {
		t.Fatalf("unreadable answer shown: %s", r)
	}
	// Discovery: the unsigned digital ID is decoded next to itself.
	did := b64url(`{"serialNo":"S1","type":"Finger"}`)
	v, err = decodeView(suite.MethodDevice, []byte(`[{"digitalId":"`+did+`"}]`))
	if err != nil || !strings.Contains(string(marshalView(v)), `"digitalIdDecoded":{"serialNo":"S1","type":"Finger"}`) {
		t.Fatalf("discovery view %s %v", marshalView(v), err)
	}
}

func b64url(s string) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := []byte(s)
	var out []byte
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := 0
		for j := 0; j < 3; j++ {
			n <<= 8
			if i+j < len(b) {
				n |= uint32(b[i+j])
				k++
			}
		}
		for j := 0; j <= k; j++ {
			out = append(out, enc[(n>>(18-6*j))&63])
		}
	}
	return string(out)
}

// The control hook speaks one JSON line each way and reports refusals.
func TestUnixControl(t *testing.T) {
	dir, err := os.MkdirTemp("", "ctl")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan map[string]any, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc := bufio.NewScanner(c)
			if sc.Scan() {
				var m map[string]any
				json.Unmarshal(sc.Bytes(), &m)
				got <- m
				if m["op"] == "present" {
					c.Write([]byte(`{"ok":false,"error":"finger needs an emulated fingerprint device"}` + "\n"))
				} else {
					c.Write([]byte(`{"ok":true}` + "\n"))
				}
			}
			c.Close()
		}
	}()
	ctl, err := ParseControl("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := ctl.SetStatus(ctx, "D1", "Not Ready"); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m["op"] != "set-status" || m["device"] != "D1" || m["status"] != "Not Ready" {
		t.Fatalf("sent %v", m)
	}
	if err := ctl.HoldBusy(ctx, "D1", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m["op"] != "hold-busy" || m["ms"] != float64(1500) {
		t.Fatalf("sent %v", m)
	}
	if err := ctl.RotateKey(ctx, "D1"); err != nil || (<-got)["op"] != "rotate-key" {
		t.Fatal(err)
	}
	err = ctl.Present(ctx, "D1", false)
	if err == nil || !strings.Contains(err.Error(), "emulated fingerprint") {
		t.Fatalf("refusal not reported: %v", err)
	}
	if m := <-got; m["present"] != false {
		t.Fatalf("sent %v", m)
	}
	if _, err := ParseControl("tcp:1.2.3.4"); err == nil {
		t.Fatal("tcp hook accepted")
	}
	bad, _ := ParseControl("unix:" + filepath.Join(dir, "none.sock"))
	if err := bad.RotateKey(ctx, "D1"); err == nil {
		t.Fatal("missing socket not reported")
	}
}

func TestLinePrompter(t *testing.T) {
	var out strings.Builder
	p := &LinePrompter{In: strings.NewReader("\n"), Out: &out}
	if err := p.Ask(context.Background(), "lift the finger"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "lift the finger") {
		t.Fatalf("prompt %q", out.String())
	}
	if err := p.Ask(context.Background(), "again"); err != ErrAborted {
		t.Fatalf("EOF: %v", err)
	}
}

func TestKeyPersists(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreateKey(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreateKey(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !a.Key.Equal(b.Key) || sbi.Thumbprint(a.Cert) != sbi.Thumbprint(b.Cert) {
		t.Fatal("second load made a new key")
	}
	if st, _ := os.Stat(filepath.Join(dir, EncryptionKeyFile)); st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	os.WriteFile(filepath.Join(dir, EncryptionCertFile), []byte("junk"), 0o644)
	if _, err := LoadOrCreateKey(dir, time.Now()); err == nil {
		t.Fatal("a broken certificate was accepted")
	}
}

func TestStatusFromVerdicts(t *testing.T) {
	cr := (&Runner{o: Options{}}).newCaseRun(Planned{Case: &suite.Case{ID: "X", Methods: []string{"info"},
		ValidatorDefs: [][]suite.ValidatorDef{{{Name: suite.ValSchema}, {Name: suite.ValSignature}}}}, Device: testDevice("Finger", "Single", "Auth")})
	cr.pass(suite.ValSchema, "ok")
	cr.fail(suite.ValHash, "not named") // becomes a note
	c := cr.finish()
	if c.Status != report.Skipped || !strings.Contains(c.Reason, "SignatureValidator") {
		t.Fatalf("an unevaluated validator must not pass: %s %q", c.Status, c.Reason)
	}
	if len(c.Notes) != 1 || !strings.HasPrefix(c.Notes[0], "Hash: ") {
		t.Fatalf("notes %v", c.Notes)
	}
}
