package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
)

// captureBombs is the count needed for a count bomb of {} to fill n bytes.
func captureBombs(n int) int { return n / 3 }

// hostileCaptures are bodies POST /v1/captures/verify must refuse with a
// 4xx before verification: each is what a lenient parser resolves
// silently (duplicates, U+FFFD, case folding, unknown members) or what
// makes it allocate many times the body (count bombs at each array).
func hostileCaptures() []httpxtest.Hostile {
	const entry = `{"specVersion":"0.9.5","data":"a.b.c","hash":"00"}`
	const req = `{"env":"Developer","purpose":"Auth","specVersion":"0.9.5","transactionId":"txn-1","bio":[{"type":"Finger","count":"1","bioSubType":["UNKNOWN"]}]}`
	n := captureBombs(captureverify.MaxRequestSize - 200)
	return []httpxtest.Hostile{
		// The reproducer of issue #19: 1.95 MB of {} in biometrics.
		{Name: "count bomb response.biometrics (issue 19)", Body: httpxtest.CountBomb(`{"transactionId":"x","response":{"biometrics":`, 650000, `}}`)},
		{Name: "count bomb response.biometrics, valid id", Body: httpxtest.CountBomb(`{"transactionId":"txn-1","response":{"biometrics":`, n, `}}`)},
		{Name: "count bomb request.bio", Body: httpxtest.CountBomb(`{"transactionId":"txn-1","request":{"transactionId":"txn-1","bio":`, n, `},"response":{"biometrics":[`+entry+`]}}`)},
		{Name: "count bomb request.bio[0].bioSubType", Body: `{"transactionId":"txn-1","request":{"transactionId":"txn-1","bio":[{"type":"Finger","count":"1","bioSubType":[` + strings.Repeat(`"x",`, n/2) + `"x"]}]},"response":{"biometrics":[` + entry + `]}}`},
		{Name: "count bomb request.customOpts", Body: httpxtest.CountBomb(`{"transactionId":"txn-1","request":{"transactionId":"txn-1","bio":[{"type":"Finger","count":"1"}],"customOpts":`, n, `},"response":{"biometrics":[`+entry+`]}}`)},
		{Name: "count bomb response.biometrics[0].additionalInfo", Body: httpxtest.CountBomb(`{"transactionId":"txn-1","response":{"biometrics":[{"data":"a.b.c","additionalInfo":`, n, `}]}}`)},
		{Name: "count bomb unknown member", Body: httpxtest.CountBomb(`{"transactionId":"txn-1","response":{"biometrics":[]},"extra":`, n, `}`)},
		{Name: "member bomb response", Body: `{"transactionId":"txn-1","response":{"biometrics":[],` + memberBomb(n/8) + `}}`},
		{Name: "duplicate transactionId", Body: `{"transactionId":"txn-1","transactionId":"txn-2","response":{"biometrics":[` + entry + `]}}`},
		{Name: "duplicate response", Body: `{"transactionId":"txn-1","response":{"biometrics":[]},"response":{"biometrics":[` + entry + `]}}`},
		{Name: "duplicate data in an entry", Body: `{"transactionId":"txn-1","response":{"biometrics":[{"data":"a.b.c","data":"d.e.f","hash":"00"}]}}`},
		{Name: "duplicate request.transactionId", Body: `{"transactionId":"txn-1","request":{"transactionId":"txn-2","transactionId":"txn-1","bio":[{"type":"Finger","count":"1"}]},"response":{"biometrics":[` + entry + `]}}`},
		{Name: "invalid UTF-8 in transactionId", Body: "{\"transactionId\":\"txn-\xff\",\"response\":{\"biometrics\":[" + entry + "]}}"},
		{Name: "invalid UTF-8 in an entry", Body: "{\"transactionId\":\"txn-1\",\"response\":{\"biometrics\":[{\"specVersion\":\"0.9.5\xc3\",\"data\":\"a.b.c\",\"hash\":\"00\"}]}}"},
		{Name: "invalid UTF-8 in request.domainUri", Body: "{\"transactionId\":\"txn-1\",\"request\":{\"transactionId\":\"txn-1\",\"domainUri\":\"https://\xed\xa0\x80\",\"bio\":[{\"type\":\"Finger\",\"count\":\"1\"}]},\"response\":{\"biometrics\":[" + entry + "]}}"},
		{Name: "nesting in response", Body: `{"transactionId":"txn-1","response":{"biometrics":[{"data":"a.b.c","additionalInfo":` + httpxtest.Nest(n, "1") + `}]}}`},
		{Name: "nesting in request.customOpts", Body: `{"transactionId":"txn-1","request":{"transactionId":"txn-1","bio":[{"type":"Finger","count":"1"}],"customOpts":` + httpxtest.Nest(100, "1") + `},"response":{"biometrics":[]}}`},
		{Name: "wrong type transactionId", Body: `{"transactionId":12345,"response":{"biometrics":[]}}`},
		{Name: "wrong type request", Body: `{"transactionId":"txn-1","request":"CAPTURE","response":{"biometrics":[]}}`},
		{Name: "wrong type request.bio", Body: `{"transactionId":"txn-1","request":{"transactionId":"txn-1","bio":{"type":"Finger"}},"response":{"biometrics":[]}}`},
		{Name: "unknown member", Body: `{"transactionId":"txn-1","response":{"biometrics":[` + entry + `]},"extra":1}`},
		{Name: "unknown member in request", Body: `{"transactionId":"txn-1","request":{"transactionId":"txn-1","bio":[{"type":"Finger","count":"1","extra":1}]},"response":{"biometrics":[` + entry + `]}}`},
		{Name: "case-folded name", Body: `{"TransactionId":"txn-1","response":{"biometrics":[` + entry + `]}}`},
		{Name: "case-folded name in request", Body: `{"transactionId":"txn-1","request":{"TransactionID":"txn-1","bio":[{"type":"Finger","count":"1"}]},"response":{"biometrics":[]}}`},
		{Name: "trailing data", Body: `{"transactionId":"txn-1","request":` + req + `,"response":{"biometrics":[` + entry + `]}} {}`},
		{Name: "over the size limit", Body: `{"transactionId":"txn-1","response":"` + strings.Repeat("A", captureverify.MaxRequestSize) + `"}`, Want: http.StatusRequestEntityTooLarge},
	}
}

