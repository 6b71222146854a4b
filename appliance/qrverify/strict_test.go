package qrverify

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHostileBodies: the QR endpoint refuses what a lenient parser would
// resolve silently, before any verification runs (Verifier is nil here, so
// reaching it would panic the test).
func TestHostileBodies(t *testing.T) {
	h := &Handler{}
	for _, tc := range []struct{ name, body string }{
		{"duplicate text", `{"text":"HC1:AAA","text":"HC1:BBB"}`},
		{"invalid UTF-8", "{\"text\":\"HC1:\xff\"}"},
		{"unknown member", `{"text":"HC1:AAA","txet":"x"}`},
		{"case-folded name", `{"Text":"HC1:AAA"}`},
		{"nested", `{"text":{"a":1}}`},
		{"array bomb", `{"text":"x","image":[` + strings.Repeat("1,", 10000) + `1]}`},
		{"trailing data", `{"text":"HC1:AAA"} {}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/v1/qr/verify", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400 (body %s)", rec.Code, rec.Body)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Content-Type": "application/json"} {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}
