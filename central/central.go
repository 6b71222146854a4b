package central

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
)

// Config configures a Central.
type Config struct {
	Store store.Store
	Keys  *Keyring
	// EK says which TPMs may enrol.
	EK enrol.EKPolicy
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// SessionTTL bounds the time between start and finish (default 2 min).
	SessionTTL time.Duration
	// SweepInterval is how often expired VIDs are removed from the
	// appliances (default 1 min; negative: never, for tests).
	SweepInterval time.Duration
	// CaptureMaxAge is how old an RCAPTURE answer may be when a person is
	// enrolled from it (default EnrolCaptureMaxAge, at most
	// MaxCaptureMaxAge): registration may be captured offline and uploaded
	// in batches.
	CaptureMaxAge time.Duration
}

// Central is the registry service. Its methods are what the HTTP API calls.
type Central struct {
	st   store.Store
	keys *Keyring
	ekMu sync.RWMutex
	ek   enrol.EKPolicy
	now  func() time.Time
	log  *slog.Logger
	ttl  time.Duration
	// captureMaxAge bounds the age of enrolment captures.
	captureMaxAge time.Duration

	caMu sync.Mutex
	cas  map[string]*CA // vendor id → unlocked provider CA

	feeds         *feeds.Server
	backfillKick  chan struct{}
	backfillBytes int
	stop          chan struct{}
	stopOnce      sync.Once
}

// New makes a Central and starts its feed-change broadcaster.
func New(c Config) (*Central, error) {
	if c.Store == nil || c.Keys == nil {
		return nil, errors.New("central: a store and a keyring are required")
	}
	if c.CaptureMaxAge < 0 || c.CaptureMaxAge > MaxCaptureMaxAge {
		return nil, fmt.Errorf("central: capture max age %s: want up to %s", c.CaptureMaxAge, MaxCaptureMaxAge)
	}
	if c.CaptureMaxAge == 0 {
		c.CaptureMaxAge = EnrolCaptureMaxAge
	}
	ce := &Central{st: c.Store, keys: c.Keys, ek: c.EK, now: c.Now, log: c.Log, ttl: c.SessionTTL, captureMaxAge: c.CaptureMaxAge,
		cas: map[string]*CA{}, backfillKick: make(chan struct{}, 1), backfillBytes: backfillBytes, stop: make(chan struct{})}
	if ce.now == nil {
		ce.now = time.Now
	}
	if ce.log == nil {
		ce.log = slog.New(slog.DiscardHandler)
	}
	if ce.ttl <= 0 {
		ce.ttl = 2 * time.Minute
	}
	ce.feeds = feeds.NewServer(ce.st, ce.keys.Feed, ce.now)
	go ce.feeds.Run(ce.stop)
	go ce.backfillLoop()
	if c.SweepInterval == 0 {
		c.SweepInterval = time.Minute
	}
	if c.SweepInterval > 0 {
		go ce.sweepLoop(c.SweepInterval)
	}
	return ce, nil
}

// SetEKPolicy replaces the EK trust policy (allow-list and manufacturer CAs).
func (c *Central) SetEKPolicy(p enrol.EKPolicy) {
	c.ekMu.Lock()
	c.ek = p
	c.ekMu.Unlock()
}

func (c *Central) ekPolicy() enrol.EKPolicy {
	c.ekMu.RLock()
	defer c.ekMu.RUnlock()
	return c.ek
}

// Close stops background work (not the store).
func (c *Central) Close() { c.stopOnce.Do(func() { close(c.stop) }) }

// Store returns the store.
func (c *Central) Store() store.Store { return c.st }

// The shared primitives of central's concept packages (central/core).

// Admin is an authenticated administrator.
type Admin = core.Admin

// StatusChange asks to suspend, reinstate or revoke.
type StatusChange = core.StatusChange

var (
	fail         = core.Fail
	badRequest   = core.BadRequest
	notFound     = core.NotFound
	checkText    = core.CheckText
	transition   = core.Transition
	statusAction = core.StatusAction
)

