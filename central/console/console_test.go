package console_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/keyring"
)

func init() { keyring.WorkFactor = 10 }

var ctx = context.Background()

const origin = "https://console.test"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	ce  *central.Central
	st  store.Store
	clk *clock
	srv *httptest.Server
}

func setup(t testing.TB, cfg console.Config) *env {
	t.Helper()
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	keys, err := central.InitKeyring(t.TempDir(), []byte("correct horse battery"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	ce, err := central.New(central.Config{Store: st, Keys: keys, Now: clk.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ce.Close)
	cfg.Origin = origin
	if err := ce.EnableConsole(cfg); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ce.Handler(central.HTTPOptions{}))
	t.Cleanup(srv.Close)
	return &env{ce: ce, st: st, clk: clk, srv: srv}
}

// session stores an admin and a session as sign-in would, and returns the
// cookie's secret (the store keeps only its SHA-256).
func (e *env) session(t testing.TB) (string, *store.ConsoleAdmin) {
	t.Helper()
	return e.sessionFor(t, "0123456789abcdef0123456789abcdef", "Ana")
}

func (e *env) sessionFor(t testing.TB, id, name string) (string, *store.ConsoleAdmin) {
	t.Helper()
	b := make([]byte, 32)
	rand.Read(b)
	secret := base64.RawURLEncoding.EncodeToString(b)
	h := sha256.Sum256([]byte(secret))
	now := e.clk.Now()
	a := &store.ConsoleAdmin{ID: id, Name: name, Created: now, CreatedBy: "system"}
	err := e.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutConsoleAdmin(ctx, a); err != nil {
			return err
		}
		return tx.PutConsoleSession(ctx, &store.ConsoleSession{ID: hex.EncodeToString(h[:]), AdminID: a.ID, Created: now, Seen: now, Expires: now.Add(console.DefaultIdle)})
	})
	if err != nil {
		t.Fatal(err)
	}
	return secret, a
}

func (e *env) do(t testing.TB, method, path, cookie, org string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if method == "POST" {
		if strings.HasPrefix(body, "{") {
			req.Header.Set("Content-Type", "application/json")
		} else {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if org != "" {
		req.Header.Set("Origin", org)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: console.CookieName, Value: cookie})
	}
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestSessionIdleAndMaxAge(t *testing.T) {
	e := setup(t, console.Config{})
	secret, _ := e.session(t)
	if st, _ := e.do(t, "GET", "/console/", secret, "", ""); st != http.StatusOK {
		t.Fatalf("fresh session: %d", st)
	}
	e.clk.Add(console.DefaultIdle + time.Second)
	if st, _ := e.do(t, "GET", "/console/", secret, "", ""); st != http.StatusSeeOther {
		t.Fatalf("idle session: %d, want 303 to sign-in", st)
	}
	// Kept busy, a session still ends at its maximum age.
	secret, _ = e.session(t)
	for range 8*60/10 - 1 {
		e.clk.Add(10 * time.Minute)
		if st, _ := e.do(t, "GET", "/console/vendors", secret, "", ""); st != http.StatusOK {
			t.Fatalf("busy session at %s: %d", e.clk.Now(), st)
		}
	}
	e.clk.Add(10*time.Minute + time.Second)
	if st, _ := e.do(t, "GET", "/console/vendors", secret, "", ""); st != http.StatusSeeOther {
		t.Fatalf("session past 8 h: %d", st)
	}
	if st, _ := e.do(t, "GET", "/console/", "not-a-session", "", ""); st != http.StatusSeeOther {
		t.Fatalf("bogus cookie: %d", st)
	}
}

func TestChangesNeedOriginAndCSRF(t *testing.T) {
	e := setup(t, console.Config{})
	secret, a := e.session(t)
	form := url.Values{"name": {"Bo"}}
	if st, _ := e.do(t, "POST", "/console/admins/invite", secret, "", form.Encode()); st != http.StatusForbidden {
		t.Fatalf("no Origin: %d", st)
	}
	if st, _ := e.do(t, "POST", "/console/admins/invite", secret, "https://evil.test", form.Encode()); st != http.StatusForbidden {
		t.Fatalf("foreign Origin: %d", st)
	}
	if st, _ := e.do(t, "POST", "/console/admins/invite", secret, origin, form.Encode()); st != http.StatusForbidden {
		t.Fatalf("no CSRF token: %d", st)
	}
	form.Set("csrf", "AAAA")
	if st, _ := e.do(t, "POST", "/console/admins/invite", secret, origin, form.Encode()); st != http.StatusForbidden {
		t.Fatalf("wrong CSRF token: %d", st)
	}
	_, page := e.do(t, "GET", "/console/admins", secret, "", "")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the page")
	}
	// Another session's token does not fit this one.
	other, _ := e.session(t)
	form.Set("csrf", m[1])
	if st, _ := e.do(t, "POST", "/console/admins/invite", other, origin, form.Encode()); st != http.StatusForbidden {
		t.Fatalf("another session's CSRF token: %d", st)
	}
	st, body := e.do(t, "POST", "/console/admins/invite", secret, origin, form.Encode())
	code := regexp.MustCompile(console.CodePrefix + `[0-9a-f]{16}_[A-Za-z0-9_-]+`).FindString(body)
	if st != http.StatusOK || code == "" {
		t.Fatalf("invite: %d, code %q", st, code)
	}
	rows, err := e.ce.Audit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	last := rows[len(rows)-1]
	if last.Action != "console-code.create" || last.Actor != "admin:console-"+a.ID || strings.Contains(string(last.Detail), code) {
		t.Fatalf("invite audit row: %+v", last)
	}
	// Sign-out needs the token too, then kills the session server-side.
	if st, _ := e.do(t, "POST", "/console/signout", secret, origin, ""); st != http.StatusForbidden {
		t.Fatalf("sign-out without token: %d", st)
	}
	if st, _ := e.do(t, "POST", "/console/signout", secret, origin, url.Values{"csrf": {m[1]}}.Encode()); st != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", st)
	}
	if st, _ := e.do(t, "GET", "/console/", secret, "", ""); st != http.StatusSeeOther {
		t.Fatalf("cookie after sign-out: %d", st)
	}
}

