package db

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/internal/records"
)

// Store is an open database.
type Store struct {
	DB  *badger.DB
	dir string
}

// Open opens (creating if needed) the database in dir. Only one process may
// have it open at a time.
func Open(dir string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The record store's options (internal/records.BadgerOptions: indexes
	// in memory, 32 MiB block cache), with every write synced.
	opts := records.BadgerOptions(dir).
		WithSyncWrites(true).
		WithLogger(badgerLogger{log.With("component", "badger")}).
		WithValueLogFileSize(64 << 20)
	db, err := badger.Open(opts)
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("store: %s is in use by another process (is an edgetrust-appliance already running with this state directory?)", dir)
		}
		return nil, fmt.Errorf("store: opening %s: %w", dir, err)
	}
	return &Store{DB: db, dir: filepath.Clean(dir)}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.DB.Close() }

// Dir is the database directory.
func (s *Store) Dir() string { return s.dir }

// Keys.

// FeedStateKey is where a feed's feed.State lives.
func FeedStateKey(feed string) []byte { return []byte("feed/" + feed + "/state") }

// FeedAppliedKey is where a feed's applied-entry counter lives.
func FeedAppliedKey(feed string) []byte { return []byte("feed/" + feed + "/applied") }

// Key prefixes of the trust feed's subjects.
const (
	VendorPrefix    = "trust/vendor/"
	DevicePrefix    = "trust/device/"
	AppliancePrefix = "trust/appliance/"
	RPPrefix        = "trust/rp/"
)

// GetJSON reads key into v; it reports false when the key is absent.
func GetJSON(txn *badger.Txn, key []byte, v any) (bool, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	err = it.Value(func(b []byte) error { return json.Unmarshal(b, v) })
	if err != nil {
		return false, fmt.Errorf("store: %s: %w", key, err)
	}
	return true, nil
}

// SetJSON writes v as JSON at key.
func SetJSON(txn *badger.Txn, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set(key, b)
}

// GetUint64 reads an 8-byte big-endian counter (0 when absent).
func GetUint64(txn *badger.Txn, key []byte) (uint64, error) {
	it, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n uint64
	err = it.Value(func(b []byte) error {
		if len(b) != 8 {
			return fmt.Errorf("store: %s: counter of %d bytes", key, len(b))
		}
		n = binary.BigEndian.Uint64(b)
		return nil
	})
	return n, err
}

// SetUint64 writes an 8-byte big-endian counter.
func SetUint64(txn *badger.Txn, key []byte, n uint64) error {
	return txn.Set(key, binary.BigEndian.AppendUint64(nil, n))
}

// ForEach calls fn for every key with the given prefix, in key order.
func ForEach(txn *badger.Txn, prefix string, fn func(key, value []byte) error) error {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(prefix)
	it := txn.NewIterator(opts)
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if err := item.Value(func(v []byte) error { return fn(item.Key(), v) }); err != nil {
			return err
		}
	}
	return nil
}

// badgerLogger sends badger's log lines to slog: errors and warnings as
// such, its chatty info and debug lines at debug level.
type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {
	b.l.Debug(strings.TrimSpace(fmt.Sprintf(f, a...)))
}
