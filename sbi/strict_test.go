package sbi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// parsers are every SBI entry point that reads a JSON document from outside.
var parsers = map[string]func([]byte) error{
	"DiscoverRequest":  func(b []byte) error { _, err := ParseDiscoverRequest(b); return err },
	"InfoRequest":      func(b []byte) error { _, err := ParseInfoRequest(b); return err },
	"CaptureRequest":   func(b []byte) error { _, err := ParseCaptureRequest(b); return err },
	"StreamRequest":    func(b []byte) error { _, err := ParseStreamRequest(b); return err },
	"StreamError":      func(b []byte) error { _, err := ParseStreamError(b); return err },
	"DiscoverResponse": func(b []byte) error { _, err := ParseDiscoverResponse(b); return err },
	"InfoResponse":     func(b []byte) error { _, err := ParseInfoResponse(b); return err },
	"CaptureResponse":  func(b []byte) error { _, err := ParseCaptureResponse(b); return err },
	"DeviceInfo":       func(b []byte) error { _, err := ParseDeviceInfo(b); return err },
	"DigitalID":        func(b []byte) error { _, err := ParseDigitalID(b); return err },
	"CaptureData":      func(b []byte) error { _, err := ParseCaptureData(b); return err },
}

func kindOf(err error) string {
	var je *jsonx.Error
	if errors.As(err, &je) {
		return je.Kind
	}
	return ""
}

// Every parser refuses a duplicated member and invalid UTF-8, at the top
// and nested, whatever the document's shape.
func TestStrictEveryParser(t *testing.T) {
	for name, parse := range parsers {
		for _, c := range []struct {
			what, body, kind string
		}{
			{"duplicate", `{"type":"Finger","type":"Face"}`, jsonx.KindDuplicate},
			{"nested duplicate", `[{"error":{"errorCode":"0","errorCode":"100"}}]`, jsonx.KindDuplicate},
			{"nested duplicate in object", `{"error":{"errorCode":"0","errorCode":"100"}}`, jsonx.KindDuplicate},
			{"invalid UTF-8", "{\"type\":\"Fin\xffger\"}", jsonx.KindUTF8},
			{"invalid UTF-8 name", "{\"ty\xc3pe\":\"Finger\"}", jsonx.KindUTF8},
			{"lone surrogate", `{"type":"\ud800"}`, jsonx.KindUTF8},
			{"trailing data", `{"type":"Finger"} {}`, jsonx.KindTrailing},
		} {
			err := parse([]byte(c.body))
			if !errors.Is(err, ErrJSON) {
				t.Errorf("%s, %s: %v, want ErrJSON", name, c.what, err)
				continue
			}
			if k := kindOf(err); k != c.kind && !(c.kind == jsonx.KindUTF8 && k == jsonx.KindSyntax) {
				t.Errorf("%s, %s: kind %q, want %q (%v)", name, c.what, k, c.kind, err)
			}
		}
	}
}

// The differential of issue #19: a CAPTURE whose domainUri is given twice,
// or carries bytes that are not UTF-8, must not read as one of its values.
func TestCaptureRequestDomainURI(t *testing.T) {
	base := `{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":"10000","transactionId":"abcd-1234","bio":[{"type":"Finger","count":"1","deviceSubId":"0"}],`
	for name, c := range map[string]struct {
		tail, kind string
	}{
		"duplicate":     {`"domainUri":"https://a.example","domainUri":"https://b.example"}`, jsonx.KindDuplicate},
		"invalid UTF-8": {"\"domainUri\":\"https://\xc0\xafb.example\"}", jsonx.KindUTF8},
		"fold variant":  {`"domainUri":"https://a.example","DOMAINURI":"https://b.example"}`, ""},
		"env twice":     {`"env":"Production","domainUri":"https://a.example"}`, jsonx.KindDuplicate},
		"escaped twice": {`"domainUri":"https://a.example","domain\u0055ri":"https://b.example"}`, jsonx.KindDuplicate},
	} {
		r, err := ParseCaptureRequest([]byte(base + c.tail))
		if !errors.Is(err, ErrJSON) || r != nil {
			t.Errorf("%s: %+v %v, want ErrJSON", name, r, err)
			continue
		}
		if c.kind != "" && kindOf(err) != c.kind {
			t.Errorf("%s: kind %q, want %q", name, kindOf(err), c.kind)
		}
		if strings.Contains(err.Error(), "example") {
			t.Errorf("%s: error quotes a value: %v", name, err)
		}
	}
	if r, err := ParseCaptureRequest([]byte(base + `"domainUri":"https://a.example"}`)); err != nil || r.DomainURI != "https://a.example" {
		t.Fatalf("plain request: %+v %v", r, err)
	}
}

