package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/httpapi"
	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/internal/keyring"
)

// bodyEndpoint is one central endpoint that takes a JSON body, described
// for the hostile-bodies suite (issue #19).
type bodyEndpoint struct {
	path  string
	admin bool // needs the admin token
	max   int  // its body limit
	// str is a string member of its contract (for duplicates, invalid
	// UTF-8 and wrong types).
	str string
	// arrays are the arrays of its contract, each as the JSON around the
	// array: prefix + [{},{},…] + suffix.
	arrays [][2]string
	// closed: a member the contract does not name is refused.
	closed bool
}

var bodyEndpoints = []bodyEndpoint{
	{path: "/v1/appliances/ap-1/audit", max: audit.MaxUploadBytes, str: "origin", closed: true, arrays: [][2]string{
		{`{"origin":"appliance/ap-1","from":0,"entries":`, `}`},
	}},
	{path: enrol.PathStart, max: enrol.MaxRequestBytes, str: "token", closed: true},
	{path: enrol.PathFinish, max: enrol.MaxRequestBytes, str: "session", closed: true, arrays: [][2]string{
		{`{"session":"s","devices":`, `}`},
	}},
	{path: enrol.PathRotateStart, max: enrol.MaxRequestBytes, str: "serial", closed: true},
	{path: enrol.PathRotateFinish, max: enrol.MaxRequestBytes, str: "session", closed: true},
	{path: "/v1/admin/vendors", admin: true, max: httpapi.MaxAdminBody, str: "name", closed: true},
	{path: "/v1/admin/vendors/ACME/status", admin: true, max: httpapi.MaxAdminBody, str: "reason", closed: true},
	{path: "/v1/admin/devices/status", admin: true, max: httpapi.MaxAdminBody, str: "status", closed: true, arrays: [][2]string{
		{`{"status":"suspended","reason":"r","serials":`, `}`},
	}},
	{path: "/v1/admin/appliances/ap-1/status", admin: true, max: httpapi.MaxAdminBody, str: "reason", closed: true},
	{path: "/v1/admin/appliances/ap-1/group", admin: true, max: httpapi.MaxAdminBody, str: "group", closed: true},
	{path: "/v1/admin/tokens", admin: true, max: httpapi.MaxAdminBody, str: "vendorId", closed: true},
	{path: "/v1/admin/admin-tokens", admin: true, max: httpapi.MaxAdminBody, str: "name", closed: true},
	{path: "/v1/admin/relying-parties", admin: true, max: httpapi.MaxAdminBody, str: "name", closed: true, arrays: [][2]string{
		{`{"id":"rp","name":"RP","attributes":`, `}`},
		{`{"id":"rp","name":"RP","authTypes":`, `}`},
	}},
	{path: "/v1/admin/relying-parties/rp/status", admin: true, max: httpapi.MaxAdminBody, str: "reason", closed: true},
	{path: "/v1/admin/people", admin: true, max: people.MaxEnrolBytes, str: "group", closed: true, arrays: [][2]string{
		{`{"demographics":{"fullName":"A"},"captures":`, `}`},
		// The biometrics of an RCAPTURE answer, bare and in its envelope.
		{`{"demographics":{"fullName":"A"},"captures":[{"biometrics":`, `}]}`},
		{`{"demographics":{"fullName":"A"},"captures":[{"response":{"biometrics":`, `}}]}`},
		{`{"demographics":{"fullName":"A"},"captures":[{"request":{"purpose":"Registration","bio":`, `},"response":{"biometrics":[]}}]}`},
	}},
	{path: "/v1/admin/people/show", admin: true, max: httpapi.MaxAdminBody, str: "uin", closed: true},
	{path: "/v1/admin/people/locks", admin: true, max: httpapi.MaxAdminBody, str: "uin", closed: true, arrays: [][2]string{
		{`{"uin":"2000000000","lock":`, `}`},
		{`{"uin":"2000000000","unlock":`, `}`},
	}},
	{path: "/v1/admin/vids", admin: true, max: httpapi.MaxAdminBody, str: "uin", closed: true},
	{path: "/v1/admin/vids/list", admin: true, max: httpapi.MaxAdminBody, str: "uin", closed: true},
	{path: "/v1/admin/vids/revoke", admin: true, max: httpapi.MaxAdminBody, str: "reason", closed: true},
	{path: attestation.PathEvidence, max: attestation.MaxEvidenceBytes, str: "id", closed: true, arrays: [][2]string{
		{`{"kind":"device","id":"SN1","eventLog":`, `}`},
	}},
}

