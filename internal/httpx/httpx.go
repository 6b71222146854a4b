package httpx

import (
	"encoding/json"
	"net/http"
)

// Header sets the headers every JSON answer carries: its type, no MIME
// sniffing, and no caching (answers carry identity data, tokens and
// signed decisions that must not linger in a proxy or browser cache).
func Header(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// WriteJSON writes v as a JSON answer with status code.
func WriteJSON(w http.ResponseWriter, code int, v any) {
	Header(w)
	w.WriteHeader(code)
	// The status is sent; an encoding error can only be a broken
	// connection, which the client sees.
	_ = json.NewEncoder(w).Encode(v)
}
