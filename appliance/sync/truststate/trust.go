package truststate

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// FeedName is the feed this package follows.
const FeedName = trustfeed.Name

// Errors Apply returns. Nothing is written when either occurs.
var (
	// ErrBadEntry: a verified entry that does not decode as a trust-feed
	// entry. The batch is refused rather than skipped: a skipped entry could
	// be a revocation.
	ErrBadEntry = fmt.Errorf("trust: feed %w: not a valid trust-feed entry", follow.ErrRejected)
	// ErrConflict: the entries do not continue the stored state (another
	// writer applied them first).
	ErrConflict = errors.New("trust: entries do not continue the stored feed state")
)

// Record fields common to every subject: which feed entry last changed it.
type Record struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}

// VendorRecord is a vendor as stored.
type VendorRecord struct {
	trustfeed.Vendor
	Record
}

// DeviceRecord is a device as stored.
type DeviceRecord struct {
	trustfeed.Device
	Record
}

// ApplianceRecord is an appliance as stored.
type ApplianceRecord struct {
	trustfeed.Appliance
	Record
}

// RPRecord is a relying party as stored. Unlike the other subjects, each rp
// entry is the relying party's complete state (policy and keys): an entry
// without keys leaves it without keys, so a key removed at central cannot
// survive here because a later entry omitted the list.
type RPRecord struct {
	trustfeed.RelyingParty
	Record
}

// AllowsAuthType reports whether the policy allows an auth type
// (recordfeed.Auth*).
func (r *RPRecord) AllowsAuthType(t string) bool {
	for _, a := range r.AuthTypes {
		if a == t {
			return true
		}
	}
	return false
}

// AllowsAttribute reports whether the relying party may receive a
// demographic attribute.
func (r *RPRecord) AllowsAttribute(name string) bool {
	for _, a := range r.Attributes {
		if a == name {
			return true
		}
	}
	return false
}

// Vendor is a vendor in the snapshot, with its parsed CA certificate.
type Vendor struct {
	VendorRecord
	Cert *x509.Certificate // nil when the feed gave none
	Pool *x509.CertPool    // just Cert (nil when Cert is)
}

// Snapshot is an immutable view of the trust anchors and feed position.
type Snapshot struct {
	// Size is how many feed entries have been applied.
	Size uint64
	// CheckpointTime is central's signing time of the last accepted
	// checkpoint; zero before the first one.
	CheckpointTime time.Time
	// Vendors by id.
	Vendors map[string]*Vendor
	// Roots holds the CA certificates of active vendors: the DEVICE and FTM
	// trust anchors.
	Roots *x509.CertPool
	// Anchors is the number of certificates in Roots.
	Anchors int
	// Generation changes whenever Roots or Vendors change.
	Generation uint64
	// RPs are the relying parties by id; rpKeys maps an API key id to
	// its relying party's id.
	RPs    map[string]*RPRecord
	rpKeys map[string]string
}

// RPByKeyID returns the relying party holding the API key with this id
// (trustfeed.ParseRPKey), whatever its status, or nil. The caller still
// checks the secret (RPKeyMatches) and the status.
func (s *Snapshot) RPByKeyID(keyID string) (*RPRecord, *trustfeed.RPKey) {
	rp := s.RPs[s.rpKeys[keyID]]
	if rp == nil {
		return nil, nil
	}
	for i := range rp.Keys {
		if rp.Keys[i].ID == keyID {
			return rp, &rp.Keys[i]
		}
	}
	return nil, nil
}

func rpKeyIndex(rps map[string]*RPRecord) map[string]string {
	ids := make([]string, 0, len(rps))
	for id := range rps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	m := map[string]string{}
	for _, id := range ids {
		for _, k := range rps[id].Keys {
			if _, dup := m[k.ID]; dup {
				// Key ids are random; one claimed by two relying parties
				// is answered for neither.
				m[k.ID] = ""
				continue
			}
			m[k.ID] = id
		}
	}
	return m
}

// Age is how old the trust data is at now: now minus the last checkpoint's
// signing time. Before any checkpoint it is effectively infinite.
func (s *Snapshot) Age(now time.Time) time.Duration {
	if s.CheckpointTime.IsZero() {
		return time.Duration(1<<63 - 1)
	}
	return now.Sub(s.CheckpointTime)
}

