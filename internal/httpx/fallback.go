package httpx

import "net/http"

// Fallback answers the requests mux has no route for in the server's own
// error shape instead of net/http's text/plain "404 page not found": write
// is called with 404, or 405 for a known path with another method (the
// Allow header is kept, as RFC 9110 asks). Routed requests go to mux as they
// are.
func Fallback(mux *http.ServeMux, write func(w http.ResponseWriter, r *http.Request, code int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r)
			return
		}
		// No pattern: the mux's answer is a 404 or a 405 (redirects have a
		// pattern). Run it into a recorder for its status and Allow.
		rec := &statusOnly{h: http.Header{}}
		h.ServeHTTP(rec, r)
		if rec.code != http.StatusNotFound && rec.code != http.StatusMethodNotAllowed {
			mux.ServeHTTP(w, r) // not expected; answer as the mux would
			return
		}
		if a := rec.h.Get("Allow"); a != "" {
			w.Header().Set("Allow", a)
		}
		write(w, r, rec.code)
	})
}

type statusOnly struct {
	h    http.Header
	code int
}

func (s *statusOnly) Header() http.Header { return s.h }
func (s *statusOnly) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return len(b), nil
}
func (s *statusOnly) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
}