// Count bombs are refused while the tokens stream by, within the
// per-request budget, where encoding/json builds every element first.
func TestCountBombs(t *testing.T) {
	const n = 650000 // 1.95 MB of {}, the shape of issue #19
	for name, c := range map[string]struct {
		body  string
		parse func([]byte) error
	}{
		"biometrics":  {httpxtest.CountBomb(`{"biometrics":`, n, `}`), parsers["CaptureResponse"]},
		"bio":         {httpxtest.CountBomb(`{"transactionId":"abcd","bio":`, 21000, `}`), parsers["CaptureRequest"]},
		"discovery":   {httpxtest.CountBomb(``, n, ``), parsers["DiscoverResponse"]},
		"info":        {httpxtest.CountBomb(``, n, ``), parsers["InfoResponse"]},
		"deviceSubId": {httpxtest.CountBomb(`{"deviceSubId":`, n, `}`), parsers["DeviceInfo"]},
		"specVersion": {strings.Replace(httpxtest.CountBomb(`{"type":"Face","specVersion":`, 15000, `}`), "{}", `"1"`, -1), parsers["DiscoverRequest"]},
		"members":     {`{"biometrics":[{"additionalInfo":{` + members(MaxMembers+1) + `}}]}`, parsers["CaptureResponse"]},
		"nesting":     {`{"biometrics":[{"additionalInfo":` + httpxtest.Nest(100000, "0") + `}]}`, parsers["CaptureResponse"]},
		"customOpts":  {`{"customOpts":` + httpxtest.Nest(MaxDepth, "0") + `}`, parsers["CaptureRequest"]},
	} {
		var err error
		body := []byte(c.body)
		got := httpxtest.Allocated(func() { err = c.parse(body) })
		if !errors.Is(err, ErrTooMany) || kindOf(err) != jsonx.KindLimit {
			t.Errorf("%s: %v, want ErrTooMany", name, err)
		}
		if b := httpxtest.Budget(len(c.body)); got > b {
			t.Errorf("%s: refusing %d bytes allocated %d (budget %d)", name, len(c.body), got, b)
		}
		t.Logf("%s: %d-byte body refused, %d kB allocated: %v", name, len(c.body), got>>10, err)
	}
	// Before: what encoding/json allocated for the same biometrics bomb.
	bomb := []byte(httpxtest.CountBomb(`{"biometrics":`, n, `}`))
	v1 := httpxtest.Allocated(func() { var r CaptureResponse; _ = json.Unmarshal(bomb, &r) })
	t.Logf("encoding/json on the biometrics bomb: %d MB allocated", v1>>20)
}

func members(n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"m` + itoa(i) + `":0`)
	}
	return sb.String()
}

// What SBI tolerates stays tolerated: numbers or strings, null, absent,
// members this version does not know.
func TestStrictKeepsTolerance(t *testing.T) {
	r, err := ParseCaptureRequest([]byte(`{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","timeout":10000,"captureTime":"2025-03-01T12:00:00Z","domainUri":"https://x","transactionId":"abcd","bio":[{"type":"Finger","count":1,"bioSubType":["UNKNOWN"],"requestedScore":40.5,"deviceId":"1","deviceSubId":0,"previousHash":null,"serialNo":"S1"}],"customOpts":{"k":"v"},"futureField":[1,2]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.Timeout != "10000" || r.Bio[0].Count != "1" || r.Bio[0].RequestedScore != "40.5" || string(r.CustomOpts) != `{"k":"v"}` {
		t.Errorf("%+v", r)
	}
	d, err := ParseDiscoverRequest([]byte(`{"type":"Face","specVersion":"1.0.0"}`))
	if err != nil || len(d.SpecVersion) != 1 {
		t.Errorf("specVersion as a string: %+v %v", d, err)
	}
	se, err := ParseStreamError([]byte(`{"errorCode":601,"errorInfo":"x"}`))
	if err != nil || se.Err().Code != "601" {
		t.Errorf("flat stream error: %+v %v", se, err)
	}
}

// A JWS header naming alg twice could say RS256 to this package and
// something else to go-jose or a Java verifier: refused before either
// looks at it. So are invalid UTF-8 and case-variant names in a payload.
func TestJWSHeaderStrict(t *testing.T) {
	p := getPKI(t)
	leaf := `["` + base64Std(p.device.Chain[0].Raw) + `"]`
	for name, h := range map[string]string{
		"alg twice":      `{"alg":"none","alg":"RS256","x5c":` + leaf + `}`,
		"x5c twice":      `{"alg":"RS256","x5c":["AAAA"],"x5c":` + leaf + `}`,
		"invalid UTF-8":  "{\"alg\":\"RS256\",\"typ\":\"JW\xffT\",\"x5c\":" + leaf + "}",
		"trailing":       `{"alg":"RS256","x5c":` + leaf + `}{}`,
		"deep nesting":   `{"alg":"RS256","x5c":` + leaf + `,"x":` + httpxtest.Nest(20, "0") + `}`,
		"duplicate deep": `{"alg":"RS256","x5c":` + leaf + `,"jwk":{"n":"a","n":"b"}}`,
	} {
		jws := handJWS(t, p.deviceKey, h, `{}`)
		if _, err := ParseJWS(jws); !errors.Is(err, ErrJWSFormat) {
			t.Errorf("%s: ParseJWS %v, want ErrJWSFormat", name, err)
		}
		if _, err := PeekHeader(jws); !errors.Is(err, ErrJWSFormat) {
			t.Errorf("%s: PeekHeader %v, want ErrJWSFormat", name, err)
		}
	}
	if _, err := ParseJWS(handJWS(t, p.deviceKey, `{"alg":"RS256","x5c":`+leaf+`}`, `{}`)); err != nil {
		t.Fatalf("plain header: %v", err)
	}
	// The data payload the verifier and MinimalRequest read.
	for _, b := range []string{
		`{"bioType":"Finger","bioType":"Iris"}`,
		`{"bioType":"Finger","BIOTYPE":"Iris"}`,
		"{\"bioType\":\"Fin\xffger\"}",
	} {
		if _, err := ParseCaptureData([]byte(b)); !errors.Is(err, ErrJSON) {
			t.Errorf("%q: %v", b, err)
		}
	}
}

func base64Std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
