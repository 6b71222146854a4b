package console

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/httpx"
)

// Service is what the console needs of central (*central.Central).
type Service interface {
	Vendors(ctx context.Context) ([]registry.VendorView, error)
	SetVendorStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*registry.VendorView, error)
	Devices(ctx context.Context, f store.DeviceFilter) ([]registry.DeviceView, error)
	Device(ctx context.Context, serial string) (*registry.DeviceView, error)
	SetDeviceStatus(ctx context.Context, a *core.Admin, serials []string, s core.StatusChange) ([]string, error)
	Appliances(ctx context.Context) ([]store.Appliance, error)
	Appliance(ctx context.Context, id string) (*registry.ApplianceView, error)
	SetApplianceStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*store.Appliance, error)
	RelyingParties(ctx context.Context) ([]store.RelyingParty, error)
	SetRelyingPartyStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*store.RelyingParty, error)
	Person(ctx context.Context, uin string) (*people.PersonView, error)
	Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error)
	VerifyAudit(ctx context.Context) (uint64, error)
	Store() store.Store
}

// Positions reports the trust-feed position each appliance last asked
// from (central records it from the appliances' long polls).
type Positions interface {
	FeedPositions() map[string]Position
}

// Position is an appliance's last trust-feed request: it had applied
// everything up to After when it asked, at Seen.
type Position struct {
	After uint64
	Seen  time.Time
}

// Config configures the console.
type Config struct {
	Service Service
	// Positions is optional: without it the propagation view says so.
	Positions Positions
	// Origin is the console's origin as browsers see it, e.g.
	// https://central.example:8443. The WebAuthn relying-party id is its
	// host, so it must be a name (not an IP address).
	Origin string
	Now    func() time.Time
	Log    *slog.Logger
	// SignInRate and SignInBurst limit sign-in and registration attempts
	// per client address (default 0.5/s, burst 10).
	SignInRate, SignInBurst float64
	// Idle and MaxAge bound a session (default 15 min and 8 h).
	Idle, MaxAge time.Duration
	// CodeTTL is how long an invite is valid (default 24 h).
	CodeTTL time.Duration
	// Issuer is optional: without it the issuance page says how to set
	// one up (edgetrust-central issuer init).
	Issuer *Issuer
}

// Defaults.
const (
	DefaultIdle    = 15 * time.Minute
	DefaultMaxAge  = 8 * time.Hour
	DefaultCodeTTL = 24 * time.Hour
	// InitCodeTTL is how long the code of admin init is valid.
	InitCodeTTL = time.Hour
)

//go:embed assets templates
var files embed.FS

// Console serves /console/.
type Console struct {
	c      Config
	st     store.Store
	wa     *webauthn.WebAuthn
	origin string
	limit  *httpx.Limiter
	pages  map[string]*template.Template
	mux    *http.ServeMux

	jobs *jobs // Claim 169 issuance jobs (issue.go)

	countMu sync.Mutex // device counts of the overview (deviceCounts)
	count   counts
	countAt time.Time
}

// New checks cfg and builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Service == nil {
		return nil, errors.New("console: a service is required")
	}
	u, err := url.Parse(cfg.Origin)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return nil, fmt.Errorf("console: origin %q: want https://HOST[:PORT] as browsers reach central (e.g. https://central.example:8443)", cfg.Origin)
	}
	if net.ParseIP(u.Hostname()) != nil {
		return nil, fmt.Errorf("console: origin %q: passkeys need a host name, not an IP address (localhost works for a single machine)", cfg.Origin)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.SignInRate <= 0 {
		cfg.SignInRate, cfg.SignInBurst = 0.5, 10
	}
	if cfg.SignInBurst <= 0 {
		cfg.SignInBurst = 10
	}
	if cfg.Idle <= 0 {
		cfg.Idle = DefaultIdle
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.CodeTTL <= 0 {
		cfg.CodeTTL = DefaultCodeTTL
	}
	origin := u.Scheme + "://" + u.Host
	wa, err := webauthn.New(&webauthn.Config{RPID: u.Hostname(), RPDisplayName: "edgetrust central", RPOrigins: []string{origin}})
	if err != nil {
		return nil, fmt.Errorf("console: webauthn: %w", err)
	}
	c := &Console{c: cfg, st: cfg.Service.Store(), wa: wa, origin: origin, limit: httpx.NewLimiter(cfg.SignInRate, cfg.SignInBurst), jobs: newJobs()}
	if err := c.parse(); err != nil {
		return nil, err
	}
	c.routes()
	return c, nil
}

func (c *Console) parse() error {
	funcs := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04 UTC")
		},
		"act": func(kind, id, status string) map[string]string {
			return map[string]string{"kind": kind, "id": id, "status": status}
		},
		"list": func(s ...string) []string { return s },
		"short": func(s string) string {
			if len(s) > 16 {
				return s[:16] + "…"
			}
			return s
		},
	}
	names, err := fs.Glob(files, "templates/*.html")
	if err != nil {
		return err
	}
	c.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "actions" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/actions.html", n)
		if err != nil {
			return fmt.Errorf("console: template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return nil
}

// csp is the console's Content-Security-Policy: only its own embedded files.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin") // no-referrer would make form POSTs send Origin: null
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if r.Method == http.MethodPost && !c.sameOrigin(r) {
		http.Error(w, "cross-origin request refused: the console accepts changes only from its own pages ("+c.origin+")", http.StatusForbidden)
		return
	}
	c.mux.ServeHTTP(w, r)
}

