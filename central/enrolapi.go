package central

import (
	"context"

	"github.com/edgetrust/edgetrust/internal/enrol"
)

// Enrolment lives in central/enrolment; these methods keep Central's API.

// StartEnrolment opens an enrolment session for a token and an EK.
func (c *Central) StartEnrolment(ctx context.Context, q *enrol.StartRequest) (*enrol.StartResponse, error) {
	return c.enr.StartEnrolment(ctx, q)
}

// FinishEnrolment checks the TPM's proofs and certifies its keys.
func (c *Central) FinishEnrolment(ctx context.Context, q *enrol.FinishRequest) (*enrol.FinishResponse, error) {
	return c.enr.FinishEnrolment(ctx, q)
}

// StartRotation opens a device-key rotation session.
func (c *Central) StartRotation(ctx context.Context, q *enrol.RotateStartRequest) (*enrol.RotateStartResponse, error) {
	return c.enr.StartRotation(ctx, q)
}

// FinishRotation certifies a device's new key.
func (c *Central) FinishRotation(ctx context.Context, q *enrol.RotateFinishRequest) (*enrol.RotateFinishResponse, error) {
	return c.enr.FinishRotation(ctx, q)
}
