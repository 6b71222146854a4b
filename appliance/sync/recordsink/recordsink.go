package recordsink

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"

	badger "github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/records"
)

// Errors Apply returns; nothing is written when one occurs.
var (
	// ErrRefused: a verified feed entry this appliance will not apply (not
	// a sealed batch, sealed to another appliance or key, does not open,
	// or holds an invalid or unsigned record).
	ErrRefused = fmt.Errorf("recordsink: feed %w", follow.ErrRejected)
	// ErrConflict: the entries do not continue the stored feed state.
	ErrConflict = errors.New("recordsink: entries do not continue the stored feed state")
)

// Config configures a Sink. All fields but Logger are required.
type Config struct {
	// ApplianceID is this appliance's id: the feed is records.<id> and
	// batches must be sealed to it.
	ApplianceID string
	// Cert is the appliance's encryption certificate (the one central
	// issued at enrolment) and Key its TPM decryption key.
	Cert *x509.Certificate
	Key  crypto.Decrypter
	// Store is the appliance's database (for the feed position) and
	// Records the record store in it.
	Store   *db.Store
	Records *records.Store
	Logger  *slog.Logger
}

// Sink applies the records feed.
type Sink struct {
	cfg  Config
	feed string
	log  *slog.Logger
}

// New checks cfg and makes a Sink.
func New(cfg Config) (*Sink, error) {
	if cfg.ApplianceID == "" || cfg.Cert == nil || cfg.Key == nil || cfg.Store == nil || cfg.Records == nil {
		return nil, errors.New("recordsink: appliance id, encryption certificate, decryption key, store and record store are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	name := recordfeed.FeedName(cfg.ApplianceID)
	return &Sink{cfg: cfg, feed: name, log: cfg.Logger.With("feed", name)}, nil
}

// Feed is the name of the feed to follow.
func (s *Sink) Feed() string { return s.feed }

// State returns the stored feed state.
func (s *Sink) State() (feed.State, error) {
	var fs feed.State
	err := s.cfg.Store.DB.View(func(txn *badger.Txn) error {
		_, err := db.GetJSON(txn, db.FeedStateKey(s.feed), &fs)
		return err
	})
	return fs, err
}

// Applied returns how many feed entries (sealed batches) have been applied.
func (s *Sink) Applied() (uint64, error) {
	var n uint64
	err := s.cfg.Store.DB.View(func(txn *badger.Txn) (err error) {
		n, err = db.GetUint64(txn, db.FeedAppliedKey(s.feed))
		return err
	})
	return n, err
}

// Open decodes and opens one feed entry's sealed batch and turns it into
// record-store operations. Errors wrap ErrRefused and never quote content.
func (s *Sink) Open(e feed.Entry) ([]records.Op, error) {
	if e.Kind != recordfeed.Kind {
		return nil, fmt.Errorf("%w: entry %d is of kind %q, not %q", ErrRefused, e.Seq, e.Kind, recordfeed.Kind)
	}
	sealed, err := recordfeed.DecodeSealed(e.Data)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %d: %v", ErrRefused, e.Seq, err)
	}
	b, err := recordfeed.Open(sealed, s.cfg.ApplianceID, s.cfg.Cert, s.cfg.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %d: %v", ErrRefused, e.Seq, err)
	}
	ops := make([]records.Op, 0, len(b.Ops))
	for i, op := range b.Ops {
		if op.Delete != "" {
			ops = append(ops, records.Op{Delete: op.Delete})
			continue
		}
		r, err := recordfeed.Unmarshal(op.Put.Record)
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d operation %d: %v", ErrRefused, e.Seq, i, err)
		}
		ops = append(ops, records.Op{Put: &records.Item{VID: r.VID, Record: op.Put.Record, Sig: op.Put.Sig}})
	}
	return ops, nil
}

// Apply opens every entry, then stores their operations and next in one
// transaction (see the package comment for very large batches). One entry
// that will not open or verify refuses the whole call.
func (s *Sink) Apply(entries []feed.Entry, next feed.State) error {
	var ops []records.Op
	puts, dels := 0, 0
	for _, e := range entries {
		o, err := s.Open(e)
		if err != nil {
			return err
		}
		for _, op := range o {
			if op.Put != nil {
				puts++
			} else {
				dels++
			}
		}
		ops = append(ops, o...)
	}
	commit := func(txn *badger.Txn) error {
		var cur feed.State
		if _, err := db.GetJSON(txn, db.FeedStateKey(s.feed), &cur); err != nil {
			return err
		}
		if cur.Head.Size+uint64(len(entries)) != next.Head.Size {
			return fmt.Errorf("%w: stored size %d + %d entries != %d", ErrConflict, cur.Head.Size, len(entries), next.Head.Size)
		}
		n, err := db.GetUint64(txn, db.FeedAppliedKey(s.feed))
		if err != nil {
			return err
		}
		if err := db.SetUint64(txn, db.FeedAppliedKey(s.feed), n+uint64(len(entries))); err != nil {
			return err
		}
		return db.SetJSON(txn, db.FeedStateKey(s.feed), next)
	}
	// records.Apply takes at most records.MaxBatch operations; a call with
	// more (several batches at once) is written in parts, the feed position
	// with the last.
	for len(ops) > records.MaxBatch {
		if err := s.cfg.Records.Apply(ops[:records.MaxBatch], nil); err != nil {
			return s.wrap(err)
		}
		ops = ops[records.MaxBatch:]
	}
	if err := s.cfg.Records.Apply(ops, commit); err != nil {
		return s.wrap(err)
	}
	if len(entries) > 0 {
		s.log.Info("records applied", "batches", len(entries), "puts", puts, "deletes", dels, "size", next.Head.Size)
	}
	return nil
}

// wrap makes a record the store refuses (bad signature, bounds) a refused
// batch; storage errors stay plain (retried).
func (s *Sink) wrap(err error) error {
	if errors.Is(err, records.ErrBadSignature) || errors.Is(err, records.ErrInvalid) {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return err
}
