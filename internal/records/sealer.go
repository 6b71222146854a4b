package records

import (
	"context"
	"crypto/ed25519"
	"errors"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

// TPMSealer adapts *tpm.TPM to Sealer, binding the store keys to the TPM
// and, when PCRs is set, to those PCRs' current values (measured boot).
type TPMSealer struct {
	TPM  *tpm.TPM
	PCRs []int
}

// Seal seals secret (at most tpm.MaxSealSize bytes) to the TPM.
func (s TPMSealer) Seal(ctx context.Context, secret []byte) ([]byte, error) {
	return s.TPM.Seal(ctx, secret, s.PCRs)
}

// Unseal recovers a secret sealed by Seal on the same TPM.
func (s TPMSealer) Unseal(ctx context.Context, blob []byte) ([]byte, error) {
	return s.TPM.Unseal(ctx, blob)
}

// Ed25519Verifier verifies raw Ed25519 signatures over the record bytes.
// It is the stand-in for central's signature format in tests and
// benchmarks.
type Ed25519Verifier struct{ Key ed25519.PublicKey }

// Verify implements Verifier.
func (v Ed25519Verifier) Verify(record, sig []byte) error {
	if len(v.Key) != ed25519.PublicKeySize || !ed25519.Verify(v.Key, record, sig) {
		return errors.New("ed25519 signature invalid")
	}
	return nil
}