func TestCodes(t *testing.T) {
	e := setup(t, console.Config{})
	code, _, err := console.NewCode(ctx, e.st, e.clk.Now(), "system", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	begin := func(code, name string) (int, string) {
		return e.do(t, "POST", "/console/api/register/begin", "", origin, `{"code":"`+code+`","name":"`+name+`"}`)
	}
	if st, body := begin(code, "Ana"); st != http.StatusOK || !strings.Contains(body, `"ceremony":"con-`) || !strings.Contains(body, `"residentKey":"required"`) {
		t.Fatalf("good code: %d %s", st, body)
	}
	if st, _ := begin(code, ""); st != http.StatusBadRequest {
		t.Fatalf("no name: %d", st)
	}
	if st, _ := begin(code[:len(code)-1]+"x", "Ana"); st != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d", st)
	}
	if st, _ := begin("etc_nonsense", "Ana"); st != http.StatusUnauthorized {
		t.Fatalf("malformed code: %d", st)
	}
	e.clk.Add(time.Hour)
	if st, body := begin(code, "Ana"); st != http.StatusUnauthorized || strings.Contains(body, code) {
		t.Fatalf("expired code: %d %s", st, body)
	}
	// A finish without a live ceremony is refused before anything else.
	if st, _ := e.do(t, "POST", "/console/api/signin/finish?ceremony=con-0000", "", origin, `{}`); st != http.StatusBadRequest && st != http.StatusUnauthorized {
		t.Fatalf("finish without ceremony: %d", st)
	}
	big := `{"code":"` + strings.Repeat("a", 70<<10) + `"}`
	if st, _ := e.do(t, "POST", "/console/api/register/begin", "", origin, big); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", st)
	}
	if st, _ := e.do(t, "POST", "/console/api/register/begin", "", origin, `{"code":"a","code":"b"}`); st != http.StatusBadRequest {
		t.Fatalf("duplicate key: %d", st)
	}
}

func TestSignInRateLimit(t *testing.T) {
	e := setup(t, console.Config{SignInRate: 0.001, SignInBurst: 3})
	for i := range 3 {
		if st, _ := e.do(t, "POST", "/console/api/signin/begin", "", origin, `{}`); st != http.StatusOK {
			t.Fatalf("begin %d: %d", i, st)
		}
	}
	if st, _ := e.do(t, "POST", "/console/api/signin/begin", "", origin, `{}`); st != http.StatusTooManyRequests {
		t.Fatalf("4th begin: %d, want 429", st)
	}
}

func TestHeadersAndOrigins(t *testing.T) {
	e := setup(t, console.Config{})
	req, _ := http.NewRequest("GET", e.srv.URL+"/console/signin", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	want := "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if got := res.Header.Get("Content-Security-Policy"); got != want {
		t.Fatalf("CSP %q", got)
	}
	if st, _ := e.do(t, "GET", "/console/assets/console.js", "", "", ""); st != http.StatusOK {
		t.Fatalf("embedded script: %d", st)
	}
	if st, _ := e.do(t, "GET", "/console/nope", "", "", ""); st != http.StatusNotFound {
		t.Fatalf("unknown page: %d", st)
	}
	for _, o := range []string{"http://console.test", "https://10.0.0.1:8443", "https://x/console", "nonsense"} {
		if _, err := console.New(console.Config{Service: e.ce, Origin: o}); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
}
