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

// TestFailuresReportLockouts: Fail names a key when it locks it out, once
// per refill period however long the guessing goes on, so the lock-outs
// can be audited without flooding the audit log.
func TestFailuresReportLockouts(t *testing.T) {
	f := NewFailures(0.5, 3) // refill: 6 s
	now := fakeClock(f.l)
	for i := range 2 {
		if l := f.Fail("addr:a", "key:k"); len(l) != 0 {
			t.Fatalf("failure %d of 3 reported a lock-out: %v", i+1, l)
		}
	}
	if l := f.Fail("addr:a", "key:k"); fmt.Sprint(l) != "[addr:a key:k]" {
		t.Fatalf("third failure locked out %v, want both keys", l)
	}
	if f.RetryAfter() != 2 {
		t.Fatalf("RetryAfter %d, want 2 (one token at 0.5/s)", f.RetryAfter())
	}
	// The guesser waits for each token and spends it: locked again each
	// time, reported again only once the refill period has passed.
	reports := 0
	for range 10 {
		*now = now.Add(2 * time.Second)
		if f.Blocked("addr:a") {
			t.Fatal("no token after Retry-After")
		}
		reports += len(f.Fail("addr:a"))
		if !f.Blocked("addr:a") {
			t.Fatal("not locked again after spending the refilled token")
		}
	}
	if reports < 2 || reports > 4 {
		t.Fatalf("%d lock-out reports over 20 s of guessing at a 6 s refill, want 2-4", reports)
	}
}
