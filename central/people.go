package central

import (
	"context"
	"time"

	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/central/store"
)

// People, VIDs and the records feeds (decision 0012) live in
// central/people; these names keep Central's API.

// Bounds on enrolment input (central/people).
const (
	MaxEnrolCaptures   = people.MaxEnrolCaptures
	MaxCaptureBytes    = people.MaxCaptureBytes
	MaxEnrolBytes      = people.MaxEnrolBytes
	DefaultGroup       = people.DefaultGroup
	EnrolCaptureMaxAge = people.EnrolCaptureMaxAge
	MaxCaptureMaxAge   = people.MaxCaptureMaxAge
	EnrolMinMinutiae   = people.EnrolMinMinutiae
)

// Person and VID statuses.
const (
	PersonActive = people.PersonActive
	VIDActive    = people.VIDActive
	VIDRevoked   = people.VIDRevoked
	VIDExpired   = people.VIDExpired
)

type (
	// PersonRequest enrols a person (people.PersonRequest).
	PersonRequest = people.PersonRequest
	// PersonEnrolled is the answer to an enrolment (people.PersonEnrolled).
	PersonEnrolled = people.PersonEnrolled
	// PersonView is what admins see of a person (people.PersonView).
	PersonView = people.PersonView
)

// EnrolPerson verifies the captures and enrols a person with a first VID.
func (c *Central) EnrolPerson(ctx context.Context, a *Admin, q *PersonRequest) (*PersonEnrolled, error) {
	return c.ppl.EnrolPerson(ctx, a, q)
}

// Person shows a person to an admin.
func (c *Central) Person(ctx context.Context, uin string) (*PersonView, error) {
	return c.ppl.Person(ctx, uin)
}

// IssueVID issues a new VID for a person and publishes its record.
func (c *Central) IssueVID(ctx context.Context, a *Admin, uin, kind string, ttl time.Duration) (*store.VID, error) {
	return c.ppl.IssueVID(ctx, a, uin, kind, ttl)
}

// VIDs lists a person's VIDs.
func (c *Central) VIDs(ctx context.Context, uin string) ([]store.VID, error) {
	return c.ppl.VIDs(ctx, uin)
}

// ListVIDs lists a person's VIDs (full numbers: for admins only).
func (c *Central) ListVIDs(ctx context.Context, uin string) ([]store.VID, error) {
	return c.ppl.VIDs(ctx, uin)
}

// RevokeVID revokes a VID (final) and deletes its record from the
// appliances.
func (c *Central) RevokeVID(ctx context.Context, a *Admin, number, reason string) (*store.VID, error) {
	return c.ppl.RevokeVID(ctx, a, number, reason)
}

// SetLocks locks and unlocks auth types for a person.
func (c *Central) SetLocks(ctx context.Context, a *Admin, uin string, lock, unlock []string) (*PersonView, error) {
	return c.ppl.SetLocks(ctx, a, uin, lock, unlock)
}

// LockAuth locks auth types for a person.
func (c *Central) LockAuth(ctx context.Context, a *Admin, uin string, types []string) (*PersonView, error) {
	return c.ppl.LockAuth(ctx, a, uin, types)
}

// UnlockAuth unlocks auth types for a person.
func (c *Central) UnlockAuth(ctx context.Context, a *Admin, uin string, types []string) (*PersonView, error) {
	return c.ppl.UnlockAuth(ctx, a, uin, types)
}

// SetApplianceGroup moves an appliance to a records group and backfills it.
func (c *Central) SetApplianceGroup(ctx context.Context, a *Admin, id, group string) (*store.Appliance, error) {
	return c.ppl.SetApplianceGroup(ctx, a, id, group)
}

// SweepExpiredVIDs expires VIDs past their expiry and deletes their
// records from the appliances.
func (c *Central) SweepExpiredVIDs(ctx context.Context) (int, error) {
	return c.ppl.SweepExpiredVIDs(ctx)
}

// RunBackfills runs every pending records backfill to its end.
func (c *Central) RunBackfills(ctx context.Context) (int, error) { return c.ppl.RunBackfills(ctx) }
