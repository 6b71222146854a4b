package badgerstore

import (
	"testing"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/storetest"
)

// TestSuite runs the store suite on badger. Badger allows one process per
// directory, so both "replicas" are the same Store.
func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(int) store.Store {
		s, err := Open(t.TempDir(), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return func(int) store.Store { return s }
	})
}

func TestSecondOpenRefused(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir, Options{}); err == nil {
		s2.Close()
		t.Fatal("a second central opened the same badger directory")
	}
}
