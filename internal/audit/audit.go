package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// MaxEntry bounds one entry's bytes.
const MaxEntry = 64 << 10

var (
	keyHead       = []byte("audit/head")
	prefixEntry   = []byte("audit/e/")
	prefixNode    = []byte("audit/n/")
	prefixCheckpt = []byte("audit/c/")
)

func seqKey(prefix []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, prefix...), n)
}

func nodeKey(id compact.NodeID) []byte {
	k := append([]byte{}, prefixNode...)
	k = append(k, byte(id.Level))
	return binary.BigEndian.AppendUint64(k, id.Index)
}

var factory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

type head struct {
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
}

// Log is an audit log in a badger database. It is safe for concurrent use;
// appends are serialised.
type Log struct {
	db     *badger.DB
	origin string
	mu     sync.Mutex
	h      head
}

// Open opens the log named origin (e.g. "appliance/kiosk-7") in db, which
// the caller owns (the log's keys live under "audit/").
func Open(db *badger.DB, origin string) (*Log, error) {
	if origin == "" || strings.ContainsAny(origin, "\n") {
		return nil, errors.New("audit: origin must be one non-empty line")
	}
	l := &Log{db: db, origin: origin}
	err := db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(keyHead)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { return json.Unmarshal(v, &l.h) })
	})
	if err != nil {
		return nil, fmt.Errorf("audit: reading head: %w", err)
	}
	if _, err := factory.NewRange(0, l.h.Size, l.h.Hashes); err != nil {
		return nil, fmt.Errorf("audit: corrupt head: %w", err)
	}
	return l, nil
}

// Size is the number of entries.
func (l *Log) Size() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.h.Size
}

// Append adds entries (each at most MaxEntry bytes) in one transaction and
// returns the sequence number (0-based leaf index) of the first.
func (l *Log) Append(entries ...[]byte) (uint64, error) {
	for _, e := range entries {
		if len(e) == 0 || len(e) > MaxEntry {
			return 0, fmt.Errorf("audit: entry of %d bytes; want 1–%d", len(e), MaxEntry)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	r, err := factory.NewRange(0, l.h.Size, clone(l.h.Hashes))
	if err != nil {
		return 0, err
	}
	first := l.h.Size
	err = l.db.Update(func(txn *badger.Txn) error {
		var werr error
		visit := func(id compact.NodeID, h []byte) {
			if werr == nil {
				werr = txn.Set(nodeKey(id), append([]byte{}, h...))
			}
		}
		for i, e := range entries {
			if err := txn.Set(seqKey(prefixEntry, first+uint64(i)), e); err != nil {
				return err
			}
			if err := r.Append(rfc6962.DefaultHasher.HashLeaf(e), visit); err != nil {
				return err
			}
			if werr != nil {
				return werr
			}
		}
		hb, _ := json.Marshal(head{Size: r.End(), Hashes: r.Hashes()})
		return txn.Set(keyHead, hb)
	})
	if err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	l.h = head{Size: r.End(), Hashes: clone(r.Hashes())}
	return first, nil
}

func clone(hs [][]byte) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = append([]byte{}, h...)
	}
	return out
}

// Root is the Merkle root of the first size entries (size ≤ Size()).
func (l *Log) Root(size uint64) ([]byte, error) {
	if size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	l.mu.Lock()
	cur := l.h
	l.mu.Unlock()
	if size > cur.Size {
		return nil, fmt.Errorf("audit: size %d beyond the log's %d", size, cur.Size)
	}
	if size == cur.Size {
		r, err := factory.NewRange(0, cur.Size, clone(cur.Hashes))
		if err != nil {
			return nil, err
		}
		return r.GetRootHash(nil)
	}
	// The compact range of [0,size) is made of stored perfect subtrees.
	ids := compact.RangeNodes(0, size, nil)
	hs, err := l.nodes(ids)
	if err != nil {
		return nil, err
	}
	r, err := factory.NewRange(0, size, hs)
	if err != nil {
		return nil, err
	}
	return r.GetRootHash(nil)
}

