package httpx

import (
	"fmt"
	"testing"
	"time"
)

func fakeClock(l *Limiter) *time.Time {
	t := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return t }
	return &t
}

func TestLimiterRefills(t *testing.T) {
	l := NewLimiter(2, 2)
	now := fakeClock(l)
	for i := range 2 {
		if !l.Allow("a") {
			t.Fatalf("request %d of a burst of 2 refused", i+1)
		}
	}
	if l.Allow("a") {
		t.Fatal("third request inside the burst allowed")
	}
	if !l.Allow("b") {
		t.Fatal("another key shares a's bucket")
	}
	*now = now.Add(500 * time.Millisecond)
	if !l.Allow("a") {
		t.Fatal("no token after half a second at 2/s")
	}
	if l.Allow("a") {
		t.Fatal("more than one token after half a second")
	}
}

func TestLimiterBoundsKeys(t *testing.T) {
	l := NewLimiter(1, 1)
	now := fakeClock(l)
	for i := range MaxKeys {
		l.Allow(fmt.Sprint(i))
	}
	if l.Allow("new") {
		t.Fatal("a key past MaxKeys was let in while every bucket is busy")
	}
	*now = now.Add(2 * time.Second)
	if !l.Allow("new") {
		t.Fatal("idle buckets were not swept")
	}
	if len(l.buckets) != 1 {
		t.Fatalf("%d buckets after the sweep, want 1", len(l.buckets))
	}
}

func TestFailuresSpareSuccess(t *testing.T) {
	f := NewFailures(1, 3)
	now := fakeClock(f.l)
	for range 100 {
		if f.Blocked("10.0.0.1", "rp-1") {
			t.Fatal("checks with no failure were blocked")
		}
	}
	for range 3 {
		f.Fail("10.0.0.2", "rp-1")
	}
	if !f.Blocked("10.0.0.2", "") {
		t.Fatal("address not blocked after 3 failures")
	}
	if !f.Blocked("10.0.0.9", "rp-1") {
		t.Fatal("key id not blocked after 3 failures from another address")
	}
	if f.Blocked("10.0.0.1", "rp-2") {
		t.Fatal("an unrelated address and key were blocked")
	}
	*now = now.Add(time.Second)
	if f.Blocked("10.0.0.2") {
		t.Fatal("no retry allowed after the refill")
	}
	if len(f.l.buckets) != 2 {
		t.Fatalf("Blocked created buckets: %d", len(f.l.buckets))
	}
}
