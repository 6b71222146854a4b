package records

import (
	"crypto/sha256"
	"errors"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

var prefixSeen = []byte("rec/seen/")

// FirstUse records that the item identified by b (e.g. a capture's signed
// data) has been used, for ttl, and reports whether this was its first use
// in that time. Concurrent calls for the same item: exactly one is first.
// The key is a SHA-256 of b, so nothing of the item is stored.
func (s *Store) FirstUse(b []byte, ttl time.Duration) (bool, error) {
	h := sha256.Sum256(b)
	key := append(append([]byte{}, prefixSeen...), h[:]...)
	first := false
	err := s.db.Update(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		first = true
		return txn.SetEntry(badger.NewEntry(key, []byte{1}).WithTTL(ttl))
	})
	if errors.Is(err, badger.ErrConflict) {
		return false, nil // another request took it at the same time
	}
	if err != nil {
		return false, err
	}
	return first, nil
}
