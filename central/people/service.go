package people

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/keys"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
)

// Service is central's people concept: people and their VIDs, locks, the
// records they put on the records feed of every appliance of their group,
// backfills and the sweep of expired VIDs. Its methods are what the root
// package's Central methods call.
type Service struct {
	st            store.Store
	keys          *keys.Keyring
	now           func() time.Time
	log           *slog.Logger
	captureMaxAge time.Duration
	backfillBytes int
	kick          chan struct{}
}

// Config configures a Service.
type Config struct {
	Store store.Store
	// Keys seals people (the keyring's box) and signs records (its feed
	// key).
	Keys *keys.Keyring
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	Log *slog.Logger
	// CaptureMaxAge is how old an RCAPTURE answer may be when a person is
	// enrolled from it (0: EnrolCaptureMaxAge; at most MaxCaptureMaxAge).
	CaptureMaxAge time.Duration
	// BackfillBytes bounds the operations of one backfill step (0:
	// DefaultBackfillBytes; tests lower it).
	BackfillBytes int
}

// New makes a Service. Its background work runs in BackfillLoop and
// SweepLoop, which the caller starts.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Keys == nil {
		return nil, errors.New("central/people: a store and a keyring are required")
	}
	if c.CaptureMaxAge < 0 || c.CaptureMaxAge > MaxCaptureMaxAge {
		return nil, fmt.Errorf("central: capture max age %s: want up to %s", c.CaptureMaxAge, MaxCaptureMaxAge)
	}
	s := &Service{st: c.Store, keys: c.Keys, now: c.Now, log: c.Log, captureMaxAge: c.CaptureMaxAge,
		backfillBytes: c.BackfillBytes, kick: make(chan struct{}, 1)}
	if s.captureMaxAge == 0 {
		s.captureMaxAge = EnrolCaptureMaxAge
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.backfillBytes <= 0 {
		s.backfillBytes = DefaultBackfillBytes
	}
	return s, nil
}

var (
	fail       = core.Fail
	badRequest = core.BadRequest
	notFound   = core.NotFound
	checkText  = core.CheckText
)

// audit appends an audit row inside tx.
func (s *Service) audit(ctx context.Context, tx store.Tx, actor, action, subject string, detail any) error {
	return core.Audit(ctx, tx, s.now(), actor, action, subject, detail)
}

// Bounds on enrolment input.
const (
	MaxEnrolCaptures = 10
	// MaxEnrolBytes bounds a person enrolment request body: the captures
	// and room for the demographics and the JSON around them.
	MaxEnrolBytes = MaxCaptureBytes + 256<<10
	// DefaultGroup is the records group of people and appliances that
	// name none.
	DefaultGroup = feeds.DefaultGroup
	// EnrolCaptureMaxAge is how old an RCAPTURE may be when it is enrolled,
	// by default (registration may be batched and uploaded later);
	// Config.CaptureMaxAge changes it, up to MaxCaptureMaxAge.
	EnrolCaptureMaxAge = 24 * time.Hour
	MaxCaptureMaxAge   = 30 * 24 * time.Hour
	maxTTL             = 30 * 24 * time.Hour
)

// Person statuses.
const (
	PersonActive = "active"
	VIDActive    = "active"
	VIDRevoked   = "revoked"
	VIDExpired   = "expired"
)

// PersonRequest enrols a person: demographics and the RCAPTURE answers of a
// registered device. A capture is the raw RCAPTURE answer, or an object
// {"request": <the RCAPTURE request>, "response": <its answer>} when the
// request is at hand (then counts, subtypes and the hash chain's start are
// checked against it).
type PersonRequest struct {
	Demographics map[string]string `json:"demographics"`
	Captures     []json.RawMessage `json:"captures"`
	Group        string            `json:"group,omitempty"`
	VIDKind      string            `json:"vidKind,omitempty"` // default perpetual
}

// PersonEnrolled is the answer to an enrolment.
type PersonEnrolled struct {
	UIN        string    `json:"uin"`
	VID        string    `json:"vid"`
	VIDKind    string    `json:"vidKind"`
	VIDExpires time.Time `json:"vidExpires,omitzero"`
	Group      string    `json:"group"`
	Templates  []string  `json:"templates"` // bioSubTypes enrolled
}

