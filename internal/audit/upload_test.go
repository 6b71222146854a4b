package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func FuzzDecodeUpload(f *testing.F) {
	u := Upload{Origin: "appliance/A", From: 2, Entries: [][]byte{[]byte(`{"v":1}`)},
		Checkpoint: Checkpoint{Origin: "appliance/A", Size: 3, Root: make([]byte, 32), Signature: []byte{1}}}
	b, _ := json.Marshal(u)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := DecodeUpload(bytes.NewReader(b))
		if err != nil {
			return
		}
		if u.Checkpoint.Size != u.From+uint64(len(u.Entries)) || u.Checkpoint.Size < u.From || len(u.Entries) == 0 || len(u.Entries) > MaxUploadEntries ||
			u.Origin == "" || len(u.Origin) > MaxOrigin || u.Checkpoint.Origin != u.Origin || len(u.Checkpoint.Root) != 32 {
			t.Fatalf("accepted an inconsistent upload: %+v", u)
		}
	})
}

func TestDecodeUpload(t *testing.T) {
	good := Upload{Origin: "appliance/A", From: 2, Entries: [][]byte{[]byte(`{"v":1}`)},
		Checkpoint: Checkpoint{Origin: "appliance/A", Size: 3, Root: make([]byte, 32), Signature: []byte{1}}}
	b, _ := json.Marshal(good)
	if _, err := DecodeUpload(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(u *Upload){
		"size":       func(u *Upload) { u.Checkpoint.Size = 4 },
		"origin":     func(u *Upload) { u.Checkpoint.Origin = "appliance/B" },
		"no entries": func(u *Upload) { u.Entries, u.Checkpoint.Size = nil, 2 },
		"empty":      func(u *Upload) { u.Entries[0] = nil },
		"root":       func(u *Upload) { u.Checkpoint.Root = []byte{1} },
		"overflow":   func(u *Upload) { u.From, u.Checkpoint.Size = math.MaxUint64, 0 },
		"long origin": func(u *Upload) {
			u.Origin = strings.Repeat("a", MaxOrigin+1)
			u.Checkpoint.Origin = u.Origin
		},
		"two-line origin": func(u *Upload) { u.Origin, u.Checkpoint.Origin = "a\nb", "a\nb" },
		"huge signature":  func(u *Upload) { u.Checkpoint.Signature = make([]byte, 1025) },
	} {
		u := good
		u.Entries = [][]byte{[]byte(`{"v":1}`)}
		mut(&u)
		b, _ := json.Marshal(u)
		if _, err := DecodeUpload(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	big := []byte(`{"origin":"` + strings.Repeat("a", MaxUploadBytes) + `"}`)
	if _, err := DecodeUpload(bytes.NewReader(big)); !errors.Is(err, ErrUploadTooLarge) {
		t.Fatalf("oversized upload: %v", err)
	}
}
