package tpmkey

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

// TLS key blobs: the appliance's TLS key (its server key and its client key
// towards central) is an ECDSA P-256 key made in the TPM, saved only as a
// TPM-wrapped blob. Each certificate renewal makes a fresh one.
const (
	TLSKeyFile     = "tpm/appliance-tls.key"      // the key central's TLS CA certified
	TLSSelfKeyFile = "tpm/appliance-tls-self.key" // the key of the self-signed certificate (before enrolment)
)

// TLSKey loads the TPM TLS key saved at path (TLSKeyFile or
// TLSSelfKeyFile, under state); os.ErrNotExist when there is none.
func (k *Keys) TLSKey(ctx context.Context, state, path string) (*tpm.Key, error) {
	b, err := os.ReadFile(filepath.Join(state, path))
	if err != nil {
		return nil, err
	}
	key, err := k.TPM.LoadKey(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if key.Kind() != tpm.ECCP256Sign {
		return nil, fmt.Errorf("%s holds a %s key, not an ECDSA P-256 TLS key", path, key.Kind())
	}
	return key, nil
}

// NewTLSKey makes a fresh TLS key in the TPM (fixedTPM, fixedParent,
// sensitiveDataOrigin: non-exportable). It is not saved: SaveTLSKey does,
// once central has certified it.
func (k *Keys) NewTLSKey(ctx context.Context) (*tpm.Key, error) {
	key, err := k.TPM.CreateKey(ctx, tpm.ECCP256Sign)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	return key, nil
}

// SaveTLSKey writes key's TPM blob to path under state (0600).
func SaveTLSKey(state, path string, key *tpm.Key) error {
	blob := key.Blob()
	if blob == nil {
		return errors.New("tpmkey: the TLS key has no blob (a persistent handle)")
	}
	p := filepath.Join(state, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, blob, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
