package firmware

import (
	"context"
	"errors"
	"testing"
)

// fakeFloor behaves like internal/tpm's NV bit field: bits only get set.
type fakeFloor struct {
	bits  uint64
	index uint32
}

func (f *fakeFloor) Floor(_ context.Context, index uint32) (int, error) {
	f.index = index
	for svn := 63; svn >= 0; svn-- {
		if f.bits&(1<<svn) != 0 {
			return svn, nil
		}
	}
	return -1, nil
}

func (f *fakeFloor) RaiseFloor(_ context.Context, index uint32, svn int) error {
	f.index = index
	f.bits |= 1 << svn
	return nil
}

func TestNVStore(t *testing.T) {
	ctx := context.Background()
	nv := &fakeFloor{}
	s := &NVStore{NV: nv, Index: 0x01800e70, Releases: []Release{
		{SVN: 1, Version: Version{1, 0, 0}},
		{SVN: 2, Version: Version{1, 4, 0}},
		{SVN: 5, Version: Version{2, 0, 0}},
	}}
	if v, err := s.MinVersion(ctx); err != nil || !v.IsZero() {
		t.Fatalf("empty floor: %v %v", v, err)
	}
	// 1.4.7 falls in the SVN 2 tier; the pin reads back as that tier's first version.
	if err := s.RaiseMinVersion(ctx, Version{1, 4, 7}); err != nil {
		t.Fatal(err)
	}
	if v, err := s.MinVersion(ctx); err != nil || v != (Version{1, 4, 0}) || nv.index != 0x01800e70 {
		t.Fatalf("after pinning 1.4.7: %v %v (index %#x)", v, err, nv.index)
	}
	if _, err := CheckMinimum(ctx, s, "1.3.9"); !errors.Is(err, ErrTooOld) {
		t.Fatalf("1.3.9 against SVN 2: %v", err)
	}
	if err := s.RaiseMinVersion(ctx, Version{1, 2, 0}); !errors.Is(err, ErrRollback) {
		t.Fatalf("lowering: %v", err)
	}
	if err := s.RaiseMinVersion(ctx, Version{0, 9, 0}); !errors.Is(err, ErrReleaseTable) {
		t.Fatalf("version below the table: %v", err)
	}
	// A floor the table does not know fails closed.
	nv.bits |= 1 << 9
	if _, err := s.MinVersion(ctx); !errors.Is(err, ErrReleaseTable) {
		t.Fatalf("unknown SVN: %v", err)
	}
	if _, err := CheckMinimum(ctx, s, "9.9.9"); err == nil {
		t.Fatal("CheckMinimum passed with an unreadable floor")
	}
}

func TestNVStoreRejectsBadTable(t *testing.T) {
	ctx := context.Background()
	for _, rel := range [][]Release{
		nil,
		{{SVN: 64, Version: Version{1, 0, 0}}},
		{{SVN: 2, Version: Version{1, 0, 0}}, {SVN: 1, Version: Version{2, 0, 0}}},
		{{SVN: 1, Version: Version{2, 0, 0}}, {SVN: 2, Version: Version{1, 0, 0}}},
	} {
		s := &NVStore{NV: &fakeFloor{}, Releases: rel}
		if _, err := s.MinVersion(ctx); !errors.Is(err, ErrReleaseTable) {
			t.Errorf("table %v accepted", rel)
		}
	}
}
