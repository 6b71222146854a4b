package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/transparency-dev/merkle/compact"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

func openDB(t testing.TB, dir string) *badger.DB {
	opts := badger.DefaultOptions(dir).WithLogger(nil).WithMemTableSize(8 << 20).WithValueLogFileSize(16 << 20)
	if dir == "" {
		opts = opts.WithInMemory(true)
	}
	db, err := badger.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func entry(i int) []byte { return []byte(fmt.Sprintf(`{"n":%d,"decision":"auth-ok"}`, i)) }

func TestProofs(t *testing.T) {
	l, err := Open(openDB(t, ""), "appliance/test")
	if err != nil {
		t.Fatal(err)
	}
	var roots [][]byte
	for i := 0; i < 70; i++ {
		if _, err := l.Append(entry(i)); err != nil {
			t.Fatal(err)
		}
		r, err := l.Root(l.Size())
		if err != nil {
			t.Fatal(err)
		}
		roots = append(roots, r) // roots[i] is the root at size i+1
	}
	for size := uint64(1); size <= 70; size += 7 {
		r, err := l.Root(size)
		if err != nil || !bytes.Equal(r, roots[size-1]) {
			t.Fatalf("Root(%d) from stored nodes differs from the root when the log had that size: %v", size, err)
		}
		for seq := uint64(0); seq < size; seq += 5 {
			p, err := l.InclusionProof(seq, size)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(entry(int(seq)), seq, size, p, r); err != nil {
				t.Fatalf("inclusion %d in %d: %v", seq, size, err)
			}
			if err := VerifyInclusion(entry(int(seq)+1), seq, size, p, r); err == nil {
				t.Fatal("inclusion proof verified for other bytes")
			}
		}
		for s2 := size; s2 <= 70; s2 += 9 {
			p, err := l.ConsistencyProof(size, s2)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(size, s2, p, r, roots[s2-1]); err != nil {
				t.Fatalf("consistency %d→%d: %v", size, s2, err)
			}
		}
	}
}

func TestTPMSignedCheckpointsAndTamperDetection(t *testing.T) {
	ctx := context.Background()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	key, err := tp.CreateKey(ctx, tpm.ECCP256Sign)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := openDB(t, dir)
	l, err := Open(db, "appliance/kiosk-7")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		l.Append(entry(i))
	}
	c1, err := l.Sign(ctx, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyCheckpoint(key.Public(), c1); err != nil {
		t.Fatal(err)
	}
	for i := 10; i < 25; i++ {
		l.Append(entry(i))
	}
	if _, err := l.Sign(ctx, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep, err := l.Verify(key.Public())
	if err != nil || !rep.OK() || rep.Entries != 25 || rep.Checkpoints != 2 {
		t.Fatalf("clean log: %+v %v", rep, err)
	}
	// Someone with the files rewrites entry 3.
	db.Update(func(txn *badger.Txn) error {
		return txn.Set(seqKey(prefixEntry, 3), []byte(`{"n":3,"decision":"auth-failed"}`))
	})
	rep, _ = l.Verify(key.Public())
	if rep.OK() || !strings.Contains(strings.Join(rep.Problems, "\n"), "signed root is not the root") {
		t.Fatalf("rewritten entry not detected: %+v", rep)
	}
	db.Update(func(txn *badger.Txn) error { return txn.Set(seqKey(prefixEntry, 3), entry(3)) })
	if rep, _ = l.Verify(key.Public()); !rep.OK() {
		t.Fatalf("restored log: %v", rep.Problems)
	}
	// Deleting an entry is detected too.
	db.Update(func(txn *badger.Txn) error { return txn.Delete(seqKey(prefixEntry, 20)) })
	if rep, _ = l.Verify(key.Public()); rep.OK() {
		t.Fatal("deleted entry not detected")
	}
	db.Update(func(txn *badger.Txn) error { return txn.Set(seqKey(prefixEntry, 20), entry(20)) })
	// A checkpoint verified with another key fails.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	if rep, _ = l.Verify(other.Public()); rep.OK() {
		t.Fatal("checkpoints verified with a foreign key")
	}
	// Reopen: the head survives.
	l2, err := Open(db, "appliance/kiosk-7")
	if err != nil || l2.Size() != 25 {
		t.Fatalf("reopen: size %d %v", l2.Size(), err)
	}
}

func TestAppendBounds(t *testing.T) {
	l, _ := Open(openDB(t, ""), "x")
	if _, err := l.Append([]byte{}); err == nil {
		t.Fatal("empty entry accepted")
	}
	if _, err := l.Append(make([]byte, MaxEntry+1)); err == nil {
		t.Fatal("oversized entry accepted")
	}
	if _, err := Open(openDB(t, ""), "a\nb"); err == nil {
		t.Fatal("multi-line origin accepted")
	}
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	l.Append(entry(1))
	c, err := l.Sign(context.Background(), ed, time.Now())
	if err != nil || VerifyCheckpoint(ed.Public(), c) != nil {
		t.Fatalf("Ed25519 checkpoint: %v", err)
	}
	var _ crypto.Signer = ed
}

func TestRSACheckpoints(t *testing.T) {
	ctx := context.Background()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	key, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	other, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(openDB(t, t.TempDir()), "appliance/kiosk-8")
	if err != nil {
		t.Fatal(err)
	}
	l.Append(entry(0), entry(1), entry(2))
	c, err := l.Sign(ctx, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyCheckpoint(key.Public(), c); err != nil {
		t.Fatal(err)
	}
	if err := VerifyCheckpoint(other.Public(), c); err == nil {
		t.Fatal("an RSA checkpoint verified with another key")
	}
	c.Size++
	if err := VerifyCheckpoint(key.Public(), c); err == nil {
		t.Fatal("an altered checkpoint verified")
	}
	cps, err := l.Checkpoints()
	if err != nil || len(cps) != 1 || cps[0].Size != 3 {
		t.Fatalf("Checkpoints: %+v %v", cps, err)
	}
}

// problems joins a report's problems for matching.
func problems(r *Report) string { return strings.Join(r.Problems, "\n") }

func TestVerifyFindsStoredTampering(t *testing.T) {
	ctx := context.Background()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	key, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	db := openDB(t, t.TempDir())
	l, err := Open(db, "appliance/kiosk-9")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ {
		l.Append(entry(i))
		if i == 4 || i == 11 {
			if _, err := l.Sign(ctx, key, time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	verify := func() *Report {
		t.Helper()
		l, err := Open(db, "appliance/kiosk-9") // as audit verify does: fresh
		if err != nil {
			t.Fatal(err)
		}
		rep, err := l.Verify(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := verify(); !rep.OK() {
		t.Fatalf("clean log: %v", rep.Problems)
	}
	// restore puts back a key's bytes after a tampering step.
	restore := func(k []byte) func() {
		var v []byte
		db.View(func(txn *badger.Txn) error {
			it, err := txn.Get(k)
			if err == nil {
				v, err = it.ValueCopy(nil)
			}
			return err
		})
		return func() {
			db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) })
			if rep := verify(); !rep.OK() {
				t.Fatalf("restored log: %v", rep.Problems)
			}
		}
	}

	// A stored checkpoint's signature altered.
	undo := restore(seqKey(prefixCheckpt, 5))
	cps, _ := l.Checkpoints()
	c := cps[0]
	c.Signature = append([]byte{}, c.Signature...)
	c.Signature[10] ^= 1
	b, _ := json.Marshal(c)
	db.Update(func(txn *badger.Txn) error { return txn.Set(seqKey(prefixCheckpt, 5), b) })
	if rep := verify(); rep.OK() || !strings.Contains(problems(rep), "checkpoint at 5: audit: checkpoint signature does not verify") {
		t.Fatalf("bad signature: %+v", rep)
	}
	undo()

	// A checkpoint whose root was replaced (and so its signature fails too).
	c = cps[1]
	c.Root = bytes.Repeat([]byte{7}, 32)
	b, _ = json.Marshal(c)
	undo = restore(seqKey(prefixCheckpt, 12))
	db.Update(func(txn *badger.Txn) error { return txn.Set(seqKey(prefixCheckpt, 12), b) })
	if rep := verify(); rep.OK() || !strings.Contains(problems(rep), "checkpoint at 12: signed root is not the root") {
		t.Fatalf("replaced root: %+v", rep)
	}
	undo()

	// An entry in the middle deleted: the count says where.
	undo = restore(seqKey(prefixEntry, 7))
	db.Update(func(txn *badger.Txn) error { return txn.Delete(seqKey(prefixEntry, 7)) })
	if rep := verify(); rep.OK() || rep.Entries != 7 || !strings.Contains(problems(rep), "entry 7 is missing") ||
		!strings.Contains(problems(rep), "checkpoint at 12: signed root is not the root") {
		t.Fatalf("deleted entry: %+v", rep)
	}
	undo()

	// A stored node altered: proofs served from it would lie.
	undo = restore(nodeKey(compact.NewNodeID(1, 1)))
	db.Update(func(txn *badger.Txn) error { return txn.Set(nodeKey(compact.NewNodeID(1, 1)), make([]byte, 32)) })
	if rep := verify(); rep.OK() || !strings.Contains(problems(rep), "node 1/1 does not match") {
		t.Fatalf("altered node: %+v", rep)
	}
	undo()

	// The head's hashes altered: later checkpoints would sign a wrong root.
	undo = restore(keyHead)
	hb, _ := json.Marshal(head{Size: 12, Hashes: [][]byte{make([]byte, 32), make([]byte, 32)}})
	db.Update(func(txn *badger.Txn) error { return txn.Set(keyHead, hb) })
	if rep := verify(); rep.OK() || !strings.Contains(problems(rep), "head's hashes") {
		t.Fatalf("altered head: %+v", rep)
	}
	undo()

	// A stray key under the entries' prefix is reported, not a panic.
	db.Update(func(txn *badger.Txn) error {
		return txn.Set(append(append([]byte{}, prefixEntry...), 'x'), []byte("x"))
	})
	if rep := verify(); rep.OK() || !strings.Contains(problems(rep), "not an entry's") {
		t.Fatalf("stray key: %+v", rep)
	}
}

func TestSignAt(t *testing.T) {
	ctx := context.Background()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	l, _ := Open(openDB(t, ""), "appliance/x")
	for i := 0; i < 30; i++ {
		l.Append(entry(i))
	}
	c, err := l.SignAt(ctx, ed, 17, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := l.Root(17); c.Size != 17 || !bytes.Equal(c.Root, r) || VerifyCheckpoint(ed.Public(), c) != nil {
		t.Fatalf("checkpoint at 17: %+v", c)
	}
	if _, err := l.Sign(ctx, ed, time.Now()); err != nil {
		t.Fatal(err)
	}
	if rep, err := l.Verify(ed.Public()); err != nil || !rep.OK() || rep.Checkpoints != 2 {
		t.Fatalf("after SignAt: %+v %v", rep, err)
	}
	if _, err := l.SignAt(ctx, ed, 31, time.Now()); err == nil {
		t.Fatal("a checkpoint beyond the log was signed")
	}
}
