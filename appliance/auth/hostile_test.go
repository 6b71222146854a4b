package auth_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
)

// hostileAuth are bodies POST /v1/auth must refuse with a 4xx, for a
// relying party with a good key, before any decision (so before the audit
// log): what a lenient parser resolves silently, and count bombs at each
// array and object.
func hostileAuth(number string) []httpxtest.Hostile {
	const head = `{"transactionId":"txn-hostile-1","individualId":"`
	good := head + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao"}`
	bio := `{"transactionId":"txn-hostile-1","individualId":"` + number + `","consent":true,"requestedAuth":{"bio":true},"biometrics":`
	n := (auth.MaxBody - 400) / 3
	return []httpxtest.Hostile{
		// Issue #19's reproducer, in the auth request's capture.
		{Name: "count bomb biometrics.biometrics", Body: httpxtest.CountBomb(bio+`{"biometrics":`, n, `}}`)},
		{Name: "count bomb biometrics.biometrics[0].additionalInfo", Body: httpxtest.CountBomb(bio+`{"biometrics":[{"data":"a.b.c","additionalInfo":`, n, `}]}}`)},
		{Name: "count bomb unknown member", Body: httpxtest.CountBomb(good+`,"extra":`, n, `}`)},
		{Name: "member bomb demographics", Body: head + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{` + members(n/8, `"x"`) + `}}`},
		{Name: "member bomb request", Body: good + `,` + members(n/8, `0`) + `}`},
		{Name: "duplicate individualId", Body: head + `0000000000000000","individualId":"` + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao"}}`},
		{Name: "duplicate consent", Body: good + `,"consent":false}`},
		{Name: "duplicate demographic", Body: head + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Nobody","fullName":"Asha Rao"}}`},
		{Name: "duplicate requestedAuth.demo", Body: head + number + `","consent":true,"requestedAuth":{"demo":false,"demo":true},"demographics":{"fullName":"Asha Rao"}}`},
		{Name: "duplicate in the capture", Body: bio + `{"biometrics":[{"data":"a.b.c","data":"d.e.f"}]}}`},
		{Name: "invalid UTF-8 in a demographic value", Body: head + number + "\",\"consent\":true,\"requestedAuth\":{\"demo\":true},\"demographics\":{\"fullName\":\"Asha R\xe4o\"}}"},
		{Name: "invalid UTF-8 in an attribute name", Body: head + number + "\",\"consent\":true,\"requestedAuth\":{\"demo\":true},\"demographics\":{\"full\xffName\":\"Asha Rao\"}}"},
		{Name: "invalid UTF-8 (surrogate) in the capture", Body: bio + "{\"biometrics\":[{\"data\":\"a.b.c\",\"hash\":\"\xed\xb0\x80\"}]}}"},
		{Name: "nesting in biometrics", Body: bio + `{"biometrics":[{"data":"a.b.c","additionalInfo":` + httpxtest.Nest(n, "1") + `}]}}`},
		{Name: "nesting in an unknown member", Body: good + `,"extra":` + httpxtest.Nest(100, "1") + `}`},
		{Name: "wrong type consent", Body: head + number + `","consent":"yes","requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao"}}`},
		{Name: "wrong type demographics", Body: head + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":["Asha Rao"]}`},
		{Name: "wrong type demographic value", Body: head + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":1}}`},
		{Name: "wrong type biometrics", Body: bio + `"CAPTURE"}`},
		{Name: "unknown member", Body: good + `,"extra":1}`},
		{Name: "unknown member in requestedAuth", Body: head + number + `","consent":true,"requestedAuth":{"demo":true,"otp":true},"demographics":{"fullName":"Asha Rao"}}`},
		{Name: "case-folded name", Body: head + number + `","Consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao"}}`},
		{Name: "trailing data", Body: good + `} {}`},
		{Name: "over the size limit", Body: good + `,"id":"` + strings.Repeat("A", auth.MaxBody) + `"}`, Want: http.StatusRequestEntityTooLarge},
	}
}

// members is n distinct members "m0":v,"m1":v,...
func members(n int, v string) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"m` + strconv.Itoa(i) + `":` + v)
	}
	return b.String()
}

// TestHostileBodies: every hostile body is a 400 (413 over the size
// limit) with nosniff, at an allocation under httpxtest.Budget, and no
// decision is made or audited. A duplicated individualId is refused, not
// resolved to the last (the real) VID; invalid UTF-8 in a demographic
// value is refused, not matched as U+FFFD.
func TestHostileBodies(t *testing.T) {
	f := newFixture(t, nil)
	number := f.person("1111222233", "perpetual", asha, nil, nil)
	cases := hostileAuth(number)
	for i := range cases {
		if cases[i].Want == 0 {
			cases[i].Want = http.StatusBadRequest
		}
	}
	hdr := http.Header{"Authorization": {"Bearer " + f.rpKeys["kiosk-a"].String()}}
	worst := httpxtest.CheckRefused(t, f.h, http.MethodPost, "/v1/auth", hdr, cases)
	t.Logf("POST /v1/auth: worst allocation %d kB", worst>>10)
	if n := f.audit.count(); n != 0 {
		t.Fatalf("%d decisions audited for refused bodies", n)
	}
	// The good body these are variations of is a decision.
	good := `{"transactionId":"txn-hostile-2","individualId":"` + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao"},"id":"mosip.identity.auth","version":"1.0","requestTime":"2026-01-01T00:00:00.000Z"}`
	if a := f.post("kiosk-a", []byte(good)); a.status != http.StatusOK || !a.resp.Decision.AuthStatus {
		t.Fatalf("the good body: %d %s", a.status, a.body)
	}
}
