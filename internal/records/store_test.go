package records

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

func openDB(t testing.TB, dir string) *badger.DB {
	t.Helper()
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

// memSealer is a software Sealer for tests: AES-GCM under a key that lives
// only in this value, so another memSealer cannot unseal.
type memSealer struct{ g cipher.AEAD }

func newMemSealer() *memSealer {
	k := make([]byte, 32)
	rand.Read(k)
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	return &memSealer{g}
}

func (m *memSealer) Seal(_ context.Context, s []byte) ([]byte, error) {
	n := make([]byte, 12)
	rand.Read(n)
	return m.g.Seal(n, n, s, nil), nil
}

func (m *memSealer) Unseal(_ context.Context, b []byte) ([]byte, error) {
	if len(b) < 12 {
		return nil, errors.New("short")
	}
	return m.g.Open(nil, b[:12], b[12:], nil)
}

type signer struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newSigner() signer {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	return signer{pub, priv}
}

func (s signer) verifier() Verifier { return Ed25519Verifier{Key: s.pub} }

func (s signer) record(vid string, size int) (rec, sig []byte) {
	rec = fmt.Appendf(nil, `{"vid":%q,"name":"Asha Kumari Ramaswamy","dob":"1990-01-01","templates":"`, vid)
	for len(rec) < size-2 {
		rec = append(rec, 'x')
	}
	rec = append(rec, `"}`...)
	return rec, ed25519.Sign(s.priv, rec)
}

func newStore(t testing.TB, db *badger.DB, s signer) *Store {
	t.Helper()
	st, err := Open(context.Background(), db, newMemSealer(), s.verifier())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRoundTrip(t *testing.T) {
	sg := newSigner()
	st := newStore(t, openDB(t, ""), sg)
	rec, sig := sg.record("4827364519283746", 512)
	if err := st.Put("4827364519283746", rec, sig); err != nil {
		t.Fatal(err)
	}
	got, gotSig, err := st.GetSigned("4827364519283746")
	if err != nil || !bytes.Equal(got, rec) || !bytes.Equal(gotSig, sig) {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := st.Get("4827364519283747"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("absent VID: %v", err)
	}
	// Replace.
	rec2, sig2 := sg.record("4827364519283746", 100)
	if err := st.Put("4827364519283746", rec2, sig2); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.Get("4827364519283746"); !bytes.Equal(got, rec2) {
		t.Fatal("replace did not take")
	}
	if err := st.Delete("4827364519283746"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get("4827364519283746"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if err := st.Delete("4827364519283746"); err != nil {
		t.Fatalf("second delete: %v", err)
	}
}

func TestIngestChecks(t *testing.T) {
	sg, other := newSigner(), newSigner()
	st := newStore(t, openDB(t, ""), sg)
	rec, sig := sg.record("v1", 64)
	_, otherSig := other.record("v1", 64)
	if err := st.Put("v1", rec, otherSig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("foreign signature: %v", err)
	}
	bad := bytes.Clone(rec)
	bad[5] ^= 1
	if err := st.Put("v1", bad, sig); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("altered record: %v", err)
	}
	for name, it := range map[string]Item{
		"empty vid": {"", rec, sig},
		"long vid":  {string(make([]byte, MaxVIDLen+1)), rec, sig},
		"empty rec": {"v1", nil, sig},
		"big rec":   {"v1", make([]byte, MaxRecord+1), sig},
		"empty sig": {"v1", rec, nil},
		"big sig":   {"v1", rec, make([]byte, MaxSig+1)},
	} {
		if err := st.Put(it.VID, it.Record, it.Sig); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := st.Get(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Get empty: %v", err)
	}
	// PutMany is all or nothing.
	var items []Item
	for i := range 10 {
		v := fmt.Sprint("vid-", i)
		r, s := sg.record(v, 64)
		items = append(items, Item{v, r, s})
	}
	items[7].Sig = otherSig
	if err := st.PutMany(items); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("PutMany with one bad: %v", err)
	}
	if _, err := st.Get("vid-0"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PutMany stored part of a failed batch: %v", err)
	}
	_, items[7].Sig = sg.record("vid-7", 64)
	if err := st.PutMany(items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if got, err := st.Get(it.VID); err != nil || !bytes.Equal(got, it.Record) {
			t.Fatalf("%s: %v", it.VID, err)
		}
	}
	if err := st.PutMany(make([]Item, MaxBatch+1)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized batch: %v", err)
	}
}

func rawSet(t *testing.T, db *badger.DB, k, v []byte) {
	t.Helper()
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(k, v) }); err != nil {
		t.Fatal(err)
	}
}

func rawGet(t *testing.T, db *badger.DB, k []byte) []byte {
	t.Helper()
	var v []byte
	if err := db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(k)
		if err != nil {
			return err
		}
		v, err = it.ValueCopy(nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTamperDetected(t *testing.T) {
	sg := newSigner()
	db := openDB(t, "")
	st := newStore(t, db, sg)
	ra, sa := sg.record("A", 300)
	rb, sb := sg.record("B", 300)
	if err := st.PutMany([]Item{{"A", ra, sa}, {"B", rb, sb}}); err != nil {
		t.Fatal(err)
	}
	ka, kb := st.indexKey("A"), st.indexKey("B")
	va, vb := rawGet(t, db, ka), rawGet(t, db, kb)

	// Flip each byte in turn (version, nonce, ciphertext, tag).
	for _, i := range []int{0, 1, 12, 13, 100, len(va) - 17, len(va) - 1} {
		bad := bytes.Clone(va)
		bad[i] ^= 0x40
		rawSet(t, db, ka, bad)
		if _, err := st.Get("A"); !errors.Is(err, ErrTampered) {
			t.Fatalf("flip at %d: %v", i, err)
		}
	}
	// Truncated and empty values.
	for _, bad := range [][]byte{va[:len(va)-1], va[:5], {}} {
		rawSet(t, db, ka, bad)
		if _, err := st.Get("A"); !errors.Is(err, ErrTampered) {
			t.Fatalf("truncated to %d: %v", len(bad), err)
		}
	}
	// Swapping values between keys fails both ways.
	rawSet(t, db, ka, vb)
	rawSet(t, db, kb, va)
	if _, err := st.Get("A"); !errors.Is(err, ErrTampered) {
		t.Fatalf("swapped A: %v", err)
	}
	if _, err := st.Get("B"); !errors.Is(err, ErrTampered) {
		t.Fatalf("swapped B: %v", err)
	}
	rawSet(t, db, ka, va)
	rawSet(t, db, kb, vb)
	if _, err := st.Get("A"); err != nil {
		t.Fatalf("restored: %v", err)
	}
	// Errors never name the VID.
	rawSet(t, db, ka, vb)
	if _, err := st.Get("A"); err == nil || bytes.Contains([]byte(err.Error()), []byte(`"A"`)) {
		t.Fatalf("error: %v", err)
	}
}

// The signature is checked on every read: a record that decrypts but whose
// signature no longer verifies (central's key rotated, or the keys were
// stolen and a record forged) is refused.
func TestSignatureCheckedOnRead(t *testing.T) {
	sg := newSigner()
	db := openDB(t, "")
	sealer := newMemSealer()
	v := &switchVerifier{inner: sg.verifier()}
	st, err := Open(context.Background(), db, sealer, v)
	if err != nil {
		t.Fatal(err)
	}
	r, s := sg.record("A", 100)
	if err := st.Put("A", r, s); err != nil {
		t.Fatal(err)
	}
	v.reject = true
	if _, err := st.Get("A"); !errors.Is(err, ErrTampered) {
		t.Fatalf("read with failing signature: %v", err)
	}
}

type switchVerifier struct {
	inner  Verifier
	reject bool
}

func (v *switchVerifier) Verify(r, s []byte) error {
	if v.reject {
		return errors.New("rejected")
	}
	return v.inner.Verify(r, s)
}

func TestReopenWithSealer(t *testing.T) {
	sg := newSigner()
	dir := t.TempDir()
	sealer := newMemSealer()
	db := openDB(t, dir)
	st, err := Open(context.Background(), db, sealer, sg.verifier())
	if err != nil {
		t.Fatal(err)
	}
	r, s := sg.record("A", 100)
	if err := st.Put("A", r, s); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDB(t, dir)
	if _, err := Open(context.Background(), db, newMemSealer(), sg.verifier()); !errors.Is(err, ErrKeys) {
		t.Fatalf("foreign sealer: %v", err)
	}
	st, err = Open(context.Background(), db, sealer, sg.verifier())
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get("A"); err != nil || !bytes.Equal(got, r) {
		t.Fatalf("after reopen: %v", err)
	}
	// Deleting the sealed keys does not make Open mint new ones over old records.
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(keySealed) }); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), db, sealer, sg.verifier()); !errors.Is(err, ErrKeys) {
		t.Fatalf("keys deleted: %v", err)
	}
}

