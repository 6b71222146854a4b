package badgerstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
)

// Key prefixes. Identifiers never contain NUL (enrol.CheckID), so NUL
// separates the parts of compound keys.
const (
	pVendor    = "v\x00"
	pDevice    = "d\x00"
	pDevVendor = "dv\x00" // vendor NUL serial → ""
	pDevBlob   = "db\x00" // serial → the device's key material and certificates (binary)
	pAppliance = "a\x00"
	pRP        = "r\x00"
	pPerson    = "p\x00"   // uin → person JSON
	pGroup     = "pg\x00"  // group NUL uin → ""
	pVID       = "vid\x00" // number → VID JSON
	pVIDOf     = "vo\x00"  // uin NUL number → ""
	pVIDExp    = "ve\x00"  // expiry (8-byte big-endian unix nanos) number → "" for active VIDs that expire
	pToken     = "t\x00"
	pSession   = "s\x00"
	pConAdmin  = "ca\x00"  // console admin id → JSON
	pConSess   = "cs\x00"  // console session id (hash) → JSON
	pFeedPos   = "fp\x00"  // appliance id → FeedPosition JSON
	pAudit     = "au\x00"  // seq(8) → event JSON
	pAuditSubj = "aus\x00" // subject NUL seq(8) → ""
	kAuditHead = "auh"
	pFeed      = "f\x00"  // name NUL seq(8) → root(32) || body
	pFeedHead  = "fh\x00" // name → head JSON
)

// Store is a badger-backed store.Store.
type Store struct {
	db      *badger.DB
	wmu     sync.Mutex // serialises Update
	changed *store.Notifier
	dir     string // checked for free space before a write ("" : not checked)
	minFree int64
}

// Options tune Open.
type Options struct {
	// NoSync skips the fsync after each commit (benchmarks only: a crash
	// may lose the last commits).
	NoSync bool
	// InMemory keeps everything in memory (tests).
	InMemory bool
	// MinFree is the free space (bytes) the store's filesystem must have
	// for Update to write; below it Update returns store.ErrNoSpace and
	// writes nothing. Badger writes its write-ahead log and value log
	// through memory maps of sparse files: on a full filesystem a write
	// is not an error but a SIGBUS that kills the process (found by
	// internal/e2e's TestFaultBadgerDiskFull), so the check comes first.
	// 0 means DefaultMinFree; negative disables it.
	MinFree int64
}

// DefaultMinFree is Options.MinFree's default: far more than one
// transaction of central's (at most a few MiB) needs.
const DefaultMinFree = 32 << 20

// Open opens (creating) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	opts := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(!o.NoSync).
		WithNumVersionsToKeep(1).WithMetricsEnabled(false)
	if o.InMemory {
		opts = opts.WithDir("").WithValueDir("").WithInMemory(true)
	} else {
		// Certificates and vendor CAs go to the value log, so compaction
		// of the LSM tree does not rewrite them again and again.
		opts = opts.WithValueThreshold(1024)
	}
	db, err := badger.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("badgerstore: opening %s: %w (is another central running on this state directory?)", dir, err)
	}
	st := &Store{db: db, changed: store.NewNotifier()}
	if !o.InMemory && o.MinFree >= 0 {
		st.dir, st.minFree = dir, o.MinFree
		if st.minFree == 0 {
			st.minFree = DefaultMinFree
		}
	}
	return st, nil
}

