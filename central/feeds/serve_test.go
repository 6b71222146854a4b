package feeds

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// countingStore counts feed reads.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) ReadFeed(ctx context.Context, name string, after uint64, limit int) ([]store.FeedRecord, uint64, error) {
	c.reads.Add(1)
	return c.Store.ReadFeed(ctx, name, after, limit)
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func publish(t *testing.T, st store.Store, id string) {
	t.Helper()
	ctx := context.Background()
	if err := st.Update(ctx, func(tx store.Tx) error {
		return Publish(ctx, tx, time.Now(), store.NewEntry{Kind: trustfeed.KindAppliance, Data: trustfeed.Appliance{ID: id, Status: trustfeed.Revoked}})
	}); err != nil {
		t.Fatal(err)
	}
}

// TestFanOutReadsOnce: a thousand long polls woken by one append cost one
// feed read and one signature; every one of them gets the entry under a
// checkpoint that verifies, and a later second or a later change is read
// afresh.
func TestFanOutReadsOnce(t *testing.T) {
	bs, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	st := &countingStore{Store: bs}
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	clk := &testClock{t: time.Unix(1_800_000_000, 0)}
	s := NewServer(st, key, clk.Now)
	stop := make(chan struct{})
	defer close(stop)
	go s.Run(stop)
	publish(t, st, "A0")
	ctx := context.Background()
	if _, err := s.Batch(ctx, trustfeed.Name, 0, 0); err != nil {
		t.Fatal(err)
	}
	const waiters = 1000
	var wg sync.WaitGroup
	got := make(chan *feed.Batch, waiters)
	views := make(chan View, waiters)
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vctx, v := WithView(ctx)
			b, err := s.WaitBatch(vctx, trustfeed.Name, 1, 0, 30*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			got <- b
			views <- *v
		}()
	}
	// Every waiter is parked (their first read was served once, too).
	deadline := time.Now().Add(10 * time.Second)
	for st.reads.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	before := st.reads.Load()
	publish(t, st, "A1")
	wg.Wait()
	close(got)
	close(views)
	f := feed.Follower{Origin: trustfeed.Name, Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}}
	var st0 feed.State
	recs, _, err := bs.ReadFeed(ctx, trustfeed.Name, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	st0.Head, _, _ = st0.Head.Append(feed.LeafHash(recs[0].Body))
	n := 0
	for b := range got {
		n++
		if len(b.Entries) != 1 || b.Latest != 2 {
			t.Fatalf("a waiter got %d entries (latest %d), want the new one", len(b.Entries), b.Latest)
		}
		if _, _, err := f.Apply(st0, b); err != nil {
			t.Fatalf("a fanned-out batch does not verify: %v", err)
		}
	}
	if n != waiters {
		t.Fatalf("%d of %d waiters answered", n, waiters)
	}
	cachedViews := 0
	for v := range views {
		if v.Size != 2 || v.Source != store.SourcePrimary {
			t.Fatalf("view %+v", v)
		}
		if v.Cached {
			cachedViews++
		}
	}
	if reads := st.reads.Load() - before; reads > 3 {
		t.Errorf("%d feed reads for %d woken long polls, want about one", reads, waiters)
	}
	if cachedViews < waiters-3 {
		t.Errorf("%d of %d answers from the cache", cachedViews, waiters)
	}
	// The next second signs afresh: no follower sees a checkpoint older
	// than one it was given.
	r := st.reads.Load()
	b1, _ := s.Batch(ctx, trustfeed.Name, 2, 0)
	clk.Add(time.Second)
	b2, _ := s.Batch(ctx, trustfeed.Name, 2, 0)
	if st.reads.Load() != r+2 || b1.Checkpoint.Body == b2.Checkpoint.Body {
		t.Errorf("a batch cached across a second: reads %d→%d", r, st.reads.Load())
	}
	// A change empties the cache at once.
	b3, _ := s.Batch(ctx, trustfeed.Name, 1, 0)
	publish(t, st, "A2")
	deadline = time.Now().Add(5 * time.Second)
	for {
		b4, _ := s.Batch(ctx, trustfeed.Name, 1, 0)
		if len(b4.Entries) == 2 {
			break
		}
		if len(b3.Entries) != 1 || time.Now().After(deadline) {
			t.Fatalf("a cached batch outlived a change: %d then %d entries", len(b3.Entries), len(b4.Entries))
		}
		time.Sleep(time.Millisecond)
	}
	// Callers cannot change each other's batches.
	b5, _ := s.Batch(ctx, trustfeed.Name, 1, 0)
	b5.Entries[0] = nil
	if b6, _ := s.Batch(ctx, trustfeed.Name, 1, 0); b6.Entries[0] == nil {
		t.Error("a caller's change to its batch reached the cache")
	}
}
