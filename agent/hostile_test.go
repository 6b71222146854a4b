package agent

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/sbi"
)

// hostileSBI is the strict-input table of issue #19 for every SBI verb.
// SBI answers errors with HTTP 200 and an error object ([095] §1.3), so
// every refusal here is a 200 whose errorCode is 123 (malformed request),
// and never a capture: the answer carries no data and nothing was signed.
func hostileSBI(t *testing.T) map[string][]httpxtest.Hostile {
	good, _ := json.Marshal(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN"))
	capture := strings.TrimSuffix(string(good), "}")
	pre := capture[:strings.Index(capture, `"bio":`)]
	return map[string][]httpxtest.Hostile{
		"CAPTURE /capture": {
			{Name: "duplicate domainUri", Body: capture + `,"domainUri":"https://other.example"}`},
			{Name: "domainUri not UTF-8", Body: strings.Replace(string(good), "ida.example.org", "ida.\xc0\xafexample.org", 1)},
			{Name: "domainUri lone surrogate", Body: strings.Replace(string(good), "ida.example.org", `ida.\udc00example.org`, 1)},
			{Name: "domainUri case variant", Body: capture + `,"DOMAINURI":"https://other.example"}`},
			{Name: "duplicate in bio", Body: strings.Replace(string(good), `"count":"1"`, `"count":"1","count":"2"`, 1)},
			{Name: "bio count bomb", Body: httpxtest.CountBomb(pre+`"bio":`, 21000, `}`)},
			{Name: "bioSubType bomb", Body: strings.Replace(string(good), `"bioSubType":["UNKNOWN"]`, `"bioSubType":`+httpxtest.CountBomb("", 20000, ""), 1)},
			{Name: "customOpts nesting", Body: capture + `,"customOpts":` + httpxtest.Nest(30000, "0") + `}`},
			{Name: "customOpts members", Body: capture + `,"customOpts":{` + manyMembers(1000) + `}}`},
			{Name: "bio of wrong type", Body: pre + `"bio":"Finger"}`},
			{Name: "trailing data", Body: string(good) + `{}`},
			{Name: "over 64 KiB", Body: capture + `,"customOpts":"` + strings.Repeat("a", MaxBody) + `"}`},
		},
		"RCAPTURE /capture": {
			{Name: "duplicate transactionId", Body: `{"env":"Developer","purpose":"Registration","transactionId":"abcd","transactionId":"efgh","bio":[]}`},
			{Name: "invalid UTF-8", Body: "{\"env\":\"Dev\xffeloper\",\"purpose\":\"Registration\",\"bio\":[]}"},
			{Name: "exception bomb", Body: `{"purpose":"Registration","bio":[{"type":"Finger","exception":` + httpxtest.CountBomb("", 20000, "") + `}]}`},
		},
		"MOSIPDISC /device": {
			{Name: "duplicate type", Body: `{"type":"Palm","type":"Finger"}`},
			{Name: "invalid UTF-8", Body: "{\"type\":\"Fin\xffger\"}"},
			{Name: "specVersion bomb", Body: `{"type":"Finger","specVersion":` + strings.ReplaceAll(httpxtest.CountBomb("", 15000, ""), "{}", `"1"`) + `}`},
			{Name: "nesting", Body: httpxtest.Nest(30000, "{}")},
		},
		"MOSIPDINFO /info": {
			{Name: "duplicate type", Body: `{"type":"Face","type":"Finger"}`},
			{Name: "invalid UTF-8", Body: "{\"type\":\"\xed\xa0\x80\"}"},
			{Name: "specVersion bomb", Body: `{"specVersion":` + strings.ReplaceAll(httpxtest.CountBomb("", 15000, ""), "{}", `"1"`) + `}`},
		},
		"STREAM /stream": {
			{Name: "duplicate deviceId", Body: `{"deviceId":"TFR000000001","deviceId":"TFA000000001","deviceSubId":"1"}`},
			{Name: "invalid UTF-8", Body: "{\"deviceId\":\"TFR\xff\",\"deviceSubId\":\"1\"}"},
			{Name: "object of wrong type", Body: `{"deviceId":["TFR000000001"],"deviceSubId":"1"}`},
		},
	}
}

func manyMembers(n int) string {
	var sb strings.Builder
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`"k` + strings.Repeat("x", i%7) + itoa(i) + `":0`)
	}
	return sb.String()
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestHostileSBIBodies(t *testing.T) {
	h := startDev(t, t.TempDir())
	hd := h.svc.Handler()
	var worst uint64
	for target, cases := range hostileSBI(t) {
		verb, path, _ := strings.Cut(target, " ")
		for i := range cases {
			cases[i].Want = http.StatusOK // SBI: errors travel as 200
		}
		t.Run(target, func(t *testing.T) {
			w := httpxtest.CheckRefused(t, hd, verb, path, nil, cases)
			t.Logf("%s: worst allocation %d kB", target, w>>10)
			worst = max(worst, w)
			// CheckRefused judged status, nosniff and budget; the SBI
			// error code is in the body.
			for _, tc := range cases {
				rec, _ := httpxtest.Serve(hd, verb, path, tc.Body, nil)
				if got := errCode(t, rec.Body.Bytes()); got != sbi.CodeMalformedRequest {
					t.Errorf("%s: errorCode %s, want %s: %.300s", tc.Name, got, sbi.CodeMalformedRequest, rec.Body)
				}
				if strings.Contains(rec.Body.String(), `"data":"ey`) {
					t.Errorf("%s: a refused request was signed", tc.Name)
				}
				if got := rec.Header().Get("Cache-Control"); got != "no-store" {
					t.Errorf("%s: Cache-Control %q", tc.Name, got)
				}
			}
		})
	}
	t.Logf("worst allocation refusing a hostile SBI body: %d kB", worst>>10)
	// The agent is unharmed.
	h.capture(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN"))
}

// Every answer carries nosniff and no-store: successes, the CORS preflight,
// the 405 for an unknown verb, in the SBI error shape.
func TestAnswerHeaders(t *testing.T) {
	h := startDev(t, t.TempDir())
	hd := h.svc.Handler()
	good, _ := json.Marshal(authReq("TFA000000001", sbi.TypeFinger, 1, "UNKNOWN"))
	for _, c := range []struct {
		verb, path, body string
		status           int
		code             string
	}{
		{"MOSIPDISC", "/device", `{"type":"Biometric Device"}`, 200, ""},
		{"MOSIPDINFO", "/info", ``, 200, ""},
		{"CAPTURE", "/capture", string(good), 200, "0"},
		{"OPTIONS", "/capture", ``, 200, ""},
		{"DELETE", "/capture", ``, 405, sbi.CodeMalformedRequest},
		{"GET", "/nowhere", ``, 405, sbi.CodeMalformedRequest},
		{"CAPTURE", "/nowhere", string(good), 200, sbi.CodeMalformedRequest},
	} {
		rec, _ := httpxtest.Serve(hd, c.verb, c.path, c.body, nil)
		if rec.Code != c.status {
			t.Errorf("%s %s: status %d, want %d", c.verb, c.path, rec.Code, c.status)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s %q, want %q", c.verb, c.path, k, got, v)
			}
		}
		if c.status == 405 && !strings.Contains(rec.Header().Get("Allow"), "CAPTURE") {
			t.Errorf("%s %s: 405 without Allow", c.verb, c.path)
		}
		if c.code != "" {
			if got := errCode(t, rec.Body.Bytes()); got != c.code {
				t.Errorf("%s %s: errorCode %s, want %s", c.verb, c.path, got, c.code)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: Content-Type %q", c.verb, c.path, ct)
			}
		}
	}
}

func TestMetricsHandlerFallback(t *testing.T) {
	hd := MetricsHandler()
	for _, c := range []struct {
		method, path string
		code         int
		ct           string
	}{
		{"GET", "/healthz", 200, "text/plain; charset=utf-8"},
		{"GET", "/metrics", 200, ""},
		{"GET", "/nope", 404, "application/json"},
		{"POST", "/metrics", 405, "application/json"},
	} {
		rec, _ := httpxtest.Serve(hd, c.method, c.path, "", nil)
		if rec.Code != c.code || c.ct != "" && rec.Header().Get("Content-Type") != c.ct {
			t.Errorf("%s %s: %d %q, want %d %q", c.method, c.path, rec.Code, rec.Header().Get("Content-Type"), c.code, c.ct)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: no nosniff", c.method, c.path)
		}
		if c.code >= 400 && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Errorf("%s %s: body %q", c.method, c.path, rec.Body)
		}
	}
}
