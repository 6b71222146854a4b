package consoleint

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/qrscan"
	"github.com/edgetrust/edgetrust/internal/browsertest"
	"github.com/edgetrust/edgetrust/internal/issuer"
)

// centralIssuer makes central's Claim 169 issuer key as `issuer init`
// does (STATE/issuer, age-encrypted) and unlocks it as serve does. It
// returns the console's issuer and a key set holding only the public key
// file issuer init wrote, for verifying offline.
func centralIssuer(t *testing.T) (*console.Issuer, *claim169.KeySet) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "issuer")
	pass := []byte("correct horse battery staple")
	if _, err := issuer.Init(dir, "EdDSA", "https://id.example.org", pass, 24*time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	k, err := issuer.Load(dir, pass)
	if err != nil {
		t.Fatal(err)
	}
	is, err := claim169.NewIssuer(k.Signer, &claim169.IssuerOptions{KeyID: k.KIDBytes()})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := issuer.PublicKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	ks := &claim169.KeySet{}
	if err := ks.Add(k.KIDBytes(), pub); err != nil {
		t.Fatal(err)
	}
	return &console.Issuer{Issuer: is, KID: k.KID, URI: k.Issuer, Validity: 365 * 24 * time.Hour}, ks
}

// signIn registers the first admin's passkey in Chromium's virtual
// authenticator, as TestConsolePasskeys does step by step.
func (s *site) signIn(t *testing.T) (bctx context.Context) {
	t.Helper()
	code, _, err := console.NewCode(ctx, s.st, time.Now(), "system", "", console.InitCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	bctx = browsertest.New(t, browsertest.Options{Trust: []*x509.Certificate{s.cert}, Timeout: 3 * time.Minute})
	if _, err := browsertest.VirtualAuthenticator(bctx); err != nil {
		t.Fatal(err)
	}
	run(t, bctx, chromedp.Navigate(s.origin+"/console/register"),
		chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.SendKeys(chromedp.CSS("#name"), "Ina Issuer"),
		chromedp.Click(chromedp.CSS(`#register button[type=submit]`)))
	waitPath(t, bctx, "/console/")
	return bctx
}

// checkPage runs axe on the page the browser shows and takes its two
// screenshots.
func checkPage(t *testing.T, bctx context.Context, shots, name string) {
	t.Helper()
	vs, err := browsertest.Axe(bctx)
	if err != nil {
		t.Fatal(err)
	}
	if bad := browsertest.Serious(vs); len(bad) > 0 {
		t.Errorf("%s: axe: %v", name, bad)
	}
	for _, v := range []browsertest.Viewport{browsertest.Desktop, browsertest.Phone} {
		if _, err := browsertest.Screenshot(bctx, shots, "console-"+name, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := browsertest.Resize(bctx, browsertest.Desktop); err != nil {
		t.Fatal(err)
	}
}

// The people to issue for; row 3 of the bad file has a gender that is not
// a number.
var issueRows = [][3]string{{"3918592438", "Janardhan BS", "19840401"}, {"3918592439", "Rao, Asha", "19900212"}, {"", "Nameless Id", "20000101"}}

func issueCSV(bad bool) string {
	var b strings.Builder
	b.WriteString("id,fullName,dateOfBirth,gender\n")
	for i, r := range issueRows {
		g := fmt.Sprint(i%3 + 1)
		if bad && i == 1 {
			g = "female"
		}
		fmt.Fprintf(&b, "%s,%q,%s,%s\n", r[0], r[1], r[2], g)
	}
	return b.String()
}

func TestConsoleIssuance(t *testing.T) {
	is, keys := centralIssuer(t)
	s := start(t, func(c *console.Config) { c.Issuer = is })
	bctx := s.signIn(t)
	shots := t.TempDir()
	if dir := os.Getenv("EDGETRUST_CONSOLE_SHOTS"); dir != "" {
		shots = dir
	}
	files := t.TempDir()
	badCSV, goodCSV := filepath.Join(files, "bad.csv"), filepath.Join(files, "people.csv")
	os.WriteFile(badCSV, []byte(issueCSV(true)), 0o600)
	os.WriteFile(goodCSV, []byte(issueCSV(false)), 0o600)

	run(t, bctx, chromedp.Navigate(s.origin+"/console/issue"))
	if h := text(t, bctx, "h1"); h != "Issue Claim 169 credentials" {
		t.Fatalf("h1 %q", h)
	}
	checkPage(t, bctx, shots, "issue")
	res, body := s.get(t, "/console/issue", sessionCookie(t, bctx))
	if m := inlineCode(body); m != "" || !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("issue page: inline code %q, CSP %q", m, res.Header.Get("Content-Security-Policy"))
	}

	// A malformed row: the file is refused whole, the row named.
	run(t, bctx, chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{badCSV}), chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)))
	errs := waitText(t, bctx, "#row-errors")
	if !strings.Contains(errs, "Row 3, field gender: must be a number") || strings.Contains(errs, "female") {
		t.Fatalf("row errors: %q", errs)
	}
	checkPage(t, bctx, shots, "issue-errors")

	// The good file: a job whose progress bar reaches 100 %.
	run(t, bctx, chromedp.Navigate(s.origin+"/console/issue"),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{goodCSV}), chromedp.Click(chromedp.CSS(`#upload button[type=submit]`)))
	waitPrefix(t, bctx, "/console/issue/job-")
	full, err := chromedp.Run(bctx, chromedp.Poll[string](`(() => { const p = document.getElementById("progress");
		return p && p.max == 3 && p.value == p.max && document.getElementById("zip") ? document.querySelector("label[for=progress]").textContent : "" })()`,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(60*time.Second)))
	if err != nil {
		t.Fatalf("the progress bar never reached 100 %%: %v", err)
	}
	if !strings.Contains(full, "3 of 3 (100 %)") {
		t.Fatalf("progress label %q", full)
	}
	checkPage(t, bctx, shots, "issue-job")

	// Download the zip through the page's link.
	dl := t.TempDir()
	if _, err := chromedp.CallBrowser(bctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dl}); err != nil {
		t.Fatal(err)
	}
	run(t, bctx, chromedp.Click(chromedp.CSS("#zip")))
	zipPath := waitDownload(t, dl)
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	pngs := t.TempDir()
	var names []string
	got := map[string]string{}
	for _, f := range zr.File {
		names = append(names, f.Name)
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		png, _ := io.ReadAll(rc)
		rc.Close()
		text, err := qrscan.DecodeBytes(png)
		if err != nil {
			t.Fatalf("%s: the repo's decoder: %v", f.Name, err)
		}
		if z := zbarText(t, filepath.Join(pngs, filepath.Base(f.Name)), png); z != "" && z != text {
			t.Fatalf("%s: zbarimg read %q, qrscan %q", f.Name, z, text)
		}
		cred, err := claim169.Decode(text, keys)
		if err != nil || !cred.Verified {
			t.Fatalf("%s: offline verification against central's issuer key: %v", f.Name, err)
		}
		if cred.Issuer != "https://id.example.org" {
			t.Errorf("%s: iss %q", f.Name, cred.Issuer)
		}
		got[f.Name] = cred.Identity.FullName + "|" + cred.Identity.DateOfBirth
	}
	sort.Strings(names)
	if strings.Join(names, " ") != "3918592438.png 3918592439.png row-4.png" {
		t.Fatalf("zip holds %v", names)
	}
	for i, r := range issueRows {
		name := r[0] + ".png"
		if r[0] == "" {
			name = fmt.Sprintf("row-%d.png", i+2)
		}
		if got[name] != r[1]+"|"+r[2] {
			t.Errorf("%s: %q, want %s|%s", name, got[name], r[1], r[2])
		}
	}

	// Audited with the admin's identity.
	var admins []store.ConsoleAdmin
	s.st.View(ctx, func(tx store.Tx) error { admins, err = tx.ConsoleAdmins(ctx); return err })
	rows, err := s.ce.Audit(ctx, store.AuditFilter{})
	if err != nil || len(admins) != 1 {
		t.Fatal(err, len(admins))
	}
	n := 0
	for _, r := range rows {
		if r.Action == "credential.issue" {
			if r.Actor != "admin:console-"+admins[0].ID {
				t.Errorf("credential.issue by %q", r.Actor)
			}
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d credential.issue audit rows, want 3", n)
	}

	// Without the CSRF token the upload is refused.
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "people.csv")
	io.WriteString(fw, issueCSV(false))
	mw.Close()
	req, _ := http.NewRequest("POST", s.origin+"/console/issue", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", s.origin)
	req.AddCookie(&http.Cookie{Name: console.CookieName, Value: sessionCookie(t, bctx)})
	r2, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusForbidden {
		t.Fatalf("upload without a CSRF token: %d", r2.StatusCode)
	}
	copyIssueShots(t, shots)
}

