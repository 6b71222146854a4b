package audit

import (
	"bytes"
	"encoding/json"
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
		if u.Checkpoint.Size != u.From+uint64(len(u.Entries)) || len(u.Entries) == 0 || len(u.Entries) > MaxUploadEntries {
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
	} {
		u := good
		u.Entries = [][]byte{[]byte(`{"v":1}`)}
		mut(&u)
		b, _ := json.Marshal(u)
		if _, err := DecodeUpload(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
