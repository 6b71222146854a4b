package recordfeed

import (
	"encoding/json"
	"testing"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
)

// bounded fails t if f, reading n bytes, allocated past the per-request
// budget of issue #19 (16× the input, 1 MiB to 64 MiB).
func bounded(t *testing.T, n int, f func()) {
	t.Helper()
	if got := httpxtest.Allocated(f); got > httpxtest.Budget(n) {
		t.Fatalf("a %d-byte input allocated %d bytes (budget %d)", n, got, httpxtest.Budget(n))
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := testRecord(f).Marshal()
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var r *Record
		var err error
		bounded(t, len(b), func() { r, err = Unmarshal(b) })
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted record does not re-marshal: %v", err)
		}
		if _, err := Unmarshal(out); err != nil {
			t.Fatalf("re-marshalled record refused: %v", err)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"ops":[{"delete":"2389475610293847"}]}`))
	f.Add([]byte(`{"ops":[{"put":{"record":"e30=","sig":"` + string(make([]byte, 0)) + `"}}]}`))
	f.Add([]byte(httpxtest.CountBomb(`{"ops":`, 100000, `}`)))
	f.Fuzz(func(t *testing.T, b []byte) {
		var bt *Batch
		var err error
		bounded(t, len(b), func() { bt, err = DecodeBatch(b) })
		if err == nil && (len(bt.Ops) == 0 || len(bt.Ops) > MaxOps) {
			t.Fatal("accepted a batch outside the bounds")
		}
	})
}

func FuzzDecodeSealed(f *testing.F) {
	s := Sealed{Appliance: "a", CertSHA256: "AB", WrappedKey: make([]byte, 256), Nonce: make([]byte, 12), Ciphertext: make([]byte, 32)}
	b, _ := json.Marshal(s)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var s *Sealed
		var err error
		bounded(t, len(b), func() { s, err = DecodeSealed(b) })
		if err == nil && (s.Appliance == "" || s.CertSHA256 == "") {
			t.Fatal("accepted a sealed batch without its binding")
		}
	})
}