// zbarText decodes png with zbarimg (an independent decoder); "" when it
// is not installed (a failure under EDGETRUST_REQUIRE_TOOLS=1).
func zbarText(t *testing.T, path string, png []byte) string {
	t.Helper()
	if _, err := exec.LookPath("zbarimg"); err != nil {
		if os.Getenv("EDGETRUST_REQUIRE_TOOLS") == "1" {
			t.Fatal("zbarimg is not installed (apt-get install zbar-tools)")
		}
		t.Log("zbarimg not installed: the independent-decoder check is skipped")
		return ""
	}
	if err := os.WriteFile(path, png, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("zbarimg", "--raw", "-q", path).Output()
	if err != nil {
		t.Fatalf("zbarimg %s: %v", path, err)
	}
	return strings.TrimSpace(string(out))
}

// waitDownload waits for one finished .zip in dir.
func waitDownload(t *testing.T, dir string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		m, _ := filepath.Glob(filepath.Join(dir, "*.zip"))
		if len(m) == 1 {
			return m[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	ls, _ := os.ReadDir(dir)
	t.Fatalf("no zip downloaded into %s: %v", dir, ls)
	return ""
}

func waitText(t *testing.T, bctx context.Context, sel string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.querySelector(`+fmt.Sprintf("%q", sel)+`)||{}).textContent||""`))
		if err == nil && v != "" {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + " | " + document.body.innerText.slice(0, 400)`))
	t.Fatalf("%s never appeared: at %s", sel, v)
	return ""
}

func waitPrefix(t *testing.T, bctx context.Context, prefix string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname`))
		if err == nil && strings.HasPrefix(v, prefix) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + " | " + document.body.innerText.slice(0, 400)`))
	t.Fatalf("never reached %s…: at %s", prefix, v)
}

// copyIssueShots copies the issuance screenshots to EDGETRUST_CONSOLE_DOCS.
func copyIssueShots(t *testing.T, dir string) {
	out := os.Getenv("EDGETRUST_CONSOLE_DOCS")
	if out == "" {
		return
	}
	for _, n := range []string{"console-issue-job-1280x800.png", "console-issue-errors-390x844.png"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Errorf("screenshot %s: %v", n, err)
			continue
		}
		os.WriteFile(filepath.Join(out, n), b, 0o644)
	}
}