// audit appends an audit row inside tx.
func (c *Central) audit(ctx context.Context, tx store.Tx, actor, action, subject string, detail any) error {
	return core.Audit(ctx, tx, c.now(), actor, action, subject, detail)
}

// Token secrets.

const (
	adminPrefix = "eta_"
	enrolPrefix = "ete_"
)

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newTokenSecret returns a token string "<prefix><id>_<secret>" and the
// record holding only the secret's SHA-256.
func newTokenSecret(prefix string) (string, string, []byte) {
	idb := make([]byte, 8)
	if _, err := rand.Read(idb); err != nil {
		panic(err)
	}
	id := hex.EncodeToString(idb)
	secret := randomString(32)
	h := sha256.Sum256([]byte(secret))
	return prefix + id + "_" + secret, id, h[:]
}

// splitToken parses a token string; ok is false for anything malformed.
func splitToken(prefix, tok string) (id, secret string, ok bool) {
	rest, found := strings.CutPrefix(tok, prefix)
	if !found || len(tok) > enrol.MaxToken {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || secret == "" {
		return "", "", false
	}
	if _, err := hex.DecodeString(id); err != nil {
		return "", "", false
	}
	return id, secret, true
}

// secretMatches compares a presented secret with a stored hash in constant time.
func secretMatches(secret string, hash []byte) bool {
	h := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(h[:], hash) == 1
}

var errUnauthorized = fail(http.StatusUnauthorized, enrol.CodeUnauthorized, "a valid admin token is required (Authorization: Bearer eta_...)")

// AuthenticateAdmin checks an admin token.
func (c *Central) AuthenticateAdmin(ctx context.Context, tok string) (*Admin, error) {
	id, secret, ok := splitToken(adminPrefix, tok)
	if !ok {
		return nil, errUnauthorized
	}
	var t *store.Token
	err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		t, err = tx.Token(ctx, id)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		// Spend the same hash as a found token would.
		secretMatches(secret, make([]byte, 32))
		return nil, errUnauthorized
	}
	if err != nil {
		return nil, err
	}
	if !secretMatches(secret, t.SecretHash) || t.Kind != store.TokenAdmin || t.Revoked {
		return nil, errUnauthorized
	}
	return &Admin{TokenID: t.ID, Name: t.Name}, nil
}

// CreateAdminToken mints an admin token; actor is who asked ("system" for
// the bootstrap token). The token string is returned once and never stored.
func (c *Central) CreateAdminToken(ctx context.Context, actor, name string) (string, *store.Token, error) {
	if err := checkText("name", name, 64); err != nil {
		return "", nil, err
	}
	tok, id, hash := newTokenSecret(adminPrefix)
	rec := &store.Token{ID: id, Kind: store.TokenAdmin, SecretHash: hash, Name: name, Created: c.now().UTC(), CreatedBy: actor}
	err := c.st.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutToken(ctx, rec); err != nil {
			return err
		}
		return c.audit(ctx, tx, actor, "admin-token.create", "token:"+id, map[string]string{"name": name})
	})
	if err != nil {
		return "", nil, err
	}
	return tok, rec, nil
}

// HasAdmin reports whether any admin token exists.
func (c *Central) HasAdmin(ctx context.Context) (bool, error) {
	var n int
	err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.CountTokens(ctx, store.TokenAdmin)
		return err
	})
	return n > 0, err
}

// Limits on enrolment tokens.
const (
	DefaultTokenTTL = 15 * time.Minute
	MaxTokenTTL     = 24 * time.Hour
)

// TokenRequest asks for an enrolment token.
type TokenRequest struct {
	Kind      string `json:"kind"`                // device or appliance
	VendorID  string `json:"vendorId,omitempty"`  // device tokens
	Appliance string `json:"appliance,omitempty"` // appliance tokens: bind to this id (optional)
	TTL       string `json:"ttl,omitempty"`       // Go duration, default 15m, at most 24h
}

// TokenResponse carries a new enrolment token, shown once.
type TokenResponse struct {
	Token   string    `json:"token"`
	ID      string    `json:"id"`
	Kind    string    `json:"kind"`
	Vendor  string    `json:"vendorId,omitempty"`
	Expires time.Time `json:"expires"`
}

