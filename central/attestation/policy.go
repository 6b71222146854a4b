package attestation

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// ApplianceScope is the policy scope of appliances; a device's scope is its
// vendor id.
const ApplianceScope = "appliance"

// Policy is what a node's evidence must show, per vendor (scope: the vendor
// id) or for appliances (scope "appliance").
type Policy struct {
	Scope string `json:"scope"`
	// Version is set by central: 1 for the first policy of a scope, one
	// more at each change. 0 is the built-in default.
	Version int `json:"version"`
	// PCRs are quoted in addition to the firmware and debug PCRs (14, 16)
	// and those pinned in PCRValues; e.g. 0–7 where a platform fills them.
	PCRs []int `json:"pcrs,omitempty"`
	// Firmware lists the allowed firmware measurements (golden values the
	// vendor registers with each release). Empty: any measurement, subject
	// to MinFirmware.
	Firmware []Golden `json:"firmware,omitempty"`
	// Releases names the vendor's signed golden releases (AddRelease) whose
	// firmware measurements are allowed, in addition to Firmware; each
	// must be registered when the policy is set. The newest version of
	// each release is used.
	Releases []string `json:"releases,omitempty"`
	// GoldenFromReleases is set by central when it answers: how many golden
	// values the referenced releases add.
	GoldenFromReleases int `json:"goldenFromReleases,omitempty"`
	// MinFirmware is the lowest firmware version accepted (remote downgrade
	// protection, independent of the device's NV floor), e.g. "1.2.0".
	MinFirmware string `json:"minFirmware,omitempty"`
	// PCRValues pins PCRs ("0".."23") to lower-hex SHA-256 values.
	PCRValues map[string]string `json:"pcrValues,omitempty"`
	// AllowDebugPCR accepts a non-zero debug PCR (16); by default it must
	// be zero: something that extends it is debug or test firmware.
	AllowDebugPCR bool `json:"allowDebugPcr,omitempty"`
	// RequireBootLog makes the evidence carry the platform's TCG boot log,
	// which must reproduce the quoted PCRs 0–7 (quoted whenever this is
	// set). Without it a boot log that comes is still checked.
	RequireBootLog bool `json:"requireBootLog,omitempty"`
	// RequireSecureBoot makes the boot log show UEFI Secure Boot enabled
	// (implies RequireBootLog).
	RequireSecureBoot bool `json:"requireSecureBoot,omitempty"`
	// StaleAfter is how many intervals a node may go without a good quote
	// before it is stale (default 3).
	StaleAfter int `json:"staleAfter,omitempty"`
	// OnStale is "quarantine" (default) or "warn".
	OnStale string `json:"onStale,omitempty"`
	// OfflineLease is how many intervals after a good quote central vouches
	// for a device on the trust feed (its attestedUntil horizon): every
	// appliance, offline or not, refuses the device's captures once it has
	// passed (default 144: a day at the default 10-minute interval).
	// OfflineStep is how far the horizon must move before central
	// publishes it again (default a quarter of the lease), so a device
	// costs the feed one entry per step, not one per round; its effective
	// lease is between OfflineLease−OfflineStep and OfflineLease intervals
	// after its last good quote. Decision 0018, "Offline verifiers".
	OfflineLease int `json:"offlineLease,omitempty"`
	OfflineStep  int `json:"offlineStep,omitempty"`
	// AutoRelease lifts an attestation quarantine at the next good quote;
	// by default only an admin lifts it.
	AutoRelease bool `json:"autoRelease,omitempty"`
	// Updated and UpdatedBy are set by central.
	Updated   time.Time `json:"updated,omitzero"`
	UpdatedBy string    `json:"updatedBy,omitempty"`

	// allowed is Firmware and the releases' golden values (resolve).
	allowed  []Golden
	resolved bool
}

// golden is every allowed firmware measurement.
func (p *Policy) golden() []Golden {
	if p.resolved {
		return p.allowed
	}
	return p.Firmware
}

