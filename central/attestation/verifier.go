package attestation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Config configures a Verifier.
type Config struct {
	Store store.Store
	Now   func() time.Time
	Log   *slog.Logger
	// Interval is the time between rounds (default DefaultInterval): each
	// round asks every node for a fresh quote.
	Interval time.Duration
	// Reinstated publishes, inside tx, the records of an appliance whose
	// quarantine is lifted; Kick runs the rest after the commit (the
	// people concept; nil: nothing).
	Reinstated func(ctx context.Context, tx store.Tx, ap *store.Appliance) error
	Kick       func()
	// RoundHook, when set, runs at the start of each round: the fault hook
	// tests use to hang or crash the loop.
	RoundHook func()
	// VendorCA opens a vendor's provider CA to issue release-signing
	// certificates (IssueSigner; nil: not offered).
	VendorCA func(v *store.Vendor) (*pki.CA, error)
	// Replica names this process in the shared round record (default: a
	// random "replica-…").
	Replica string
}

// DefaultInterval is the default time between attestation rounds.
const DefaultInterval = 10 * time.Minute

// Quarantine reasons are suspension reasons with these prefixes; only such
// suspensions are lifted by a good quote or by ReleaseQuarantine.
const (
	QuarantineFailed = "attestation-failed"
	QuarantineStale  = "attestation-stale"
)

// IsQuarantine reports whether a suspension reason is an attestation
// quarantine.
func IsQuarantine(reason string) bool {
	return strings.HasPrefix(reason, QuarantineFailed) || strings.HasPrefix(reason, QuarantineStale)
}

// Actor is how the verifier appears in the audit log.
const Actor = "system:attest"

// API error codes.
const (
	CodeUnverified    = "attest_unverified"     // evidence neither answers the outstanding challenge nor verifies
	CodeNotAttestable = "attest_not_attestable" // revoked, or not enrolled with a TPM
	CodeNotQuarantine = "attest_not_quarantined"
)

const usedNonces = 8

// challenge is what verifyQuote needs of the answered challenge.
type challenge struct {
	nonce []byte
	pcrs  []int
}

func nonceHash(nonce []byte) []byte {
	h := sha256.Sum256(nonce)
	return h[:]
}

func nodeKey(n attest.Node) string { return n.String() }

// newState is the state of a node seen for the first time: pending, its
// stale clock starting now, due for a challenge.
func newState(n attest.Node, now time.Time) *store.AttestNode {
	return &store.AttestNode{Node: nodeKey(n), Status: attest.Pending, Since: now.UTC(), Due: true}
}

// Verifier is central's attestation verifier.
type Verifier struct {
	cfg      Config
	st       store.Store
	now      func() time.Time
	log      *slog.Logger
	interval time.Duration

	// holder names this replica in the shared round record.
	holder string

	mu       sync.Mutex
	policies map[string]cachedPolicy

	lastTick atomic.Int64 // unix nanos of this replica's last loop tick (a round run or declined)
	restarts atomic.Uint64
	running  atomic.Bool
}

type cachedPolicy struct {
	p       *Policy
	fetched time.Time
}

const policyCacheTTL = 30 * time.Second

