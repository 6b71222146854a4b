package central

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	attest "github.com/edgetrust/edgetrust/central/attestation"
	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/enrolment"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
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
	// Attest configures continuous attestation (central/attest): Interval
	// between rounds (default 10 min; negative: no loop, for tests) and
	// the fault hook. Store, Now, Log and the appliance hooks are set here.
	Attest attest.Config
	// PerDeviceStatusEntries publishes bulk device status changes as one
	// whole device entry per device instead of device-status entries of
	// up to 500 serials: only while appliances older than the
	// device-status entry kind still follow the feed (docs/api/central.md,
	// "Feeds").
	PerDeviceStatusEntries bool
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

	reg *registry.Registry
	enr *enrolment.Service
	ppl *people.Service

	att *attest.Verifier

	feeds    *feeds.Server
	console  http.Handler   // /console/ (EnableConsole), nil: off
	pos      *feedPositions // appliances' trust-feed positions
	posDone  chan struct{}  // closed when pos's last flush is over
	stop     chan struct{}
	stopOnce sync.Once
}

// New makes a Central and starts its feed-change broadcaster.
func New(c Config) (*Central, error) {
	if c.Store == nil || c.Keys == nil {
		return nil, errors.New("central: a store and a keyring are required")
	}
	ce := &Central{st: c.Store, keys: c.Keys, ek: c.EK, now: c.Now, log: c.Log, ttl: c.SessionTTL, stop: make(chan struct{})}
	if ce.now == nil {
		ce.now = time.Now
	}
	if ce.log == nil {
		ce.log = slog.New(slog.DiscardHandler)
	}
	if ce.ttl <= 0 {
		ce.ttl = 2 * time.Minute
	}
	ce.pos = newFeedPositions(ce.st, ce.log)
	ce.posDone = make(chan struct{})
	ppl, err := people.New(people.Config{Store: ce.st, Keys: ce.keys, Now: ce.now, Log: ce.log, CaptureMaxAge: c.CaptureMaxAge})
	if err != nil {
		return nil, err
	}
	ce.ppl = ppl
	// An appliance's records feed starts with every record of its group
	// when it enrols; while suspended (or revoked) it received deletions
	// only, so reinstating it publishes its group's records again.
	backfill := func(ctx context.Context, tx store.Tx, ap *store.Appliance) error {
		return ppl.StartBackfill(ctx, tx, ap, feeds.ApplianceGroup(ap), "")
	}
	ce.reg = registry.New(ce.st, ce.keys, ce.now)
	ce.reg.PerDeviceStatusEntries = c.PerDeviceStatusEntries
	ce.reg.Reinstated, ce.reg.Kick = backfill, ppl.Kick
	ce.enr = &enrolment.Service{Store: ce.st, Keys: ce.keys, Registry: ce.reg, Now: ce.now, Log: ce.log, TTL: ce.ttl, EK: ce.ekPolicy,
		Backfill: backfill, Kick: ppl.Kick}
	ac := c.Attest
	ac.Store, ac.Now, ac.Log, ac.Reinstated, ac.Kick = ce.st, ce.now, ce.log, backfill, ppl.Kick
	ac.VendorCA = ce.reg.VendorCA
	runAttest := ac.Interval >= 0
	if ac.Interval < 0 {
		ac.Interval = 0
	}
	ce.att = attest.New(ac)
	if runAttest {
		go ce.att.Run(ce.stop)
	}
	go func() { defer close(ce.posDone); ce.pos.loop(ce.stop, PositionFlush) }()
	ce.feeds = feeds.NewServer(ce.st, ce.keys.Feed, ce.now)
	go ce.feeds.Run(ce.stop)
	go ppl.BackfillLoop(ce.stop)
	if c.SweepInterval == 0 {
		c.SweepInterval = time.Minute
	}
	if c.SweepInterval > 0 {
		go ppl.SweepLoop(ce.stop, c.SweepInterval)
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

// Close stops background work (not the store), after writing the
// appliances' last feed positions to the store.
func (c *Central) Close() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.posDone
}

// Store returns the store.
func (c *Central) Store() store.Store { return c.st }

// The shared primitives of central's concept packages (central/core).

// Admin is an authenticated administrator.
type Admin = core.Admin

// StatusChange asks to suspend, reinstate or revoke.
type StatusChange = core.StatusChange

var (
	fail       = core.Fail
	badRequest = core.BadRequest
	notFound   = core.NotFound
	checkText  = core.CheckText
)

// audit appends an audit row inside tx.
func (c *Central) audit(ctx context.Context, tx store.Tx, actor, action, subject string, detail any) error {
	return core.Audit(ctx, tx, c.now(), actor, action, subject, detail)
}

// Token secrets (central/core).
var (
	newTokenSecret = core.NewTokenSecret
	splitToken     = core.SplitToken
	secretMatches  = core.SecretMatches
)

const (
	adminPrefix = core.AdminPrefix
	enrolPrefix = core.EnrolPrefix
)

var errUnauthorized = core.ErrUnauthorized

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

// AuditLockout appends an auth.lockout row (httpapi.Service): subject is
// "addr:<IP>", "admin-token:<id>", "enrol-token:<id>" or
// "session:sha256:<prefix>" — public ids, never a presented secret.
func (c *Central) AuditLockout(ctx context.Context, check, subject string, failures, retryAfter int) error {
	if len(subject) > 200 {
		subject = subject[:200]
	}
	return c.st.Update(ctx, func(tx store.Tx) error {
		return c.audit(ctx, tx, "central", "auth.lockout", subject,
			map[string]any{"check": check, "failures": failures, "retryAfterSeconds": retryAfter})
	})
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

type (
	// TokenRequest asks for an enrolment token (core.TokenRequest).
	TokenRequest = core.TokenRequest
	// TokenResponse carries a new enrolment token (core.TokenResponse).
	TokenResponse = core.TokenResponse
)

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
