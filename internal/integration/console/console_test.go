package consoleint

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/browsertest"
	"github.com/edgetrust/edgetrust/internal/keyring"
)

func init() { keyring.WorkFactor = 10 }

var ctx = context.Background()

// site is central with its console on https://localhost:PORT.
type site struct {
	ce     *central.Central
	keys   *central.Keyring
	st     store.Store
	origin string
	cert   *x509.Certificate
	client *http.Client
}

func serverCert(t *testing.T) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, c
}

func start(t *testing.T, opts ...func(*console.Config)) *site {
	t.Helper()
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keys, err := central.InitKeyring(t.TempDir(), []byte("correct horse battery"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ce, err := central.New(central.Config{Store: st, Keys: keys, SweepInterval: -1, Attest: central.Config{}.Attest})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ce.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &site{ce: ce, keys: keys, st: st, origin: "https://localhost:" + port}
	cfg := console.Config{Origin: s.origin}
	for _, o := range opts {
		o(&cfg)
	}
	if err := ce.EnableConsole(cfg); err != nil {
		t.Fatal(err)
	}
	tc, cert := serverCert(t)
	s.cert = cert
	srv := &http.Server{Handler: ce.Handler(central.HTTPOptions{}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{tc}}}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s.client = &http.Client{
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}, DialContext: func(ctx context.Context, n, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, n, ln.Addr().String())
		}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s
}

// seed registers a vendor and a relying party through central's registry,
// and stores a device and an appliance record directly (enrolling them
// needs TPMs; internal/e2e does that).
func (s *site) seed(t *testing.T) {
	t.Helper()
	a := &central.Admin{TokenID: "seed", Name: "seed"}
	if _, err := s.ce.AddVendor(ctx, a, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ce.AddRelyingParty(ctx, a, "bank", "Example Bank", []string{"name"}, []string{"bio-Finger"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	err := s.st.Update(ctx, func(tx store.Tx) error {
		for i := range 3 {
			d := &store.Device{Serial: fmt.Sprintf("SN-%03d", i), VendorID: "ACME", Make: "Acme", Model: "F1", Type: "Finger", SubType: "Single",
				Status: "active", EKFingerprint: "AB", Enrolled: now, Updated: now,
				Certs: []store.CertRecord{{Role: "device", SHA256: "0123456789ABCDEF0123456789ABCDEF", Issued: now, NotBefore: now, NotAfter: now.Add(365 * 24 * time.Hour)}}}
			if err := tx.PutDevices(ctx, d); err != nil {
				return err
			}
		}
		sealed, err := s.keys.Seal([]byte(`{"demographics":{"fullName":"Asha Rao"},"biometrics":[]}`))
		if err != nil {
			return err
		}
		if err := tx.PutPerson(ctx, &store.Person{UIN: "3000000001", Group: "default", Status: "active", Sealed: sealed, Created: now, Updated: now}); err != nil {
			return err
		}
		return tx.PutAppliance(ctx, &store.Appliance{ID: "ap-1", Status: "active", Enrolled: now, Updated: now})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *site) get(t *testing.T, path, cookie string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", s.origin+path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (s *site) post(t *testing.T, path, cookie, origin string, form url.Values) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.origin+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
	}
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func run(t *testing.T, bctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(bctx, actions...); err != nil {
		t.Fatal(err)
	}
}

func text(t *testing.T, bctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return v
}

// waitStatus waits until #status says something, and returns it.
func waitStatus(t *testing.T, bctx context.Context, want string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.getElementById("status")||{}).textContent||""`))
		if err == nil && strings.Contains(v, want) {
			return v
		}
		if err == nil && strings.Contains(v, "failed") && !strings.Contains(want, "failed") {
			t.Fatalf("status %q, want %q", v, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("status never said %q", want)
	return ""
}

func waitPath(t *testing.T, bctx context.Context, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname`))
		if err == nil && v == path {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + " | " + document.title + " | " + document.body.innerText.slice(0, 300)`))
	t.Fatalf("never reached %s: at %s", path, v)
}

func sessionCookie(t *testing.T, bctx context.Context) string {
	t.Helper()
	res, err := chromedp.Call(bctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == console.CookieName {
			if !c.Secure || !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" {
				t.Errorf("session cookie attributes: %+v", c)
			}
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

var (
	scriptTag = regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	inlineBad = regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
)

// inlineCode returns the first inline script, style or event handler in
// body ("" if none).
func inlineCode(body string) string {
	for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
		if !strings.Contains(m[1], "src=") || strings.TrimSpace(m[2]) != "" {
			return m[0]
		}
	}
	if strings.Count(strings.ToLower(body), "<script") != len(scriptTag.FindAllString(body, -1)) {
		return "an unclosed script tag"
	}
	return inlineBad.FindString(body)
}

func TestConsolePasskeys(t *testing.T) {
	s := start(t)
	s.seed(t)
	code, _, err := console.NewCode(ctx, s.st, time.Now(), "system", "", console.InitCodeTTL)
	if err != nil {
		t.Fatal(err)
	}
	bctx := browsertest.New(t, browsertest.Options{Trust: []*x509.Certificate{s.cert}})
	shots := t.TempDir()
	if dir := os.Getenv("EDGETRUST_CONSOLE_SHOTS"); dir != "" {
		shots = dir
	}
	auth, err := browsertest.VirtualAuthenticator(bctx)
	if err != nil {
		t.Fatal(err)
	}

	// Unsigned, every page sends the browser to sign-in.
	run(t, bctx, chromedp.Navigate(s.origin+"/console/devices"))
	waitPath(t, bctx, "/console/signin")

	// Register the first admin's passkey with the one-time code.
	run(t, bctx, chromedp.Navigate(s.origin+"/console/register"),
		chromedp.SendKeys(chromedp.CSS("#code"), code), chromedp.SendKeys(chromedp.CSS("#name"), "Ana Admin"),
		chromedp.Click(chromedp.CSS(`#register button[type=submit]`)))
	waitPath(t, bctx, "/console/")
	creds, err := browsertest.Credentials(bctx, auth)
	if err != nil || len(creds) != 1 {
		t.Fatalf("authenticator credentials: %v %d, want 1", err, len(creds))
	}
	if h := text(t, bctx, "h1"); h != "Overview" {
		t.Fatalf("after registration: h1 %q", h)
	}

	// The code is spent.
	res, body := s.postJSON(t, "/console/api/register/begin", fmt.Sprintf(`{"code":%q,"name":"Eve"}`, code))
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("spent code: %d %s", res.StatusCode, body)
	}

	// Sign out, then sign in with the passkey.
	first := sessionCookie(t, bctx)
	run(t, bctx, chromedp.Click(chromedp.CSS(`.signout button`)))
	waitPath(t, bctx, "/console/signin")
	if res, _ := s.get(t, "/console/", first); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after sign-out: %d, want 303 to sign-in", res.StatusCode)
	}
	run(t, bctx, chromedp.Click(chromedp.CSS("#signin")))
	waitPath(t, bctx, "/console/")
	cookie := sessionCookie(t, bctx)
	if cookie == first {
		t.Fatal("sign-in reused the old session id")
	}

	// Every page: CSP, no inline script or style, axe, screenshots.
	pages := map[string]string{"overview": "/console/", "vendors": "/console/vendors", "devices": "/console/devices",
		"device": "/console/devices/SN-001", "appliances": "/console/appliances", "rps": "/console/rps",
		"admins": "/console/admins", "people": "/console/people", "person": "/console/people/3000000001", "audit": "/console/audit", "propagation": "/console/propagation",
		"confirm": "/console/change?kind=device&id=SN-001&status=revoked", "signin": "/console/signin", "register": "/console/register"}
	for name, path := range pages {
		res, body := s.get(t, path, cookie)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", path, res.StatusCode, body)
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if m := inlineCode(body); m != "" {
			t.Errorf("%s: inline script or style: %q", path, m)
		}
		run(t, bctx, chromedp.Navigate(s.origin+path))
		vs, err := browsertest.Axe(bctx)
		if err != nil {
			t.Fatal(err)
		}
		if bad := browsertest.Serious(vs); len(bad) > 0 {
			t.Errorf("%s: axe: %v", path, bad)
		}
		for _, v := range []browsertest.Viewport{browsertest.Desktop, browsertest.Phone} {
			if _, err := browsertest.Screenshot(bctx, shots, "console-"+name, v); err != nil {
				t.Fatal(err)
			}
		}
		browsertest.Resize(bctx, browsertest.Desktop)
	}

	// A person's demographics only on an explicit, audited request.
	if _, body := s.get(t, "/console/people/3000000001", cookie); strings.Contains(body, "Asha Rao") {
		t.Fatal("the person page shows demographics unasked")
	}
	run(t, bctx, chromedp.Navigate(s.origin+"/console/people/3000000001"),
		chromedp.SendKeys(chromedp.CSS("#reason"), "ticket 42: name check"),
		chromedp.Click(chromedp.CSS(`form[action$="/demographics"] button`)))
	waitPath(t, bctx, "/console/people/3000000001/demographics")
	if txt := text(t, bctx, "main"); !strings.Contains(txt, "Asha Rao") {
		t.Fatalf("demographics not shown after the request: %q", txt)
	}
	rows, err := s.ce.Audit(ctx, store.AuditFilter{Subject: "person:3000000001"})
	if err != nil || len(rows) != 1 || rows[0].Action != "person.demographics.view" || !strings.Contains(string(rows[0].Detail), "ticket 42") {
		t.Fatalf("demographics view audit: %+v %v", rows, err)
	}

	// CSRF: a change without the session's token is refused, and so is
	// one from another origin.
	form := url.Values{"kind": {"device"}, "id": {"SN-002"}, "status": {"suspended"}, "reason": {"test"}}
	if res, body := s.post(t, "/console/change", cookie, s.origin, form); res.StatusCode != http.StatusForbidden {
		t.Fatalf("change without CSRF token: %d %s", res.StatusCode, body)
	}
	_, page := s.get(t, "/console/admins", cookie)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token in the page")
	}
	form.Set("csrf", m[1])
	if res, _ := s.post(t, "/console/change", cookie, "https://evil.example", form); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin change: %d", res.StatusCode)
	}
	if d, _ := s.ce.Device(ctx, "SN-002"); d.Status != "active" {
		t.Fatalf("a refused change changed the device: %s", d.Status)
	}

	// Revoke a device through the confirmation page.
	run(t, bctx, chromedp.Navigate(s.origin+"/console/devices/SN-001"),
		chromedp.Click(chromedp.CSS(`.actions a[href*="status=revoked"]`)))
	waitPath(t, bctx, "/console/change")
	if fx := text(t, bctx, ".warn"); !strings.Contains(fx, "rejects captures signed by device SN-001") {
		t.Fatalf("confirmation does not say what stops: %q", fx)
	}
	run(t, bctx, chromedp.SendKeys(chromedp.CSS("#reason"), "stolen from the Ward 3 counter"), chromedp.Click(chromedp.CSS("button.danger")))
	waitPath(t, bctx, "/console/propagation")
	if st := text(t, bctx, "p.big"); !strings.Contains(st, "0 of 1") {
		t.Errorf("propagation: %q", st)
	}
	d, err := s.ce.Device(ctx, "SN-001")
	if err != nil || d.Status != "revoked" || d.Reason != "stolen from the Ward 3 counter" {
		t.Fatalf("device after revoke: %+v %v", d, err)
	}
	var admins []store.ConsoleAdmin
	s.st.View(ctx, func(tx store.Tx) error { admins, err = tx.ConsoleAdmins(ctx); return err })
	if len(admins) != 1 {
		t.Fatalf("admins %+v", admins)
	}
	found := false
	for _, e := range d.History {
		if e.Action == "device.revoke" && e.Actor == "admin:console-"+admins[0].ID {
			found = true
		}
	}
	if !found {
		t.Fatalf("revocation not audited with the admin's identity: %+v", d.History)
	}

	// Invite a second admin: a one-time code shown once.
	run(t, bctx, chromedp.Navigate(s.origin+"/console/admins"), chromedp.SendKeys(chromedp.CSS("#name"), "Bo Second"),
		chromedp.Click(chromedp.CSS(`form[action="/console/admins/invite"] button`)))
	waitPath(t, bctx, "/console/admins/invite")
	if inv := text(t, bctx, "output"); !strings.HasPrefix(inv, console.CodePrefix) {
		t.Fatalf("invite code %q", inv)
	}

	// A passkey central does not know is refused.
	run(t, bctx, chromedp.Click(chromedp.CSS(`.signout button`)))
	waitPath(t, bctx, "/console/signin")
	if err := browsertest.RemoveAuthenticator(bctx, auth); err != nil {
		t.Fatal(err)
	}
	if _, err := browsertest.VirtualAuthenticator(bctx); err != nil {
		t.Fatal(err)
	}
	ok, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`navigator.credentials.create({publicKey: {
		challenge: new Uint8Array(32), rp: {name: "x", id: "localhost"},
		user: {id: new Uint8Array([7,7,7]), name: "mallory", displayName: "mallory"},
		pubKeyCredParams: [{type: "public-key", alg: -7}],
		authenticatorSelection: {residentKey: "required", userVerification: "required"}}}).then(c => c.type === "public-key")`, chromedp.EvalAwaitPromise))
	if err != nil || !ok {
		t.Fatalf("making a stranger's passkey: %v", err)
	}
	run(t, bctx, chromedp.Click(chromedp.CSS("#signin")))
	if st := waitStatus(t, bctx, "Sign-in failed"); !strings.Contains(st, "not one of central's console admins") {
		t.Fatalf("unknown passkey: %q", st)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.pathname`)); err != nil {
		t.Fatal(err)
	}
	if res, _ := s.get(t, "/console/", ""); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("no cookie: %d", res.StatusCode)
	}
	copyShots(t, shots)
}

// postJSON posts a JSON body with the console's origin.
func (s *site) postJSON(t *testing.T, path, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.origin+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", s.origin)
	res, err := s.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// copyShots copies the screenshots to EDGETRUST_CONSOLE_DOCS (docs/images
// when refreshing the docs' pictures).
func copyShots(t *testing.T, dir string) {
	out := os.Getenv("EDGETRUST_CONSOLE_DOCS")
	if out == "" {
		return
	}
	for _, n := range []string{"console-overview-1280x800.png", "console-device-390x844.png", "console-confirm-1280x800.png", "console-propagation-1280x800.png"} {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Errorf("screenshot %s: %v", n, err)
			continue
		}
		os.WriteFile(filepath.Join(out, n), b, 0o644)
	}
}