// New makes a Verifier; Run starts its loop.
func New(c Config) *Verifier {
	v := &Verifier{cfg: c, st: c.Store, now: c.Now, log: c.Log, interval: c.Interval, holder: c.Replica,
		policies: map[string]cachedPolicy{}}
	if v.holder == "" {
		var b [6]byte
		rand.Read(b[:])
		v.holder = "replica-" + hex.EncodeToString(b[:])
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.log == nil {
		v.log = slog.New(slog.DiscardHandler)
	}
	if v.interval <= 0 {
		v.interval = DefaultInterval
	}
	v.lastTick.Store(v.now().UnixNano())
	current.Store(v)
	return v
}

// Interval is the time between rounds.
func (v *Verifier) Interval() time.Duration { return v.interval }

// enrolled is what the store says about a node.
type enrolled struct {
	scope    string
	status   string
	reason   string
	ekPublic []byte
	akPublic []byte
}

func lookup(ctx context.Context, tx store.Tx, n attest.Node) (*enrolled, error) {
	switch n.Kind {
	case attest.KindDevice:
		d, err := tx.Device(ctx, n.ID)
		if err != nil {
			return nil, err
		}
		return &enrolled{scope: d.VendorID, status: d.Status, reason: d.Reason, ekPublic: d.EKPublic, akPublic: d.AKPublic}, nil
	case attest.KindAppliance:
		a, err := tx.Appliance(ctx, n.ID)
		if err != nil {
			return nil, err
		}
		return &enrolled{scope: ApplianceScope, status: a.Status, reason: a.Reason, ekPublic: a.EKPublic, akPublic: a.AKPublic}, nil
	}
	return nil, store.ErrNotFound
}

func (v *Verifier) enrolled(ctx context.Context, n attest.Node) (*enrolled, error) {
	if !attest.ValidKind(n.Kind) {
		return nil, core.BadRequest("kind %q: want device or appliance", n.Kind)
	}
	if err := enrol.CheckID("id", n.ID); err != nil {
		return nil, core.BadRequest("%v", err)
	}
	var e *enrolled
	err := v.st.View(ctx, func(tx store.Tx) error {
		var err error
		e, err = lookup(ctx, tx, n)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, core.NotFound(n.Kind, n.ID)
	}
	if err != nil {
		return nil, err
	}
	if e.status == trustfeed.Revoked || len(e.akPublic) == 0 || len(e.ekPublic) == 0 {
		return nil, core.Fail(http.StatusForbidden, CodeNotAttestable, "%s is revoked or was not enrolled with a TPM: it is not attested", n)
	}
	return e, nil
}

// Policy returns a scope's policy (the default when none was set).
func (v *Verifier) Policy(ctx context.Context, scope string) (*Policy, error) {
	v.mu.Lock()
	c, ok := v.policies[scope]
	v.mu.Unlock()
	if ok && v.now().Sub(c.fetched) < policyCacheTTL {
		return c.p, nil
	}
	p, err := loadPolicy(ctx, v.st, scope)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = DefaultPolicy(scope)
	}
	if err := v.resolve(ctx, p); err != nil {
		return nil, err
	}
	v.mu.Lock()
	v.policies[scope] = cachedPolicy{p: p, fetched: v.now()}
	v.mu.Unlock()
	return p, nil
}

// SetPolicy stores a new version of a scope's policy, audited.
func (v *Verifier) SetPolicy(ctx context.Context, a *core.Admin, p Policy) (*Policy, error) {
	if err := p.Check(); err != nil {
		return nil, err
	}
	err := v.st.View(ctx, func(tx store.Tx) error {
		if p.Scope != ApplianceScope {
			if _, err := tx.Vendor(ctx, p.Scope); errors.Is(err, store.ErrNotFound) {
				return core.NotFound("vendor", p.Scope)
			} else if err != nil {
				return err
			}
		}
		if len(p.Releases) == 0 {
			return nil
		}
		if p.Scope == ApplianceScope {
			return core.BadRequest("releases: golden releases are a vendor's; the appliance scope pins pcrValues instead")
		}
		have, err := releases(ctx, tx, p.Scope)
		if err != nil {
			return err
		}
		for _, r := range p.Releases {
			if !slices.ContainsFunc(have, func(h ReleaseRecord) bool { return h.Release == r }) {
				return core.Fail(http.StatusNotFound, enrol.CodeNotFound, "releases: %s has no signed release %q (add it with attest golden add --signed FILE)", p.Scope, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.Updated, p.UpdatedBy, p.GoldenFromReleases = v.now().UTC().Truncate(time.Second), a.Actor(), 0
	err = v.st.Update(ctx, func(tx store.Tx) error {
		// The version is read in the transaction that appends (the audit
		// head serialises appends), so two admins never make one version.
		old, err := loadPolicyTx(ctx, tx, p.Scope)
		if err != nil {
			return err
		}
		p.Version = 1
		if old != nil {
			p.Version = old.Version + 1
		}
		return core.Audit(ctx, tx, v.now(), a.Actor(), ActionPolicySet, policySubject(p.Scope), p)
	})
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	delete(v.policies, p.Scope)
	v.mu.Unlock()
	return v.Policy(ctx, p.Scope)
}

// Challenge returns the node's outstanding challenge, minting one when a
// round started since the node was last checked, the node has not been
// checked within an interval, or an admin released it. Asking again — on
// any replica — returns the same challenge: anyone may ask, but only the
// node's TPM can recover the nonce, and asking cannot cancel the node's
// challenge. The state is read and written under the node's lock in the
// store, so two replicas never mint two challenges for one node.
func (v *Verifier) Challenge(ctx context.Context, n attest.Node) (*attest.Challenge, error) {
	e, err := v.enrolled(ctx, n)
	if err != nil {
		return nil, err
	}
	p, err := v.Policy(ctx, e.scope)
	if err != nil {
		return nil, err
	}
	round, err := v.st.AttestRound(ctx)
	if err != nil {
		return nil, err
	}
	now := v.now()
	var w *attest.Challenge
	err = v.st.ModifyAttest(ctx, nodeKey(n), func(s *store.AttestNode) (*store.AttestNode, error) {
		w = nil
		if s == nil {
			s = newState(n, now)
		}
		if s.Challenge != nil && now.Before(s.Challenge.Expires) {
			w = new(attest.Challenge)
			return nil, json.Unmarshal(s.Challenge.Wire, w)
		}
		due := s.Due || s.LastCheck.IsZero() || s.CheckedRound < round.Claims || now.Sub(s.LastCheck) >= v.interval
		if !due {
			return nil, core.Fail(http.StatusConflict, "attest_not_due", "%s was checked at %s; the next challenge is due at %s",
				n, s.LastCheck.UTC().Format(time.RFC3339), s.LastCheck.Add(v.interval).UTC().Format(time.RFC3339))
		}
		akName, _, err := tpm.AKName(e.akPublic)
		if err != nil {
			return nil, err
		}
		nonce := make([]byte, attest.NonceSize)
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		blob, secret, err := tpm.MakeCredential(e.ekPublic, akName, nonce)
		if err != nil {
			return nil, err
		}
		pcrs := p.QuotePCRs()
		w = &attest.Challenge{Node: n, CredentialBlob: blob, EncryptedSecret: secret, PCRs: pcrs,
			Issued: now.UTC().Truncate(time.Second), Expires: now.Add(v.interval).UTC().Truncate(time.Second)}
		wb, err := json.Marshal(w)
		if err != nil {
			return nil, err
		}
		s.Challenge = &store.AttestChallenge{NonceHash: nonceHash(nonce), PCRs: pcrs, Wire: wb, Expires: now.Add(v.interval).UTC()}
		s.Due = false
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return w, nil
}

// Submit checks evidence and records the outcome. Evidence that neither
// answers the node's outstanding challenge nor carries a valid AK signature
// is refused without touching the node (anyone can send bytes); everything
// else is a verdict: a failed one marks the node failed and quarantines it.
func (v *Verifier) Submit(ctx context.Context, ev *attest.Evidence) (*attest.Verdict, error) {
	e, err := v.enrolled(ctx, ev.Node)
	if err != nil {
		return nil, err
	}
	_, akPub, err := tpm.AKName(e.akPublic)
	if err != nil {
		return nil, err
	}
	p, err := v.Policy(ctx, e.scope)
	if err != nil {
		return nil, err
	}
	round, err := v.st.AttestRound(ctx)
	if err != nil {
		return nil, err
	}
	nonce, nerr := tpm.QuoteNonce(&ev.Quote)
	sigErr := tpm.VerifyAttestationSignature(akPub, &ev.Quote.Attestation)
	now := v.now()
	var nh []byte
	if nerr == nil {
		nh = nonceHash(nonce)
	}

	var verdict *attest.Verdict
	var fw []string
	var reason, msg string
	unverified := false
	err = v.st.ModifyAttest(ctx, nodeKey(ev.Node), func(s *store.AttestNode) (*store.AttestNode, error) {
		verdict, fw, reason, msg, unverified = nil, nil, "", "", false
		if s == nil {
			s = newState(ev.Node, now)
		}
		current := nh != nil && s.Challenge != nil && now.Before(s.Challenge.Expires) && subtle.ConstantTimeCompare(nh, s.Challenge.NonceHash) == 1
		if !current && (sigErr != nil || nerr != nil) {
			unverified = true
			return nil, nil
		}
		var ch *challenge
		if current {
			ch = &challenge{nonce: nonce, pcrs: s.Challenge.PCRs}
			s.Challenge = nil
			s.Used = append(s.Used, nh)
			if len(s.Used) > usedNonces {
				s.Used = s.Used[len(s.Used)-usedNonces:]
			}
		}
		replayed := !current && slices.ContainsFunc(s.Used, func(u []byte) bool { return subtle.ConstantTimeCompare(u, nh) == 1 })
		var info *tpm.QuoteInfo
		switch {
		case sigErr != nil:
			reason, msg = attest.ReasonBadSignature, "the quote's signature does not verify with the AK central bound to this node's EK at enrolment"
		case replayed:
			reason, msg = attest.ReasonReplayedNonce, "the quote answers a challenge that was already answered (a replayed quote)"
		case !current:
			reason, msg = attest.ReasonNonce, "the quote is signed by the node's AK but over a nonce central did not issue for the outstanding challenge"
		default:
			info, reason, msg = verifyQuote(akPub, ev, ch)
			if reason == "" && s.HaveCounters && info.ResetCount == s.Reset && info.RestartCount == s.Restart && info.Clock < s.Clock {
				reason, msg = attest.ReasonCounters, fmt.Sprintf("the TPM clock went back from %d to %d ms without a reset or restart", s.Clock, info.Clock)
			}
			if reason == "" {
				fw, reason, msg = checkPolicy(p, ev, ch.pcrs)
			}
		}
		s.LastCheck, s.CheckedRound = now.UTC(), round.Claims
		s.PolicyVersion = p.Version
		if reason == "" {
			s.Status, s.Reason, s.Message, s.LastGood, s.Firmware = attest.Attested, "", "", now.UTC(), fw
			s.HaveCounters, s.Clock, s.Reset, s.Restart = true, info.Clock, info.ResetCount, info.RestartCount
		} else {
			s.Status, s.Reason, s.Message = attest.Failed, reason, msg
		}
		verdict = &attest.Verdict{Node: ev.Node, Status: s.Status, Reason: s.Reason, Message: s.Message, Time: now.UTC(),
			Firmware: fw, PolicyVersion: p.Version}
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	if unverified {
		mVerdicts.WithLabelValues("unverified").Inc()
		return nil, core.Fail(http.StatusForbidden, CodeUnverified,
			"the evidence does not answer %s's outstanding challenge and is not signed by its enrolled AK; nothing was recorded", ev.Node)
	}

	mVerdicts.WithLabelValues(verdictLabel(verdict)).Inc()
	if verdict.Status == attest.Failed {
		v.log.Warn("attestation failed", "node", ev.Node.String(), "reason", reason, "detail", msg)
		if err := v.quarantine(ctx, ev.Node, QuarantineFailed+": "+reason); err != nil {
			return nil, err
		}
	} else {
		v.log.Info("node attested", "node", ev.Node.String(), "firmware", strings.Join(fw, ","), "policyVersion", p.Version)
		if ev.Node.Kind == attest.KindDevice {
			if err := v.renewHorizon(ctx, ev.Node.ID, verdict.Time, p); err != nil {
				return nil, err
			}
		}
		if p.AutoRelease && e.status == trustfeed.Suspended && IsQuarantine(e.reason) {
			if err := v.release(ctx, ev.Node, Actor, "a good quote under policy version "+strconv.Itoa(p.Version)); err != nil && !isNotQuarantined(err) {
				return nil, err
			}
		}
	}
	return verdict, nil
}

func verdictLabel(v *attest.Verdict) string {
	if v.Status == attest.Failed {
		return v.Reason
	}
	return v.Status
}

// verifyQuote checks the quote's PCR digest, its selection and the event
// log replay (the signature and nonce are already checked).
func verifyQuote(akPub any, ev *attest.Evidence, ch *challenge) (*tpm.QuoteInfo, string, string) {
	info, err := tpm.VerifyQuoteInfo(akPub, &ev.Quote, ch.nonce)
	switch {
	case errors.Is(err, tpm.ErrPCRMismatch):
		return nil, attest.ReasonPCRMismatch, "the PCR values sent do not hash to the quoted PCR digest"
	case err != nil:
		return nil, attest.ReasonMalformed, "the quote is malformed: " + err.Error()
	}
	if !slices.Equal(info.PCRs, ch.pcrs) {
		return nil, attest.ReasonPCRMismatch, fmt.Sprintf("the quote covers PCRs %v; the challenge asked for %v", info.PCRs, ch.pcrs)
	}
	// PCRs 0–7 are the platform's: explained by its TCG boot log (checked
	// with the policy) or pinned, never by the node's own event log.
	own := slices.DeleteFunc(slices.Clone(ch.pcrs), func(i int) bool { return slices.Contains(attest.BootPCRs, i) })
	if err := tpm.CheckReplay(ev.EventLog, own, ev.Quote.PCRs); err != nil {
		return nil, attest.ReasonLogReplay, err.Error()
	}
	return info, "", ""
}

// checkPolicy applies the scope's policy to quoted PCRs and the log (which
// already replays to them). It returns the firmware versions measured.
func checkPolicy(p *Policy, ev *attest.Evidence, pcrs []int) ([]string, string, string) {
	if reason, msg := checkBootLog(p, ev, pcrs); reason != "" {
		return nil, reason, msg
	}
	if !p.AllowDebugPCR && slices.Contains(pcrs, tpm.PCRDebug) && !bytes.Equal(ev.Quote.PCRs[tpm.PCRDebug], make([]byte, 32)) {
		return nil, attest.ReasonDebugPCR, fmt.Sprintf("debug PCR %d is not zero: debug or test firmware extended it", tpm.PCRDebug)
	}
	for k, want := range p.PCRValues {
		n, _ := strconv.Atoi(k)
		if hex.EncodeToString(ev.Quote.PCRs[n]) != want {
			return nil, attest.ReasonPCRValue, fmt.Sprintf("PCR %d does not hold the value the policy pins", n)
		}
	}
	var min firmware.Version
	if p.MinFirmware != "" {
		min, _ = firmware.ParseVersion(p.MinFirmware)
	}
	var versions []string
	for _, e := range ev.EventLog {
		if e.PCR != tpm.PCRFirmware {
			continue
		}
		var fe *attest.FirmwareEvent
		if e.Type == firmware.EventType && len(e.Data) > 0 {
			var err error
			if fe, err = attest.ParseFirmwareEvent(e.Data); err != nil {
				return nil, attest.ReasonMalformed, err.Error()
			}
		}
		digest := hex.EncodeToString(e.Digest)
		version := ""
		if fe != nil {
			version = fe.Firmware
		}
		if golden := p.golden(); len(golden) > 0 {
			i := slices.IndexFunc(golden, func(g Golden) bool {
				return g.Digest == digest && (g.Model == "" || (fe != nil && fe.Model == g.Model))
			})
			if i < 0 {
				return nil, attest.ReasonUnknownFW, fmt.Sprintf("firmware measurement %s (version %q) is not among the policy's golden values", digest, version)
			}
			if golden[i].Version != "" {
				version = golden[i].Version
			}
		}
		if !min.IsZero() {
			got, err := firmware.ParseVersion(version)
			if err != nil {
				return nil, attest.ReasonUnknownFW, fmt.Sprintf("firmware measurement %s carries no version to compare with the minimum %s", digest, p.MinFirmware)
			}
			if got.Compare(min) < 0 {
				return nil, attest.ReasonFWBelowFloor, fmt.Sprintf("firmware %s is below the policy's minimum %s", got, p.MinFirmware)
			}
		}
		versions = append(versions, version)
	}
	return versions, "", ""
}

// NodeStatus is a node's attestation status.
type NodeStatus struct {
	attest.Node
	// State is attested, failed, stale or pending.
	State         string    `json:"state"`
	Reason        string    `json:"reason,omitempty"`
	Message       string    `json:"message,omitempty"`
	LastAttested  time.Time `json:"lastAttested,omitzero"`
	LastChecked   time.Time `json:"lastChecked,omitzero"`
	StaleAt       time.Time `json:"staleAt"`
	Firmware      []string  `json:"firmware,omitempty"`
	PolicyVersion int       `json:"policyVersion"`
	// Challenged: a challenge is outstanding.
	Challenged bool `json:"challenged"`
}

// view computes a node's status at now: stale when its last good quote (or,
// never attested, when it was first seen or released) is older than the
// policy's window, whatever the loop did or did not do.
func (v *Verifier) view(n attest.Node, s *store.AttestNode, p *Policy, now time.Time) NodeStatus {
	base := s.Since
	if s.LastGood.After(base) {
		base = s.LastGood
	}
	ns := NodeStatus{Node: n, State: s.Status, Reason: s.Reason, Message: s.Message, LastAttested: s.LastGood.UTC(),
		LastChecked: s.LastCheck.UTC(), StaleAt: base.Add(time.Duration(p.StaleAfter) * v.interval).UTC(),
		Firmware: s.Firmware, PolicyVersion: s.PolicyVersion, Challenged: s.Challenge != nil && now.Before(s.Challenge.Expires)}
	if s.LastGood.IsZero() {
		ns.LastAttested = time.Time{}
	}
	if s.LastCheck.IsZero() {
		ns.LastChecked = time.Time{}
	}
	if s.Status != attest.Failed && !now.Before(ns.StaleAt) {
		ns.State, ns.Reason = attest.Stale, attest.ReasonStale
		ns.Message = fmt.Sprintf("no good quote since %s (window: %d × %s)", base.UTC().Format(time.RFC3339), p.StaleAfter, v.interval)
	}
	return ns
}

// stateOf reads a node's stored state (a fresh pending one when it has none).
func (v *Verifier) stateOf(ctx context.Context, n attest.Node, now time.Time) (*store.AttestNode, error) {
	m, err := v.st.AttestNodes(ctx, []string{nodeKey(n)})
	if err != nil {
		return nil, err
	}
	if s := m[nodeKey(n)]; s != nil {
		return s, nil
	}
	return newState(n, now), nil
}

// Status returns a node's attestation status, the same on every replica.
func (v *Verifier) Status(ctx context.Context, n attest.Node) (*NodeStatus, error) {
	e, err := v.enrolled(ctx, n)
	if err != nil {
		return nil, err
	}
	p, err := v.Policy(ctx, e.scope)
	if err != nil {
		return nil, err
	}
	now := v.now()
	s, err := v.stateOf(ctx, n, now)
	if err != nil {
		return nil, err
	}
	ns := v.view(n, s, p, now)
	return &ns, nil
}

// renewHorizon moves a device's attestedUntil horizon on the trust feed to
// at + the policy's lease, when that moves it by at least the policy's step
// (or it has none): one feed entry per device per step, not per round.
func (v *Verifier) renewHorizon(ctx context.Context, serial string, at time.Time, p *Policy) error {
	lease := time.Duration(p.OfflineLease) * v.interval
	step := time.Duration(p.OfflineStep) * v.interval
	until := at.Add(lease).UTC()
	published := false
	err := v.st.Update(ctx, func(tx store.Tx) error {
		published = false
		d, err := tx.Device(ctx, serial)
		if err != nil {
			return err
		}
		if d.Status == trustfeed.Revoked || (!d.AttestedUntil.IsZero() && until.Sub(d.AttestedUntil) < step) {
			return nil
		}
		d.AttestedAt, d.AttestedUntil = at.UTC(), until
		if err := tx.PutDevices(ctx, d); err != nil {
			return err
		}
		published = true
		return feeds.Publish(ctx, tx, v.now().UTC(), feeds.DeviceEntry(d))
	})
	if err == nil && published {
		mHorizons.Inc()
	}
	return err
}

// quarantine suspends an active node with reason, audited and published.
// A node already suspended or revoked is left as it is.
func (v *Verifier) quarantine(ctx context.Context, n attest.Node, reason string) error {
	quarantined := false
	err := v.st.Update(ctx, func(tx store.Tx) error {
		quarantined = false
		now := v.now().UTC()
		var entry store.NewEntry
		var from string
		switch n.Kind {
		case attest.KindDevice:
			d, err := tx.Device(ctx, n.ID)
			if err != nil {
				return err
			}
			if d.Status != trustfeed.Active {
				return nil
			}
			from = d.Status
			d.Status, d.Reason, d.Updated = trustfeed.Suspended, reason, now
			if err := tx.PutDevices(ctx, d); err != nil {
				return err
			}
			entry = feeds.DeviceEntry(d)
		case attest.KindAppliance:
			a, err := tx.Appliance(ctx, n.ID)
			if err != nil {
				return err
			}
			if a.Status != trustfeed.Active {
				return nil
			}
			from = a.Status
			a.Status, a.Reason, a.Updated = trustfeed.Suspended, reason, now
			if err := tx.PutAppliance(ctx, a); err != nil {
				return err
			}
			entry = feeds.ApplianceEntry(a)
		}
		if err := core.Audit(ctx, tx, now, Actor, n.Kind+".quarantine", n.String(),
			map[string]string{"from": from, "to": trustfeed.Suspended, "reason": reason}); err != nil {
			return err
		}
		quarantined = true
		return feeds.Publish(ctx, tx, now, entry)
	})
	if err == nil && quarantined {
		mQuarantines.Inc()
		v.log.Warn("node quarantined", "node", n.String(), "reason", reason)
	}
	return err
}

func isNotQuarantined(err error) bool {
	var e *enrol.Error
	return errors.As(err, &e) && e.Code == CodeNotQuarantine
}

// release lifts an attestation quarantine, audited and published.
func (v *Verifier) release(ctx context.Context, n attest.Node, actor, why string) error {
	err := v.st.Update(ctx, func(tx store.Tx) error {
		now := v.now().UTC()
		var entry store.NewEntry
		var from string
		notQ := core.Fail(http.StatusConflict, CodeNotQuarantine, "%s is not under an attestation quarantine", n)
		switch n.Kind {
		case attest.KindDevice:
			d, err := tx.Device(ctx, n.ID)
			if errors.Is(err, store.ErrNotFound) {
				return core.NotFound("device", n.ID)
			} else if err != nil {
				return err
			}
			if d.Status != trustfeed.Suspended || !IsQuarantine(d.Reason) {
				return notQ
			}
			from = d.Reason
			d.Status, d.Reason, d.Updated = trustfeed.Active, "", now
			if err := tx.PutDevices(ctx, d); err != nil {
				return err
			}
			entry = feeds.DeviceEntry(d)
		case attest.KindAppliance:
			a, err := tx.Appliance(ctx, n.ID)
			if errors.Is(err, store.ErrNotFound) {
				return core.NotFound("appliance", n.ID)
			} else if err != nil {
				return err
			}
			if a.Status != trustfeed.Suspended || !IsQuarantine(a.Reason) {
				return notQ
			}
			from = a.Reason
			a.Status, a.Reason, a.Updated = trustfeed.Active, "", now
			if err := tx.PutAppliance(ctx, a); err != nil {
				return err
			}
			entry = feeds.ApplianceEntry(a)
			if v.cfg.Reinstated != nil {
				if err := v.cfg.Reinstated(ctx, tx, a); err != nil {
					return err
				}
			}
		default:
			return core.BadRequest("kind %q: want device or appliance", n.Kind)
		}
		if err := core.Audit(ctx, tx, now, actor, n.Kind+".release-quarantine", n.String(),
			map[string]string{"quarantine": from, "why": why}); err != nil {
			return err
		}
		return feeds.Publish(ctx, tx, now, entry)
	})
	if err != nil {
		return err
	}
	if n.Kind == attest.KindAppliance && v.cfg.Kick != nil {
		v.cfg.Kick()
	}
	v.log.Info("quarantine lifted", "node", n.String(), "actor", actor)
	return nil
}

// ReleaseQuarantine lifts a node's attestation quarantine for an admin
// (audited, with a reason). The node is pending again and must answer
// within the policy's window, or it becomes stale and is quarantined again.
func (v *Verifier) ReleaseQuarantine(ctx context.Context, a *core.Admin, n attest.Node, reason string) (*NodeStatus, error) {
	if !attest.ValidKind(n.Kind) {
		return nil, core.BadRequest("kind %q: want device or appliance", n.Kind)
	}
	if err := core.CheckText("reason", reason, 256); err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, core.BadRequest("lifting a quarantine needs a reason")
	}
	if err := v.release(ctx, n, a.Actor(), reason); err != nil {
		return nil, err
	}
	now := v.now()
	err := v.st.ModifyAttest(ctx, nodeKey(n), func(s *store.AttestNode) (*store.AttestNode, error) {
		if s == nil {
			s = newState(n, now)
		}
		s.Status, s.Reason, s.Message, s.Since, s.Due = attest.Pending, "", "", now.UTC(), true
		return s, nil
	})
	if err != nil {
		return nil, err
	}
	return v.Status(ctx, n)
}

// checkBootLog replays the TCG boot log, when one came and the quote covers
// any of PCRs 0–7, and applies the policy's boot-log rules.
func checkBootLog(p *Policy, ev *attest.Evidence, pcrs []int) (string, string) {
	covered := slices.ContainsFunc(pcrs, func(i int) bool { return slices.Contains(attest.BootPCRs, i) })
	need := p.RequireBootLog || p.RequireSecureBoot
	if len(ev.BootLog) == 0 || !covered {
		if need {
			return attest.ReasonBootLogAbsent, "the policy requires the platform's TCG boot log for PCRs 0–7 and the evidence has none"
		}
		return "", ""
	}
	quoted := make(map[int][]byte, len(attest.BootPCRs))
	for _, i := range attest.BootPCRs {
		if v, ok := ev.Quote.PCRs[i]; ok {
			quoted[i] = v
		}
	}
	bl, err := attest.ReplayBootLog(ev.BootLog, quoted, crypto.SHA256)
	if err != nil {
		return attest.ReasonBootLog, err.Error()
	}
	if p.RequireSecureBoot && (bl.SecureBoot == nil || !*bl.SecureBoot) {
		return attest.ReasonSecureBootOff, "the policy requires UEFI Secure Boot and the boot log does not show it enabled"
	}
	return "", ""
}
