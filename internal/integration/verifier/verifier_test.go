package verifierint

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/edgetrust/edgetrust/appliance/verifypage"
	"github.com/edgetrust/edgetrust/internal/browsertest"
)

// keepShots copies a screenshot to $EDGETRUST_SCREENSHOTS when set (how
// docs/images/ were made); the test's own copy is in its temp dir.
func keepShots(t *testing.T, ctx context.Context, e *env, name string) {
	t.Helper()
	for _, vp := range []browsertest.Viewport{browsertest.Desktop, browsertest.Phone} {
		if vp == browsertest.Phone {
			// What the page does when a verdict arrives on a narrow screen.
			if err := browsertest.Resize(ctx, vp); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const v = document.getElementById("verdict");
				if (v.dataset.verdict !== "none") document.getElementById("result-h").scrollIntoView({block: "start"}); return true; })()`)); err != nil {
				t.Fatal(err)
			}
		}
		p, err := browsertest.Screenshot(ctx, e.shots, name, vp)
		if err != nil {
			t.Fatal(err)
		}
		if dir := os.Getenv("EDGETRUST_SCREENSHOTS"); dir != "" {
			b, _ := os.ReadFile(p)
			os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644)
		}
	}
	if err := browsertest.Resize(ctx, browsertest.Desktop); err != nil {
		t.Fatal(err)
	}
}

func axeClean(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	vs, err := browsertest.Axe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s := browsertest.Serious(vs); len(s) > 0 {
		t.Errorf("%s: axe-core serious/critical violations: %v", what, s)
	}
}

// watchRequests records every URL the page asks for: it must ask the
// appliance only.
func watchRequests(t *testing.T, ctx context.Context) func() []string {
	var mu sync.Mutex
	var urls []string
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	chromedp.Listen(ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			mu.Lock()
			urls = append(urls, r.Request.URL)
			mu.Unlock()
		}
	})
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), urls...) }
}

func onlyAppliance(t *testing.T, e *env, urls []string) {
	t.Helper()
	if len(urls) == 0 {
		t.Fatal("no requests seen: the request watcher is broken")
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, e.url+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
			t.Errorf("the page asked %s, not the appliance (%s)", u, e.url)
		}
	}
}

// TestCamera: a QR central issued, held to the (fake) camera, gives the
// right verdict and, when valid, the right person.
func TestCamera(t *testing.T) {
	e := setup(t)
	for _, c := range []struct {
		name, kind, title, detail, tech string
	}{
		{"valid", "valid", "Valid", "Genuine", ""},
		{"tampered", "invalid", "Not valid: tampered", "altered or forged", "signature"},
		{"expired", "invalid", "Not valid: expired", "expiry date", "time: credential has expired"},
		{"revoked", "invalid", "Not valid: revoked", "withdrawn", "revocation: credential revoked"},
		{"unknown-issuer", "invalid", "Not valid: unknown issuer", "does not trust", "not on the trust list"},
	} {
		t.Run(c.name, func(t *testing.T) {
			// A second of an empty counter, then the card.
			blank, card := qrFrame(t, "", 960, 720), qrFrame(t, e.text[c.name], 960, 720)
			ctx := browsertest.New(t, browsertest.Options{Trust: []*x509Cert{e.cert}, FakeVideo: video(t, 5, blank, blank, blank, blank, blank, card, card, card, card, card)})
			requests := watchRequests(t, ctx)
			open(t, ctx, e.url+"/verify/")
			// Keyboard only: focus the button and press Enter.
			if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("start")), chromedp.KeyEvent(kb.Enter)); err != nil {
				t.Fatal(err)
			}
			v := waitVerdict(t, ctx)
			if v.Kind != c.kind || v.Title != c.title || !strings.Contains(v.Detail, c.detail) || !strings.Contains(v.Tech, c.tech) {
				t.Fatalf("verdict %s, want %s %q (%q, %q)", v, c.kind, c.title, c.detail, c.tech)
			}
			if c.kind == "valid" {
				if !v.Card || v.Name != validName || v.ID != validID || v.Issuer != issuerURI || !v.Photo || !strings.Contains(v.Expires, "(") {
					t.Fatalf("valid card: %+v", v)
				}
			} else if v.Card || strings.Contains(v.Name, "Janardhan") {
				t.Fatalf("an invalid credential's card is shown: %+v", v)
			}
			switch c.name {
			case "valid", "tampered", "revoked":
				keepShots(t, ctx, e, "verify-"+c.name)
			}
			axeClean(t, ctx, c.name+" verdict")
			onlyAppliance(t, e, requests())
		})
	}
}

// TestFallbacks: the upload of a QR photo and the pasted text.
func TestFallbacks(t *testing.T) {
	e := setup(t)
	ctx := browsertest.New(t, browsertest.Options{Trust: []*x509Cert{e.cert}})
	requests := watchRequests(t, ctx)
	open(t, ctx, e.url+"/verify/")
	axeClean(t, ctx, "empty page")
	keepShots(t, ctx, e, "verify-empty")

	// Upload the PNG central wrote.
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{e.png["valid"]})); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, ctx)
	if v.Kind != "valid" || v.Name != validName || !v.Photo {
		t.Fatalf("upload of a valid QR: %s", v)
	}
	// Upload a revoked one.
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{e.png["revoked"]})); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("verdict-title").textContent === "Not valid: revoked" || null`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("upload of a revoked QR: %v", err)
	}
	// Upload a photo with no QR in it.
	noqr := filepath.Join(t.TempDir(), "blank.png")
	os.WriteFile(noqr, pngOf(t, qrFrame(t, "", 200, 200)), 0o644)
	if err := chromedp.Do(ctx, chromedp.SetUploadFiles(chromedp.ID("file"), []string{noqr})); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("verdict-title").textContent === "No QR code found" || null`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("upload without a QR: %v", err)
	}

	// Paste: the expired credential's text, then the valid one.
	for _, c := range []struct{ name, title, name2 string }{
		{"expired", "Not valid: expired", ""},
		{"valid", "Valid", validName},
	} {
		if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.ID("text"), e.text[c.name]), chromedp.Click(chromedp.ID("verify-text"))); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Poll[verdict](`document.getElementById("verdict-title").textContent === `+jsString(c.title)+` ? `+readVerdict+` : null`, chromedp.WithPollingTimeout(30*time.Second)))
		if err != nil {
			t.Fatalf("paste %s: %v", c.name, err)
		}
		if got.Name != c.name2 && c.name2 != "" {
			t.Fatalf("paste %s: %s", c.name, got)
		}
		if c.name == "expired" && got.Card {
			t.Fatalf("expired credential's card shown: %s", got)
		}
	}
	keepShots(t, ctx, e, "verify-pasted")
	onlyAppliance(t, e, requests())
}

// TestPageSecurity: the CSP and other headers, and no inline script or
// style, both as served and as the browser sees the page.
func TestPageSecurity(t *testing.T) {
	e := setup(t)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsClient(e)}}
	for _, p := range []string{"/verify/", "/verify/app.js", "/verify/app.css"} {
		r, err := c.Get(e.url + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || r.Header.Get("Content-Security-Policy") != verifypage.CSP ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("%s: %d %v", p, r.StatusCode, r.Header)
		}
		if p == "/verify/" {
			html := string(b)
			tags := regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(html, -1)
			if len(tags) == 0 {
				t.Error("/verify/ loads no script: the check below would pass vacuously")
			}
			for _, tag := range tags {
				if !strings.Contains(tag, ` src="`) {
					t.Errorf("/verify/ has an inline script: %s", tag)
				}
			}
			for _, bad := range []*regexp.Regexp{regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`),
				regexp.MustCompile(`(?i)<style`), regexp.MustCompile(`(?i)\sstyle=`), regexp.MustCompile(`(?i)\son[a-z]+=`), regexp.MustCompile(`(?i)(src|href)="(https?:)?//`)} {
				if bad.MatchString(html) {
					t.Errorf("/verify/ has inline script/style or a third-party reference: %s", bad.FindString(html))
				}
			}
		}
	}
	nc := &http.Client{Timeout: 10 * time.Second, Transport: c.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if r, err := nc.Get(e.url + "/verify"); err != nil || r.StatusCode/100 != 3 || r.Header.Get("Location") != "/verify/" {
		t.Fatalf("/verify does not redirect to /verify/: %v %v", err, r)
	}
	// The answers with results are not cached either.
	r, err := c.Post(e.url+"/v1/qr/verify", "application/json", strings.NewReader(`{"text":`+jsString(e.text["valid"])+`}`))
	if err != nil {
		t.Fatal(err)
	}
	var a struct{ Valid bool }
	json.NewDecoder(r.Body).Decode(&a)
	r.Body.Close()
	if !a.Valid || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("verify answer: %v %v", a.Valid, r.Header)
	}

	ctx := browsertest.New(t, browsertest.Options{Trust: []*x509Cert{e.cert}})
	open(t, ctx, e.url+"/verify/")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script:not([src]), style, [style]").length`))
	if err != nil || n != 0 {
		t.Fatalf("inline script or style in the live page: %d %v", n, err)
	}
	// The policy is enforced: inline script injected into the page does not run.
	ran, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((ok) => { window.__ran = false; const s = document.createElement("script");
		s.textContent = "window.__ran = true"; document.body.appendChild(s); setTimeout(() => ok(window.__ran), 200); })`, chromedp.EvalAwaitPromise))
	if err != nil || ran {
		t.Fatalf("an injected inline script ran (%v): the CSP is not enforced", err)
	}
}

// TestKeyboard: every control is reached with Tab, in order, and has an
// accessible name (as Chromium's accessibility tree computes it).
func TestKeyboard(t *testing.T) {
	e := setup(t)
	ctx := browsertest.New(t, browsertest.Options{Trust: []*x509Cert{e.cert}})
	open(t, ctx, e.url+"/verify/")
	var seen []string
	for i := 0; i < 8; i++ {
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		role, name := focused(t, ctx)
		if role == "" {
			continue // the document itself
		}
		if strings.TrimSpace(name) == "" {
			t.Errorf("tab stop %d (%s) has no accessible name", i, role)
		}
		seen = append(seen, role+": "+name)
	}
	want := []string{"button: Start camera", "Upload a photo of a QR code (PNG or JPEG)", "textbox: Or paste the QR text", "button: Verify text"}
	at := 0
	for _, s := range seen {
		if at < len(want) && strings.Contains(s, want[at]) {
			at++
		}
	}
	if at != len(want) {
		t.Fatalf("tab order %q, want %q in order", seen, want)
	}
	// Enter on the focused "Verify text" with an empty box says what to do.
	if err := chromedp.Do(ctx, chromedp.Focus(chromedp.ID("verify-text")), chromedp.KeyEvent(kb.Enter)); err != nil {
		t.Fatal(err)
	}
	v := waitVerdict(t, ctx)
	if v.Title != "Nothing to check" {
		t.Fatalf("empty paste: %s", v)
	}
	live, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const v = document.getElementById("verdict"); return v.getAttribute("role") + "/" + v.getAttribute("aria-live") + "/" + v.getAttribute("aria-atomic"); })()`))
	if err != nil || live != "status/polite/true" {
		t.Fatalf("verdict live region: %q %v", live, err)
	}
}

// focused is the role and accessible name of the focused node.
func focused(t *testing.T, ctx context.Context) (role, name string) {
	t.Helper()
	tree, err := chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	if err != nil {
		t.Fatal(err)
	}
	str := func(v *accessibility.Value) string {
		if v == nil {
			return ""
		}
		var s string
		json.Unmarshal(v.Value, &s)
		return s
	}
	for _, n := range tree.Nodes {
		for _, p := range n.Properties {
			if p.Name == accessibility.PropertyNameFocused && p.Value != nil && string(p.Value.Value) == "true" {
				if r := str(n.Role); r != "RootWebArea" {
					return r, str(n.Name)
				}
			}
		}
	}
	return "", ""
}
