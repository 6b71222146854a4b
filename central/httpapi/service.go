package httpapi

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"io"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/people"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/audit"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
)

// Service is what the handlers call: central's operations, as the root
// package's *central.Central provides them. Every method checks its own
// input's meaning; the handlers only decode, authenticate and answer.
type Service interface {
	// Healthy says whether the store answers.
	Healthy(ctx context.Context) error
	FeedPublicKey() ed25519.PublicKey
	ApplianceCACert() *x509.Certificate
	WaitBatch(ctx context.Context, name string, after uint64, limit int, wait time.Duration) (*feed.Batch, error)
	// ReceiveApplianceAudit reads the upload from body; on a size
	// conflict it returns the ack (the size to resume from) with the error.
	ReceiveApplianceAudit(ctx context.Context, applianceID string, body io.Reader) (*audit.UploadAck, error)

	StartEnrolment(ctx context.Context, q *enrol.StartRequest) (*enrol.StartResponse, error)
	FinishEnrolment(ctx context.Context, q *enrol.FinishRequest) (*enrol.FinishResponse, error)
	StartRotation(ctx context.Context, q *enrol.RotateStartRequest) (*enrol.RotateStartResponse, error)
	FinishRotation(ctx context.Context, q *enrol.RotateFinishRequest) (*enrol.RotateFinishResponse, error)

	AuthenticateAdmin(ctx context.Context, tok string) (*core.Admin, error)
	CreateAdminToken(ctx context.Context, actor, name string) (string, *store.Token, error)
	CreateEnrolmentToken(ctx context.Context, a *core.Admin, q core.TokenRequest) (*core.TokenResponse, error)
	Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEvent, error)
	// AuditLockout appends an auth.lockout row: subject (an address or a
	// credential's public id, never a secret) failed check's credential
	// failures times and waits retryAfter seconds per new try.
	AuditLockout(ctx context.Context, check, subject string, failures, retryAfter int) error
	VerifyAudit(ctx context.Context) (uint64, error)

	Vendors(ctx context.Context) ([]registry.VendorView, error)
	AddVendor(ctx context.Context, a *core.Admin, id, name string) (*registry.VendorView, error)
	SetVendorStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*registry.VendorView, error)
	Devices(ctx context.Context, f store.DeviceFilter) ([]registry.DeviceView, error)
	Device(ctx context.Context, serial string) (*registry.DeviceView, error)
	SetDeviceStatus(ctx context.Context, a *core.Admin, serials []string, s core.StatusChange) ([]string, error)
	Appliances(ctx context.Context) ([]store.Appliance, error)
	Appliance(ctx context.Context, id string) (*registry.ApplianceView, error)
	SetApplianceStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*store.Appliance, error)
	SetApplianceGroup(ctx context.Context, a *core.Admin, id, group string) (*store.Appliance, error)
	RelyingParties(ctx context.Context) ([]store.RelyingParty, error)
	AddRelyingParty(ctx context.Context, a *core.Admin, id, name string, attrs, authTypes []string) (*store.RelyingParty, error)
	AddRPKey(ctx context.Context, a *core.Admin, rpID string) (key, keyID string, err error)
	RevokeRPKey(ctx context.Context, a *core.Admin, rpID, keyID string) (*store.RelyingParty, error)
	RevokeRPCert(ctx context.Context, a *core.Admin, rpID, serial, reason string) (*store.RelyingParty, error)
	SetRelyingPartyStatus(ctx context.Context, a *core.Admin, id string, s core.StatusChange) (*store.RelyingParty, error)

	EnrolPerson(ctx context.Context, a *core.Admin, q *people.PersonRequest) (*people.PersonEnrolled, error)
	Person(ctx context.Context, uin string) (*people.PersonView, error)
	SetLocks(ctx context.Context, a *core.Admin, uin string, lock, unlock []string) (*people.PersonView, error)
	IssueVID(ctx context.Context, a *core.Admin, uin, kind string, ttl time.Duration) (*store.VID, error)
	VIDs(ctx context.Context, uin string) ([]store.VID, error)
	RevokeVID(ctx context.Context, a *core.Admin, number, reason string) (*store.VID, error)
}
