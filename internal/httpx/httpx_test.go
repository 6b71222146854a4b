package httpx

import (
	"net/http/httptest"
	"testing"
)

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteJSON(rec, 418, map[string]string{"a": "<b>"})
	if rec.Code != 418 {
		t.Fatalf("status %d", rec.Code)
	}
	for k, v := range map[string]string{"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
		if got := rec.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	if got := rec.Body.String(); got != "{\"a\":\"\\u003cb\\u003e\"}\n" {
		t.Errorf("body %q", got)
	}
}