// resolve adds the golden values of the policy's releases.
func (v *Verifier) resolve(ctx context.Context, p *Policy) error {
	p.allowed, p.resolved, p.GoldenFromReleases = slices.Clone(p.Firmware), true, 0
	if len(p.Releases) == 0 {
		return nil
	}
	return v.st.View(ctx, func(tx store.Tx) error {
		have, err := releases(ctx, tx, p.Scope)
		if err != nil {
			return err
		}
		for _, name := range p.Releases {
			i := slices.IndexFunc(have, func(h ReleaseRecord) bool { return h.Release == name })
			if i < 0 {
				return fmt.Errorf("attest: policy %s version %d names release %q, which is not registered", p.Scope, p.Version, name)
			}
			p.allowed = append(p.allowed, have[i].Firmware...)
			p.GoldenFromReleases += len(have[i].Firmware)
		}
		return nil
	})
}

// Golden is one allowed firmware measurement.
type Golden struct {
	// Digest is the lower-hex SHA-256 the firmware bridge extends into PCR
	// 14 for this firmware (edgetrust-bridge prints it as "measurement").
	Digest string `json:"digest"`
	// Version is the release's version, for the minimum-version check
	// when the event carries no data.
	Version string `json:"version,omitempty"`
	// Model, when set, is the only module model this digest is valid for.
	Model string `json:"model,omitempty"`
}

// Defaults and limits of a policy.
const (
	DefaultStaleAfter   = 3
	DefaultOfflineLease = 144
	MaxOfflineLease     = 10000
	MaxGolden           = 256
	OnStaleQuarantine   = "quarantine"
	OnStaleWarn         = "warn"
)

// PolicyLimits bound a policy body (the admin API).
var PolicyLimits = jsonx.Limits{MaxBytes: 128 << 10, MaxDepth: 3, MaxArray: MaxGolden, MaxMembers: 32}

// DefaultPolicy is the policy of a scope nobody set one for: the debug PCR
// must be zero and the log must replay; any firmware; a stale node is
// reported, not quarantined (nodes attest only once their operator turns
// it on, so enforcement of staleness starts with the scope's first policy,
// whose OnStale defaults to quarantine). Failed evidence quarantines under
// every policy.
func DefaultPolicy(scope string) *Policy {
	return &Policy{Scope: scope, StaleAfter: DefaultStaleAfter, OnStale: OnStaleWarn,
		OfflineLease: DefaultOfflineLease, OfflineStep: DefaultOfflineLease / 4}
}

