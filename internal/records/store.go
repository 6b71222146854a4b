package records

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"sync"

	badger "github.com/dgraph-io/badger/v4"
)

// Bounds on what the store accepts.
const (
	MaxVIDLen  = 64        // bytes of a VID (MOSIP VIDs are 16 digits)
	MaxRecord  = 256 << 10 // bytes of one signed record
	MaxSig     = 1024      // bytes of one signature
	MaxBatch   = 1000      // records in one PutMany
	keyLen     = 32
	nonceLen   = 12
	valVersion = 0x01
)

var (
	prefixRecord = []byte("rec/r/")
	keySealed    = []byte("rec/meta/sealed-keys")
	aadPrefix    = []byte("edgetrust/records/v1")
	hkdfInfo     = "edgetrust/records/v1 record key"
)

// Errors. None of them names the VID.
var (
	// ErrNotFound: no record is stored under this VID.
	ErrNotFound = errors.New("records: no record for this VID")
	// ErrTampered: the stored value does not decrypt under its key, does
	// not decode, or its signature no longer verifies. The record must not
	// be used.
	ErrTampered = errors.New("records: stored record has been tampered with")
	// ErrBadSignature: a record offered to Put does not carry a valid
	// signature from central.
	ErrBadSignature = errors.New("records: record signature does not verify")
	// ErrInvalid: a VID, record or signature is empty or too large.
	ErrInvalid = errors.New("records: invalid input")
	// ErrKeys: the sealed keys cannot be recovered (another TPM, changed
	// PCRs, or a damaged blob).
	ErrKeys = errors.New("records: cannot unseal the store keys")
)

// Sealer keeps a secret so that only this device can recover it.
// *tpm.TPM satisfies it through TPMSealer.
type Sealer interface {
	Seal(ctx context.Context, secret []byte) ([]byte, error)
	Unseal(ctx context.Context, blob []byte) ([]byte, error)
}

// Verifier checks central's signature over a record. Central's format
// (COSE, JWS, raw Ed25519, …) plugs in here.
type Verifier interface {
	Verify(record, sig []byte) error
}

// Item is one record for PutMany.
type Item struct {
	VID    string
	Record []byte
	Sig    []byte
}

// Store is the record store. It is safe for concurrent use.
type Store struct {
	db       *badger.DB
	verifier Verifier
	master   []byte
	hmacPool sync.Pool
	usageMu  [usageStripes]sync.Mutex
}

// Open opens the store in db (its keys live under "rec/"), unsealing the
// master and index keys, or generating and sealing them on first use.
func Open(ctx context.Context, db *badger.DB, sealer Sealer, verifier Verifier) (*Store, error) {
	if db == nil || sealer == nil || verifier == nil {
		return nil, errors.New("records: Open needs a database, a sealer and a verifier")
	}
	var blob []byte
	err := db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keySealed)
		if err != nil {
			return err
		}
		blob, err = it.ValueCopy(nil)
		return err
	})
	var keys []byte
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		// Records without their keys: the blob was deleted. New keys would
		// silently turn every record into ErrTampered; refuse instead.
		if hasRecords(db) {
			return nil, fmt.Errorf("%w: records exist but the sealed keys are missing", ErrKeys)
		}
		keys = make([]byte, 2*keyLen)
		if _, err := rand.Read(keys); err != nil {
			return nil, err
		}
		blob, err = sealer.Seal(ctx, keys)
		if err != nil {
			return nil, fmt.Errorf("records: sealing the store keys: %w", err)
		}
		err = db.Update(func(txn *badger.Txn) error {
			if _, err := txn.Get(keySealed); err == nil {
				return errors.New("records: store keys created concurrently; reopen")
			} else if !errors.Is(err, badger.ErrKeyNotFound) {
				return err
			}
			return txn.Set(keySealed, blob)
		})
		if err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	default:
		keys, err = sealer.Unseal(ctx, blob)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeys, err)
		}
		if len(keys) != 2*keyLen {
			return nil, fmt.Errorf("%w: unsealed %d bytes, want %d", ErrKeys, len(keys), 2*keyLen)
		}
	}
	s := &Store{db: db, verifier: verifier, master: bytes.Clone(keys[:keyLen])}
	index := bytes.Clone(keys[keyLen:])
	clear(keys)
	s.hmacPool.New = func() any { return hmac.New(sha256.New, index) }
	return s, nil
}

func hasRecords(db *badger.DB) bool {
	found := false
	db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.PrefetchValues, opt.Prefix = false, prefixRecord
		it := txn.NewIterator(opt)
		defer it.Close()
		it.Rewind()
		found = it.Valid()
		return nil
	})
	return found
}

// indexKey returns the badger key for vid.
func (s *Store) indexKey(vid string) []byte {
	h := s.hmacPool.Get().(hash.Hash)
	h.Reset()
	h.Write([]byte(vid))
	k := h.Sum(append(make([]byte, 0, len(prefixRecord)+sha256.Size), prefixRecord...))
	s.hmacPool.Put(h)
	return k
}

func (s *Store) aead(key []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, s.master, key, hkdfInfo, keyLen)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func aad(key []byte) []byte { return append(bytes.Clone(aadPrefix), key...) }

