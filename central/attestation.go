package central

import (
	"context"

	attest "github.com/edgetrust/edgetrust/central/attestation"
	wire "github.com/edgetrust/edgetrust/internal/attestation"
)

// Continuous attestation (central/attest): the methods httpapi's attestation
// routes call.

// Attestation returns the verifier (tests and the CLI).
func (c *Central) Attestation() *attest.Verifier { return c.att }

// AttestChallenge returns a node's outstanding challenge.
func (c *Central) AttestChallenge(ctx context.Context, n wire.Node) (*wire.Challenge, error) {
	return c.att.Challenge(ctx, n)
}

// AttestSubmit checks a node's evidence.
func (c *Central) AttestSubmit(ctx context.Context, e *wire.Evidence) (*wire.Verdict, error) {
	return c.att.Submit(ctx, e)
}

// AttestStatus returns a node's attestation status.
func (c *Central) AttestStatus(ctx context.Context, n wire.Node) (*attest.NodeStatus, error) {
	return c.att.Status(ctx, n)
}

// AttestList lists nodes' attestation status.
func (c *Central) AttestList(ctx context.Context, kind string, limit int) ([]attest.NodeStatus, error) {
	return c.att.List(ctx, kind, limit)
}

// AttestHealth is the attestation loop's liveness.
func (c *Central) AttestHealth() attest.Health { return c.att.Health() }

// AttestPolicy returns a scope's attestation policy.
func (c *Central) AttestPolicy(ctx context.Context, scope string) (*attest.Policy, error) {
	return c.att.Policy(ctx, scope)
}

// SetAttestPolicy stores a new version of a scope's policy (audited).
func (c *Central) SetAttestPolicy(ctx context.Context, a *Admin, p attest.Policy) (*attest.Policy, error) {
	return c.att.SetPolicy(ctx, a, p)
}

// ReleaseQuarantine lifts a node's attestation quarantine (audited).
func (c *Central) ReleaseQuarantine(ctx context.Context, a *Admin, n wire.Node, reason string) (*attest.NodeStatus, error) {
	return c.att.ReleaseQuarantine(ctx, a, n, reason)
}

// AddGoldenRelease verifies and keeps a vendor's signed golden release
// (audited).
func (c *Central) AddGoldenRelease(ctx context.Context, a *Admin, sr *attest.SignedRelease) (*attest.ReleaseRecord, error) {
	return c.att.AddRelease(ctx, a, sr)
}

// GoldenReleases lists a vendor's golden releases.
func (c *Central) GoldenReleases(ctx context.Context, vendor string) ([]attest.ReleaseRecord, error) {
	return c.att.Releases(ctx, vendor)
}

// IssueReleaseSigner certifies a vendor's release-signing key (audited).
func (c *Central) IssueReleaseSigner(ctx context.Context, a *Admin, vendor string, csr []byte, days int) (*attest.SignerCert, error) {
	return c.att.IssueSigner(ctx, a, vendor, csr, days)
}