// Check validates a policy an admin sends and fills its defaults.
func (p *Policy) Check() error {
	if p.Scope != ApplianceScope {
		if err := enrol.CheckID("scope (vendor id)", p.Scope); err != nil {
			return core.BadRequest("%v", err)
		}
	}
	for _, x := range p.PCRs {
		if x < 0 || x >= tpm.NumPCRs {
			return core.BadRequest("pcrs: %d is out of range 0–%d", x, tpm.NumPCRs-1)
		}
	}
	if len(p.Releases) > 64 {
		return core.BadRequest("releases: at most 64")
	}
	for i, r := range p.Releases {
		if _, err := firmware.ParseVersion(r); err != nil {
			return core.BadRequest("releases[%d] %q: want a release name such as 1.3.0: %v", i, r, err)
		}
	}
	if len(p.Firmware) > MaxGolden {
		return core.BadRequest("firmware: at most %d golden values", MaxGolden)
	}
	for i, g := range p.Firmware {
		if b, err := hex.DecodeString(g.Digest); err != nil || len(b) != 32 || hex.EncodeToString(b) != g.Digest {
			return core.BadRequest("firmware[%d].digest: want 64 lower-hex characters (SHA-256)", i)
		}
		if g.Version != "" {
			if _, err := firmware.ParseVersion(g.Version); err != nil {
				return core.BadRequest("firmware[%d].version: %v", i, err)
			}
		}
		if err := core.CheckText("firmware model", g.Model, 64); err != nil {
			return err
		}
	}
	if p.MinFirmware != "" {
		if _, err := firmware.ParseVersion(p.MinFirmware); err != nil {
			return core.BadRequest("minFirmware: %v", err)
		}
	}
	if len(p.PCRValues) > tpm.NumPCRs {
		return core.BadRequest("pcrValues: at most %d", tpm.NumPCRs)
	}
	for k, v := range p.PCRValues {
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 || n >= tpm.NumPCRs || strconv.Itoa(n) != k {
			return core.BadRequest("pcrValues: key %q is not a PCR index 0–%d", k, tpm.NumPCRs-1)
		}
		if b, err := hex.DecodeString(v); err != nil || len(b) != 32 || hex.EncodeToString(b) != v {
			return core.BadRequest("pcrValues[%s]: want 64 lower-hex characters", k)
		}
	}
	if p.StaleAfter == 0 {
		p.StaleAfter = DefaultStaleAfter
	}
	if p.StaleAfter < 1 || p.StaleAfter > 100 {
		return core.BadRequest("staleAfter: 1–100 intervals")
	}
	switch p.OnStale {
	case "":
		p.OnStale = OnStaleQuarantine
	case OnStaleQuarantine, OnStaleWarn:
	default:
		return core.BadRequest("onStale %q: want quarantine or warn", p.OnStale)
	}
	if p.OfflineLease == 0 {
		p.OfflineLease = DefaultOfflineLease
	}
	if p.OfflineStep == 0 {
		p.OfflineStep = max(1, p.OfflineLease/4)
	}
	if p.OfflineLease < 1 || p.OfflineLease > MaxOfflineLease {
		return core.BadRequest("offlineLease: 1–%d intervals", MaxOfflineLease)
	}
	if p.OfflineStep < 1 || p.OfflineStep+p.StaleAfter > p.OfflineLease {
		return core.BadRequest("offlineStep: 1 or more intervals, and offlineStep + staleAfter (%d + %d) must not exceed offlineLease (%d), or appliances would refuse a device still inside its attestation window",
			p.OfflineStep, p.StaleAfter, p.OfflineLease)
	}
	return nil
}

// QuotePCRs is the PCR selection a node of this policy is challenged for.
func (p *Policy) QuotePCRs() []int {
	s := []int{tpm.PCRFirmware, tpm.PCRDebug}
	s = append(s, p.PCRs...)
	if p.RequireBootLog || p.RequireSecureBoot {
		s = append(s, attest.BootPCRs...)
	}
	for k := range p.PCRValues {
		n, _ := strconv.Atoi(k)
		s = append(s, n)
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func policySubject(scope string) string { return "attest-policy:" + scope }

// Policy audit actions.
const ActionPolicySet = "attest-policy.set"

// loadPolicy reads a scope's newest policy from the audit log (nil: none).
func loadPolicy(ctx context.Context, st store.Store, scope string) (*Policy, error) {
	var p *Policy
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		p, err = loadPolicyTx(ctx, tx, scope)
		return err
	})
	return p, err
}

func loadPolicyTx(ctx context.Context, tx store.Tx, scope string) (*Policy, error) {
	var last *store.AuditEvent
	var after uint64
	for {
		rows, err := tx.Audit(ctx, store.AuditFilter{Subject: policySubject(scope), After: after, Limit: 1000})
		if err != nil {
			return nil, err
		}
		for i := range rows {
			if rows[i].Action == ActionPolicySet {
				last = &rows[i]
			}
		}
		if len(rows) < 1000 {
			break
		}
		after = rows[len(rows)-1].Seq
	}
	if last == nil {
		return nil, nil
	}
	var p Policy
	if err := json.Unmarshal(last.Detail, &p); err != nil {
		return nil, fmt.Errorf("attest: policy of %s in audit row %d: %w", scope, last.Seq, err)
	}
	return &p, nil
}
