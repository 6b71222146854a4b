package feed

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
)

// mth is RFC 6962's Merkle tree hash written out naively, as an
// independent check of the compact-range roots.
func mth(leaves [][]byte) []byte {
	switch len(leaves) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		h := sha256.Sum256(append([]byte{0}, leaves[0]...))
		return h[:]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	h := sha256.New()
	h.Write([]byte{1})
	h.Write(mth(leaves[:k]))
	h.Write(mth(leaves[k:]))
	return h.Sum(nil)
}

// writer is a minimal feed server for the tests.
type writer struct {
	priv   ed25519.PrivateKey
	raw    [][]byte
	head   Head
	origin string
	now    time.Time
}

func newWriter(t testing.TB) *writer {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return &writer{priv: priv, origin: "trust", now: time.Unix(1_800_000_000, 0)}
}

func (w *writer) append(t testing.TB, n int) {
	for i := 0; i < n; i++ {
		e := Entry{Seq: uint64(len(w.raw) + 1), Time: w.now, Kind: "device",
			Data: json.RawMessage(fmt.Sprintf(`{"serial":"SN%06d", "status":"revoked"}`, len(w.raw)))}
		b, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		w.raw = append(w.raw, b)
		if w.head, _, err = w.head.Append(LeafHash(b)); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *writer) batch(t testing.TB, after uint64) *Batch {
	head := Head{}
	var err error
	for _, b := range w.raw[:len(w.raw)] {
		head, _, _ = head.Append(LeafHash(b))
	}
	root, err := head.Root()
	if err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(time.Second)
	sc, err := Sign(w.priv, Checkpoint{Origin: w.origin, Size: head.Size, Root: root, Time: w.now})
	if err != nil {
		t.Fatal(err)
	}
	return &Batch{Feed: w.origin, After: after, Entries: w.raw[after:], Checkpoint: sc, Latest: head.Size}
}

func (w *writer) follower() Follower {
	pub := w.priv.Public().(ed25519.PublicKey)
	return Follower{Origin: w.origin, Keys: map[string]ed25519.PublicKey{KeyID(pub): pub}}
}

func TestRootsMatchRFC6962(t *testing.T) {
	var h Head
	var leaves [][]byte
	for i := 0; i < 70; i++ {
		leaf := []byte(fmt.Sprintf("entry %d", i))
		leaves = append(leaves, leaf)
		var roots [][]byte
		var err error
		h, roots, err = h.Append(LeafHash(leaf))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(roots[0], mth(leaves)) {
			t.Fatalf("root at size %d differs from RFC 6962", i+1)
		}
		if r, _ := h.Root(); !bytes.Equal(r, roots[0]) {
			t.Fatal("Head.Root differs from Append's root")
		}
	}
	if r, _ := (Head{}).Root(); !bytes.Equal(r, mth(nil)) {
		t.Fatal("empty root")
	}
}

func TestFollowerAppliesBatchesInOrder(t *testing.T) {
	w := newWriter(t)
	f := w.follower()
	var st State
	w.append(t, 5)
	got, st, err := f.Apply(st, w.batch(t, 0))
	if err != nil || len(got) != 5 || got[4].Seq != 5 || st.Head.Size != 5 {
		t.Fatalf("first batch: %v, %d entries, size %d", err, len(got), st.Head.Size)
	}
	// An empty batch refreshes the checkpoint time (central is reachable).
	b := w.batch(t, 5)
	got, st2, err := f.Apply(st, b)
	if err != nil || len(got) != 0 || !st2.Time.After(st.Time) {
		t.Fatalf("empty batch: %v", err)
	}
	st = st2
	w.append(t, 1000)
	got, st, err = f.Apply(st, w.batch(t, 5))
	if err != nil || len(got) != 1000 || st.Head.Size != 1005 {
		t.Fatalf("second batch: %v", err)
	}
}

func TestFollowerRefusesTampering(t *testing.T) {
	w := newWriter(t)
	f := w.follower()
	w.append(t, 10)
	_, st, err := f.Apply(State{}, w.batch(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	w.append(t, 3)

	// A fork: central's storage rewrote an old entry.
	forked := *w
	forked.raw = append([][]byte{}, w.raw...)
	e, _ := DecodeEntry(forked.raw[2])
	e.Data = json.RawMessage(`{"serial":"SN000002","status":"active"}`)
	forked.raw[2], _ = e.Encode()
	if _, _, err := f.Apply(st, forked.batch(t, 10)); !errors.Is(err, ErrFork) {
		t.Fatalf("fork: want ErrFork, got %v", err)
	}
	// Tampered new entry in transit.
	b := w.batch(t, 10)
	b.Entries[1] = bytes.Replace(b.Entries[1], []byte("revoked"), []byte("active!"), 1)
	if _, _, err := f.Apply(st, b); !errors.Is(err, ErrFork) {
		t.Fatalf("tampered entry: want ErrFork, got %v", err)
	}
	// Dropped entry.
	b = w.batch(t, 10)
	b.Entries = b.Entries[:2]
	if _, _, err := f.Apply(st, b); err == nil {
		t.Fatal("batch with a dropped entry accepted")
	}
	// Rollback: an older, smaller checkpoint.
	old := *w
	old.raw = w.raw[:8]
	if _, _, err := f.Apply(st, old.batch(t, 8)); !errors.Is(err, ErrRollback) {
		t.Fatalf("rollback: want ErrRollback, got %v", err)
	}
	// Gap: a batch that does not start where the follower is.
	if _, _, err := f.Apply(st, w.batch(t, 11)); !errors.Is(err, ErrGap) {
		t.Fatalf("gap: want ErrGap, got %v", err)
	}
	// Bad signature and unknown key.
	b = w.batch(t, 10)
	b.Checkpoint.Signature[0] ^= 1
	if _, _, err := f.Apply(st, b); !errors.Is(err, ErrSignature) {
		t.Fatalf("bad signature: want ErrSignature, got %v", err)
	}
	other := newWriter(t)
	other.raw, other.head = w.raw, w.head
	if _, _, err := f.Apply(st, other.batch(t, 10)); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: want ErrUnknownKey, got %v", err)
	}
	// A checkpoint older in time than the accepted one.
	b = w.batch(t, 10)
	_, st2, err := f.Apply(st, b)
	if err != nil {
		t.Fatal(err)
	}
	w.now = w.now.Add(-time.Hour)
	if _, _, err := f.Apply(st2, w.batch(t, 13)); !errors.Is(err, ErrRollback) {
		t.Fatalf("time rollback: want ErrRollback, got %v", err)
	}
	// The state is untouched by failures: the good batch still applies.
	w.now = w.now.Add(2 * time.Hour)
	if _, _, err := f.Apply(st, w.batch(t, 10)); err != nil {
		t.Fatalf("good batch after failures: %v", err)
	}
}

func TestCheckpointCanonical(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	keys := map[string]ed25519.PublicKey{KeyID(pub): pub}
	root := sha256.Sum256([]byte("x"))
	sc, err := Sign(priv, Checkpoint{Origin: "trust", Size: 3, Root: root[:], Time: time.Unix(100, 0)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Verify(keys, sc)
	if err != nil || c.Size != 3 || c.Origin != "trust" || !c.Time.Equal(time.Unix(100, 0)) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := Sign(priv, Checkpoint{Origin: "a\nb", Root: root[:]}); err == nil {
		t.Fatal("origin with a newline accepted")
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := Entry{Seq: 1, Time: time.Unix(5, 0), Kind: "device", Data: json.RawMessage(`{"a":1}`)}
	b, _ := e.Encode()
	f.Add(b)
	f.Add([]byte(`{"seq":1}`))
	f.Add([]byte(`{"seq":1,"kind":"k","data":` + httpxtest.CountBomb("", 20000, "") + `}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e Entry
		var err error
		if n := httpxtest.Allocated(func() { e, err = DecodeEntry(b) }); n > httpxtest.Budget(len(b)) {
			t.Fatalf("a %d-byte entry allocated %d bytes", len(b), n)
		}
		if err != nil {
			return
		}
		if _, err := e.Encode(); err != nil && len(b) < MaxEntrySize/2 {
			t.Fatalf("decoded entry does not encode: %v", err)
		}
	})
}

func FuzzVerifyCheckpoint(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	keys := map[string]ed25519.PublicKey{KeyID(pub): pub}
	root := sha256.Sum256(nil)
	sc, _ := Sign(priv, Checkpoint{Origin: "trust", Size: 1, Root: root[:], Time: time.Unix(1, 0)})
	f.Add(sc.Body, sc.Signature)
	f.Fuzz(func(t *testing.T, body string, sig []byte) {
		c, err := Verify(keys, SignedCheckpoint{Body: body, KeyID: KeyID(pub), Signature: sig})
		if err == nil && c.body() != body {
			t.Fatal("accepted a non-canonical body")
		}
	})
}

// An entry is hashed as served and applied as decoded: both must be the
// same entry, so a duplicated or non-UTF-8 member is refused.
func TestDecodeEntryStrict(t *testing.T) {
	good := `{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"device","data":{"a":1}}`
	if _, err := DecodeEntry([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string]string{
		"seq twice":      `{"seq":1,"seq":2,"time":"2026-01-01T00:00:00Z","kind":"device","data":{"a":1}}`,
		"data dup":       `{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"device","data":{"a":1,"a":2}}`,
		"case variant":   `{"seq":1,"time":"2026-01-01T00:00:00Z","Kind":"device","kind":"device","data":{"a":1}}`,
		"invalid UTF-8":  "{\"seq\":1,\"time\":\"2026-01-01T00:00:00Z\",\"kind\":\"dev\xffice\",\"data\":{\"a\":1}}",
		"trailing":       good + `{}`,
		"nested too far": `{"seq":1,"time":"2026-01-01T00:00:00Z","kind":"device","data":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
	} {
		if _, err := DecodeEntry([]byte(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
