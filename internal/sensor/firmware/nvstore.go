package firmware

import (
	"context"
	"errors"
	"fmt"
)

// FloorNV is a TPM anti-rollback floor: a security version number (SVN,
// 0..63) in an NV bit field that can only go up. *tpm.TPM from
// internal/tpm has exactly these methods.
type FloorNV interface {
	Floor(ctx context.Context, index uint32) (int, error) // -1 when none is set
	RaiseFloor(ctx context.Context, index uint32, svn int) error
}

// Release says that firmware Version is the first with security version SVN.
type Release struct {
	SVN     int
	Version Version
}

// NVStore is a MinVersionStore backed by a TPM floor. The floor holds an
// SVN, not a version, so a table of releases (from the vendor's security
// advisories) maps one to the other: pinning version v stores the SVN of
// the newest release not above v, and the pinned minimum read back is the
// first version of the stored SVN.
type NVStore struct {
	NV       FloorNV
	Index    uint32
	Releases []Release // ascending in both SVN and Version
}

// ErrReleaseTable means the table is malformed or does not know a value.
var ErrReleaseTable = errors.New("firmware: release table")

func (s *NVStore) check() error {
	if s.NV == nil || len(s.Releases) == 0 {
		return fmt.Errorf("%w: no TPM or no releases", ErrReleaseTable)
	}
	for i, r := range s.Releases {
		if r.SVN < 0 || r.SVN > 63 {
			return fmt.Errorf("%w: SVN %d out of range 0..63", ErrReleaseTable, r.SVN)
		}
		if i > 0 && (r.SVN <= s.Releases[i-1].SVN || r.Version.Compare(s.Releases[i-1].Version) <= 0) {
			return fmt.Errorf("%w: entries must rise in SVN and version", ErrReleaseTable)
		}
	}
	return nil
}

// MinVersion reads the floor. A floor the table does not know is an error:
// guessing a lower version would let old firmware through.
func (s *NVStore) MinVersion(ctx context.Context) (Version, error) {
	if err := s.check(); err != nil {
		return Version{}, err
	}
	svn, err := s.NV.Floor(ctx, s.Index)
	if err != nil {
		return Version{}, err
	}
	if svn < 0 {
		return Version{}, nil
	}
	for _, r := range s.Releases {
		if r.SVN == svn {
			return r.Version, nil
		}
	}
	return Version{}, fmt.Errorf("%w: TPM floor is SVN %d, which the table does not list", ErrReleaseTable, svn)
}

// RaiseMinVersion raises the floor to the SVN of the newest release not
// above v.
func (s *NVStore) RaiseMinVersion(ctx context.Context, v Version) error {
	if err := s.check(); err != nil {
		return err
	}
	target := -1
	for _, r := range s.Releases {
		if r.Version.Compare(v) <= 0 {
			target = r.SVN
		}
	}
	if target < 0 {
		return fmt.Errorf("%w: %s is older than every listed release", ErrReleaseTable, v)
	}
	cur, err := s.NV.Floor(ctx, s.Index)
	if err != nil {
		return err
	}
	if target < cur {
		return fmt.Errorf("%w: %s is SVN %d, the TPM floor is SVN %d", ErrRollback, v, target, cur)
	}
	return s.NV.RaiseFloor(ctx, s.Index, target)
}