// Registry is the trust state: badger for durability, a snapshot for speed.
type Registry struct {
	st   *db.Store
	log  *slog.Logger
	mu   sync.Mutex // serialises Apply
	snap atomic.Pointer[Snapshot]
	gen  uint64
}

// Open loads the trust state from the store.
func Open(st *db.Store, log *slog.Logger) (*Registry, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{st: st, log: log}
	snap := &Snapshot{Vendors: map[string]*Vendor{}, RPs: map[string]*RPRecord{}}
	err := st.DB.View(func(txn *badger.Txn) error {
		var fs feed.State
		if _, err := db.GetJSON(txn, db.FeedStateKey(FeedName), &fs); err != nil {
			return err
		}
		snap.Size, snap.CheckpointTime = fs.Head.Size, fs.Time
		err := db.ForEach(txn, db.RPPrefix, func(_, v []byte) error {
			var rec RPRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			snap.RPs[rec.ID] = &rec
			return nil
		})
		if err != nil {
			return err
		}
		return db.ForEach(txn, db.VendorPrefix, func(_, v []byte) error {
			var rec VendorRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return err
			}
			ven, err := newVendor(rec)
			if err != nil {
				return err
			}
			snap.Vendors[rec.ID] = ven
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("trust: loading state: %w", err)
	}
	r.gen++
	snap.Generation = r.gen
	snap.Roots, snap.Anchors = roots(snap.Vendors)
	snap.rpKeys = rpKeyIndex(snap.RPs)
	r.snap.Store(snap)
	return r, nil
}

func newVendor(rec VendorRecord) (*Vendor, error) {
	v := &Vendor{VendorRecord: rec}
	if len(rec.CACert) > 0 {
		c, err := x509.ParseCertificate(rec.CACert)
		if err != nil {
			return nil, fmt.Errorf("%w: vendor %q: CA certificate does not parse: %v", ErrBadEntry, rec.ID, err)
		}
		v.Cert = c
		v.Pool = x509.NewCertPool()
		v.Pool.AddCert(c)
	}
	return v, nil
}

func roots(vendors map[string]*Vendor) (*x509.CertPool, int) {
	p, n := x509.NewCertPool(), 0
	ids := make([]string, 0, len(vendors))
	for id := range vendors {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if v := vendors[id]; v.Status == trustfeed.Active && v.Cert != nil {
			p.AddCert(v.Cert)
			n++
		}
	}
	return p, n
}

// Snapshot returns the current snapshot. It never changes; a new one
// replaces it after each applied batch.
func (r *Registry) Snapshot() *Snapshot { return r.snap.Load() }

// State returns the stored feed state (what to resume from).
func (r *Registry) State() (feed.State, error) {
	var fs feed.State
	err := r.st.DB.View(func(txn *badger.Txn) error {
		_, err := db.GetJSON(txn, db.FeedStateKey(FeedName), &fs)
		return err
	})
	return fs, err
}

// Applied returns how many entries have been applied (each exactly once).
func (r *Registry) Applied() (uint64, error) {
	var n uint64
	err := r.st.DB.View(func(txn *badger.Txn) (err error) {
		n, err = db.GetUint64(txn, db.FeedAppliedKey(FeedName))
		return err
	})
	return n, err
}

// Device returns a device's stored state, or nil when it is not enrolled.
func (r *Registry) Device(serial string) (*DeviceRecord, error) {
	var d DeviceRecord
	var ok bool
	err := r.st.DB.View(func(txn *badger.Txn) (err error) {
		ok, err = db.GetJSON(txn, []byte(db.DevicePrefix+serial), &d)
		return err
	})
	if err != nil || !ok {
		return nil, err
	}
	return &d, nil
}

// RelyingParty returns a relying party's state, or nil.
func (r *Registry) RelyingParty(id string) *RPRecord { return r.Snapshot().RPs[id] }

// Appliance returns an appliance's stored state, or nil.
func (r *Registry) Appliance(id string) (*ApplianceRecord, error) {
	var a ApplianceRecord
	var ok bool
	err := r.st.DB.View(func(txn *badger.Txn) (err error) {
		ok, err = db.GetJSON(txn, []byte(db.AppliancePrefix+id), &a)
		return err
	})
	if err != nil || !ok {
		return nil, err
	}
	return &a, nil
}

// decoded is one entry, checked and ready to apply.
type decoded struct {
	seq  uint64
	time time.Time
	v    any // *trustfeed.Vendor, *trustfeed.Device, *trustfeed.Appliance, *trustfeed.RelyingParty
}

// Apply writes the effect of entries (verified by a feed.Follower) and the
// feed state next in one badger transaction, then publishes a new snapshot.
// next.Head.Size must equal the stored size plus len(entries). Entries are
// decoded and checked before anything is written; one bad entry refuses the
// whole call.
func (r *Registry) Apply(entries []feed.Entry, next feed.State) error {
	ds := make([]decoded, len(entries))
	for i, e := range entries {
		v, err := trustfeed.Decode(e.Kind, e.Data)
		if err != nil {
			return fmt.Errorf("%w: entry %d: %v", ErrBadEntry, e.Seq, err)
		}
		if ven, ok := v.(*trustfeed.Vendor); ok && len(ven.CACert) > 0 {
			if _, err := x509.ParseCertificate(ven.CACert); err != nil {
				return fmt.Errorf("%w: entry %d: vendor %q CA certificate does not parse", ErrBadEntry, e.Seq, ven.ID)
			}
		}
		ds[i] = decoded{seq: e.Seq, time: e.Time, v: v}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	vendors := map[string]*VendorRecord{}
	devices := map[string]*DeviceRecord{}
	appliances := map[string]*ApplianceRecord{}
	rps := map[string]*RPRecord{}
	var bulk []uint64           // seqs of device-status entries
	var bulkN int               // devices they list
	single := map[string]bool{} // devices last changed by a device entry
	err := r.st.DB.Update(func(txn *badger.Txn) error {
		var cur feed.State
		if _, err := db.GetJSON(txn, db.FeedStateKey(FeedName), &cur); err != nil {
			return err
		}
		if cur.Head.Size+uint64(len(entries)) != next.Head.Size {
			return fmt.Errorf("%w: stored size %d + %d entries != %d", ErrConflict, cur.Head.Size, len(entries), next.Head.Size)
		}
		for _, d := range ds {
			rec := Record{Seq: d.seq, Time: d.time.UTC()}
			switch x := d.v.(type) {
			case *trustfeed.Vendor:
				old := vendors[x.ID]
				if old == nil {
					old = &VendorRecord{}
					if _, err := db.GetJSON(txn, []byte(db.VendorPrefix+x.ID), old); err != nil {
						return err
					}
				}
				vendors[x.ID] = mergeVendor(old, x, rec)
			case *trustfeed.Device:
				old := devices[x.Serial]
				if old == nil {
					old = &DeviceRecord{}
					if _, err := db.GetJSON(txn, []byte(db.DevicePrefix+x.Serial), old); err != nil {
						return err
					}
				}
				devices[x.Serial] = mergeDevice(old, x, rec)
				single[x.Serial] = true
			case *trustfeed.DeviceStatus:
				for _, sn := range x.Serials {
					old := devices[sn]
					if old == nil {
						old = &DeviceRecord{}
						if _, err := db.GetJSON(txn, []byte(db.DevicePrefix+sn), old); err != nil {
							return err
						}
					}
					// The status changes, nothing else. A serial this
					// appliance never saw published (central publishes
					// status only for devices it published) is kept with
					// its status alone: no vendor and no certificate, so no
					// capture can match it.
					n := *old
					n.Serial, n.Status, n.Reason, n.Record = sn, x.Status, x.Reason, rec
					devices[sn] = &n
					delete(single, sn)
				}
				bulk = append(bulk, d.seq)
				bulkN += len(x.Serials)
			case *trustfeed.Appliance:
				old := appliances[x.ID]
				if old == nil {
					old = &ApplianceRecord{}
					if _, err := db.GetJSON(txn, []byte(db.AppliancePrefix+x.ID), old); err != nil {
						return err
					}
				}
				appliances[x.ID] = mergeAppliance(old, x, rec)
			case *trustfeed.RelyingParty:
				rps[x.ID] = &RPRecord{RelyingParty: *x, Record: rec}
			}
		}
		for id, v := range vendors {
			if err := db.SetJSON(txn, []byte(db.VendorPrefix+id), v); err != nil {
				return err
			}
		}
		for id, d := range devices {
			if err := db.SetJSON(txn, []byte(db.DevicePrefix+id), d); err != nil {
				return err
			}
		}
		for id, a := range appliances {
			if err := db.SetJSON(txn, []byte(db.AppliancePrefix+id), a); err != nil {
				return err
			}
		}
		for id, rp := range rps {
			if err := db.SetJSON(txn, []byte(db.RPPrefix+id), rp); err != nil {
				return err
			}
		}
		n, err := db.GetUint64(txn, db.FeedAppliedKey(FeedName))
		if err != nil {
			return err
		}
		if err := db.SetUint64(txn, db.FeedAppliedKey(FeedName), n+uint64(len(entries))); err != nil {
			return err
		}
		return db.SetJSON(txn, db.FeedStateKey(FeedName), next)
	})
	if err != nil {
		return err
	}

	old := r.snap.Load()
	snap := &Snapshot{Size: next.Head.Size, CheckpointTime: next.Time, Vendors: old.Vendors, Roots: old.Roots, Anchors: old.Anchors,
		Generation: old.Generation, RPs: old.RPs, rpKeys: old.rpKeys}
	if len(rps) > 0 {
		m := make(map[string]*RPRecord, len(old.RPs)+len(rps))
		for id, rp := range old.RPs {
			m[id] = rp
		}
		for id, rp := range rps {
			m[id] = rp
			r.log.Info("relying party updated", "rp", id, "status", rp.Status, "keys", len(rp.Keys), "seq", rp.Seq)
		}
		snap.RPs, snap.rpKeys = m, rpKeyIndex(m)
	}
	if len(vendors) > 0 {
		vs := make(map[string]*Vendor, len(old.Vendors)+len(vendors))
		for id, v := range old.Vendors {
			vs[id] = v
		}
		for id, rec := range vendors {
			v, err := newVendor(*rec)
			if err != nil { // checked above; cannot happen
				return err
			}
			vs[id] = v
			r.log.Info("vendor updated", "vendor", id, "status", rec.Status, "seq", rec.Seq)
		}
		r.gen++
		snap.Roots, snap.Anchors = roots(vs)
		snap.Vendors, snap.Generation = vs, r.gen
	}
	if len(bulk) > 0 {
		// One line per call, not per device: a bulk revocation lists
		// thousands.
		r.log.Info("device status changes", "entries", len(bulk), "devices", bulkN, "first_seq", bulk[0], "last_seq", bulk[len(bulk)-1])
	}
	for id, d := range devices {
		if single[id] && d.Status != trustfeed.Active {
			r.log.Info("device status", "device", id, "vendor", d.VendorID, "status", d.Status, "seq", d.Seq)
		}
	}
	r.snap.Store(snap)
	return nil
}

// Merging: the latest entry for a subject is its current state, except that
// an absent optional field (a status-only change) keeps the stored value.

func mergeVendor(old *VendorRecord, v *trustfeed.Vendor, rec Record) *VendorRecord {
	n := &VendorRecord{Vendor: *v, Record: rec}
	if len(n.CACert) == 0 {
		n.CACert = old.CACert
	}
	if n.Name == "" {
		n.Name = old.Name
	}
	return n
}

func mergeDevice(old *DeviceRecord, d *trustfeed.Device, rec Record) *DeviceRecord {
	n := &DeviceRecord{Device: *d, Record: rec}
	n.DeviceCertSHA256 = strings.ToUpper(n.DeviceCertSHA256)
	n.FTMCertSHA256 = strings.ToUpper(n.FTMCertSHA256)
	if n.DeviceCertSHA256 == "" {
		n.DeviceCertSHA256 = old.DeviceCertSHA256
	}
	if n.FTMCertSHA256 == "" {
		n.FTMCertSHA256 = old.FTMCertSHA256
	}
	if n.Type == "" {
		n.Type = old.Type
	}
	if n.SubType == "" {
		n.SubType = old.SubType
	}
	return n
}

func mergeAppliance(old *ApplianceRecord, a *trustfeed.Appliance, rec Record) *ApplianceRecord {
	n := &ApplianceRecord{Appliance: *a, Record: rec}
	if n.CertSHA256 == "" {
		n.CertSHA256 = old.CertSHA256
	}
	return n
}