func (l *Log) nodes(ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	err := l.db.View(func(txn *badger.Txn) error {
		for i, id := range ids {
			it, err := txn.Get(nodeKey(id))
			if err != nil {
				return fmt.Errorf("node %d/%d: %w", id.Level, id.Index, err)
			}
			if out[i], err = it.ValueCopy(nil); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// Entry returns entry seq.
func (l *Log) Entry(seq uint64) ([]byte, error) {
	var out []byte
	err := l.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(seqKey(prefixEntry, seq))
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	return out, err
}

// InclusionProof proves entry seq is in the tree of the given size.
func (l *Log) InclusionProof(seq, size uint64) ([][]byte, error) {
	n, err := proof.Inclusion(seq, size)
	if err != nil {
		return nil, err
	}
	hs, err := l.nodes(n.IDs)
	if err != nil {
		return nil, err
	}
	return n.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
}

// ConsistencyProof proves the tree of size1 is a prefix of the tree of size2.
func (l *Log) ConsistencyProof(size1, size2 uint64) ([][]byte, error) {
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	hs, err := l.nodes(n.IDs)
	if err != nil {
		return nil, err
	}
	return n.Rehash(hs, rfc6962.DefaultHasher.HashChildren)
}

// VerifyInclusion checks an inclusion proof for entry bytes against a root.
func VerifyInclusion(entry []byte, seq, size uint64, p [][]byte, root []byte) error {
	return proof.VerifyInclusion(rfc6962.DefaultHasher, seq, size, rfc6962.DefaultHasher.HashLeaf(entry), p, root)
}

// VerifyConsistency checks a consistency proof between two roots.
func VerifyConsistency(size1, size2 uint64, p [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(rfc6962.DefaultHasher, size1, size2, p, root1, root2)
}

// Checkpoint is a signed statement of the log's size and root.
type Checkpoint struct {
	Origin    string    `json:"origin"`
	Size      uint64    `json:"size"`
	Root      []byte    `json:"root"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"` // over Body(); ECDSA-SHA256 (ASN.1), RSA PKCS#1 v1.5 SHA-256 or Ed25519
}

// Body is the signed text of a checkpoint.
func (c *Checkpoint) Body() []byte {
	return fmt.Appendf(nil, "edgetrust-audit-checkpoint/v1\n%s\n%d\n%s\n%d\n",
		c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root), c.Time.Unix())
}

// Sign makes a checkpoint of the current log with signer (a TPM ECDSA
// P-256 or RSA key, or Ed25519) and stores it.
func (l *Log) Sign(ctx context.Context, signer crypto.Signer, now time.Time) (*Checkpoint, error) {
	return l.SignAt(ctx, signer, l.Size(), now)
}

// SignAt makes and stores a checkpoint of the first size entries (size ≤
// Size()), its root taken from the stored nodes. It is how an uploader
// bridges a stretch longer than MaxUploadEntries between two checkpoints
// (say, after the TPM refused to sign for a while): the statement "the
// first size entries have this root" stays true as the log grows, and
// Verify checks it like any other checkpoint. A checkpoint already stored
// at size is replaced.
func (l *Log) SignAt(ctx context.Context, signer crypto.Signer, size uint64, now time.Time) (*Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	root, err := l.Root(size)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Origin: l.origin, Size: size, Root: root, Time: now.UTC().Truncate(time.Second)}
	body := c.Body()
	switch signer.Public().(type) {
	case ed25519.PublicKey:
		c.Signature, err = signer.Sign(rand.Reader, body, crypto.Hash(0))
	case *ecdsa.PublicKey, *rsa.PublicKey:
		d := sha256.Sum256(body)
		c.Signature, err = signer.Sign(rand.Reader, d[:], crypto.SHA256)
	default:
		return nil, fmt.Errorf("audit: checkpoints are signed with ECDSA P-256, RSA or Ed25519, not %T", signer.Public())
	}
	if err != nil {
		return nil, fmt.Errorf("audit: signing checkpoint: %w", err)
	}
	b, _ := json.Marshal(c)
	if err := l.db.Update(func(txn *badger.Txn) error { return txn.Set(seqKey(prefixCheckpt, size), b) }); err != nil {
		return nil, err
	}
	return c, nil
}

// VerifyCheckpoint checks a checkpoint's signature.
func VerifyCheckpoint(pub crypto.PublicKey, c *Checkpoint) error {
	body := c.Body()
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if ed25519.Verify(k, body, c.Signature) {
			return nil
		}
	case *ecdsa.PublicKey:
		d := sha256.Sum256(body)
		if ecdsa.VerifyASN1(k, d[:], c.Signature) {
			return nil
		}
	case *rsa.PublicKey:
		d := sha256.Sum256(body)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], c.Signature) == nil {
			return nil
		}
	default:
		return fmt.Errorf("audit: unsupported checkpoint key %T", pub)
	}
	return errors.New("audit: checkpoint signature does not verify")
}

