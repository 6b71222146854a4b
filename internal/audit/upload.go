package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
)

// Upload bounds.
const (
	MaxUploadEntries = 1000
	MaxUploadBytes   = 8 << 20
	MaxOrigin        = 256
)

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
	b, err := io.ReadAll(io.LimitReader(r, MaxUploadBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxUploadBytes {
		return nil, ErrUploadTooLarge
	}
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var u Upload
	if err := d.Decode(&u); err != nil || d.More() {
		return nil, errors.New("audit: malformed upload (want JSON {origin, from, entries, checkpoint})")
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
