package feed

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Checkpoint commits to a feed's first Size entries.
type Checkpoint struct {
	Origin string // the feed's name, e.g. "trust"
	Size   uint64
	Root   []byte
	Time   time.Time // when central signed it; followers measure staleness from it
}

const checkpointHeader = "edgetrust-feed-checkpoint/v1"

// body is the signed text: one field per line, so it reads well in logs.
func (c Checkpoint) body() string {
	return fmt.Sprintf("%s\n%s\n%d\n%s\n%d\n", checkpointHeader, c.Origin, c.Size,
		base64.StdEncoding.EncodeToString(c.Root), c.Time.Unix())
}

// SignedCheckpoint is a checkpoint's text and an Ed25519 signature over it.
type SignedCheckpoint struct {
	Body      string `json:"body"`
	KeyID     string `json:"keyId"`
	Signature []byte `json:"signature"`
}

// KeyID names an Ed25519 public key: the first 8 bytes of SHA-256 of it, in hex.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// Sign signs a checkpoint with an Ed25519 crypto.Signer (a key in memory
// or in an HSM).
func Sign(s crypto.Signer, c Checkpoint) (SignedCheckpoint, error) {
	pub, ok := s.Public().(ed25519.PublicKey)
	if !ok {
		return SignedCheckpoint{}, errors.New("feed: checkpoints are signed with Ed25519 keys")
	}
	if c.Origin == "" || strings.ContainsAny(c.Origin, "\n") || len(c.Root) != sha256.Size {
		return SignedCheckpoint{}, errors.New("feed: checkpoint needs an origin and a 32-byte root")
	}
	body := c.body()
	sig, err := s.Sign(rand.Reader, []byte(body), crypto.Hash(0))
	if err != nil {
		return SignedCheckpoint{}, err
	}
	return SignedCheckpoint{Body: body, KeyID: KeyID(pub), Signature: sig}, nil
}

// Errors a follower reports; each names what is wrong with what central sent.
var (
	ErrSignature  = errors.New("feed: checkpoint signature does not verify with a trusted feed key")
	ErrUnknownKey = errors.New("feed: checkpoint signed by an unknown key")
	ErrMalformed  = errors.New("feed: malformed checkpoint or batch")
	ErrRollback   = errors.New("feed: checkpoint is older than one already accepted (rollback)")
	ErrFork       = errors.New("feed: entries do not hash to the signed root (fork or tampering)")
	ErrGap        = errors.New("feed: batch does not continue from the last applied entry")
)

// Verify checks a signed checkpoint against trusted keys (by KeyID) and
// parses it.
func Verify(keys map[string]ed25519.PublicKey, sc SignedCheckpoint) (Checkpoint, error) {
	var c Checkpoint
	pub, ok := keys[sc.KeyID]
	if !ok {
		return c, fmt.Errorf("%w (%q)", ErrUnknownKey, sc.KeyID)
	}
	if len(sc.Body) > 1024 || !ed25519.Verify(pub, []byte(sc.Body), sc.Signature) {
		return c, ErrSignature
	}
	lines := strings.Split(sc.Body, "\n")
	if len(lines) != 6 || lines[0] != checkpointHeader || lines[5] != "" {
		return c, fmt.Errorf("%w: not a v1 checkpoint", ErrMalformed)
	}
	size, err := strconv.ParseUint(lines[2], 10, 64)
	if err != nil {
		return c, fmt.Errorf("%w: size", ErrMalformed)
	}
	root, err := base64.StdEncoding.DecodeString(lines[3])
	if err != nil || len(root) != sha256.Size {
		return c, fmt.Errorf("%w: root", ErrMalformed)
	}
	ts, err := strconv.ParseInt(lines[4], 10, 64)
	if err != nil {
		return c, fmt.Errorf("%w: time", ErrMalformed)
	}
	c = Checkpoint{Origin: lines[1], Size: size, Root: root, Time: time.Unix(ts, 0).UTC()}
	if c.body() != sc.Body {
		return Checkpoint{}, fmt.Errorf("%w: non-canonical body", ErrMalformed)
	}
	return c, nil
}

// Batch is what central serves for GET /v1/feeds/<name>?after=<seq>: the
// entries after seq, as their canonical bytes, and a checkpoint at
// after+len(Entries).
type Batch struct {
	Feed       string           `json:"feed"`
	After      uint64           `json:"after"`
	Entries    [][]byte         `json:"entries"`
	Checkpoint SignedCheckpoint `json:"checkpoint"`
	// Latest is the feed's size when the batch was cut; more batches follow
	// while After+len(Entries) < Latest.
	Latest uint64 `json:"latest"`
}

// State is what a follower persists, atomically with the entries it applied.
type State struct {
	Head       Head             `json:"head"`
	Checkpoint SignedCheckpoint `json:"checkpoint"` // last accepted
	Time       time.Time        `json:"time"`       // its time
}

// Follower verifies batches of one feed.
type Follower struct {
	Origin string
	Keys   map[string]ed25519.PublicKey
}

// Apply verifies a batch against the follower's state and returns the
// decoded entries and the state to persist with them. On any error nothing
// may be applied.
func (f Follower) Apply(st State, b *Batch) ([]Entry, State, error) {
	if b.Feed != f.Origin {
		return nil, st, fmt.Errorf("%w: batch is for feed %q, want %q", ErrMalformed, b.Feed, f.Origin)
	}
	if len(b.Entries) > MaxBatchEntries {
		return nil, st, fmt.Errorf("%w: %d entries in one batch, limit %d", ErrMalformed, len(b.Entries), MaxBatchEntries)
	}
	cp, err := Verify(f.Keys, b.Checkpoint)
	if err != nil {
		return nil, st, err
	}
	if cp.Origin != f.Origin {
		return nil, st, fmt.Errorf("%w: checkpoint is for feed %q", ErrMalformed, cp.Origin)
	}
	if cp.Size < st.Head.Size {
		return nil, st, fmt.Errorf("%w: size %d after %d", ErrRollback, cp.Size, st.Head.Size)
	}
	if cp.Time.Before(st.Time) {
		return nil, st, fmt.Errorf("%w: signed at %s, last accepted %s", ErrRollback, cp.Time, st.Time)
	}
	if b.After != st.Head.Size {
		return nil, st, fmt.Errorf("%w: batch starts after %d, follower is at %d", ErrGap, b.After, st.Head.Size)
	}
	if cp.Size != b.After+uint64(len(b.Entries)) {
		return nil, st, fmt.Errorf("%w: checkpoint size %d, batch ends at %d", ErrMalformed, cp.Size, b.After+uint64(len(b.Entries)))
	}
	entries := make([]Entry, 0, len(b.Entries))
	leaves := make([][]byte, 0, len(b.Entries))
	for i, raw := range b.Entries {
		e, err := DecodeEntry(raw)
		if err != nil {
			return nil, st, fmt.Errorf("entry %d: %w", b.After+uint64(i)+1, err)
		}
		if e.Seq != b.After+uint64(i)+1 {
			return nil, st, fmt.Errorf("%w: entry %d carries seq %d", ErrMalformed, b.After+uint64(i)+1, e.Seq)
		}
		entries = append(entries, e)
		leaves = append(leaves, LeafHash(raw))
	}
	head, _, err := st.Head.Append(leaves...)
	if err != nil {
		return nil, st, err
	}
	root, err := head.Root()
	if err != nil {
		return nil, st, err
	}
	if !bytes.Equal(root, cp.Root) {
		return nil, st, ErrFork
	}
	return entries, State{Head: head, Checkpoint: b.Checkpoint, Time: cp.Time}, nil
}
