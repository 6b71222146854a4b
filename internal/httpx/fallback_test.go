package httpx

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestFallback(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	mux.HandleFunc("/dir/", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) })
	h := Fallback(mux, func(w http.ResponseWriter, r *http.Request, code int) {
		WriteJSON(w, code, map[string]string{"error": strconv.Itoa(code)})
	})
	for _, tc := range []struct {
		method, path string
		code         int
		body, allow  string
	}{
		{"GET", "/v1/things/7", 200, "{\"id\":\"7\"}\n", ""},
		{"GET", "/nope", 404, "{\"error\":\"404\"}\n", ""},
		{"DELETE", "/v1/things/7", 405, "{\"error\":\"405\"}\n", "GET, HEAD"},
		{"GET", "/dir", 307, "", ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.code || (tc.code != 307 && rec.Body.String() != tc.body) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, rec.Code, rec.Body, tc.code, tc.body)
		}
		if got := rec.Header().Get("Allow"); got != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, got, tc.allow)
		}
		if tc.code >= 400 && rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, rec.Header().Get("Content-Type"))
		}
		if tc.code == 307 && rec.Header().Get("Location") != "/dir/" {
			t.Errorf("redirect Location %q", rec.Header().Get("Location"))
		}
	}
}