// With the TPM simulator on a fixed seed the sealed keys come back after a
// restart; a TPM with another seed cannot unseal them.
func TestTPMSealedKeys(t *testing.T) {
	ctx := context.Background()
	sg := newSigner()
	dir := t.TempDir()
	withTPM := func(url string, f func(TPMSealer)) {
		tp, err := tpm.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := tp.Close(); err != nil {
				t.Error(err)
			}
		}()
		f(TPMSealer{TPM: tp})
	}
	r, s := sg.record("4827364519283746", 200)
	withTPM("sim?seed=42", func(ts TPMSealer) {
		db := openDB(t, dir)
		defer db.Close()
		st, err := Open(ctx, db, ts, sg.verifier())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Put("4827364519283746", r, s); err != nil {
			t.Fatal(err)
		}
	})
	withTPM("sim?seed=42", func(ts TPMSealer) {
		db := openDB(t, dir)
		defer db.Close()
		st, err := Open(ctx, db, ts, sg.verifier())
		if err != nil {
			t.Fatalf("same TPM after restart: %v", err)
		}
		if got, err := st.Get("4827364519283746"); err != nil || !bytes.Equal(got, r) {
			t.Fatalf("get after restart: %v", err)
		}
	})
	withTPM("sim?seed=43", func(ts TPMSealer) {
		db := openDB(t, dir)
		defer db.Close()
		if _, err := Open(ctx, db, ts, sg.verifier()); !errors.Is(err, ErrKeys) {
			t.Fatalf("another TPM: %v", err)
		}
	})
}