// hostileBodies builds the suite for one endpoint: every body is one a
// strict server refuses before it does any work.
func hostileBodies(e bodyEndpoint) []httpxtest.Hostile {
	s := e.str
	cases := []httpxtest.Hostile{
		{Name: "duplicate", Body: fmt.Sprintf(`{%q:"a",%q:"b"}`, s, s), Want: http.StatusBadRequest},
		{Name: "invalid-utf8", Body: fmt.Sprintf("{%q:\"a\xffb\"}", s), Want: http.StatusBadRequest},
		{Name: "wrong-type", Body: fmt.Sprintf(`{%q:123}`, s), Want: http.StatusBadRequest},
		{Name: "not-an-object", Body: `"x"`, Want: http.StatusBadRequest},
		{Name: "trailing", Body: fmt.Sprintf(`{%q:"a"} {}`, s), Want: http.StatusBadRequest},
		{Name: "truncated", Body: fmt.Sprintf(`{%q:"a"`, s), Want: http.StatusBadRequest},
		{Name: "nesting", Body: fmt.Sprintf(`{%q:"a","x":%s}`, s, httpxtest.Nest(e.max/2-64, "1")), Want: http.StatusBadRequest},
		{Name: "members", Body: memberBomb(s, e.max), Want: http.StatusBadRequest},
		{Name: "too-large", Body: fmt.Sprintf(`{%q:"%s"}`, s, strings.Repeat("a", e.max)), Want: http.StatusRequestEntityTooLarge},
	}
	if e.closed {
		cases = append(cases,
			httpxtest.Hostile{Name: "unknown", Body: fmt.Sprintf(`{%q:"a","notInTheContract":1}`, s), Want: http.StatusBadRequest},
			httpxtest.Hostile{Name: "case-folded", Body: fmt.Sprintf(`{%q:"a"}`, strings.ToUpper(s)), Want: http.StatusBadRequest})
	}
	for i, a := range e.arrays {
		n := (e.max - len(a[0]) - len(a[1]) - 2) / 3
		cases = append(cases, httpxtest.Hostile{Name: fmt.Sprintf("count-bomb-%d", i), Body: httpxtest.CountBomb(a[0], n, a[1]), Want: http.StatusBadRequest})
	}
	return cases
}

// memberBomb is an object with as many one-letter members as fit in max.
func memberBomb(first string, max int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{%q:"a"`, first)
	for i := 0; sb.Len() < max-32; i++ {
		fmt.Fprintf(&sb, `,"m%d":0`, i)
	}
	sb.WriteString("}")
	return sb.String()
}

// TestHostileBodies sends every endpoint that takes a body the shapes of
// issue #19 and asserts each is refused with its status, nosniff and the
// JSON error shape, within the per-request allocation budget. It logs the
// worst allocation per endpoint (docs/api/central.md, "Limits").
func TestHostileBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("sends multi-megabyte bodies")
	}
	h := newCentral(t)
	srv := h.c.Handler(central.HTTPOptions{EnrolRate: 1000, AdminRate: 1000})
	worst := map[string]uint64{}
	for _, e := range bodyEndpoints {
		header := http.Header{}
		if e.admin {
			header.Set("Authorization", "Bearer "+h.token)
		}
		cases := hostileBodies(e)
		t.Run(strings.ReplaceAll(e.path, "/", "_"), func(t *testing.T) {
			worst[e.path] = httpxtest.CheckRefused(t, srv, http.MethodPost, e.path, header, cases)
			// The refusals are in central's error shape, and name the
			// problem without echoing the body.
			for _, tc := range cases[:2] {
				rec, _ := httpxtest.Serve(srv, http.MethodPost, e.path, tc.Body, header)
				var out struct {
					Error *enrol.Error `json:"error"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Error == nil || out.Error.Code != enrol.CodeBadRequest {
					t.Errorf("%s: answer %q, want {\"error\":{\"code\":%q,…}}", tc.Name, rec.Body, enrol.CodeBadRequest)
					continue
				}
				if want := map[string]string{"duplicate": "twice", "invalid-utf8": "UTF-8"}[tc.Name]; !strings.Contains(out.Error.Message, want) {
					t.Errorf("%s: message %q does not say %q", tc.Name, out.Error.Message, want)
				}
			}
		})
	}
	paths := make([]string, 0, len(worst))
	for p := range worst {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		t.Logf("worst allocation %-40s %8d kB", p, worst[p]>>10)
	}
}

