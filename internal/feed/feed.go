package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Limits on what a follower accepts.
const (
	MaxEntrySize    = 64 << 10 // one entry's canonical bytes
	MaxBatchEntries = 10000    // entries per batch
	MaxKindLen      = 64
)

// Entry is one record of a feed.
type Entry struct {
	Seq  uint64          `json:"seq"`
	Time time.Time       `json:"time"`
	Kind string          `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// Encode returns the entry's canonical bytes: its JSON with the fields in
// the order above, data compacted. These exact bytes are hashed and served;
// a follower never re-encodes.
func (e Entry) Encode() ([]byte, error) {
	if e.Seq == 0 {
		return nil, errors.New("feed: entry seq starts at 1")
	}
	if e.Kind == "" || len(e.Kind) > MaxKindLen {
		return nil, fmt.Errorf("feed: entry kind must be 1–%d bytes", MaxKindLen)
	}
	var data bytes.Buffer
	if err := json.Compact(&data, e.Data); err != nil {
		return nil, fmt.Errorf("feed: entry data is not JSON: %w", err)
	}
	e.Data = data.Bytes()
	e.Time = e.Time.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("feed: entry is %d bytes, limit %d", len(b), MaxEntrySize)
	}
	return b, nil
}

// DecodeEntry parses canonical entry bytes, bounded.
func DecodeEntry(b []byte) (Entry, error) {
	var e Entry
	if len(b) > MaxEntrySize {
		return e, fmt.Errorf("feed: entry is %d bytes, limit %d", len(b), MaxEntrySize)
	}
	// Strict (internal/jsonx): an entry with "seq" or "data" twice would
	// hash as one thing and be applied as another.
	if err := jsonx.Unmarshal(b, &e, jsonx.Limits{MaxBytes: MaxEntrySize}); err != nil {
		return e, fmt.Errorf("feed: bad entry: %w", err)
	}
	if e.Seq == 0 || e.Kind == "" || len(e.Kind) > MaxKindLen || len(e.Data) == 0 {
		return e, errors.New("feed: bad entry: seq, kind and data are required")
	}
	return e, nil
}

// LeafHash is the RFC 6962 leaf hash of an entry's canonical bytes.
func LeafHash(entry []byte) []byte {
	return rfc6962.DefaultHasher.HashLeaf(entry)
}

var factory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// Head is the state of a feed's Merkle tree: its size and the compact range
// covering all its leaves. It is all a writer or follower needs to compute
// the next root; persist it with the entries it covers.
type Head struct {
	Size   uint64   `json:"size"`
	Hashes [][]byte `json:"hashes"`
}

func (h Head) rng() (*compact.Range, error) {
	hs := make([][]byte, len(h.Hashes))
	copy(hs, h.Hashes)
	return factory.NewRange(0, h.Size, hs)
}

// Root is the Merkle root of the tree the head describes.
func (h Head) Root() ([]byte, error) {
	if h.Size == 0 {
		return rfc6962.DefaultHasher.EmptyRoot(), nil
	}
	r, err := h.rng()
	if err != nil {
		return nil, fmt.Errorf("feed: corrupt head: %w", err)
	}
	return r.GetRootHash(nil)
}

// Append adds leaf hashes and returns the new head and the root after each
// leaf (roots[i] is the root of the tree of size h.Size+i+1).
func (h Head) Append(leaves ...[]byte) (Head, [][]byte, error) {
	r, err := h.rng()
	if err != nil {
		return Head{}, nil, fmt.Errorf("feed: corrupt head: %w", err)
	}
	roots := make([][]byte, 0, len(leaves))
	for _, l := range leaves {
		if len(l) != sha256.Size {
			return Head{}, nil, errors.New("feed: leaf hash is not 32 bytes")
		}
		if err := r.Append(l, nil); err != nil {
			return Head{}, nil, err
		}
		root, err := r.GetRootHash(nil)
		if err != nil {
			return Head{}, nil, err
		}
		roots = append(roots, root)
	}
	return Head{Size: r.End(), Hashes: r.Hashes()}, roots, nil
}
