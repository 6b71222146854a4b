package qrverify

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/claim169/trust"
)

// FuzzHandler: the body of POST /v1/qr/verify is untrusted (JSON, or a raw
// PNG/JPEG). Whatever arrives, the handler must not panic and must answer
// JSON with one of the statuses docs/api/appliance.md lists.
func FuzzHandler(f *testing.F) {
	for _, s := range []struct {
		ct   byte
		body string
	}{
		{0, `{"text":"HC1:6BFOXN%TSMAHN-H"}`},
		{0, `{"image":"iVBORw0KGgo="}`},
		{0, `{"text":"x","image":"AA=="}`},
		{0, `{"text":"HC1:AAA","text":"HC1:BBB"}`},
		{1, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"},
		{2, "\xff\xd8\xff\xe0\x00\x10JFIF"},
		{3, `{}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	cts := []string{"application/json", "image/png", "image/jpeg", "text/plain", "", "application/json; charset=utf-8"}
	h := &Handler{Verifier: &trust.Verifier{}, Rate: 1e9}
	f.Fuzz(func(t *testing.T, ct byte, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/qr/verify", strings.NewReader(string(body)))
		if c := cts[int(ct)%len(cts)]; c != "" {
			req.Header.Set("Content-Type", c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var v map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Fatalf("answer is not JSON: %v: %q", err, rec.Body)
		}
	})
}