func checkVID(vid string) error {
	if len(vid) == 0 || len(vid) > MaxVIDLen {
		return fmt.Errorf("%w: VID must be 1–%d bytes", ErrInvalid, MaxVIDLen)
	}
	return nil
}

func (s *Store) check(it Item) error {
	if err := checkVID(it.VID); err != nil {
		return err
	}
	if len(it.Record) == 0 || len(it.Record) > MaxRecord {
		return fmt.Errorf("%w: record must be 1–%d bytes", ErrInvalid, MaxRecord)
	}
	if len(it.Sig) == 0 || len(it.Sig) > MaxSig {
		return fmt.Errorf("%w: signature must be 1–%d bytes", ErrInvalid, MaxSig)
	}
	if err := s.verifier.Verify(it.Record, it.Sig); err != nil {
		return fmt.Errorf("%w: %w", ErrBadSignature, err)
	}
	return nil
}

// seal returns the badger key and value for a checked item.
func (s *Store) seal(it Item) (key, val []byte, err error) {
	key = s.indexKey(it.VID)
	g, err := s.aead(key)
	if err != nil {
		return nil, nil, err
	}
	pt := encodeRecord(it.Record, it.Sig)
	val = make([]byte, 1+nonceLen, 1+nonceLen+len(pt)+g.Overhead())
	val[0] = valVersion
	if _, err := rand.Read(val[1 : 1+nonceLen]); err != nil {
		return nil, nil, err
	}
	val = g.Seal(val, val[1:1+nonceLen], pt, aad(key))
	clear(pt)
	return key, val, nil
}

// Put verifies the record's signature and stores it under vid, replacing
// any earlier record for that VID.
func (s *Store) Put(vid string, record, sig []byte) error {
	return s.PutMany([]Item{{VID: vid, Record: record, Sig: sig}})
}

// PutMany verifies every item and then stores them all in one badger
// transaction: either all are stored or none. At most MaxBatch items.
func (s *Store) PutMany(items []Item) error {
	if len(items) > MaxBatch {
		return fmt.Errorf("%w: %d items in one batch, at most %d", ErrInvalid, len(items), MaxBatch)
	}
	for i, it := range items {
		if err := s.check(it); err != nil {
			return fmt.Errorf("item %d: %w", i, err)
		}
	}
	type kv struct{ k, v []byte }
	sealed := make([]kv, len(items))
	for i, it := range items {
		k, v, err := s.seal(it)
		if err != nil {
			return err
		}
		sealed[i] = kv{k, v}
	}
	return s.db.Update(func(txn *badger.Txn) error {
		for _, e := range sealed {
			if err := txn.Set(e.k, e.v); err != nil {
				return err
			}
		}
		return nil
	})
}

// Get returns the record stored for vid after decrypting it and checking
// central's signature again. A record altered at rest yields ErrTampered.
func (s *Store) Get(vid string) ([]byte, error) {
	rec, _, err := s.GetSigned(vid)
	return rec, err
}

// GetSigned is Get returning the signature as well.
func (s *Store) GetSigned(vid string) (record, sig []byte, err error) {
	if err := checkVID(vid); err != nil {
		return nil, nil, err
	}
	key := s.indexKey(vid)
	var val []byte
	err = s.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(key)
		if err != nil {
			return err
		}
		val, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	return s.open(key, val)
}

func (s *Store) open(key, val []byte) (record, sig []byte, err error) {
	if len(val) < 1+nonceLen || val[0] != valVersion {
		return nil, nil, fmt.Errorf("%w: malformed value", ErrTampered)
	}
	g, err := s.aead(key)
	if err != nil {
		return nil, nil, err
	}
	pt, err := g.Open(val[1+nonceLen:1+nonceLen], val[1:1+nonceLen], val[1+nonceLen:], aad(key))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: authentication failed", ErrTampered)
	}
	record, sig, err = decodeRecord(pt)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrTampered, err)
	}
	if err := s.verifier.Verify(record, sig); err != nil {
		return nil, nil, fmt.Errorf("%w: signature: %w", ErrTampered, err)
	}
	return record, sig, nil
}

// Delete removes the record for vid (a revoked VID) and its counters.
// Deleting an absent VID is not an error, so revocations can be replayed.
func (s *Store) Delete(vid string) error {
	return s.Apply([]Op{{Delete: vid}}, nil)
}

// Plaintext layout: u32 len(record) || record || u16 len(sig) || sig.
func encodeRecord(record, sig []byte) []byte {
	b := make([]byte, 0, 4+len(record)+2+len(sig))
	b = binary.BigEndian.AppendUint32(b, uint32(len(record)))
	b = append(b, record...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(sig)))
	return append(b, sig...)
}

var errDecode = errors.New("records: malformed record encoding")

func decodeRecord(b []byte) (record, sig []byte, err error) {
	if len(b) < 4 {
		return nil, nil, errDecode
	}
	n := binary.BigEndian.Uint32(b)
	if n == 0 || n > MaxRecord || uint64(len(b)-4) < uint64(n)+2 {
		return nil, nil, errDecode
	}
	record, b = b[4:4+n], b[4+n:]
	m := int(binary.BigEndian.Uint16(b))
	if m == 0 || m > MaxSig || len(b)-2 != m {
		return nil, nil, errDecode
	}
	return record, b[2:], nil
}
