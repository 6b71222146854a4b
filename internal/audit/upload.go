package audit

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Upload bounds.
const (
	MaxUploadEntries = 1000
	MaxUploadBytes   = 8 << 20
	MaxOrigin        = 256
)

// UploadLimits bound an upload while it is decoded (internal/jsonx): a
// closed contract whose one array, entries, holds at most MaxUploadEntries,
// counted as the entries arrive, so a body of millions of entries is
// refused before any is built.
var UploadLimits = jsonx.Limits{MaxBytes: MaxUploadBytes, MaxDepth: 3, MaxArray: MaxUploadEntries, MaxMembers: 8}

// Upload is how a component sends its log to central: the entries after
// From (its seq numbers are From, From+1, ...) and a checkpoint whose size
// is From+len(Entries). Central appends them only if the root it
// recomputes equals the signed one.
type Upload struct {
	Origin     string     `json:"origin"`
	From       uint64     `json:"from"`
	Entries    [][]byte   `json:"entries"`
	Checkpoint Checkpoint `json:"checkpoint"`
}

// ErrUploadTooLarge: the upload is over MaxUploadBytes (HTTP 413).
var ErrUploadTooLarge = fmt.Errorf("audit: upload larger than %d bytes; send fewer entries", MaxUploadBytes)

// UploadAck is central's answer: the size of the log it holds.
type UploadAck struct {
	Size uint64 `json:"size"`
}

// DecodeUpload reads an Upload strictly and checks its shape (not its
// signature or root).
func DecodeUpload(r io.Reader) (*Upload, error) {
	var u Upload
	if err := jsonx.Decode(r, &u, UploadLimits); err != nil {
		if errors.Is(err, jsonx.ErrTooLarge) {
			return nil, ErrUploadTooLarge
		}
		var je *jsonx.Error
		if errors.As(err, &je) {
			return nil, fmt.Errorf("audit: malformed upload (want JSON {origin, from, entries, checkpoint}): %w", je)
		}
		return nil, err
	}
	if len(u.Entries) == 0 || len(u.Entries) > MaxUploadEntries {
		return nil, fmt.Errorf("audit: an upload holds 1–%d entries", MaxUploadEntries)
	}
	for _, e := range u.Entries {
		if len(e) == 0 || len(e) > MaxEntry {
			return nil, fmt.Errorf("audit: entry of %d bytes; want 1–%d", len(e), MaxEntry)
		}
	}
	if u.From > math.MaxUint64-uint64(len(u.Entries)) || u.Checkpoint.Size != u.From+uint64(len(u.Entries)) {
		return nil, errors.New("audit: the checkpoint's size is not from + number of entries")
	}
	if u.Origin == "" || len(u.Origin) > MaxOrigin || strings.ContainsAny(u.Origin, "\n") {
		return nil, fmt.Errorf("audit: the origin must be one line of 1–%d bytes", MaxOrigin)
	}
	if u.Checkpoint.Origin != u.Origin || len(u.Checkpoint.Root) != 32 || len(u.Checkpoint.Signature) == 0 || len(u.Checkpoint.Signature) > 1024 {
		return nil, errors.New("audit: the checkpoint's origin, root (32 bytes) or signature (1–1024 bytes) is missing or malformed")
	}
	return &u, nil
}
