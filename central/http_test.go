package central

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/enrol"
)

func (h *harness) do(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(rsp.Body)
	json.Unmarshal(b, &out)
	return rsp.StatusCode, out
}

func TestAdminAuthentication(t *testing.T) {
	h := newHarness(t)
	wrongSecret := h.token[:strings.LastIndexByte(h.token, '_')+1] + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for _, tok := range []string{"", "nonsense", wrongSecret, "eta_0123456789abcdef_x"} {
		code, body := h.do(t, "GET", "/v1/admin/vendors", tok, nil)
		if code != http.StatusUnauthorized || body["error"].(map[string]any)["code"] != enrol.CodeUnauthorized {
			t.Errorf("token %q: %d %v", tok, code, body)
		}
	}
	// An enrolment token is not an admin token.
	tr, err := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: "device", VendorID: "ACME"})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := h.do(t, "GET", "/v1/admin/vendors", tr.Token, nil); code != http.StatusUnauthorized {
		t.Errorf("enrolment token accepted as admin: %d", code)
	}
	code, body := h.do(t, "GET", "/v1/admin/whoami", h.token, nil)
	if code != http.StatusOK || body["TokenID"] != h.admin.TokenID {
		t.Errorf("whoami = %d %v", code, body)
	}
	// Every admin change is audited under the admin's token id.
	code, _ = h.do(t, "POST", "/v1/admin/vendors", h.token, map[string]string{"id": "ZETA", "name": "Zeta"})
	if code != http.StatusOK {
		t.Fatalf("vendor add: %d", code)
	}
	rows, err := h.c.Audit(ctx, storeAuditSubject("vendor:ZETA"))
	if err != nil || len(rows) != 1 || rows[0].Actor != "admin:"+h.admin.TokenID || rows[0].Action != "vendor.add" {
		t.Errorf("audit of vendor add = %+v, %v", rows, err)
	}
	// Unknown fields and bad values are refused with a reason.
	code, body = h.do(t, "POST", "/v1/admin/vendors", h.token, map[string]string{"id": "A B", "name": "x"})
	if code != http.StatusBadRequest || !strings.Contains(body["error"].(map[string]any)["message"].(string), "letters, digits") {
		t.Errorf("bad vendor id: %d %v", code, body)
	}
	code, _ = h.do(t, "POST", "/v1/admin/tokens", h.token, map[string]string{"kind": "device", "vendorId": "ACME", "color": "red"})
	if code != http.StatusBadRequest {
		t.Errorf("unknown field: %d", code)
	}
	code, body = h.do(t, "POST", "/v1/admin/tokens", h.token, map[string]string{"kind": "device", "vendorId": "ACME", "ttl": "48h"})
	if code != http.StatusBadRequest {
		t.Errorf("ttl 48h: %d %v", code, body)
	}
}

func TestRateLimits(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.c.Handler(HTTPOptions{EnrolRate: 1, AdminRate: 1}))
	defer srv.Close()
	count := func(path, method, tok string) (ok, limited int) {
		for i := 0; i < 10; i++ {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(`{}`))
			if tok != "" {
				req.Header.Set("Authorization", "Bearer "+tok)
			}
			rsp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			rsp.Body.Close()
			if rsp.StatusCode == http.StatusTooManyRequests {
				limited++
			} else {
				ok++
			}
		}
		return
	}
	if ok, limited := count(enrol.PathStart, "POST", ""); ok != 4 || limited != 6 {
		t.Errorf("enrolment: %d answered, %d limited; want burst 4", ok, limited)
	}
	if ok, limited := count("/v1/admin/vendors", "GET", "bad"); ok != 4 || limited != 6 {
		t.Errorf("admin: %d answered, %d limited; want burst 4", ok, limited)
	}
	// Feeds are not limited: appliances poll them.
	if ok, limited := count("/v1/feeds/trust?after=0", "GET", ""); limited != 0 || ok != 10 {
		t.Errorf("feed: %d limited", limited)
	}
}

// The token bucket itself is tested in internal/httpx (TestLimiterRefills
// moved there with its assertions).
