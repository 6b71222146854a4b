package records

import (
	"errors"
	"fmt"

	badger "github.com/dgraph-io/badger/v4"
)

// Op is one change for Apply: exactly one of Put (a record for Put.VID)
// or Delete (a VID whose record and counters go).
type Op struct {
	Put    *Item
	Delete string
}

// Apply verifies every put (as PutMany does) and then writes all the
// operations, in order, together with whatever commit writes (a feed
// position, say) in one badger transaction: either all of it is stored or
// none. A delete removes the VID's record and its counters (Usage); deleting
// an absent VID is not an error.
//
// When the operations are too large for one badger transaction they are
// written in several, the last of which also runs commit; a crash between
// them leaves a prefix applied and commit not run, and applying the same
// operations again is harmless (puts replace, deletes are idempotent).
// commit may be nil.
func (s *Store) Apply(ops []Op, commit func(txn *badger.Txn) error) error {
	if len(ops) > MaxBatch {
		return fmt.Errorf("%w: %d operations in one batch, at most %d", ErrInvalid, len(ops), MaxBatch)
	}
	type write struct {
		key, val []byte // val nil: delete key
	}
	var writes []write
	for i, op := range ops {
		switch {
		case op.Put != nil && op.Delete == "":
			if err := s.check(*op.Put); err != nil {
				return fmt.Errorf("operation %d: %w", i, err)
			}
		case op.Put == nil && op.Delete != "":
			if err := checkVID(op.Delete); err != nil {
				return fmt.Errorf("operation %d: %w", i, err)
			}
		default:
			return fmt.Errorf("%w: operation %d is not exactly one of put and delete", ErrInvalid, i)
		}
	}
	for _, op := range ops {
		if op.Put != nil {
			k, v, err := s.seal(*op.Put)
			if err != nil {
				return err
			}
			writes = append(writes, write{k, v})
			continue
		}
		k := s.indexKey(op.Delete)
		writes = append(writes, write{k, nil}, write{usageKey(k), nil})
	}
	// Counters of deleted VIDs change under their usage locks (each stripe
	// taken once, in order).
	var stripes [usageStripes]bool
	for _, op := range ops {
		if op.Delete != "" {
			stripes[stripeOf(s.indexKey(op.Delete))] = true
		}
	}
	for i, on := range stripes {
		if on {
			s.usageMu[i].Lock()
			defer s.usageMu[i].Unlock()
		}
	}
	txn := s.db.NewTransaction(true)
	defer func() { txn.Discard() }()
	do := func(f func(*badger.Txn) error) error {
		err := f(txn)
		if !errors.Is(err, badger.ErrTxnTooBig) {
			return err
		}
		if err := txn.Commit(); err != nil {
			return err
		}
		txn = s.db.NewTransaction(true)
		return f(txn)
	}
	for _, w := range writes {
		err := do(func(t *badger.Txn) error {
			if w.val == nil {
				return t.Delete(w.key)
			}
			return t.Set(w.key, w.val)
		})
		if err != nil {
			return err
		}
	}
	if commit != nil {
		if err := do(commit); err != nil {
			return err
		}
	}
	return txn.Commit()
}