// checkSpace refuses a write when the filesystem is nearly full.
func (s *Store) checkSpace() error {
	if s.dir == "" {
		return nil
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.dir, &fs); err != nil {
		return nil // cannot tell: let badger try
	}
	if free := int64(fs.Bavail) * int64(fs.Bsize); free < s.minFree {
		return fmt.Errorf("%w: %d MiB free under %s, central writes only with at least %d MiB; free some space (reads go on meanwhile)",
			store.ErrNoSpace, free>>20, s.dir, s.minFree>>20)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Changed implements store.Store.
func (s *Store) Changed() <-chan struct{} { return s.changed.C() }

// Update implements store.Store.
func (s *Store) Update(ctx context.Context, f func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.checkSpace(); err != nil {
		return err
	}
	t := &tx{txn: s.db.NewTransaction(true)}
	defer t.txn.Discard()
	if err := f(t); err != nil {
		return err
	}
	if err := t.txn.Commit(); err != nil {
		if errors.Is(err, badger.ErrConflict) {
			return store.ErrConflict
		}
		return fmt.Errorf("badgerstore: commit: %w", err)
	}
	if t.feedChanged {
		s.changed.Notify()
	}
	return nil
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, f func(store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := &tx{txn: s.db.NewTransaction(false), ro: true}
	defer t.txn.Discard()
	return f(t)
}

// ReadFeed implements store.Store.
func (s *Store) ReadFeed(ctx context.Context, name string, after uint64, limit int) ([]store.FeedRecord, uint64, error) {
	var recs []store.FeedRecord
	var size uint64
	err := s.View(ctx, func(st store.Tx) error {
		t := st.(*tx)
		h, err := t.head(name)
		if err != nil {
			return err
		}
		size = h.Size
		if after >= size || limit <= 0 {
			return nil
		}
		n := min(uint64(limit), size-after)
		recs = make([]store.FeedRecord, 0, n)
		it := t.txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: feedPrefix(name)})
		defer it.Close()
		for it.Seek(feedKey(name, after+1)); it.Valid() && uint64(len(recs)) < n; it.Next() {
			k := it.Item().Key()
			seq := binary.BigEndian.Uint64(k[len(k)-8:])
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) < 32 || seq != after+uint64(len(recs))+1 {
				return fmt.Errorf("badgerstore: feed %s is corrupt at %d", name, seq)
			}
			recs = append(recs, store.FeedRecord{Seq: seq, Root: v[:32], Body: v[32:]})
		}
		if uint64(len(recs)) != n {
			return fmt.Errorf("badgerstore: feed %s is missing entries after %d", name, after)
		}
		return nil
	})
	return recs, size, err
}

// FeedRoot implements store.Store.
func (s *Store) FeedRoot(ctx context.Context, name string, seq uint64) ([]byte, error) {
	if seq == 0 {
		return feed.Head{}.Root()
	}
	var root []byte
	err := s.View(ctx, func(st store.Tx) error {
		v, err := st.(*tx).get(feedKey(name, seq))
		if err != nil {
			return err
		}
		root = v[:32]
		return nil
	})
	return root, err
}

func feedPrefix(name string) []byte { return []byte(pFeed + name + "\x00") }

func feedKey(name string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(feedPrefix(name), seq)
}

type tx struct {
	txn         *badger.Txn
	ro          bool
	feedChanged bool
}

func (t *tx) get(key []byte) ([]byte, error) {
	it, err := t.txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return it.ValueCopy(nil)
}