// PersonView is what admins see of a person.
type PersonView struct {
	UIN          string            `json:"uin"`
	Group        string            `json:"group"`
	Status       string            `json:"status"`
	Locked       []string          `json:"locked"`
	Demographics map[string]string `json:"demographics"`
	Templates    []string          `json:"templates"`
	VIDs         []store.VID       `json:"vids"`
	Created      time.Time         `json:"created"`
	Updated      time.Time         `json:"updated"`
}

// personData is the sealed part of a person.
type personData struct {
	Demographics map[string]string      `json:"demographics"`
	Biometrics   []recordfeed.Biometric `json:"biometrics"`
	TokenSeed    []byte                 `json:"tokenSeed"`
}

func (s *Service) sealPerson(d *personData) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return s.keys.Seal(b)
}

func (s *Service) openPerson(p *store.Person) (*personData, error) {
	b, err := s.keys.OpenLimit(p.Sealed, 2*recordfeed.MaxRecordBytes)
	if err != nil {
		return nil, fmt.Errorf("central: person record does not open with this keyring: %w", err)
	}
	var d personData
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("central: sealed person record: %w", err)
	}
	return &d, nil
}

func checkGroup(g string) (string, error) {
	if g == "" {
		return DefaultGroup, nil
	}
	if err := enrol.CheckID("group", g); err != nil {
		return "", badRequest("%v", err)
	}
	return g, nil
}

func vidKind(s string) (vid.Kind, error) {
	switch s {
	case "", "perpetual":
		return vid.Perpetual, nil
	case "temporary":
		return vid.Temporary, nil
	case "one-time":
		return vid.OneTime, nil
	}
	return 0, badRequest("VID kind %q: want perpetual, temporary or one-time", s)
}