// CreateEnrolmentToken mints a one-use, short-lived enrolment token.
func (c *Central) CreateEnrolmentToken(ctx context.Context, a *Admin, q TokenRequest) (*TokenResponse, error) {
	ttl := DefaultTokenTTL
	if q.TTL != "" {
		d, err := time.ParseDuration(q.TTL)
		if err != nil || d <= 0 || d > MaxTokenTTL {
			return nil, badRequest("ttl %q: want a duration up to %s, e.g. 15m", q.TTL, MaxTokenTTL)
		}
		ttl = d
	}
	rec := &store.Token{Kind: q.Kind, Created: c.now().UTC(), CreatedBy: a.Actor()}
	rec.Expires = rec.Created.Add(ttl)
	switch q.Kind {
	case store.TokenDevice:
		if err := enrol.CheckID("vendor", q.VendorID); err != nil {
			return nil, badRequest("%v", err)
		}
		rec.VendorID = q.VendorID
	case store.TokenAppliance:
		if q.Appliance != "" {
			if err := enrol.CheckID("appliance", q.Appliance); err != nil {
				return nil, badRequest("%v", err)
			}
			rec.Name = q.Appliance
		}
	default:
		return nil, badRequest("kind %q: want device or appliance", q.Kind)
	}
	tok, id, hash := newTokenSecret(enrolPrefix)
	rec.ID, rec.SecretHash = id, hash
	err := c.st.Update(ctx, func(tx store.Tx) error {
		if q.Kind == store.TokenDevice {
			v, err := tx.Vendor(ctx, q.VendorID)
			if errors.Is(err, store.ErrNotFound) {
				return notFound("vendor", q.VendorID)
			}
			if err != nil {
				return err
			}
			if v.Status != trustfeed.Active {
				return fail(http.StatusConflict, enrol.CodeVendorInactive, "vendor %s is %s: it cannot enrol devices", v.ID, v.Status)
			}
		}
		if err := tx.PutToken(ctx, rec); err != nil {
			return err
		}
		return c.audit(ctx, tx, a.Actor(), "enrol-token.create", "token:"+id,
			map[string]string{"kind": q.Kind, "vendorId": q.VendorID, "appliance": q.Appliance, "expires": rec.Expires.Format(time.RFC3339)})
	})
	if err != nil {
		return nil, err
	}
	return &TokenResponse{Token: tok, ID: id, Kind: q.Kind, Vendor: q.VendorID, Expires: rec.Expires}, nil
}

func (c *Central) publish(ctx context.Context, tx store.Tx, entries ...store.NewEntry) error {
	return feeds.Publish(ctx, tx, c.now(), entries...)
}

// Vendors.