// sameOrigin checks the Origin header browsers send with every POST (and
// Sec-Fetch-Site where present).
func (c *Console) sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" {
		return false
	}
	return r.Header.Get("Origin") == c.origin
}

func (c *Console) routes() {
	m := http.NewServeMux()
	sub, _ := fs.Sub(files, "assets")
	assets := http.StripPrefix("/console/assets/", http.FileServerFS(sub))
	m.Handle("GET /console/assets/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		assets.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /console/signin", c.signinPage)
	m.HandleFunc("GET /console/register", c.registerPage)
	m.HandleFunc("POST /console/api/register/begin", c.registerBegin)
	m.HandleFunc("POST /console/api/register/finish", c.registerFinish)
	m.HandleFunc("POST /console/api/signin/begin", c.signinBegin)
	m.HandleFunc("POST /console/api/signin/finish", c.signinFinish)
	m.Handle("POST /console/signout", c.authed(c.signout))

	m.Handle("GET /console/{$}", c.authed(c.overview))
	m.Handle("GET /console/vendors", c.authed(c.vendors))
	m.Handle("GET /console/devices", c.authed(c.devices))
	m.Handle("GET /console/devices/{serial}", c.authed(c.device))
	m.Handle("GET /console/appliances", c.authed(c.appliances))
	m.Handle("GET /console/rps", c.authed(c.rps))
	m.Handle("GET /console/admins", c.authed(c.admins))
	m.Handle("POST /console/admins/invite", c.authed(c.invite))
	m.Handle("GET /console/change", c.authed(c.confirm))
	m.Handle("POST /console/change", c.authed(c.change))
	m.Handle("GET /console/propagation", c.authed(c.propagation))
	m.Handle("GET /console/audit", c.authed(c.auditPage))
	m.Handle("GET /console/people", c.authed(c.peoplePage))
	m.Handle("GET /console/people/{uin}", c.authed(c.person))
	m.Handle("POST /console/people/{uin}/demographics", c.authed(c.demographics))
	m.Handle("GET /console/issue", c.authed(c.issuePage))
	m.Handle("POST /console/issue", c.authedUpload(c.issueUpload, MaxUpload))
	m.Handle("GET /console/issue/{job}", c.authed(c.jobPage))
	m.Handle("GET /console/issue/{job}/status", c.authed(c.jobStatus))
	m.Handle("GET /console/issue/{job}/zip", c.authed(c.jobZip))
	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, http.StatusNotFound, "No such console page. Start from the overview.")
	})
	c.mux = m
}

// page is what every template gets.
type page struct {
	Title  string
	Nav    string
	Admin  *store.ConsoleAdmin
	CSRF   string
	Notice string
	Data   any
}

func (c *Console) render(w http.ResponseWriter, status int, name string, p page) {
	t := c.pages[name]
	if t == nil {
		http.Error(w, "console: no template "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.Execute(&b, p); err != nil {
		c.c.Log.Error("console: rendering", "page", name, "err", err)
		http.Error(w, "console: the page could not be rendered; see central's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

func (c *Console) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p := page{Title: http.StatusText(status), Notice: msg}
	if s := sessionFrom(r.Context()); s != nil {
		p.Admin, p.CSRF = s.admin, s.csrf
	}
	c.render(w, status, "error", p)
}

// failErr answers with the status and message of a registry error
// (*enrol.Error), or 500 without detail.
func (c *Console) failErr(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := errorText(err)
	if status == http.StatusInternalServerError {
		c.c.Log.Error("console", "path", r.URL.Path, "err", err)
	}
	c.fail(w, r, status, msg)
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
