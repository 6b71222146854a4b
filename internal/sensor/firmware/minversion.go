package firmware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// MinVersionStore holds the pinned minimum firmware version. It only ever
// goes up, like a TPM NV counter, so firmware cannot be rolled back by
// editing configuration. A TPM NV index will back it on devices; FileStore
// is for development and tests.
type MinVersionStore interface {
	// MinVersion returns the pinned minimum; zero means nothing is pinned.
	MinVersion(ctx context.Context) (Version, error)
	// RaiseMinVersion pins v. Lowering the pin fails with ErrRollback.
	RaiseMinVersion(ctx context.Context, v Version) error
}

// Errors of the version checks.
var (
	ErrTooOld         = errors.New("firmware: older than the pinned minimum version")
	ErrUnknownVersion = errors.New("firmware: module does not report a usable firmware version")
	ErrRollback       = errors.New("firmware: version lower than the pinned minimum")
)

// CheckMinimum refuses firmware older than the pinned minimum. A module
// that does not report a version passes only while nothing is pinned.
func CheckMinimum(ctx context.Context, store MinVersionStore, reported string) (Version, error) {
	var min Version
	if store != nil {
		var err error
		if min, err = store.MinVersion(ctx); err != nil {
			return Version{}, fmt.Errorf("firmware: read pinned minimum: %w", err)
		}
	}
	v, err := ParseVersion(reported)
	if err != nil {
		if min.IsZero() {
			return Version{}, nil
		}
		return Version{}, fmt.Errorf("%w (reported %q, minimum %s)", ErrUnknownVersion, reported, min)
	}
	if v.Compare(min) < 0 {
		return v, fmt.Errorf("%w: module runs %s, minimum is %s", ErrTooOld, v, min)
	}
	return v, nil
}

// FileStore keeps the pin in a small JSON file, replaced atomically.
type FileStore struct {
	Path string
	mu   sync.Mutex
}

type fileContent struct {
	MinVersion string `json:"min_version"`
}

// MinVersion reads the pin. A missing file means nothing is pinned; an
// unreadable or corrupt one is an error (fail closed).
func (s *FileStore) MinVersion(ctx context.Context) (Version, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.read()
}

func (s *FileStore) read() (Version, error) {
	f, err := os.Open(s.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return Version{}, nil
	}
	if err != nil {
		return Version{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return Version{}, err
	}
	if len(data) > 4096 {
		return Version{}, fmt.Errorf("firmware: %s is too large", s.Path)
	}
	var c fileContent
	if err := jsonx.Unmarshal(data, &c, jsonx.Limits{MaxBytes: 4096, Open: true}); err != nil {
		return Version{}, fmt.Errorf("firmware: %s: %w", s.Path, err)
	}
	v, err := ParseVersion(c.MinVersion)
	if err != nil {
		return Version{}, fmt.Errorf("firmware: %s: %w", s.Path, err)
	}
	return v, nil
}

// RaiseMinVersion pins v if it is not lower than the current pin.
func (s *FileStore) RaiseMinVersion(ctx context.Context, v Version) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, err := s.read()
	if err != nil {
		return err
	}
	if v.Compare(cur) < 0 {
		return fmt.Errorf("%w: %s is lower than the pinned %s", ErrRollback, v, cur)
	}
	data, err := json.Marshal(fileContent{MinVersion: v.String()})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".minversion-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.Path)
}
