package jsonx

import (
	stdjson "encoding/json"
	"runtime"
	"strings"
	"testing"
)

// allocated is what f allocates on the heap, in bytes.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

type capture struct {
	TransactionID string `json:"transactionId"`
	Response      struct {
		Biometrics []struct {
			Data     string `json:"data"`
			SpecVer  string `json:"specVersion"`
			Hash     string `json:"hash"`
			Session  string `json:"sessionKey"`
			Thumb    string `json:"thumbprint"`
			Errors   []any  `json:"error"`
			Previous string `json:"previousHash"`
		} `json:"biometrics"`
	} `json:"response"`
}

// TestCountBombIsRefusedCheaply is issue #19's amplification: a body of
// ~1.95 MB holding 650,000 empty objects. encoding/json allocates an
// element per object before anything can count them; Unmarshal refuses
// the document while counting, having allocated a small multiple of the
// body at most.
func TestCountBombIsRefusedCheaply(t *testing.T) {
	body := []byte(`{"transactionId":"x","response":{"biometrics":[` + strings.Repeat("{},", 650_000-1) + `{}]}}`)
	var v capture
	std := allocated(func() { _ = stdjson.Unmarshal(body, &v) })
	var err error
	ours := allocated(func() { err = Unmarshal(body, &v, Limits{MaxBytes: 2 << 20}) })
	if err == nil || !strings.Contains(err.Error(), "more than 1000 elements") {
		t.Fatalf("not refused: %v", err)
	}
	t.Logf("body %d bytes; encoding/json allocated %d MB, jsonx %d kB", len(body), std>>20, ours>>10)
	if ours > uint64(len(body)) {
		t.Errorf("jsonx allocated %d bytes refusing a %d-byte body (budget: 1×)", ours, len(body))
	}
	if std < 16*ours {
		t.Logf("note: encoding/json allocated only %d bytes", std)
	}
}