func (t *tx) getJSON(key string, v any) error {
	b, err := t.get([]byte(key))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func (t *tx) put(key []byte, v []byte) error {
	if t.ro {
		return errors.New("badgerstore: write in a read-only transaction")
	}
	return t.txn.Set(key, v)
}

func (t *tx) putJSON(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return t.put([]byte(key), b)
}

// scan calls f with each value under prefix, from start (inclusive), until f
// returns false.
func (t *tx) scan(prefix, start []byte, keysOnly bool, f func(k, v []byte) (bool, error)) error {
	it := t.txn.NewIterator(badger.IteratorOptions{PrefetchValues: !keysOnly, PrefetchSize: 100, Prefix: prefix})
	defer it.Close()
	if start == nil {
		start = prefix
	}
	for it.Seek(start); it.Valid(); it.Next() {
		var v []byte
		if !keysOnly {
			var err error
			if v, err = it.Item().ValueCopy(nil); err != nil {
				return err
			}
		}
		more, err := f(it.Item().KeyCopy(nil), v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func listJSON[T any](t *tx, prefix string) ([]T, error) {
	var out []T
	err := t.scan([]byte(prefix), nil, false, func(_, v []byte) (bool, error) {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return false, err
		}
		out = append(out, x)
		return true, nil
	})
	return out, err
}

func (t *tx) Vendor(_ context.Context, id string) (*store.Vendor, error) {
	var v store.Vendor
	return &v, t.getJSON(pVendor+id, &v)
}

func (t *tx) PutVendor(_ context.Context, v *store.Vendor) error { return t.putJSON(pVendor+v.ID, v) }

func (t *tx) Vendors(context.Context) ([]store.Vendor, error) {
	return listJSON[store.Vendor](t, pVendor)
}

// A device is two values: its registry fields as JSON, rewritten on every
// status change, and its keys and certificates as length-prefixed binary,
// written only when they change (enrolment, rotation). Revoking a device
// then neither decodes nor rewrites kilobytes of certificates as base64.

func (t *tx) deviceFrom(doc []byte) (*store.Device, error) {
	var d store.Device
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	blob, err := t.get([]byte(pDevBlob + d.Serial))
	if err != nil {
		return nil, err
	}
	return &d, store.DecodeDeviceKeys(blob, &d)
}

func (t *tx) Device(_ context.Context, serial string) (*store.Device, error) {
	doc, err := t.get([]byte(pDevice + serial))
	if err != nil {
		return nil, err
	}
	return t.deviceFrom(doc)
}

func (t *tx) PutDevices(_ context.Context, ds ...*store.Device) error {
	for _, d := range ds {
		if err := t.putDevice(d); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) DevicesBySerial(ctx context.Context, serials []string) (map[string]*store.Device, error) {
	out := make(map[string]*store.Device, len(serials))
	for _, sn := range serials {
		d, err := t.Device(ctx, sn)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[sn] = d
	}
	return out, nil
}

func (t *tx) putDevice(d *store.Device) error {
	// The vendor index entry exists exactly when the device is stored
	// under this vendor; checking keys avoids decoding the old document.
	idx := []byte(pDevVendor + d.VendorID + "\x00" + d.Serial)
	if _, err := t.txn.Get(idx); errors.Is(err, badger.ErrKeyNotFound) {
		if _, err := t.txn.Get([]byte(pDevice + d.Serial)); err == nil {
			return fmt.Errorf("badgerstore: device %s cannot move to vendor %s", d.Serial, d.VendorID)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if err := t.put(idx, nil); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	blob := store.EncodeDeviceKeys(d)
	if old, err := t.get([]byte(pDevBlob + d.Serial)); err != nil || !bytes.Equal(old, blob) {
		if err := t.put([]byte(pDevBlob+d.Serial), blob); err != nil {
			return err
		}
	}
	return t.putJSON(pDevice+d.Serial, store.WithoutKeys(d))
}

func (t *tx) Devices(ctx context.Context, f store.DeviceFilter) ([]store.Device, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	var out []store.Device
	add := func(d store.Device) bool {
		if f.Status == "" || d.Status == f.Status {
			out = append(out, d)
		}
		return len(out) < limit
	}
	if f.VendorID != "" {
		prefix := []byte(pDevVendor + f.VendorID + "\x00")
		start := prefix
		if f.After != "" {
			start = append(append([]byte{}, prefix...), f.After+"\x00"...)
		}
		err := t.scan(prefix, start, true, func(k, _ []byte) (bool, error) {
			d, err := t.Device(ctx, string(k[len(prefix):]))
			if err != nil {
				return false, err
			}
			return add(*d), nil
		})
		return out, err
	}
	prefix := []byte(pDevice)
	start := prefix
	if f.After != "" {
		start = append([]byte(pDevice+f.After), 0)
	}
	err := t.scan(prefix, start, false, func(_, v []byte) (bool, error) {
		d, err := t.deviceFrom(v)
		if err != nil {
			return false, err
		}
		return add(*d), nil
	})
	return out, err
}

func (t *tx) Appliance(_ context.Context, id string) (*store.Appliance, error) {
	var a store.Appliance
	return &a, t.getJSON(pAppliance+id, &a)
}

func (t *tx) PutAppliance(_ context.Context, a *store.Appliance) error {
	return t.putJSON(pAppliance+a.ID, a)
}

func (t *tx) Appliances(context.Context) ([]store.Appliance, error) {
	return listJSON[store.Appliance](t, pAppliance)
}

func (t *tx) RelyingParty(_ context.Context, id string) (*store.RelyingParty, error) {
	var r store.RelyingParty
	return &r, t.getJSON(pRP+id, &r)
}

func (t *tx) PutRelyingParty(_ context.Context, r *store.RelyingParty) error {
	return t.putJSON(pRP+r.ID, r)
}

func (t *tx) RelyingParties(context.Context) ([]store.RelyingParty, error) {
	return listJSON[store.RelyingParty](t, pRP)
}

func (t *tx) Person(_ context.Context, uin string) (*store.Person, error) {
	var p store.Person
	return &p, t.getJSON(pPerson+uin, &p)
}

func (t *tx) PutPerson(ctx context.Context, p *store.Person) error {
	if old, err := t.Person(ctx, p.UIN); err == nil && old.Group != p.Group {
		if err := t.txn.Delete([]byte(pGroup + old.Group + "\x00" + p.UIN)); err != nil {
			return err
		}
	}
	if err := t.put([]byte(pGroup+p.Group+"\x00"+p.UIN), nil); err != nil {
		return err
	}
	return t.putJSON(pPerson+p.UIN, p)
}

func (t *tx) People(ctx context.Context, group, after string, limit int) ([]store.Person, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	prefix := []byte(pGroup + group + "\x00")
	start := prefix
	if after != "" {
		start = append(append([]byte{}, prefix...), after+"\x00"...)
	}
	var out []store.Person
	err := t.scan(prefix, start, true, func(k, _ []byte) (bool, error) {
		uin := string(k[len(prefix):])
		if uin == after {
			return true, nil
		}
		p, err := t.Person(ctx, uin)
		if err != nil {
			return false, err
		}
		out = append(out, *p)
		return len(out) < limit, nil
	})
	return out, err
}

func (t *tx) VID(_ context.Context, number string) (*store.VID, error) {
	var v store.VID
	return &v, t.getJSON(pVID+number, &v)
}

func vidExpKey(v *store.VID) []byte {
	k := binary.BigEndian.AppendUint64([]byte(pVIDExp), uint64(v.ExpiresAt.UnixNano()))
	return append(k, v.Number...)
}

func (t *tx) PutVID(ctx context.Context, v *store.VID) error {
	if old, err := t.VID(ctx, v.Number); err == nil && !old.ExpiresAt.IsZero() {
		if err := t.txn.Delete(vidExpKey(old)); err != nil {
			return err
		}
	}
	if v.Status == "active" && !v.ExpiresAt.IsZero() {
		if err := t.put(vidExpKey(v), nil); err != nil {
			return err
		}
	}
	if err := t.put([]byte(pVIDOf+v.UIN+"\x00"+v.Number), nil); err != nil {
		return err
	}
	return t.putJSON(pVID+v.Number, v)
}

func (t *tx) ExpiringVIDs(ctx context.Context, before time.Time, limit int) ([]store.VID, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	prefix := []byte(pVIDExp)
	var out []store.VID
	err := t.scan(prefix, nil, true, func(k, _ []byte) (bool, error) {
		if len(k) < len(prefix)+8 || int64(binary.BigEndian.Uint64(k[len(prefix):])) >= before.UnixNano() {
			return false, nil
		}
		v, err := t.VID(ctx, string(k[len(prefix)+8:]))
		if err != nil {
			return false, err
		}
		out = append(out, *v)
		return len(out) < limit, nil
	})
	return out, err
}

func (t *tx) VIDsOf(ctx context.Context, uin string) ([]store.VID, error) {
	prefix := []byte(pVIDOf + uin + "\x00")
	var out []store.VID
	err := t.scan(prefix, nil, true, func(k, _ []byte) (bool, error) {
		v, err := t.VID(ctx, string(k[len(prefix):]))
		if err != nil {
			return false, err
		}
		out = append(out, *v)
		return true, nil
	})
	return out, err
}

func (t *tx) Token(_ context.Context, id string) (*store.Token, error) {
	var k store.Token
	return &k, t.getJSON(pToken+id, &k)
}

func (t *tx) PutToken(_ context.Context, k *store.Token) error { return t.putJSON(pToken+k.ID, k) }

func (t *tx) CountTokens(_ context.Context, kind string) (int, error) {
	n := 0
	err := t.scan([]byte(pToken), nil, false, func(_, v []byte) (bool, error) {
		var k store.Token
		if err := json.Unmarshal(v, &k); err != nil {
			return false, err
		}
		if k.Kind == kind && !k.Revoked {
			n++
		}
		return true, nil
	})
	return n, err
}

func (t *tx) ConsoleAdmin(_ context.Context, id string) (*store.ConsoleAdmin, error) {
	var a store.ConsoleAdmin
	return &a, t.getJSON(pConAdmin+id, &a)
}

func (t *tx) PutConsoleAdmin(_ context.Context, a *store.ConsoleAdmin) error {
	return t.putJSON(pConAdmin+a.ID, a)
}

func (t *tx) ConsoleAdmins(_ context.Context) ([]store.ConsoleAdmin, error) {
	return listJSON[store.ConsoleAdmin](t, pConAdmin)
}

func (t *tx) ConsoleSession(_ context.Context, id string) (*store.ConsoleSession, error) {
	var s store.ConsoleSession
	return &s, t.getJSON(pConSess+id, &s)
}

func (t *tx) PutConsoleSession(_ context.Context, s *store.ConsoleSession) error {
	return t.putJSON(pConSess+s.ID, s)
}

func (t *tx) DeleteConsoleSession(_ context.Context, id string) error {
	return t.deleteExisting(pConSess + id)
}

func (t *tx) DeleteExpiredConsoleSessions(_ context.Context, now time.Time) (int, error) {
	return deleteExpired(t, pConSess, now, func(s store.ConsoleSession) time.Time { return s.Expires })
}

func (t *tx) PutFeedPositions(_ context.Context, ps []store.FeedPosition) error {
	for _, p := range ps {
		var old store.FeedPosition
		err := t.getJSON(pFeedPos+p.Appliance, &old)
		if err == nil && !p.Seen.After(old.Seen) {
			continue
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := t.putJSON(pFeedPos+p.Appliance, p); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) FeedPositions(_ context.Context) ([]store.FeedPosition, error) {
	var out []store.FeedPosition
	err := t.scan([]byte(pFeedPos), nil, false, func(_, v []byte) (bool, error) {
		var p store.FeedPosition
		if err := json.Unmarshal(v, &p); err != nil {
			return false, err
		}
		out = append(out, p)
		return true, nil
	})
	return out, err
}

func (t *tx) Session(_ context.Context, id string) (*store.Session, error) {
	var s store.Session
	return &s, t.getJSON(pSession+id, &s)
}

func (t *tx) PutSession(_ context.Context, s *store.Session) error {
	return t.putJSON(pSession+s.ID, s)
}

func (t *tx) DeleteSession(_ context.Context, id string) error {
	return t.deleteExisting(pSession + id)
}

func (t *tx) DeleteExpiredSessions(_ context.Context, now time.Time) (int, error) {
	return deleteExpired(t, pSession, now, func(s store.Session) time.Time { return s.Expires })
}

// deleteExisting deletes key, or answers store.ErrNotFound as get does.
func (t *tx) deleteExisting(key string) error {
	if _, err := t.get([]byte(key)); err != nil {
		return err
	}
	return t.txn.Delete([]byte(key))
}

// deleteExpired deletes the JSON values under prefix whose expiry is
// before now and says how many went.
func deleteExpired[T any](t *tx, prefix string, now time.Time, expires func(T) time.Time) (int, error) {
	var dead [][]byte
	err := t.scan([]byte(prefix), nil, false, func(k, v []byte) (bool, error) {
		var x T
		if err := json.Unmarshal(v, &x); err != nil {
			return false, err
		}
		if expires(x).Before(now) {
			dead = append(dead, k) // scan hands out copies
		}
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range dead {
		if err := t.txn.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash []byte `json:"hash"`
}

func (t *tx) AuditHead(context.Context) (uint64, []byte, error) {
	var h auditHead
	err := t.getJSON(kAuditHead, &h)
	if errors.Is(err, store.ErrNotFound) {
		return 0, make([]byte, 32), nil
	}
	return h.Seq, h.Hash, err
}

func auditKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte(pAudit), seq) }

// InsertAudit is insert-only: an existing row is never overwritten.
func (t *tx) InsertAudit(ctx context.Context, es []*store.AuditEvent) error {
	for _, e := range es {
		if err := t.insertAudit(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) insertAudit(ctx context.Context, e *store.AuditEvent) error {
	if _, err := t.get(auditKey(e.Seq)); err == nil {
		return fmt.Errorf("badgerstore: audit row %d exists: %w", e.Seq, store.ErrExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	seq, _, err := t.AuditHead(ctx)
	if err != nil {
		return err
	}
	if e.Seq != seq+1 {
		return fmt.Errorf("badgerstore: audit row %d does not follow %d", e.Seq, seq)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := t.put(auditKey(e.Seq), b); err != nil {
		return err
	}
	if e.Subject != "" {
		if err := t.put(binary.BigEndian.AppendUint64([]byte(pAuditSubj+e.Subject+"\x00"), e.Seq), nil); err != nil {
			return err
		}
	}
	return t.putJSON(kAuditHead, auditHead{Seq: e.Seq, Hash: e.Hash})
}

func (t *tx) Audit(_ context.Context, f store.AuditFilter) ([]store.AuditEvent, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 1000
	}
	var out []store.AuditEvent
	if f.Subject != "" {
		prefix := []byte(pAuditSubj + f.Subject + "\x00")
		err := t.scan(prefix, binary.BigEndian.AppendUint64(bytes.Clone(prefix), f.After+1), true, func(k, _ []byte) (bool, error) {
			var e store.AuditEvent
			if err := t.getJSON(string(auditKey(binary.BigEndian.Uint64(k[len(k)-8:]))), &e); err != nil {
				return false, err
			}
			out = append(out, e)
			return len(out) < limit, nil
		})
		return out, err
	}
	err := t.scan([]byte(pAudit), auditKey(f.After+1), false, func(_, v []byte) (bool, error) {
		var e store.AuditEvent
		if err := json.Unmarshal(v, &e); err != nil {
			return false, err
		}
		out = append(out, e)
		return len(out) < limit, nil
	})
	return out, err
}

func (t *tx) head(name string) (feed.Head, error) {
	var h feed.Head
	err := t.getJSON(pFeedHead+name, &h)
	if errors.Is(err, store.ErrNotFound) {
		return feed.Head{}, nil
	}
	return h, err
}

// FeedHead implements store.Tx; Update already serialises writers.
func (t *tx) FeedHead(_ context.Context, name string) (feed.Head, error) { return t.head(name) }

func (t *tx) PutFeed(_ context.Context, name string, recs []store.FeedRecord, h feed.Head) error {
	old, err := t.head(name)
	if err != nil {
		return err
	}
	if h.Size != old.Size+uint64(len(recs)) {
		return fmt.Errorf("badgerstore: feed %s head %d does not follow %d + %d entries", name, h.Size, old.Size, len(recs))
	}
	for i, r := range recs {
		if r.Seq != old.Size+uint64(i)+1 || len(r.Root) != 32 {
			return fmt.Errorf("badgerstore: feed %s entry %d is out of order", name, r.Seq)
		}
		v := make([]byte, 0, 32+len(r.Body))
		v = append(append(v, r.Root...), r.Body...)
		if err := t.put(feedKey(name, r.Seq), v); err != nil {
			return err
		}
	}
	t.feedChanged = true
	return t.putJSON(pFeedHead+name, h)
}