// TestUnroutedJSON: what the mux has no route for is answered in central's
// error shape, with the headers of every answer.
func TestUnroutedJSON(t *testing.T) {
	h := newCentral(t)
	srv := h.c.Handler(central.HTTPOptions{EnrolRate: 1000, AdminRate: 1000})
	for _, tc := range []struct {
		method, path string
		code         int
		errCode      string
	}{
		{"GET", "/nope", http.StatusNotFound, enrol.CodeNotFound},
		{"POST", "/v1/admin/vendors/x/y/z", http.StatusNotFound, enrol.CodeNotFound},
		{"DELETE", "/v1/admin/vendors", http.StatusMethodNotAllowed, httpapi.CodeMethodNotAllowed},
		{"PUT", enrol.PathStart, http.StatusMethodNotAllowed, httpapi.CodeMethodNotAllowed},
	} {
		rec, _ := httpxtest.Serve(srv, tc.method, tc.path, "", nil)
		var out struct {
			Error *enrol.Error `json:"error"`
		}
		if rec.Code != tc.code || json.Unmarshal(rec.Body.Bytes(), &out) != nil || out.Error == nil || out.Error.Code != tc.errCode {
			t.Errorf("%s %s: %d %q, want %d with code %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.errCode)
		}
		for k, want := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("%s %s: %s %q, want %q", tc.method, tc.path, k, got, want)
			}
		}
		if tc.code == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tc.method, tc.path)
		}
	}
}