// Report is what Verify found.
type Report struct {
	Entries     uint64
	Checkpoints int
	Problems    []string
}

// OK reports whether the log verified.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify recomputes the tree from every stored entry and checks every
// stored checkpoint: signature, origin and root at its size. Stored node
// hashes are checked against the recomputation too, so proofs served from
// them are sound.
func (l *Log) Verify(pub crypto.PublicKey) (*Report, error) {
	rep := &Report{}
	r := factory.NewEmptyRange(0)
	roots := map[uint64][]byte{0: rfc6962.DefaultHasher.EmptyRoot()}
	want := map[uint64]bool{}
	var cps []*Checkpoint
	var recomputed [][]byte
	var hd head // as stored, in the same snapshot as the entries
	err := l.db.View(func(txn *badger.Txn) error {
		if it, err := txn.Get(keyHead); err == nil {
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &hd) }); err != nil {
				rep.Problems = append(rep.Problems, "unreadable head: "+err.Error())
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		opt := badger.DefaultIteratorOptions
		opt.Prefix = prefixCheckpt
		it := txn.NewIterator(opt)
		for it.Rewind(); it.Valid(); it.Next() {
			var c Checkpoint
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
				rep.Problems = append(rep.Problems, "unreadable checkpoint: "+err.Error())
				continue
			}
			cps = append(cps, &c)
			want[c.Size] = true
		}
		it.Close()

		opt = badger.DefaultIteratorOptions
		opt.Prefix = prefixEntry
		it = txn.NewIterator(opt)
		defer it.Close()
		var next uint64
		defer func() { rep.Entries = next }()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefixEntry)+8 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("a key %q that is not an entry's is among the entries", k))
				return nil
			}
			seq := binary.BigEndian.Uint64(k[len(prefixEntry):])
			if seq != next {
				rep.Problems = append(rep.Problems, "entry "+strconv.FormatUint(next, 10)+" is missing (deleted?)")
				return nil
			}
			var bad []string
			err := it.Item().Value(func(v []byte) error {
				return r.Append(rfc6962.DefaultHasher.HashLeaf(v), func(id compact.NodeID, h []byte) {
					stored, err := txn.Get(nodeKey(id))
					if err != nil {
						bad = append(bad, fmt.Sprintf("node %d/%d missing", id.Level, id.Index))
						return
					}
					stored.Value(func(s []byte) error {
						if !bytes.Equal(s, h) {
							bad = append(bad, fmt.Sprintf("node %d/%d does not match entry %d", id.Level, id.Index, seq))
						}
						return nil
					})
				})
			})
			if err != nil {
				return err
			}
			rep.Problems = append(rep.Problems, bad...)
			next++
			if want[next] {
				root, err := r.GetRootHash(nil)
				if err != nil {
					return err
				}
				roots[next] = root
			}
		}
		recomputed = r.Hashes()
		return nil
	})
	if err != nil {
		return nil, err
	}
	if rep.Entries != hd.Size {
		rep.Problems = append(rep.Problems, fmt.Sprintf("head says %d entries, %d stored", hd.Size, rep.Entries))
	} else if !equalHashes(recomputed, hd.Hashes) {
		// The head's hashes root every later append and checkpoint.
		rep.Problems = append(rep.Problems, "the head's hashes are not those of the stored entries: new checkpoints would sign a wrong root")
	}
	for _, c := range cps {
		rep.Checkpoints++
		if c.Origin != l.origin {
			rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint at %d names origin %q", c.Size, c.Origin))
		}
		if err := VerifyCheckpoint(pub, c); err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint at %d: %v", c.Size, err))
		}
		if root, ok := roots[c.Size]; !ok || !bytes.Equal(root, c.Root) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint at %d: signed root is not the root of the stored entries (tampered or deleted entries)", c.Size))
		}
	}
	return rep, nil
}

func equalHashes(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// Checkpoints returns the stored checkpoints, oldest first.
func (l *Log) Checkpoints() ([]Checkpoint, error) {
	var out []Checkpoint
	err := l.db.View(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = prefixCheckpt
		it := txn.NewIterator(opt)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var c Checkpoint
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &c) }); err != nil {
				return fmt.Errorf("audit: unreadable checkpoint: %w", err)
			}
			out = append(out, c)
		}
		return nil
	})
	return out, err
}
