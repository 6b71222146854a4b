package records

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"regexp"

	badger "github.com/dgraph-io/badger/v4"
)

var secretName = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

// SecretLen is the size of a secret from LoadOrCreateSecret.
const SecretLen = 32

// LoadOrCreateSecret returns the 32-byte secret called name (lower-case
// letters, digits and '-'), kept in db under "rec/meta/secret/<name>"
// only sealed by sealer (the TPM): made with crypto/rand on first use,
// unsealed afterwards. The token-ID key of an appliance is one.
func LoadOrCreateSecret(ctx context.Context, db *badger.DB, sealer Sealer, name string) ([]byte, error) {
	if db == nil || sealer == nil || !secretName.MatchString(name) {
		return nil, errors.New("records: LoadOrCreateSecret needs a database, a sealer and a name of [a-z0-9-]")
	}
	key := []byte("rec/meta/secret/" + name)
	var blob []byte
	err := db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if err != nil {
			return err
		}
		blob, err = it.ValueCopy(nil)
		return err
	})
	switch {
	case err == nil:
		secret, err := sealer.Unseal(ctx, blob)
		if err != nil {
			return nil, fmt.Errorf("%w: secret %s: %w", ErrKeys, name, err)
		}
		if len(secret) != SecretLen {
			return nil, fmt.Errorf("%w: secret %s is %d bytes, want %d", ErrKeys, name, len(secret), SecretLen)
		}
		return secret, nil
	case !errors.Is(err, badger.ErrKeyNotFound):
		return nil, err
	}
	secret := make([]byte, SecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	if blob, err = sealer.Seal(ctx, secret); err != nil {
		return nil, fmt.Errorf("records: sealing secret %s: %w", name, err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		if _, err := txn.Get(key); err == nil {
			return errors.New("records: secret created concurrently; retry")
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		return txn.Set(key, blob)
	})
	if err != nil {
		return nil, err
	}
	return secret, nil
}