// TestCredentialThrottle: failed admin and enrolment token checks are
// throttled per client address and per claimed token id, counted in
// edgetrust_central_auth_failures_total; other clients are unaffected.
func TestCredentialThrottle(t *testing.T) {
	h := newCentral(t)
	srv := h.c.Handler(central.HTTPOptions{EnrolRate: 1000, AdminRate: 1000, TrustProxy: true, FailureRate: 0.001, FailureBurst: 3})
	from := func(addr, tok string) http.Header {
		hd := http.Header{"X-Forwarded-For": {addr}}
		if tok != "" {
			hd.Set("Authorization", "Bearer "+tok)
		}
		return hd
	}
	throttled := func(check string) float64 { return authFailures(t, check, "throttled") }
	refused := func(check string) float64 { return authFailures(t, check, "refused") }

	// Guessing from one address: three refusals, then 429 unchecked, even
	// for the right token from that address.
	r0, t0 := refused("admin"), throttled("admin")
	for i := range 3 {
		bogus := fmt.Sprintf("eta_%016d_guess", i)
		if rec, _ := httpxtest.Serve(srv, "GET", "/v1/admin/vendors", "", from("192.0.2.1", bogus)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, rec.Code)
		}
	}
	for _, tok := range []string{"eta_0000000000000009_guess", h.token} {
		if rec, _ := httpxtest.Serve(srv, "GET", "/v1/admin/vendors", "", from("192.0.2.1", tok)); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
			t.Errorf("after 3 failures: %d, want 429 with Retry-After", rec.Code)
		}
	}
	if got := refused("admin") - r0; got != 3 {
		t.Errorf("admin refused counter +%v, want +3", got)
	}
	if got := throttled("admin") - t0; got != 2 {
		t.Errorf("admin throttled counter +%v, want +2", got)
	}
	// Another address with the right token is not slowed.
	if rec, _ := httpxtest.Serve(srv, "GET", "/v1/admin/vendors", "", from("192.0.2.2", h.token)); rec.Code != http.StatusOK {
		t.Errorf("right token from another address: %d, want 200", rec.Code)
	}
	// Guessing one token id's secret from many addresses: the id is
	// throttled wherever the guesses come from.
	id, _, _ := strings.Cut(strings.TrimPrefix(h.token, "eta_"), "_")
	for i := range 3 {
		if rec, _ := httpxtest.Serve(srv, "GET", "/v1/admin/vendors", "", from(fmt.Sprintf("198.51.100.%d", i), "eta_"+id+"_wrong")); rec.Code != http.StatusUnauthorized {
			t.Fatalf("secret guess %d: %d, want 401", i, rec.Code)
		}
	}
	if rec, _ := httpxtest.Serve(srv, "GET", "/v1/admin/vendors", "", from("198.51.100.99", "eta_"+id+"_wrong")); rec.Code != http.StatusTooManyRequests {
		t.Errorf("4th guess at one token id from a new address: %d, want 429", rec.Code)
	}

	// Enrolment tokens likewise.
	e0 := throttled("enrolment")
	start := func(addr, tok string) int {
		rec, _ := httpxtest.Serve(srv, "POST", enrol.PathStart, fmt.Sprintf(`{"token":%q,"ekPublic":"AA==","akPublic":"AA=="}`, tok), from(addr, ""))
		return rec.Code
	}
	for i := range 3 {
		if code := start("203.0.113.1", fmt.Sprintf("ete_%016d_guess", i)); code != http.StatusUnauthorized {
			t.Fatalf("enrolment guess %d: %d, want 401", i, code)
		}
	}
	if code := start("203.0.113.1", "ete_0000000000000042_guess"); code != http.StatusTooManyRequests {
		t.Errorf("4th enrolment guess: %d, want 429", code)
	}
	if got := throttled("enrolment") - e0; got != 1 {
		t.Errorf("enrolment throttled counter +%v, want +1", got)
	}
	if code := start("203.0.113.2", h.deviceToken(t, "ACME")); code == http.StatusTooManyRequests || code == http.StatusUnauthorized {
		t.Errorf("a real token from another address: %d, want it checked", code)
	}

	// Each lock-out is an auth.lockout row in the hash-chained audit log,
	// naming the address or the token id, never a presented secret, with
	// the Retry-After the 429s carry (one failure token at 0.001/s).
	rows, err := h.c.Audit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rows {
		if r.Action != "auth.lockout" {
			continue
		}
		got = append(got, r.Subject)
		if strings.Contains(string(r.Detail), "guess") || strings.Contains(string(r.Detail), "wrong") || strings.Contains(r.Subject, "wrong") {
			t.Errorf("lock-out row names a secret: %s %s", r.Subject, r.Detail)
		}
		if !strings.Contains(string(r.Detail), `"retryAfterSeconds":1000`) || !strings.Contains(string(r.Detail), `"failures":3`) {
			t.Errorf("lock-out detail %s", r.Detail)
		}
	}
	if want := "addr:192.0.2.1 admin-token:" + id + " addr:203.0.113.1"; strings.Join(got, " ") != want {
		t.Errorf("lock-outs audited %q, want %q", strings.Join(got, " "), want)
	}
	if _, err := h.c.VerifyAudit(context.Background()); err != nil {
		t.Errorf("audit chain after lock-outs: %v", err)
	}
	if rec, _ := httpxtest.Serve(srv, "GET", "/v1/admin/vendors", "", from("192.0.2.1", h.token)); rec.Header().Get("Retry-After") != "1000" {
		t.Errorf("Retry-After %q, want 1000", rec.Header().Get("Retry-After"))
	}
}