// memberBomb is n distinct members "m0":0,"m1":0,...
func memberBomb(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"m`)
		b.WriteString(itoa(i))
		b.WriteString(`":0`)
	}
	return b.String()
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var d []byte
	for ; i > 0; i /= 10 {
		d = append([]byte{byte('0' + i%10)}, d...)
	}
	return string(d)
}

func newHandler(t *testing.T) http.Handler {
	t.Helper()
	st, err := db.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := truststate.Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(Config{Trust: reg, Verifier: &captureverify.Verifier{Trust: reg}, RateLimit: -1})
}

// TestHostileBodies: every hostile body is a 400 (413 over the size
// limit) with nosniff, at an allocation under httpxtest.Budget — the
// issue #19 reproducer cost encoding/json ~434 MB (docs/api/appliance.md,
// "Limits").
func TestHostileBodies(t *testing.T) {
	cases := hostileCaptures()
	for i := range cases {
		if cases[i].Want == 0 {
			cases[i].Want = http.StatusBadRequest
		}
	}
	worst := httpxtest.CheckRefused(t, newHandler(t), http.MethodPost, "/v1/captures/verify", nil, cases)
	t.Logf("POST /v1/captures/verify: worst allocation %d kB", worst>>10)
}

// TestUnroutedAndHeaders: unknown paths and methods are answered in the
// documented JSON error shape, and every answer (metrics too) carries
// nosniff and no-store.
func TestUnroutedAndHeaders(t *testing.T) {
	h := newHandler(t)
	for _, c := range []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/nope", 404, ""},
		{"GET", "/v1/devices", 404, ""},
		{"DELETE", "/v1/status", 405, "GET, HEAD"},
		{"GET", "/v1/captures/verify", 405, "POST"},
		{"PUT", "/v1/captures/verify", 405, "POST"},
		{"GET", "/v1/status", 200, ""},
		{"GET", "/healthz", 200, ""},
		{"GET", "/v1/devices/SN-1", 404, ""},
	} {
		rec, _ := httpxtest.Serve(h, c.method, c.path, "", nil)
		if rec.Code != c.code {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
		for k, v := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("%s %s: %s %q, want %q", c.method, c.path, k, got, v)
			}
		}
		if c.allow != "" && rec.Header().Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, rec.Header().Get("Allow"), c.allow)
		}
		if rec.Code != 200 && !strings.HasPrefix(rec.Body.String(), `{"error":`) {
			t.Errorf("%s %s: answer %q is not the JSON error shape", c.method, c.path, rec.Body)
		}
	}
}
