package httpxtest

import (
	"net/http"
	"testing"
)

func TestBudget(t *testing.T) {
	for _, c := range []struct {
		body int
		want uint64
	}{{0, 1 << 20}, {1 << 20, 16 << 20}, {10 << 20, 64 << 20}} {
		if got := Budget(c.body); got != c.want {
			t.Errorf("Budget(%d) = %d, want %d", c.body, got, c.want)
		}
	}
}

func TestAllocatedSeesAllocation(t *testing.T) {
	var keep []byte
	n := Allocated(func() { keep = make([]byte, 8<<20) })
	if n < 8<<20 {
		t.Fatalf("Allocated = %d, want ≥ 8 MiB", n)
	}
	_ = keep
}

func TestCheckRefusedCatchesAcceptance(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	rec, _ := Serve(ok, "POST", "/", CountBomb(`{"a":`, 3, `}`), nil)
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if got := CountBomb(`{"a":`, 3, `}`); got != `{"a":[{},{},{}]}` {
		t.Fatalf("CountBomb = %s", got)
	}
	if got := Nest(2, "1"); got != "[[1]]" {
		t.Fatalf("Nest = %s", got)
	}
}
