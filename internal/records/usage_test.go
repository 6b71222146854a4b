package records

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

func TestUsageCounters(t *testing.T) {
	sg := newSigner()
	db := openDB(t, "")
	st := newStore(t, db, sg)
	const v = "4827364519283746"
	if u, err := st.Usage(v); err != nil || u != (Usage{}) {
		t.Fatalf("fresh VID: %+v %v", u, err)
	}
	// One use allowed: taken once, then refused; given back, taken again.
	if u, err := st.Succeeded(v, 1); err != nil || u.Uses != 1 {
		t.Fatalf("first use: %+v %v", u, err)
	}
	if _, err := st.Succeeded(v, 1); !errors.Is(err, ErrUsedUp) {
		t.Fatalf("second use: %v", err)
	}
	if err := st.ReleaseUse(v); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Succeeded(v, 1); err != nil {
		t.Fatalf("use after release: %v", err)
	}
	// Unlimited VIDs are not counted.
	if u, err := st.Succeeded("4827364519283747", 0); err != nil || u.Uses != 0 {
		t.Fatalf("unlimited: %+v %v", u, err)
	}

	// Failures lock out after the limit, for the duration; a success clears them.
	const w = "5827364519283746"
	now := time.Unix(1_700_000_000, 0)
	for i := 1; i <= 2; i++ {
		u, err := st.Failed(w, now, 3, time.Minute)
		if err != nil || int(u.Failures) != i || u.Locked(now) {
			t.Fatalf("failure %d: %+v %v", i, u, err)
		}
	}
	u, err := st.Failed(w, now, 3, time.Minute)
	if err != nil || !u.Locked(now) || !u.Locked(now.Add(59*time.Second)) || u.Locked(now.Add(time.Minute)) {
		t.Fatalf("third failure: %+v %v", u, err)
	}
	if got, _ := st.Usage(w); !got.LockedUntil.Equal(now.Add(time.Minute)) {
		t.Fatalf("stored lockout %v", got.LockedUntil)
	}
	// After the lockout the count starts again.
	later := now.Add(2 * time.Minute)
	if u, _ := st.Failed(w, later, 3, time.Minute); u.Failures != 1 || u.Locked(later) {
		t.Fatalf("after lockout: %+v", u)
	}
	if u, _ := st.Succeeded(w, 0); u.Failures != 0 || !u.LockedUntil.IsZero() {
		t.Fatalf("success did not clear: %+v", u)
	}

	// Counters are stored encrypted under the VID's HMAC: an edited value
	// reads as tampered.
	if _, err := st.Failed(w, now, 0, 0); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(txn *badger.Txn) error {
		opt := badger.DefaultIteratorOptions
		opt.Prefix = prefixUsage
		it := txn.NewIterator(opt)
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			if bytes.Contains(k, []byte(w)) {
				t.Fatal("a usage key holds the VID")
			}
			if !bytes.Equal(k, usageKey(st.indexKey(w))) {
				continue
			}
			val, _ := it.Item().ValueCopy(nil)
			val[len(val)-1] ^= 1
			n++
			if err := txn.Set(k, val); err != nil {
				return err
			}
		}
		if n != 1 {
			t.Fatalf("%d usage keys for the VID", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Usage(w); !errors.Is(err, ErrTampered) {
		t.Fatalf("edited counters: %v", err)
	}
	if _, err := st.Succeeded(w, 0); !errors.Is(err, ErrTampered) {
		t.Fatalf("success on edited counters: %v", err)
	}
}

func TestConcurrentLastUse(t *testing.T) {
	st := newStore(t, openDB(t, ""), newSigner())
	const v = "4827364519283746"
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 16 {
		wg.Go(func() {
			if _, err := st.Succeeded(v, 3); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if !errors.Is(err, ErrUsedUp) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok != 3 {
		t.Fatalf("%d uses of a 3-use VID", ok)
	}
}

func TestApply(t *testing.T) {
	sg := newSigner()
	db := openDB(t, "")
	st := newStore(t, db, sg)
	r1, s1 := sg.record("4827364519283746", 300)
	r2, s2 := sg.record("5827364519283746", 300)
	if _, err := st.Succeeded("4827364519283746", 1); err != nil {
		t.Fatal(err)
	}
	marker := []byte("test/position")
	err := st.Apply([]Op{{Put: &Item{VID: "4827364519283746", Record: r1, Sig: s1}}, {Put: &Item{VID: "5827364519283746", Record: r2, Sig: s2}}},
		func(txn *badger.Txn) error { return txn.Set(marker, []byte("1")) })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("5827364519283746"); err != nil {
		t.Fatal(err)
	}
	// A put keeps the counters; a delete drops record and counters.
	if u, _ := st.Usage("4827364519283746"); u.Uses != 1 {
		t.Fatalf("a put reset the counters: %+v", u)
	}
	if err := st.Apply([]Op{{Delete: "4827364519283746"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("4827364519283746"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if u, _ := st.Usage("4827364519283746"); u != (Usage{}) {
		t.Fatalf("counters survived a delete: %+v", u)
	}
	// All or nothing: a bad signature or a failing commit stores nothing.
	r3, s3 := sg.record("6827364519283746", 300)
	bad := append([]byte(nil), s2...)
	bad[0] ^= 1
	if err := st.Apply([]Op{{Put: &Item{VID: "6827364519283746", Record: r3, Sig: s3}}, {Put: &Item{VID: "5827364519283746", Record: r2, Sig: bad}}}, nil); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("bad signature: %v", err)
	}
	if err := st.Apply([]Op{{Put: &Item{VID: "6827364519283746", Record: r3, Sig: s3}}}, func(*badger.Txn) error { return errors.New("no") }); err == nil {
		t.Fatal("a failing commit was ignored")
	}
	if _, err := st.Get("6827364519283746"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused Apply stored a record: %v", err)
	}
	if err := st.Apply([]Op{{}}, nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an empty operation: %v", err)
	}
	// Deleting the same VID twice in one call does not deadlock.
	if err := st.Apply([]Op{{Delete: "5827364519283746"}, {Delete: "5827364519283746"}}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestApplyLargerThanATransaction(t *testing.T) {
	sg := newSigner()
	db := openDB(t, "") // 8 MiB memtables: a few MiB per transaction
	st := newStore(t, db, sg)
	var ops []Op
	for i := range 60 {
		v := "4827364519" + string(rune('0'+i/10)) + string(rune('0'+i%10)) + "0000"
		r, s := sg.record(v, 200<<10)
		ops = append(ops, Op{Put: &Item{VID: v, Record: r, Sig: s}})
	}
	done := false
	if err := st.Apply(ops, func(txn *badger.Txn) error { done = true; return txn.Set([]byte("test/p"), []byte("1")) }); err != nil {
		t.Fatal(err)
	}
	if !done {
		t.Fatal("commit not run")
	}
	for _, op := range ops {
		if _, err := st.Get(op.Put.VID); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoadOrCreateSecret(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, "")
	s := newMemSealer()
	a, err := LoadOrCreateSecret(ctx, db, s, "token-id")
	if err != nil || len(a) != SecretLen {
		t.Fatalf("%d bytes, %v", len(a), err)
	}
	b, err := LoadOrCreateSecret(ctx, db, s, "token-id")
	if err != nil || !bytes.Equal(a, b) {
		t.Fatalf("second load: %v", err)
	}
	if c, _ := LoadOrCreateSecret(ctx, db, s, "other"); bytes.Equal(a, c) {
		t.Fatal("two names, one secret")
	}
	if _, err := LoadOrCreateSecret(ctx, db, newMemSealer(), "token-id"); !errors.Is(err, ErrKeys) {
		t.Fatalf("another sealer: %v", err)
	}
	if _, err := LoadOrCreateSecret(ctx, db, s, "Bad/Name"); err == nil {
		t.Fatal("bad name accepted")
	}
	// Nothing stored is the secret in clear.
	db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, _ := it.Item().ValueCopy(nil)
			if bytes.Contains(v, a) {
				t.Fatal("the secret is stored in clear")
			}
		}
		return nil
	})
}

func TestFirstUse(t *testing.T) {
	s := newStore(t, openDB(t, ""), newSigner())
	item := []byte("eyJhbGciOiJSUzI1NiJ9.capture.sig")
	if first, err := s.FirstUse(item, time.Minute); err != nil || !first {
		t.Fatalf("first use: %v %v", first, err)
	}
	if first, err := s.FirstUse(item, time.Minute); err != nil || first {
		t.Fatalf("second use reported first: %v %v", first, err)
	}
	if first, _ := s.FirstUse([]byte("another"), time.Minute); !first {
		t.Fatal("another item")
	}
	// Concurrent uses of a fresh item: exactly one is first.
	var wg sync.WaitGroup
	var n atomic.Int32
	for range 16 {
		wg.Go(func() {
			if first, err := s.FirstUse([]byte("raced"), time.Minute); err == nil && first {
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d concurrent first uses", n.Load())
	}
}
