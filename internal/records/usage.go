package records

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Per-VID counters live beside the record, under the same keyed HMAC:
//
//	key   = "rec/u/" || HMAC-SHA256(indexKey, VID)
//	value = 0x01 || nonce(12) || AES-256-GCM(HKDF(master, key), nonce, counters, AAD = "edgetrust/records/v1" || key)
//
// so they are as opaque as the record and an edited counter reads as
// ErrTampered rather than as a fresh start. (Someone with write access to
// the files can still put back an older value; the audit log is where that
// shows.) Read-modify-write of a VID's counters is serialised in this
// process by a striped lock; the database is opened by one process only.

var prefixUsage = []byte("rec/u/")

const (
	usageStripes = 256
	usageLen     = 1 + 4 + 4 + 8
	usageVersion = 0x01
)

// ErrUsedUp: the VID has been used as many times as it allows.
var ErrUsedUp = errors.New("records: VID already used as often as allowed")

// Usage is what the appliance counts for one VID.
type Usage struct {
	// Uses is the number of successful authentications counted (only for
	// VIDs with a use limit).
	Uses uint32
	// Failures is the number of consecutive failed matches since the last
	// success or lockout.
	Failures uint32
	// LockedUntil is when a lockout ends (zero: not locked out).
	LockedUntil time.Time
}

// Locked reports whether the VID is locked out at now.
func (u Usage) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

func usageKey(recordKey []byte) []byte {
	k := make([]byte, 0, len(prefixUsage)+len(recordKey)-len(prefixRecord))
	k = append(k, prefixUsage...)
	return append(k, recordKey[len(prefixRecord):]...)
}

// stripeOf picks the lock of a record key (its HMAC's first byte).
func stripeOf(recordKey []byte) int { return int(recordKey[len(prefixRecord)]) }

func (u Usage) encode() []byte {
	b := make([]byte, 0, usageLen)
	b = append(b, usageVersion)
	b = binary.BigEndian.AppendUint32(b, u.Uses)
	b = binary.BigEndian.AppendUint32(b, u.Failures)
	var t int64
	if !u.LockedUntil.IsZero() {
		t = u.LockedUntil.UnixNano()
	}
	return binary.BigEndian.AppendUint64(b, uint64(t))
}

func decodeUsage(b []byte) (Usage, error) {
	if len(b) != usageLen || b[0] != usageVersion {
		return Usage{}, fmt.Errorf("%w: malformed counters", ErrTampered)
	}
	u := Usage{Uses: binary.BigEndian.Uint32(b[1:]), Failures: binary.BigEndian.Uint32(b[5:])}
	if t := int64(binary.BigEndian.Uint64(b[9:])); t != 0 {
		u.LockedUntil = time.Unix(0, t)
	}
	return u, nil
}

// readUsage reads the counters under key (zero Usage when absent).
func (s *Store) readUsage(txn *badger.Txn, key []byte) (Usage, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Usage{}, nil
	}
	if err != nil {
		return Usage{}, err
	}
	val, err := it.ValueCopy(nil)
	if err != nil {
		return Usage{}, err
	}
	if len(val) < 1+nonceLen || val[0] != valVersion {
		return Usage{}, fmt.Errorf("%w: malformed counters", ErrTampered)
	}
	g, err := s.aead(key)
	if err != nil {
		return Usage{}, err
	}
	pt, err := g.Open(nil, val[1:1+nonceLen], val[1+nonceLen:], aad(key))
	if err != nil {
		return Usage{}, fmt.Errorf("%w: counters do not authenticate", ErrTampered)
	}
	return decodeUsage(pt)
}

func (s *Store) writeUsage(txn *badger.Txn, key []byte, u Usage) error {
	if u == (Usage{}) {
		return txn.Delete(key)
	}
	g, err := s.aead(key)
	if err != nil {
		return err
	}
	val := make([]byte, 1+nonceLen, 1+nonceLen+usageLen+g.Overhead())
	val[0] = valVersion
	if _, err := rand.Read(val[1 : 1+nonceLen]); err != nil {
		return err
	}
	val = g.Seal(val, val[1:1+nonceLen], u.encode(), aad(key))
	return txn.Set(key, val)
}

// Usage returns the counters of vid (zero when it has none).
func (s *Store) Usage(vid string) (Usage, error) {
	if err := checkVID(vid); err != nil {
		return Usage{}, err
	}
	key := usageKey(s.indexKey(vid))
	var u Usage
	err := s.db.View(func(txn *badger.Txn) (err error) {
		u, err = s.readUsage(txn, key)
		return err
	})
	return u, err
}

// update changes vid's counters atomically: f gets the current value and
// returns the new one (or an error, and nothing is written).
func (s *Store) update(vid string, f func(Usage) (Usage, error)) (Usage, error) {
	if err := checkVID(vid); err != nil {
		return Usage{}, err
	}
	rk := s.indexKey(vid)
	key := usageKey(rk)
	mu := &s.usageMu[stripeOf(rk)]
	mu.Lock()
	defer mu.Unlock()
	var out Usage
	err := s.db.Update(func(txn *badger.Txn) error {
		cur, err := s.readUsage(txn, key)
		if err != nil {
			return err
		}
		next, err := f(cur)
		if err != nil {
			out = cur
			return err
		}
		out = next
		if next == cur {
			return nil
		}
		return s.writeUsage(txn, key, next)
	})
	return out, err
}

// Succeeded counts a successful authentication of vid: when maxUses > 0 it
// takes one use, refusing with ErrUsedUp when all are taken (checked and
// counted in one step, so two concurrent requests cannot both take the
// last use); and it clears the failure counter and any lockout. Nothing is
// written when nothing changes.
func (s *Store) Succeeded(vid string, maxUses int) (Usage, error) {
	return s.update(vid, func(u Usage) (Usage, error) {
		if maxUses > 0 {
			if int64(u.Uses) >= int64(maxUses) {
				return u, ErrUsedUp
			}
			u.Uses++
		}
		u.Failures, u.LockedUntil = 0, time.Time{}
		return u, nil
	})
}

// ReleaseUse gives back a use Succeeded took (the decision could not be
// completed, e.g. its audit record was not written).
func (s *Store) ReleaseUse(vid string) error {
	_, err := s.update(vid, func(u Usage) (Usage, error) {
		if u.Uses > 0 {
			u.Uses--
		}
		return u, nil
	})
	return err
}

// Failed counts a failed match of vid at now. After limit consecutive
// failures (limit > 0) the VID is locked out until now+lockFor and the
// count starts again; a lockout that has ended is cleared first.
func (s *Store) Failed(vid string, now time.Time, limit int, lockFor time.Duration) (Usage, error) {
	return s.update(vid, func(u Usage) (Usage, error) {
		if !u.LockedUntil.IsZero() && !now.Before(u.LockedUntil) {
			u.LockedUntil = time.Time{}
		}
		if u.Failures < 1<<31 {
			u.Failures++
		}
		if limit > 0 && int64(u.Failures) >= int64(limit) {
			u.Failures, u.LockedUntil = 0, now.Add(lockFor)
		}
		return u, nil
	})
}