// authFailures reads edgetrust_central_auth_failures_total{check,result}
// from central's metrics registry.
func authFailures(t *testing.T, check, result string) float64 {
	t.Helper()
	mfs, err := httpapi.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "edgetrust_central_auth_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			if l["check"] == check && l["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func init() { keyring.WorkFactor = 10 } // fast keyrings in tests

// testCentral is a central on a badger store in a temporary directory,
// with an admin token and a vendor: the handlers are tested as they are
// wired, over central's own operations.
type testCentral struct {
	c     *central.Central
	admin *central.Admin
	token string
}

func newCentral(t *testing.T) *testCentral {
	t.Helper()
	st, err := badgerstore.Open(t.TempDir(), badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	k, err := central.InitKeyring(t.TempDir(), []byte("correct horse battery"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := central.New(central.Config{Store: st, Keys: k, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	ctx := context.Background()
	tok, rec, err := c.CreateAdminToken(ctx, "system", "test")
	if err != nil {
		t.Fatal(err)
	}
	h := &testCentral{c: c, token: tok, admin: &central.Admin{TokenID: rec.ID, Name: rec.Name}}
	if _, err := c.AddVendor(ctx, h.admin, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *testCentral) deviceToken(t *testing.T, vendor string) string {
	t.Helper()
	r, err := h.c.CreateEnrolmentToken(context.Background(), h.admin, central.TokenRequest{Kind: store.TokenDevice, VendorID: vendor})
	if err != nil {
		t.Fatal(err)
	}
	return r.Token
}

// TestFeedWaitersBounded: feed long polls waiting at once are bounded per
// client address and in all; one past a bound is answered 429 with
// Retry-After at once, and a request without wait is never counted.
func TestFeedWaitersBounded(t *testing.T) {
	h := newCentral(t)
	srv := httptest.NewServer(h.c.Handler(central.HTTPOptions{TrustProxy: true, MaxFeedWaiters: 3, MaxFeedWaitersPerClient: 2}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r0, err := http.Get(srv.URL + "/v1/feeds/trust")
	if err != nil {
		t.Fatal(err)
	}
	r0.Body.Close()
	head := r0.Header.Get(httpapi.HeaderFeedHead)
	get := func(ctx context.Context, addr, wait string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/feeds/trust?after="+head+wait, nil)
		req.Header.Set("X-Forwarded-For", addr)
		return http.DefaultClient.Do(req)
	}
	var wg sync.WaitGroup
	hold := func(addr string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r, err := get(ctx, addr, "&wait=60s"); err == nil {
				r.Body.Close()
			}
		}()
	}
	waiting := func(n float64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for waiters(t) != n {
			if time.Now().After(deadline) {
				t.Fatalf("%v long polls waiting, want %v", waiters(t), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	base := waiters(t)
	hold("192.0.2.1")
	hold("192.0.2.1")
	waiting(base + 2)
	expect := func(addr, wait string, code int) {
		t.Helper()
		r, err := get(context.Background(), addr, wait)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != code || (code == http.StatusTooManyRequests && r.Header.Get("Retry-After") == "") {
			t.Fatalf("%s wait %q: %d (Retry-After %q), want %d", addr, wait, r.StatusCode, r.Header.Get("Retry-After"), code)
		}
	}
	expect("192.0.2.1", "&wait=60s", http.StatusTooManyRequests) // third from one address
	expect("192.0.2.1", "", http.StatusOK)                       // no wait: not a waiter
	hold("192.0.2.2")
	waiting(base + 3)
	expect("192.0.2.3", "&wait=60s", http.StatusTooManyRequests) // past the total
	cancel()
	wg.Wait()
	waiting(base)
	expect("192.0.2.3", "&wait=1ms", http.StatusOK) // the slots came back
}

// waiters reads edgetrust_central_feed_waiters.
func waiters(t *testing.T) float64 {
	t.Helper()
	mfs, err := httpapi.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "edgetrust_central_feed_waiters" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}
