package sbi

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNumString(t *testing.T) {
	var v struct {
		A, B, C, D NumString
	}
	if err := json.Unmarshal([]byte(`{"A":3,"B":"3","C":null,"D":" 40.5 "}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "3" || v.B != "3" || v.C != "" || v.D != "40.5" {
		t.Fatalf("%+v", v)
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"A":"3","B":"3","C":"","D":"40.5"}` {
		t.Errorf("marshal %s", out)
	}
	for _, bad := range []string{`{"A":true}`, `{"A":{}}`, `{"A":[1]}`, `{"A":"` + strings.Repeat("9", 100) + `"}`} {
		if err := json.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if n, err := NumString("12").Int(); err != nil || n != 12 {
		t.Error(n, err)
	}
	for _, bad := range []NumString{"", "1.5", "x", "9999999999"} {
		if _, err := bad.Int(); err == nil {
			t.Errorf("Int(%q) accepted", bad)
		}
	}
	for _, bad := range []NumString{"", "NaN", "Inf", "0x10", "1_0", "abc"} {
		if _, err := bad.Float(); err == nil {
			t.Errorf("Float(%q) accepted", bad)
		}
	}
}

func TestScore(t *testing.T) {
	for in, want := range map[float64]string{40: "40.0", 87.25: "87.25", 0: "0.0", 100: "100.0", 150: "100.0", -3: "0.0"} {
		if got := Score(in); string(got) != want || !ValidScore(want) {
			t.Errorf("Score(%v)=%q", in, got)
		}
	}
	for s, ok := range map[string]bool{"0": true, "40": true, "40.0": true, "99.99": true, "100": true, "100.00": true,
		"100.5": false, "101": false, "-1": false, "": false, "4.": false, ".5": false, "1e2": false, "007": false} {
		if ValidScore(s) != ok {
			t.Errorf("ValidScore(%q) != %v", s, ok)
		}
	}
}

func TestStringList(t *testing.T) {
	var r DiscoverRequest
	if err := json.Unmarshal([]byte(`{"type":"Finger","specVersion":"1.0.0"}`), &r); err != nil || len(r.SpecVersion) != 1 || r.SpecVersion[0] != "1.0.0" {
		t.Fatalf("%+v %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"type":"Finger","specVersion":["0.9.5","1.0.0"]}`), &r); err != nil || len(r.SpecVersion) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if err := json.Unmarshal([]byte(`{"specVersion":[1]}`), &r); err == nil {
		t.Error("accepted number in specVersion")
	}
}

func TestCanonicalMethod(t *testing.T) {
	for in, want := range map[string]string{"MOSIPDINFO": MethodInfo, "MOSIPINFO": MethodInfo, "SBIINFO": MethodInfo,
		"MOSIPDISC": MethodDiscover, "SBIDISC": MethodDiscover, "CAPTURE": MethodCapture, "RCAPTURE": MethodRCapture, "STREAM": MethodStream} {
		if got, ok := CanonicalMethod(in); !ok || got != want {
			t.Errorf("%s -> %s %v", in, got, ok)
		}
	}
	for _, m := range []string{"GET", "POST", "mosipdisc", "INFO"} {
		if _, ok := CanonicalMethod(m); ok {
			t.Errorf("%s accepted", m)
		}
	}
}

// Requests as the registration client, the CTK and eSignet send them.
func TestParseCaptureRequestTolerant(t *testing.T) {
	bodies := map[string]string{
		"esignet numbers":      `{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":10000,"captureTime":"2025-03-01T11:59:59.123Z","domainUri":"https://x","transactionId":"abcd-1234","bio":[{"type":"Finger","count":1,"bioSubType":["UNKNOWN"],"requestedScore":40,"deviceId":"1","deviceSubId":0}],"customOpts":null}`,
		"rc strings null hash": `{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":"10000","captureTime":"2025-03-01T11:59:59","domainUri":"https://x","transactionId":"abcd-1234","bio":[{"type":"Finger","count":"1","bioSubType":["UNKNOWN"],"requestedScore":"40","deviceId":"1","deviceSubId":"0","previousHash":null}]}`,
		"absent hash":          `{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":"10000","captureTime":"x","domainUri":"https://x","transactionId":"abcd-1234","bio":[{"type":"Finger","count":"1","bioSubType":["UNKNOWN"],"requestedScore":"40","deviceId":"1","deviceSubId":"0"}]}`,
		"empty hash":           `{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":"10000","captureTime":"x","domainUri":"https://x","transactionId":"abcd-1234","bio":[{"type":"Finger","count":"1","bioSubType":["UNKNOWN"],"requestedScore":"40","deviceId":"1","deviceSubId":"0","previousHash":""}]}`,
	}
	for name, body := range bodies {
		r, err := ParseCaptureRequest([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b := r.Bio[0]
		if b.Count != "1" || b.DeviceSubID != "0" || b.RequestedScore != "40" || r.Timeout != "10000" || b.PreviousHash != "" {
			t.Errorf("%s: %+v", name, r)
		}
		if e := ValidateCaptureRequest(PurposeAuth, r); !e.OK() {
			t.Errorf("%s: %v", name, e)
		}
	}
	// Face with null subtypes (CTK) reads as empty strings and passes.
	r, err := ParseCaptureRequest([]byte(`{"env":"Staging","purpose":"Auth","specVersion":"0.9.5","transactionId":"abcd","bio":[{"type":"Face","count":"1","bioSubType":[null],"deviceSubId":"0"}]}`))
	if err != nil || !ValidateCaptureRequest(PurposeAuth, r).OK() {
		t.Errorf("face null subtype: %v %v", err, ValidateCaptureRequest(PurposeAuth, r))
	}
}

func TestParseBounds(t *testing.T) {
	big := `{"bio":[` + strings.Repeat(`{},`, MaxBiometrics) + `{}]}`
	if _, err := ParseCaptureRequest([]byte(big)); !errors.Is(err, ErrTooMany) {
		t.Errorf("bio count: %v", err)
	}
	if _, err := ParseCaptureRequest(make([]byte, MaxRequestSize+1)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size: %v", err)
	}
	subs := `{"bio":[{"bioSubType":[` + strings.Repeat(`"a",`, maxListLen) + `"a"]}]}`
	if _, err := ParseCaptureRequest([]byte(subs)); !errors.Is(err, ErrTooMany) {
		t.Errorf("subtypes: %v", err)
	}
	resp := `{"biometrics":[` + strings.Repeat(`{},`, MaxBiometrics) + `{}]}`
	if _, err := ParseCaptureResponse([]byte(resp)); !errors.Is(err, ErrTooMany) {
		t.Errorf("entries: %v", err)
	}
	disc := `[` + strings.Repeat(`{},`, MaxDevices) + `{}]`
	if _, err := ParseDiscoverResponse([]byte(disc)); !errors.Is(err, ErrTooMany) {
		t.Errorf("devices: %v", err)
	}
	_, err := ParseCaptureRequest([]byte(`{"env": "secret-biometric-xyz`))
	if !errors.Is(err, ErrJSON) || strings.Contains(err.Error(), "secret") {
		t.Errorf("syntax error leaks input or is untyped: %v", err)
	}
	if r, err := ParseInfoRequest(nil); err != nil || r.Type != "" {
		t.Errorf("empty info body: %v", err)
	}
	if r, err := ParseInfoRequest([]byte(`{"type":"Face","specVersion":["1.0.0"]}`)); err != nil || r.Type != TypeFace {
		t.Errorf("SBI1 info body: %v", err)
	}
}

func TestOutputShapes(t *testing.T) {
	b, _ := json.Marshal(Success)
	if string(b) != `{"errorCode":"0","errorInfo":"Success"}` {
		t.Errorf("success %s", b)
	}
	b, _ = json.Marshal(ErrorCapture(PurposeAuth, "", NewError(CodeInvalidTransactionID)))
	if string(b) != `{"biometrics":[{"specVersion":"0.9.5","data":"","hash":"","sessionKey":"","thumbprint":"","error":{"errorCode":"112","errorInfo":"Invalid transaction ID"}}]}` {
		t.Errorf("auth error %s", b)
	}
	b, _ = json.Marshal(ErrorCapture(PurposeRegistration, "0.9.5", NewError(CodeCountNotSupported)))
	if strings.Contains(string(b), "sessionKey") || strings.Contains(string(b), "thumbprint") || !strings.Contains(string(b), `"errorCode":"109"`) {
		t.Errorf("registration error %s", b)
	}
	b, _ = json.Marshal(ErrorList(NewError(CodeInvalidType)))
	if string(b) != `[{"error":{"errorCode":"502","errorInfo":"Invalid type value"}}]` {
		t.Errorf("error list %s", b)
	}
	// Client requests: bioSubType always an array, exception only when set.
	b, _ = json.Marshal(BioRequest{Type: TypeFace, Count: "1"})
	if !strings.Contains(string(b), `"bioSubType":[]`) || strings.Contains(string(b), "exception") || !strings.Contains(string(b), `"count":"1"`) {
		t.Errorf("auth bio %s", b)
	}
	b, _ = json.Marshal(BioRequest{Type: TypeFinger, Exception: []string{}})
	if !strings.Contains(string(b), `"exception":[]`) {
		t.Errorf("rcapture bio %s", b)
	}
	// Face data has no bioSubType key; registration data no domainUri.
	b, _ = json.Marshal(CaptureData{BioType: TypeFace})
	if strings.Contains(string(b), "bioSubType") || strings.Contains(string(b), "domainUri") {
		t.Errorf("face data %s", b)
	}
	for _, e := range []string{CodeNotRegistered, CodeCountNotSupported, CodeInvalidTransactionID, CodeBusy} {
		if !ValidErrorCode(e) || NewError(e).Info == "" {
			t.Errorf("code %s", e)
		}
	}
	if ValidErrorCode(CodeSuccess) || ValidErrorCode("09") || ValidErrorCode("1000") {
		t.Error("ValidErrorCode too loose")
	}
	if CallbackID(4501) != "http://127.0.0.1:4501/" {
		t.Error(CallbackID(4501))
	}
}

func TestParseTime(t *testing.T) {
	tm, err := ParseTime("2020-12-08T09:39:37Z")
	if err != nil || !tm.Equal(time.Date(2020, 12, 8, 9, 39, 37, 0, time.UTC)) {
		t.Fatal(tm, err)
	}
	for _, s := range []string{"2020-12-08T09:39:37.123Z", "2020-12-08T09:39:37.1Z"} {
		if _, err := ParseTime(s); !errors.Is(err, ErrMilliseconds) {
			t.Errorf("%s: %v", s, err)
		}
	}
	for _, s := range []string{"2020-12-08 09:39:37Z", "2020-12-08T09:39:37+00:00", "2020-12-08T09:39:37", "2020-02-30T09:39:37Z", "2020-12-08T25:39:37Z", "", "2020-12-08T09:39:37z"} {
		if _, err := ParseTime(s); !errors.Is(err, ErrTimeFormat) {
			t.Errorf("%q: %v", s, err)
		}
	}
	if got := FormatTime(time.Date(2025, 1, 2, 3, 4, 5, 999_000_000, time.FixedZone("X", 3600))); got != "2025-01-02T02:04:05Z" {
		t.Errorf("FormatTime %s", got)
	}
	for _, s := range []string{"2025-03-01T11:59:59.123Z", "2025-03-01T11:59:59", "2025-03-01T11:59:59Z", "2025-03-01T13:59:59+02:00"} {
		tm, err := ParseTimeLenient(s)
		if err != nil || tm.Truncate(time.Second) != time.Date(2025, 3, 1, 11, 59, 59, 0, time.UTC) {
			t.Errorf("lenient %s: %v %v", s, tm, err)
		}
	}
	if _, err := ParseTimeLenient("yesterday"); err == nil {
		t.Error("lenient accepted junk")
	}
}

func TestSignedPayloadKeys(t *testing.T) {
	if _, err := ParseCaptureData([]byte(`{"transactionId":"a","bioType":"Finger"}`)); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{
		`{"transactionId":"a","transactionId":"b"}`,
		`{"transactionId":"a","TRANSACTIONID":"b"}`,
		`{"deviceCode":"a","de\u212Aicecode":"b"}`, // not a fold of deviceCode, allowed below
		"{\"bioSubType\":\"x\",\"bioSubType\":null}",
	} {
		_, err := ParseCaptureData([]byte(b))
		if strings.Contains(b, "212A") {
			if err != nil {
				t.Errorf("%s: %v", b, err)
			}
			continue
		}
		if !errors.Is(err, ErrJSON) {
			t.Errorf("%s: %v", b, err)
		}
	}
	// Kelvin sign folds to k, so "\u212Aey"-style variants count as duplicates.
	if _, err := ParseDigitalID([]byte(`{"make":"a","ma\u212Ae":"b"}`)); !errors.Is(err, ErrJSON) {
		t.Errorf("Kelvin-sign variant: %v", err)
	}
	if _, err := ParseDeviceInfo([]byte(`{"env":"a","ENV":"b"}`)); !errors.Is(err, ErrJSON) {
		t.Errorf("device info duplicate: %v", err)
	}
}