// VendorView is a vendor as the admin API shows it (no key material).
type VendorView struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	CACert  []byte    `json:"caCert"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func vendorView(v *store.Vendor) VendorView {
	return VendorView{ID: v.ID, Name: v.Name, Status: v.Status, Reason: v.Reason, CACert: v.CACert, Created: v.Created, Updated: v.Updated}
}

// AddVendor registers a device provider and issues its provider CA.
func (c *Central) AddVendor(ctx context.Context, a *Admin, id, name string) (*VendorView, error) {
	if err := enrol.CheckID("vendor id", id); err != nil {
		return nil, badRequest("%v", err)
	}
	if strings.TrimSpace(name) == "" {
		return nil, badRequest("vendor name is required (it becomes O= in its certificates)")
	}
	if err := checkText("vendor name", name, 64); err != nil {
		return nil, err
	}
	now := c.now().UTC()
	ca, err := NewCA(pkix.Name{CommonName: name + " Device Provider CA", Organization: []string{name}}, now)
	if err != nil {
		return nil, err
	}
	key, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		return nil, err
	}
	sealed, err := c.keys.Seal(key)
	if err != nil {
		return nil, err
	}
	v := &store.Vendor{ID: id, Name: name, Status: trustfeed.Active, CACert: ca.Cert.Raw, CAKey: sealed, Created: now, Updated: now}
	err = c.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Vendor(ctx, id); err == nil {
			return fail(http.StatusConflict, enrol.CodeConflict, "vendor %s already exists", id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutVendor(ctx, v); err != nil {
			return err
		}
		if err := c.audit(ctx, tx, a.Actor(), "vendor.add", "vendor:"+id, map[string]string{"name": name, "caSha256": sbi.Thumbprint(ca.Cert)}); err != nil {
			return err
		}
		return c.publish(ctx, tx, feeds.VendorEntry(v))
	})
	if err != nil {
		return nil, err
	}
	c.caMu.Lock()
	c.cas[id] = ca
	c.caMu.Unlock()
	vv := vendorView(v)
	return &vv, nil
}

// Vendors lists vendors.
func (c *Central) Vendors(ctx context.Context) ([]VendorView, error) {
	var out []VendorView
	err := c.st.View(ctx, func(tx store.Tx) error {
		vs, err := tx.Vendors(ctx)
		for i := range vs {
			out = append(out, vendorView(&vs[i]))
		}
		return err
	})
	return out, err
}

// vendorCA returns a vendor's unlocked provider CA.
func (c *Central) vendorCA(v *store.Vendor) (*CA, error) {
	c.caMu.Lock()
	defer c.caMu.Unlock()
	if ca, ok := c.cas[v.ID]; ok && string(ca.Cert.Raw) == string(v.CACert) {
		return ca, nil
	}
	key, err := c.keys.Open(v.CAKey)
	if err != nil {
		return nil, err
	}
	ca, err := pki.ParseCA(v.CACert, key)
	if err != nil {
		return nil, fmt.Errorf("central: vendor %s CA: %w", v.ID, err)
	}
	c.cas[v.ID] = ca
	return ca, nil
}

// SetVendorStatus suspends, reinstates or revokes a vendor — and with it,
// for every consumer of the trust feed, every device under its CA.
func (c *Central) SetVendorStatus(ctx context.Context, a *Admin, id string, s StatusChange) (*VendorView, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	var out VendorView
	err := c.st.Update(ctx, func(tx store.Tx) error {
		v, err := tx.Vendor(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("vendor", id)
		}
		if err != nil {
			return err
		}
		if err := transition("vendor", id, v.Status, s); err != nil {
			return err
		}
		old := v.Status
		v.Status, v.Reason, v.Updated = s.Status, s.Reason, c.now().UTC()
		if err := tx.PutVendor(ctx, v); err != nil {
			return err
		}
		if err := c.audit(ctx, tx, a.Actor(), statusAction("vendor", s.Status), "vendor:"+id,
			map[string]string{"from": old, "to": s.Status, "reason": s.Reason}); err != nil {
			return err
		}
		out = vendorView(v)
		return c.publish(ctx, tx, feeds.VendorEntry(v))
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Devices.

// DeviceView is a device as the admin API shows it.
type DeviceView struct {
	store.Device
	// Effective is the status verifiers apply: revoked or suspended if
	// the vendor is, else the device's own.
	Effective string             `json:"effectiveStatus"`
	History   []store.AuditEvent `json:"history,omitempty"`
}

func effective(vendorStatus, deviceStatus string) string {
	rank := map[string]int{trustfeed.Active: 0, trustfeed.Suspended: 1, trustfeed.Revoked: 2}
	if rank[vendorStatus] > rank[deviceStatus] {
		return vendorStatus
	}
	return deviceStatus
}

// Devices lists devices.
func (c *Central) Devices(ctx context.Context, f store.DeviceFilter) ([]DeviceView, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	if f.Status != "" && !trustfeed.ValidStatus(f.Status) {
		return nil, badRequest("status %q: want active, suspended or revoked", f.Status)
	}
	var out []DeviceView
	err := c.st.View(ctx, func(tx store.Tx) error {
		ds, err := tx.Devices(ctx, f)
		if err != nil {
			return err
		}
		vs := map[string]string{}
		for i := range ds {
			d := ds[i]
			vst, ok := vs[d.VendorID]
			if !ok {
				if v, err := tx.Vendor(ctx, d.VendorID); err == nil {
					vst = v.Status
				}
				vs[d.VendorID] = vst
			}
			out = append(out, DeviceView{Device: d, Effective: effective(vst, d.Status)})
		}
		return nil
	})
	return out, err
}

// Device returns a device with its audit history.
func (c *Central) Device(ctx context.Context, serial string) (*DeviceView, error) {
	var out DeviceView
	err := c.st.View(ctx, func(tx store.Tx) error {
		d, err := tx.Device(ctx, serial)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("device", serial)
		}
		if err != nil {
			return err
		}
		v, err := tx.Vendor(ctx, d.VendorID)
		if err != nil {
			return err
		}
		h, err := tx.Audit(ctx, store.AuditFilter{Subject: "device:" + serial, Limit: 1000})
		out = DeviceView{Device: *d, Effective: effective(v.Status, d.Status), History: h}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// MaxBulk is the most devices one status change names.
const MaxBulk = 1000

// SetDeviceStatus changes the status of devices, all or none, with one
// audit row and one feed entry each.
func (c *Central) SetDeviceStatus(ctx context.Context, a *Admin, serials []string, s StatusChange) ([]string, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	if len(serials) == 0 || len(serials) > MaxBulk {
		return nil, badRequest("name 1–%d devices per request", MaxBulk)
	}
	for _, sn := range serials {
		if err := enrol.CheckID("serial", sn); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	err := c.st.Update(ctx, func(tx store.Tx) error {
		found, err := tx.DevicesBySerial(ctx, serials)
		if err != nil {
			return err
		}
		now := c.now().UTC()
		devs := make([]*store.Device, 0, len(serials))
		events := make([]store.AuditEvent, 0, len(serials))
		entries := make([]store.NewEntry, 0, len(serials))
		seen := make(map[string]bool, len(serials))
		for _, sn := range serials {
			d, ok := found[sn]
			if !ok {
				return notFound("device", sn)
			}
			if seen[sn] {
				return badRequest("device %s is named twice", sn)
			}
			seen[sn] = true
			if err := transition("device", sn, d.Status, s); err != nil {
				return err
			}
			detail, _ := json.Marshal(map[string]string{"from": d.Status, "to": s.Status, "reason": s.Reason})
			d.Status, d.Reason, d.Updated = s.Status, s.Reason, now
			devs = append(devs, d)
			events = append(events, store.AuditEvent{Time: now, Actor: a.Actor(), Action: statusAction("device", s.Status), Subject: "device:" + sn, Detail: detail})
			entries = append(entries, feeds.DeviceEntry(d))
		}
		if err := tx.PutDevices(ctx, devs...); err != nil {
			return err
		}
		if _, err := store.AppendAudit(ctx, tx, events...); err != nil {
			return err
		}
		return c.publish(ctx, tx, entries...)
	})
	if err != nil {
		return nil, err
	}
	return serials, nil
}

// Appliances.

// ApplianceView is an appliance with its history.
type ApplianceView struct {
	store.Appliance
	History []store.AuditEvent `json:"history,omitempty"`
}

// Appliances lists appliances.
func (c *Central) Appliances(ctx context.Context) ([]store.Appliance, error) {
	var out []store.Appliance
	err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Appliances(ctx)
		return err
	})
	return out, err
}

// Appliance returns one appliance with its audit history.
func (c *Central) Appliance(ctx context.Context, id string) (*ApplianceView, error) {
	var out ApplianceView
	err := c.st.View(ctx, func(tx store.Tx) error {
		a, err := tx.Appliance(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("appliance", id)
		}
		if err != nil {
			return err
		}
		h, err := tx.Audit(ctx, store.AuditFilter{Subject: "appliance:" + id})
		out = ApplianceView{Appliance: *a, History: h}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetApplianceStatus suspends, reinstates or revokes an appliance.
func (c *Central) SetApplianceStatus(ctx context.Context, a *Admin, id string, s StatusChange) (*store.Appliance, error) {
	if err := s.Check(); err != nil {
		return nil, err
	}
	var out store.Appliance
	err := c.st.Update(ctx, func(tx store.Tx) error {
		ap, err := tx.Appliance(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("appliance", id)
		}
		if err != nil {
			return err
		}
		if err := transition("appliance", id, ap.Status, s); err != nil {
			return err
		}
		old := ap.Status
		ap.Status, ap.Reason, ap.Updated = s.Status, s.Reason, c.now().UTC()
		if s.Status == trustfeed.Revoked {
			ap.Backfill = nil // a revoked appliance gets no more records
		}
		if err := tx.PutAppliance(ctx, ap); err != nil {
			return err
		}
		if err := c.audit(ctx, tx, a.Actor(), statusAction("appliance", s.Status), "appliance:"+id,
			map[string]string{"from": old, "to": s.Status, "reason": s.Reason}); err != nil {
			return err
		}
		if err := c.publish(ctx, tx, feeds.ApplianceEntry(ap)); err != nil {
			return err
		}
		if s.Status == trustfeed.Active {
			// While suspended (or revoked) it received deletions only:
			// publish its group's records again.
			if err := c.startBackfill(ctx, tx, ap, feeds.ApplianceGroup(ap), ""); err != nil {
				return err
			}
		}
		out = *ap
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.kickBackfill()
	return &out, nil
}

// Relying parties.

// AddRelyingParty registers a relying party, the identity attributes it
// may receive and the auth types it may use, and publishes it on the trust
// feed (without keys until one is added).
func (c *Central) AddRelyingParty(ctx context.Context, a *Admin, id, name string, attrs, authTypes []string) (*store.RelyingParty, error) {
	if err := enrol.CheckID("relying party id", id); err != nil {
		return nil, badRequest("%v", err)
	}
	if err := checkText("name", name, 128); err != nil {
		return nil, err
	}
	if len(attrs) > 64 {
		return nil, badRequest("at most 64 attributes")
	}
	for _, at := range attrs {
		if err := enrol.CheckID("attribute", at); err != nil {
			return nil, badRequest("%v", err)
		}
	}
	if len(authTypes) == 0 {
		return nil, badRequest("give the auth types the relying party may use (%s)", strings.Join(recordfeed.AuthTypes, ", "))
	}
	for _, t := range authTypes {
		if !recordfeed.ValidAuthType(t) {
			return nil, badRequest("auth type %q: want one of %s", t, strings.Join(recordfeed.AuthTypes, ", "))
		}
	}
	now := c.now().UTC()
	rp := &store.RelyingParty{ID: id, Name: name, Status: trustfeed.Active, Attributes: attrs, AuthTypes: authTypes, Created: now, Updated: now}
	err := c.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.RelyingParty(ctx, id); err == nil {
			return fail(http.StatusConflict, enrol.CodeConflict, "relying party %s already exists", id)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutRelyingParty(ctx, rp); err != nil {
			return err
		}
		if err := c.audit(ctx, tx, a.Actor(), "relying-party.add", "relying-party:"+id, map[string]any{"name": name, "attributes": attrs, "authTypes": authTypes}); err != nil {
			return err
		}
		return c.publish(ctx, tx, feeds.RPEntry(rp))
	})
	if err != nil {
		return nil, err
	}
	return rp, nil
}

// RelyingParties lists relying parties.
func (c *Central) RelyingParties(ctx context.Context) ([]store.RelyingParty, error) {
	var out []store.RelyingParty
	err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.RelyingParties(ctx)
		return err
	})
	return out, err
}

// Audit returns audit rows.
func (c *Central) Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	var out []store.AuditEvent
	err := c.st.View(ctx, func(tx store.Tx) error {
		var err error
		out, err = tx.Audit(ctx, f)
		return err
	})
	return out, err
}

// VerifyAudit walks the whole audit log and checks its hash chain.
func (c *Central) VerifyAudit(ctx context.Context) (uint64, error) {
	prev := make([]byte, 32)
	var after uint64
	for {
		rows, err := c.Audit(ctx, store.AuditFilter{After: after, Limit: 1000})
		if err != nil {
			return after, err
		}
		if len(rows) == 0 {
			return after, nil
		}
		if prev, err = store.VerifyAuditChain(prev, rows); err != nil {
			return after, err
		}
		after = rows[len(rows)-1].Seq
	}
}