// No VID and no identity data appear anywhere in the database: not in the
// keys or values as badger returns them, and not in the files on disk.
func TestNoPlaintextAtRest(t *testing.T) {
	sg := newSigner()
	dir := t.TempDir()
	// No block compression, so plaintext in the files would be visible.
	db, err := badger.Open(badger.DefaultOptions(dir).WithLogger(nil).WithCompression(options.None))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := newStore(t, db, sg)
	var vids []string
	for i := range 50 {
		vids = append(vids, fmt.Sprintf("48273645192%05d", i))
	}
	var items []Item
	for _, v := range vids {
		r, s := sg.record(v, 256)
		items = append(items, Item{v, r, s})
	}
	if err := st.PutMany(items); err != nil {
		t.Fatal(err)
	}
	needles := [][]byte{[]byte("Ramaswamy"), []byte("1990-01-01")}
	for _, v := range vids {
		needles = append(needles, []byte(v))
	}
	n := 0
	err = db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().KeyCopy(nil)
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			n++
			for _, nd := range needles {
				if bytes.Contains(k, nd) || bytes.Contains(v, nd) {
					return fmt.Errorf("plaintext %q found in the store", nd)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(vids)+1 {
		t.Fatalf("scanned %d entries, want %d", n, len(vids)+1)
	}
	db.Close()
	files := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files++
		for _, nd := range needles {
			if bytes.Contains(b, nd) {
				t.Errorf("plaintext %q found in %s", nd, filepath.Base(p))
			}
		}
		return nil
	})
	if files == 0 {
		t.Fatal("no files scanned")
	}
}

func TestDecodeRecord(t *testing.T) {
	r, s := []byte("record"), []byte("sig")
	gr, gs, err := decodeRecord(encodeRecord(r, s))
	if err != nil || !bytes.Equal(gr, r) || !bytes.Equal(gs, s) {
		t.Fatalf("round trip: %v", err)
	}
	enc := encodeRecord(r, s)
	for i := range enc {
		if _, _, err := decodeRecord(enc[:i]); err == nil {
			t.Fatalf("truncated to %d decoded", i)
		}
	}
	if _, _, err := decodeRecord(append(enc, 0)); err == nil {
		t.Fatal("trailing byte decoded")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord([]byte("record"), []byte("sig")))
	f.Add([]byte{0, 0, 0, 1, 'x', 0, 1, 'y'})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, s, err := decodeRecord(b)
		if err != nil {
			return
		}
		if len(r) == 0 || len(r) > MaxRecord || len(s) == 0 || len(s) > MaxSig {
			t.Fatalf("decoded out-of-bounds lengths %d, %d", len(r), len(s))
		}
		if !bytes.Equal(encodeRecord(r, s), b) {
			t.Fatal("decode is not the inverse of encode")
		}
	})
}

func TestConcurrent(t *testing.T) {
	sg := newSigner()
	st := newStore(t, openDB(t, ""), sg)
	done := make(chan error, 4)
	for w := range 4 {
		go func() {
			for i := range 50 {
				v := fmt.Sprintf("w%d-%d", w, i)
				r, s := sg.record(v, 128)
				if err := st.Put(v, r, s); err != nil {
					done <- err
					return
				}
				if got, err := st.Get(v); err != nil || !bytes.Equal(got, r) {
					done <- fmt.Errorf("get %s: %v", v, err)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