func randomUIN() (string, error) {
	// 10 digits, the first 2–9 (MOSIP UINs never start with 0 or 1).
	n, err := rand.Int(rand.Reader, big.NewInt(8_000_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d", 2_000_000_000+n.Int64()), nil
}

// EnrolPerson verifies the captures, extracts templates, draws a UIN and a
// first VID, stores the person sealed to the keyring, and publishes the
// record to every appliance of the person's group.
func (s *Service) EnrolPerson(ctx context.Context, a *core.Admin, q *PersonRequest) (*PersonEnrolled, error) {
	group, err := checkGroup(q.Group)
	if err != nil {
		return nil, err
	}
	kind, err := vidKind(q.VIDKind)
	if err != nil {
		return nil, err
	}
	if len(q.Captures) == 0 || len(q.Captures) > MaxEnrolCaptures {
		return nil, badRequest("give 1–%d RCAPTURE answers", MaxEnrolCaptures)
	}
	total := 0
	for _, raw := range q.Captures {
		total += len(raw)
	}
	if total > MaxCaptureBytes {
		return nil, badRequest("the RCAPTURE answers come to %d bytes, more than %d: enrol fewer captures at a time", total, MaxCaptureBytes)
	}
	if len(q.Demographics) == 0 {
		return nil, badRequest("demographics are required (e.g. fullName, dateOfBirth)")
	}
	if len(q.Demographics) > recordfeed.MaxDemographics {
		return nil, badRequest("at most %d demographic attributes", recordfeed.MaxDemographics)
	}
	for k, v := range q.Demographics {
		if err := enrol.CheckID("demographic attribute name", k); err != nil {
			return nil, badRequest("%v", err)
		}
		if err := checkText("demographic attribute "+k, v, recordfeed.MaxAttrValue); err != nil {
			return nil, err
		}
	}
	var segs []Segment
	var serials []string
	signers := map[string]string{} // serial → device certificate thumbprint
	for i, raw := range q.Captures {
		sg, serial, cert, err := VerifyRegistration(ctx, s.st, s.now, s.captureMaxAge, raw)
		if err != nil {
			var e *enrol.Error
			if errors.As(err, &e) {
				e.Message = fmt.Sprintf("capture %d: %s", i+1, e.Message)
			}
			return nil, err
		}
		segs = append(segs, sg...)
		serials = append(serials, serial)
		signers[serial] = cert
	}
	bio, err := Templates(segs)
	if err != nil {
		return nil, err
	}
	seed := make([]byte, recordfeed.TokenSeedLen)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	data := &personData{Demographics: q.Demographics, Biometrics: bio, TokenSeed: seed}
	sealed, err := s.sealPerson(data)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Second)
	v, err := vid.New(kind, now, 0)
	if err != nil {
		return nil, err
	}
	if err := recordFits(data, v, now); err != nil {
		return nil, err
	}
	var out PersonEnrolled
	err = s.st.Update(ctx, func(tx store.Tx) error {
		// The devices may have been revoked, or rotated their keys, since
		// the captures were verified.
		if err := RecheckSigners(ctx, tx, signers); err != nil {
			return err
		}
		var uin string
		for range 10 {
			u, err := randomUIN()
			if err != nil {
				return err
			}
			if _, err := tx.Person(ctx, u); errors.Is(err, store.ErrNotFound) {
				uin = u
				break
			} else if err != nil {
				return err
			}
		}
		if uin == "" {
			return errors.New("central: could not draw an unused UIN")
		}
		if err := s.freshVID(ctx, tx, &v, kind, now, 0); err != nil {
			return err
		}
		p := &store.Person{UIN: uin, Group: group, Status: PersonActive, Sealed: sealed, Created: now, Updated: now}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		sv := &store.VID{Number: v.Number, UIN: uin, Kind: v.Kind.String(), IssuedAt: v.IssuedAt, ExpiresAt: v.ExpiresAt, Status: VIDActive, Updated: now}
		if err := tx.PutVID(ctx, sv); err != nil {
			return err
		}
		subs := make([]string, 0, len(bio))
		for _, b := range bio {
			subs = append(subs, b.SubType)
		}
		if err := s.audit(ctx, tx, a.Actor(), "person.enrol", "person:"+maskUIN(uin), map[string]any{
			"group": group, "templates": subs, "devices": serials, "vid": vid.Mask(v.Number), "vidKind": sv.Kind}); err != nil {
			return err
		}
		out = PersonEnrolled{UIN: uin, VID: v.Number, VIDKind: sv.Kind, VIDExpires: sv.ExpiresAt, Group: group, Templates: subs}
		return s.publishPerson(ctx, tx, p, data, []store.VID{*sv}, nil, "")
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("person enrolled", "group", group, "templates", len(bio), "admin", a.TokenID)
	return &out, nil
}

// recordFits checks, before anything is written, that the person's record
// is one appliances accept (recordfeed.Record.Check and MaxRecordBytes):
// many large iris or face records can make it too large.
func recordFits(d *personData, v vid.VID, now time.Time) error {
	r := recordfeed.Record{Version: recordfeed.Version, UIN: strings.Repeat("9", 12), VID: v.Number, VIDKind: v.Kind.String(),
		VIDIssued: v.IssuedAt, VIDExpires: v.ExpiresAt, Issued: now, Demographics: d.Demographics,
		Biometrics: d.Biometrics, Locked: recordfeed.AuthTypes, TokenSeed: d.TokenSeed}
	b, err := r.Marshal()
	if err != nil {
		return fail(http.StatusUnprocessableEntity, "record_invalid", "the person's record would not be accepted by appliances (%v): enrol fewer or smaller biometrics, or shorter demographics", err)
	}
	n, err := feeds.OpSize(recordfeed.Op{Put: &recordfeed.Signed{Record: b, Sig: make([]byte, 64)}})
	if err != nil {
		return err
	}
	if n+len(feeds.EmptyBatch) > feeds.MaxBatchPlain {
		return fail(http.StatusUnprocessableEntity, "record_invalid", "the person's record (%d bytes) is too large for the records feed (at most about %d bytes): enrol fewer or smaller iris or face records, or shorter demographics", len(b), feeds.MaxBatchPlain*3/4)
	}
	return nil
}

// freshVID redraws v until its number is unused.
func (s *Service) freshVID(ctx context.Context, tx store.Tx, v *vid.VID, kind vid.Kind, now time.Time, ttl time.Duration) error {
	for range 10 {
		if _, err := tx.VID(ctx, v.Number); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		nv, err := vid.New(kind, now, ttl)
		if err != nil {
			return err
		}
		*v = nv
	}
	return errors.New("central: could not draw an unused VID")
}

// maskUIN keeps the last four digits, for audit subjects and logs.
func maskUIN(uin string) string { return vid.Mask(uin) }

// record builds and signs one VID's record.
func (s *Service) record(p *store.Person, d *personData, v *store.VID, now time.Time) (*recordfeed.Signed, error) {
	r := recordfeed.Record{Version: recordfeed.Version, UIN: p.UIN, VID: v.Number, VIDKind: v.Kind,
		VIDIssued: v.IssuedAt, VIDExpires: v.ExpiresAt, Issued: now, Demographics: d.Demographics,
		Biometrics: d.Biometrics, Locked: p.Locked, TokenSeed: d.TokenSeed}
	b, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	return &recordfeed.Signed{Record: b, Sig: recordfeed.Sign(s.keys.Feed, b)}, nil
}

// activeVIDs are a person's VIDs that can still be used at now.
func activeVIDs(vs []store.VID, now time.Time) []store.VID {
	var out []store.VID
	for _, v := range vs {
		if v.Status == VIDActive && (v.ExpiresAt.IsZero() || now.Before(v.ExpiresAt)) {
			out = append(out, v)
		}
	}
	return out
}

// publishPerson appends, to the records feed of every active appliance of
// the person's group (or only to appliance only, if given), one sealed
// batch putting the records of puts and deleting the VIDs in deletes.
func (s *Service) publishPerson(ctx context.Context, tx store.Tx, p *store.Person, d *personData, puts []store.VID, deletes []string, only string) error {
	now := s.now().UTC().Truncate(time.Second)
	var ops, dels []recordfeed.Op
	if p.Status == PersonActive {
		for i := range puts {
			sig, err := s.record(p, d, &puts[i], now)
			if err != nil {
				return err
			}
			ops = append(ops, recordfeed.Op{Put: sig})
		}
	}
	for _, n := range deletes {
		dels = append(dels, recordfeed.Op{Delete: n})
	}
	ops = append(ops, dels...)
	if len(ops) == 0 {
		return nil
	}
	aps, err := feeds.GroupAppliances(ctx, tx, p.Group, only)
	if err != nil {
		return err
	}
	for _, ap := range aps {
		o := ops
		if ap.Status != trustfeed.Active {
			// A suspended appliance gets deletions (they only take
			// identity data away) but no records; reinstating it
			// backfills them.
			o = dels
		}
		if len(o) == 0 {
			continue
		}
		if err := feeds.AppendSealed(ctx, tx, ap, o, now); err != nil {
			return err
		}
	}
	return nil
}

// withPerson loads a person and their sealed data in tx.
func (s *Service) withPerson(ctx context.Context, tx store.Tx, uin string) (*store.Person, *personData, error) {
	p, err := tx.Person(ctx, uin)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fail(http.StatusNotFound, enrol.CodeNotFound, "no person with that UIN")
	}
	if err != nil {
		return nil, nil, err
	}
	d, err := s.openPerson(p)
	return p, d, err
}

// Person shows a person to an admin.
func (s *Service) Person(ctx context.Context, uin string) (*PersonView, error) {
	var out PersonView
	err := s.st.View(ctx, func(tx store.Tx) error {
		p, d, err := s.withPerson(ctx, tx, uin)
		if err != nil {
			return err
		}
		vs, err := tx.VIDsOf(ctx, uin)
		if err != nil {
			return err
		}
		out = PersonView{UIN: p.UIN, Group: p.Group, Status: p.Status, Locked: p.Locked, Demographics: d.Demographics,
			VIDs: vs, Created: p.Created, Updated: p.Updated, Templates: []string{}}
		if out.Locked == nil {
			out.Locked = []string{}
		}
		for _, b := range d.Biometrics {
			out.Templates = append(out.Templates, b.Type+" "+b.SubType)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// IssueVID issues a new VID for a person and publishes its record.
func (s *Service) IssueVID(ctx context.Context, a *core.Admin, uin, kind string, ttl time.Duration) (*store.VID, error) {
	k, err := vidKind(kind)
	if err != nil {
		return nil, err
	}
	if ttl < 0 || ttl > maxTTL {
		return nil, badRequest("ttl must be between 0 (default 30m) and %s", maxTTL)
	}
	now := s.now().UTC().Truncate(time.Second)
	v, err := vid.New(k, now, ttl)
	if err != nil {
		return nil, err
	}
	var out store.VID
	err = s.st.Update(ctx, func(tx store.Tx) error {
		p, d, err := s.withPerson(ctx, tx, uin)
		if err != nil {
			return err
		}
		if p.Status != PersonActive {
			return fail(http.StatusConflict, enrol.CodeNotActive, "the person is %s", p.Status)
		}
		if err := s.freshVID(ctx, tx, &v, k, now, ttl); err != nil {
			return err
		}
		out = store.VID{Number: v.Number, UIN: uin, Kind: v.Kind.String(), IssuedAt: v.IssuedAt, ExpiresAt: v.ExpiresAt, Status: VIDActive, Updated: now}
		if err := tx.PutVID(ctx, &out); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a.Actor(), "vid.issue", "person:"+maskUIN(uin), map[string]any{"vid": vid.Mask(v.Number), "kind": out.Kind, "expires": out.ExpiresAt}); err != nil {
			return err
		}
		return s.publishPerson(ctx, tx, p, d, []store.VID{out}, nil, "")
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// VIDs lists a person's VIDs.
func (s *Service) VIDs(ctx context.Context, uin string) ([]store.VID, error) {
	var out []store.VID
	err := s.st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Person(ctx, uin); errors.Is(err, store.ErrNotFound) {
			return fail(http.StatusNotFound, enrol.CodeNotFound, "no person with that UIN")
		} else if err != nil {
			return err
		}
		var err error
		out, err = tx.VIDsOf(ctx, uin)
		return err
	})
	return out, err
}

// RevokeVID revokes a VID (final) and deletes its record from the
// appliances.
func (s *Service) RevokeVID(ctx context.Context, a *core.Admin, number, reason string) (*store.VID, error) {
	if err := vid.Validate(number); err != nil {
		return nil, badRequest("not a valid VID (16 digits with a Verhoeff check digit)")
	}
	if reason == "" {
		return nil, badRequest("a reason is required to revoke a VID")
	}
	if err := checkText("reason", reason, 256); err != nil {
		return nil, err
	}
	var out store.VID
	err := s.st.Update(ctx, func(tx store.Tx) error {
		v, err := tx.VID(ctx, number)
		if errors.Is(err, store.ErrNotFound) {
			return fail(http.StatusNotFound, enrol.CodeNotFound, "no such VID")
		}
		if err != nil {
			return err
		}
		if v.Status == VIDRevoked {
			return fail(http.StatusConflict, enrol.CodeNotActive, "the VID is already revoked")
		}
		p, d, err := s.withPerson(ctx, tx, v.UIN)
		if err != nil {
			return err
		}
		v.Status, v.Reason, v.Updated = VIDRevoked, reason, s.now().UTC()
		if err := tx.PutVID(ctx, v); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a.Actor(), "vid.revoke", "person:"+maskUIN(v.UIN), map[string]any{"vid": vid.Mask(number), "reason": reason}); err != nil {
			return err
		}
		out = *v
		return s.publishPerson(ctx, tx, p, d, nil, []string{number}, "")
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// SetLocks locks and unlocks auth types for a person and republishes the
// records of the person's active VIDs.
func (s *Service) SetLocks(ctx context.Context, a *core.Admin, uin string, lock, unlock []string) (*PersonView, error) {
	if len(lock)+len(unlock) == 0 || len(lock)+len(unlock) > 2*len(recordfeed.AuthTypes) {
		return nil, badRequest("name the auth types to lock or unlock (%s)", strings.Join(recordfeed.AuthTypes, ", "))
	}
	for _, t := range append(slices.Clone(lock), unlock...) {
		if !recordfeed.ValidAuthType(t) {
			return nil, badRequest("auth type %q: want one of %s", t, strings.Join(recordfeed.AuthTypes, ", "))
		}
	}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		p, d, err := s.withPerson(ctx, tx, uin)
		if err != nil {
			return err
		}
		set := map[string]bool{}
		for _, l := range p.Locked {
			set[l] = true
		}
		for _, l := range lock {
			set[l] = true
		}
		for _, l := range unlock {
			delete(set, l)
		}
		p.Locked = slices.Sorted(maps.Keys(set))
		p.Updated = s.now().UTC()
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a.Actor(), "person.locks", "person:"+maskUIN(uin), map[string]any{"locked": p.Locked}); err != nil {
			return err
		}
		vs, err := tx.VIDsOf(ctx, uin)
		if err != nil {
			return err
		}
		return s.publishPerson(ctx, tx, p, d, activeVIDs(vs, s.now()), nil, "")
	})
	if err != nil {
		return nil, err
	}
	return s.Person(ctx, uin)
}

// LockAuth locks auth types for a person: appliances refuse them for every
// VID of the person once their records feed delivers the change.
func (s *Service) LockAuth(ctx context.Context, a *core.Admin, uin string, types []string) (*PersonView, error) {
	if len(types) == 0 {
		return nil, badRequest("name the auth types to lock (%s)", strings.Join(recordfeed.AuthTypes, ", "))
	}
	return s.SetLocks(ctx, a, uin, types, nil)
}

// UnlockAuth unlocks auth types for a person.
func (s *Service) UnlockAuth(ctx context.Context, a *core.Admin, uin string, types []string) (*PersonView, error) {
	if len(types) == 0 {
		return nil, badRequest("name the auth types to unlock (%s)", strings.Join(recordfeed.AuthTypes, ", "))
	}
	return s.SetLocks(ctx, a, uin, nil, types)
}

// ListVIDs lists a person's VIDs (full numbers: for admins only).
func (s *Service) ListVIDs(ctx context.Context, uin string) ([]store.VID, error) {
	return s.VIDs(ctx, uin)
}

// SetApplianceGroup moves an appliance to a records group: its feed gets
// the new group's records and deletions of the old group's.
func (s *Service) SetApplianceGroup(ctx context.Context, a *core.Admin, id, group string) (*store.Appliance, error) {
	group, err := checkGroup(group)
	if err != nil {
		return nil, err
	}
	var out store.Appliance
	err = s.st.Update(ctx, func(tx store.Tx) error {
		ap, err := tx.Appliance(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return notFound("appliance", id)
		}
		if err != nil {
			return err
		}
		old := feeds.ApplianceGroup(ap)
		if old == group {
			out = *ap
			return nil
		}
		ap.Group, ap.Updated = group, s.now().UTC()
		if err := tx.PutAppliance(ctx, ap); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, a.Actor(), "appliance.group", "appliance:"+id, map[string]string{"from": old, "to": group}); err != nil {
			return err
		}
		if ap.Status == trustfeed.Revoked {
			out = *ap
			return nil
		}
		if err := s.StartBackfill(ctx, tx, ap, group, old); err != nil {
			return err
		}
		out = *ap
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Kick()
	return &out, nil
}

// SweepExpiredVIDs marks active VIDs whose expiry has passed as expired and
// deletes their records from the appliances (which refuse them by their
// expiry anyway; this keeps dead records off their disks). It returns how
// many it expired.
func (s *Service) SweepExpiredVIDs(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := s.st.Update(ctx, func(tx store.Tx) error {
			now := s.now().UTC()
			vs, err := tx.ExpiringVIDs(ctx, now, 200)
			if err != nil {
				return err
			}
			n = len(vs)
			byPerson := map[string][]string{}
			for i := range vs {
				v := &vs[i]
				v.Status, v.Updated = VIDExpired, now
				if err := tx.PutVID(ctx, v); err != nil {
					return err
				}
				byPerson[v.UIN] = append(byPerson[v.UIN], v.Number)
			}
			for uin, numbers := range byPerson {
				p, err := tx.Person(ctx, uin)
				if err != nil {
					return err
				}
				if err := s.publishPerson(ctx, tx, p, nil, nil, numbers, ""); err != nil {
					return err
				}
			}
			if n == 0 {
				return nil
			}
			return s.audit(ctx, tx, "system", "vid.expire", "vids", map[string]int{"expired": n})
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < 200 {
			return total, nil
		}
	}
}

// SweepLoop runs SweepExpiredVIDs every interval until stop is closed.
func (s *Service) SweepLoop(stop <-chan struct{}, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), interval)
			n, err := s.SweepExpiredVIDs(ctx)
			cancel()
			if err != nil {
				s.log.Error("expiring VIDs failed; will retry", "err", err)
			} else if n > 0 {
				s.log.Info("expired VIDs removed from appliances", "count", n)
			}
		}
	}
}
