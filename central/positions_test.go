package central

import (
	"testing"
	"time"
)

// TestFeedPositionsShared: two central replicas on one store. What one
// replica's appliances report is shown by the other once flushed (and by
// a restarted replica); a replica's newer unflushed position wins over
// the stored one; closing flushes.
func TestFeedPositionsShared(t *testing.T) {
	h := newHarness(t)
	b, err := New(Config{Store: h.st, Keys: h.c.keys, Now: h.clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	now := h.clock.Now()
	h.c.pos.note("ap-1", 5, now)
	h.c.pos.note("ap-2", 3, now)
	if got := b.FeedPositions(); len(got) != 0 {
		t.Fatalf("replica b sees %v before a's flush", got)
	}
	if got := h.c.FeedPositions(); got["ap-1"].After != 5 {
		t.Fatalf("replica a does not see its own position: %v", got)
	}
	if err := h.c.pos.flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := b.FeedPositions()
	if len(got) != 2 || got["ap-1"].After != 5 || !got["ap-1"].Seen.Equal(now) || got["ap-2"].After != 3 {
		t.Fatalf("replica b after a's flush: %v", got)
	}
	// ap-1 now polls b: b's newer position shows at once there, and at a
	// after b flushes; a's older one, flushed again, does not replace it.
	b.pos.note("ap-1", 9, now.Add(time.Second))
	if got := b.FeedPositions(); got["ap-1"].After != 9 {
		t.Fatalf("b's own newer position: %v", got)
	}
	if got := h.c.FeedPositions(); got["ap-1"].After != 5 {
		t.Fatalf("a before b's flush: %v", got)
	}
	h.c.pos.note("ap-2", 4, now.Add(2*time.Second))
	b.Close() // flushes ap-1 at 9
	h.c.pos.mu.Lock()
	h.c.pos.dirty["ap-1"] = true // as if ap-1 had polled a again with its old position
	h.c.pos.mu.Unlock()
	if err := h.c.pos.flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A fresh replica (a restart) sees what the store holds.
	c, err := New(Config{Store: h.st, Keys: h.c.keys, Now: h.clock.Now, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got = c.FeedPositions()
	if got["ap-1"].After != 9 || got["ap-2"].After != 4 {
		t.Fatalf("a restarted replica: %v", got)
	}
}
