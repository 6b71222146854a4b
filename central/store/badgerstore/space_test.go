package badgerstore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/central/store"
)

// TestWriteRefusedWhenDiskNearlyFull: below MinFree, Update writes nothing
// and says why (store.ErrNoSpace); View goes on. (A full filesystem itself
// is internal/e2e's TestFaultBadgerDiskFull: there badger would SIGBUS.)
func TestWriteRefusedWhenDiskNearlyFull(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutVendor(ctx, &store.Vendor{ID: "V1", Name: "one"}) }); err != nil {
		t.Fatal(err)
	}
	s.minFree = 1 << 62 // more than any disk has
	err = s.Update(ctx, func(tx store.Tx) error { return tx.PutVendor(ctx, &store.Vendor{ID: "V2", Name: "two"}) })
	if !errors.Is(err, store.ErrNoSpace) || !strings.Contains(err.Error(), "MiB free") {
		t.Fatalf("write on a nearly full disk: %v", err)
	}
	err = s.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Vendor(ctx, "V1"); err != nil {
			return err
		}
		if _, err := tx.Vendor(ctx, "V2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused write left V2: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("reads on a nearly full disk: %v", err)
	}
	s.Close()
	if s, err = Open(dir, Options{MinFree: -1}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.dir != "" {
		t.Fatal("MinFree -1 still checks")
	}
}
