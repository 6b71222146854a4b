package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

func FuzzDecodeUpload(f *testing.F) {
	u := Upload{Origin: "appliance/A", From: 2, Entries: [][]byte{[]byte(`{"v":1}`)},
		Checkpoint: Checkpoint{Origin: "appliance/A", Size: 3, Root: make([]byte, 32), Signature: []byte{1}}}
	b, _ := json.Marshal(u)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var u *Upload
		var err error
		// Whatever it is given, decoding stays within the per-request
		// memory budget of issue #19.
		if n := allocated(func() { u, err = DecodeUpload(bytes.NewReader(b)) }); n > httpxtest.Budget(len(b)) {
			t.Fatalf("decoding %d bytes allocated %d (budget %d)", len(b), n, httpxtest.Budget(len(b)))
		}
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

// TestDecodeUploadStrict: the upload is decoded strictly and its entries
// are counted as they arrive (issue #19: 2.7 million entries in a body
// under the limit grew central by 186 MB when decoded in full first).
func TestDecodeUploadStrict(t *testing.T) {
	good := `{"origin":"appliance/A","from":2,"entries":["eyJ2IjoxfQ=="],"checkpoint":{"origin":"appliance/A","size":3,"root":"` +
		base64.StdEncoding.EncodeToString(make([]byte, 32)) + `","time":"2026-01-01T00:00:00Z","signature":"AQ=="}}`
	if _, err := DecodeUpload(strings.NewReader(good)); err != nil {
		t.Fatalf("a good upload: %v", err)
	}
	bomb := httpxtest.CountBomb(`{"origin":"appliance/A","from":0,"entries":`, (MaxUploadBytes-64)/3, `}`)
	for name, body := range map[string]string{
		"duplicate":    strings.Replace(good, `"from":2`, `"from":2,"from":0`, 1),
		"invalid utf8": strings.Replace(good, `appliance/A","from"`, "appliance/\xff\",\"from\"", 1),
		"case":         strings.Replace(good, `"from"`, `"From"`, 1),
		"unknown":      strings.Replace(good, `"from":2`, `"from":2,"extra":1`, 1),
		"trailing":     good + "{}",
		"count bomb":   bomb,
	} {
		var err error
		n := httpxtest.Allocated(func() { _, err = DecodeUpload(strings.NewReader(body)) })
		var je *jsonx.Error
		if !errors.As(err, &je) {
			t.Errorf("%s: %v, want a *jsonx.Error", name, err)
		}
		if n > httpxtest.Budget(len(body)) {
			t.Errorf("%s: refusing %d bytes allocated %d (budget %d)", name, len(body), n, httpxtest.Budget(len(body)))
		}
	}
}

// allocated is httpxtest.Allocated without its GC first (TotalAlloc counts
// every allocation anyway), which would slow fuzzing to a crawl.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}
