package verifypage

import (
	"embed"
	"net/http"
	"strings"
)

// Prefix is where the page is mounted.
const Prefix = "/verify/"

// CSP is the page's Content-Security-Policy: everything from the appliance
// itself, images also from data: (the credential's photo) and blob:, the
// camera stream as blob:, nothing inline, never framed.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

//go:embed static
var static embed.FS

var files = map[string]struct {
	name, ctype string
}{
	"":        {"static/index.html", "text/html; charset=utf-8"},
	"app.js":  {"static/app.js", "text/javascript; charset=utf-8"},
	"app.css": {"static/app.css", "text/css; charset=utf-8"},
}

// Handler serves the page under Prefix (GET and HEAD).
func Handler() http.Handler {
	body := map[string][]byte{}
	for k, f := range files {
		b, err := static.ReadFile(f.name)
		if err != nil {
			panic("verifypage: embedded " + f.name + " missing: " + err.Error()) // a build error, not input
		}
		body[k] = b
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
		// A shown result is PII: nothing of the page is kept in caches either.
		h.Set("Cache-Control", "no-store")
		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		f, known := files[name]
		if !ok || !known {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte("not found: the verifier page is at " + Prefix + "\n"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusMethodNotAllowed)
			w.Write([]byte("use GET\n"))
			return
		}
		h.Set("Content-Type", f.ctype)
		if r.Method == http.MethodHead {
			return
		}
		w.Write(body[name])
	})
}
