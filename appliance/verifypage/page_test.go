package verifypage_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/appliance/qrverify"
	"github.com/edgetrust/edgetrust/appliance/verifypage"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/internal/browsertest"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Result()
}

func TestServes(t *testing.T) {
	h := verifypage.Handler()
	for path, ctype := range map[string]string{"/verify/": "text/html", "/verify/app.js": "text/javascript", "/verify/app.css": "text/css"} {
		r := get(t, h, "GET", path)
		b, _ := io.ReadAll(r.Body)
		if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), ctype) || len(b) < 100 {
			t.Fatalf("%s: %d %s %d bytes", path, r.StatusCode, r.Header.Get("Content-Type"), len(b))
		}
		for k, v := range map[string]string{"Content-Security-Policy": verifypage.CSP, "X-Content-Type-Options": "nosniff",
			"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := r.Header.Get(k); got != v {
				t.Errorf("%s: %s = %q, want %q", path, k, got, v)
			}
		}
		if r := get(t, h, "HEAD", path); r.StatusCode != 200 {
			t.Errorf("HEAD %s: %d", path, r.StatusCode)
		}
		if r := get(t, h, "POST", path); r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d %v", path, r.StatusCode, r.Header)
		}
	}
	for _, p := range []string{"/verify/x.js", "/verify/static/app.js", "/verify/../v1/status", "/verify/index.html"} {
		if r := get(t, h, "GET", p); r.StatusCode != 404 || r.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
	}
}

// TestNoInline: the page has no inline script, style or handler, and every
// asset it names is served (from the appliance: no other origin).
func TestNoInline(t *testing.T) {
	h := verifypage.Handler()
	b, _ := io.ReadAll(get(t, h, "GET", "/verify/").Body)
	html := string(b)
	for _, bad := range []string{"<style", " style=", " onclick=", " onload=", " onerror=", " onsubmit=", "javascript:", "//"} {
		if strings.Contains(html, bad) {
			t.Errorf("index.html contains %q", bad)
		}
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html names %d assets", len(refs))
	}
	for _, r := range refs {
		if p := get(t, h, "GET", "/verify/"+r[1]); p.StatusCode != 200 {
			t.Errorf("asset %s: %d", r[1], p.StatusCode)
		}
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(html, -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("inline script %s", tag)
		}
	}
}

// TestVerdictWords: the page's plain words for answers the end-to-end tests
// (internal/integration/verifier) do not reach: lists out of date (refused,
// or accepted with a warning), no trust list, a code that is not a
// credential. The answers come from the real qrverify handler.
func TestVerdictWords(t *testing.T) {
	now := time.Now()
	lpub, lpriv, _ := ed25519.GenerateKey(rand.Reader)
	ipub, ipriv, _ := ed25519.GenerateKey(rand.Reader)
	kid := []byte{1, 2, 3, 4}
	is, err := claim169.NewIssuer(ipriv, &claim169.IssuerOptions{KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	text, err := is.Issue(&claim169.Claims{Issuer: "https://id.example.org", IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0),
		Identity: claim169.Identity{ID: "42", FullName: "Test Person"}})
	if err != nil {
		t.Fatal(err)
	}
	ik, err := trust.NewIssuerKey(kid, ipub, "https://id.example.org", now.Add(-time.Hour), now.AddDate(2, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Lists issued a week ago, due yesterday: stale.
	file, err := trust.SignTrustList(lpriv, &trust.TrustList{IssuedAt: now.AddDate(0, 0, -7).Truncate(time.Second), NextUpdate: now.AddDate(0, 0, -1).Truncate(time.Second), Keys: []trust.IssuerKey{ik}})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := trust.ParseTrustList(file, map[string]ed25519.PublicKey{trust.KeyID(lpub): lpub})
	if err != nil {
		t.Fatal(err)
	}
	strict, lenient, empty := &trust.Verifier{RejectStale: true}, &trust.Verifier{}, &trust.Verifier{RejectStale: true}
	for _, v := range []*trust.Verifier{strict, lenient} {
		if err := v.SetTrustList(tl); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		v           *trust.Verifier
		text, title string
		kind        string
	}{
		{strict, text, "Cannot check: lists out of date", "warn"},
		{lenient, text, "Valid, but the lists are out of date", "warn"},
		{empty, text, "Cannot check: no trust list", "warn"},
		{strict, "NOT A CREDENTIAL", "Not valid: not an identity QR", "invalid"},
	} {
		mux := http.NewServeMux()
		mux.Handle("/v1/qr/verify", &qrverify.Handler{Verifier: c.v})
		mux.Handle(verifypage.Prefix, verifypage.Handler())
		srv := httptest.NewTLSServer(mux)
		ctx := browsertest.New(t, browsertest.Options{Trust: []*x509Cert{srv.Certificate()}})
		got := paste(t, ctx, srv.URL+"/verify/", c.text)
		srv.Close()
		if got.Title != c.title || got.Kind != c.kind {
			t.Errorf("%q: page says %+v, want %s %q", c.title, got, c.kind, c.title)
		}
		if c.title == "Valid, but the lists are out of date" && got.Name != "Test Person" {
			t.Errorf("stale but valid: the card shows %q", got.Name)
		}
	}
}

type shown struct{ Kind, Title, Name string }

func paste(t *testing.T, ctx context.Context, url, text string) shown {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.documentElement.dataset.ready === "1" || null`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("text"), text), chromedp.Click(chromedp.ID("verify-text"))); err != nil {
		t.Fatal(err)
	}
	s, err := chromedp.Run(ctx, chromedp.Poll[shown](`(() => { const v = document.getElementById("verdict");
		return ["valid", "invalid", "warn", "error"].includes(v.dataset.verdict) ? {Kind: v.dataset.verdict,
		Title: document.getElementById("verdict-title").textContent, Name: document.getElementById("card").hidden ? "" : document.getElementById("f-name").textContent} : null; })()`,
		chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		t.Fatalf("no verdict: %v", err)
	}
	return s
}

type x509Cert = x509.Certificate
