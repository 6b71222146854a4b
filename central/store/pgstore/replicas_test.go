package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/storetest"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

func openWith(t *testing.T, dsn string, o Options) *Store {
	t.Helper()
	s, err := OpenWith(context.Background(), dsn, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendOne(ctx context.Context, s *Store, id string) error {
	return s.Update(ctx, func(tx store.Tx) error {
		_, err := store.AppendFeed(ctx, tx, trustfeed.Name, storetestTime, store.NewEntry{Kind: trustfeed.KindAppliance,
			Data: trustfeed.Appliance{ID: id, Status: trustfeed.Active}})
		return err
	})
}

// checkFeed follows the whole trust feed and returns the appliance IDs in
// order: every checkpoint root verifies, no seq is missing or repeated.
func checkFeed(t *testing.T, s store.Store) []string {
	t.Helper()
	recs, size, err := s.ReadFeed(ctx, trustfeed.Name, 0, feed.MaxBatchEntries)
	if err != nil {
		t.Fatal(err)
	}
	if uint64(len(recs)) != size {
		t.Fatalf("read %d entries of %d", len(recs), size)
	}
	var head feed.Head
	var ids []string
	for i, r := range recs {
		if r.Seq != uint64(i)+1 {
			t.Fatalf("entry %d has seq %d: a gap or a fork", i+1, r.Seq)
		}
		var roots [][]byte
		if head, roots, err = head.Append(feed.LeafHash(r.Body)); err != nil {
			t.Fatal(err)
		}
		if string(roots[0]) != string(r.Root) {
			t.Fatalf("entry %d: stored root is not the root of the entries before it", r.Seq)
		}
		e, err := feed.DecodeEntry(r.Body)
		if err != nil {
			t.Fatal(err)
		}
		if e.Seq != r.Seq {
			t.Fatalf("entry %d encodes seq %d", r.Seq, e.Seq)
		}
		ids = append(ids, strings.Split(strings.Split(string(e.Data), `"id":"`)[1], `"`)[0])
	}
	return ids
}

// TestWriterKilledMidAppend: a replica dies holding the write lock with an
// entry appended but not committed; PostgreSQL ends its session and another
// replica appends the next entry with no gap.
func TestWriterKilledMidAppend(t *testing.T) {
	dsn := testDSN(t)
	a := openWith(t, dsn, Options{Name: "replica-a"})
	b := openWith(t, dsn, Options{Name: "replica-b"})
	if err := appendOne(ctx, a, "first"); err != nil {
		t.Fatal(err)
	}
	holding, release := make(chan int32), make(chan struct{})
	aErr := make(chan error, 1)
	var attempts int
	go func() {
		aErr <- a.Update(ctx, func(stx store.Tx) error {
			if attempts++; attempts > 1 {
				return errNoRetry
			}
			if _, err := store.AppendFeed(ctx, stx, trustfeed.Name, storetestTime, store.NewEntry{Kind: trustfeed.KindAppliance,
				Data: trustfeed.Appliance{ID: "lost", Status: trustfeed.Active}}); err != nil {
				return err
			}
			var pid int32
			if err := stx.(*tx).tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&pid); err != nil {
				return err
			}
			holding <- pid
			<-release
			return nil
		})
	}()
	pid := <-holding
	bDone := make(chan error, 1)
	go func() { bDone <- appendOne(ctx, b, "second") }()
	select {
	case err := <-bDone:
		t.Fatalf("replica B wrote while A held the write lock: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	// The replica's process dies: to PostgreSQL, its connection ends.
	var killed bool
	if err := b.pool.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminating A's backend: %v %v", killed, err)
	}
	select {
	case err := <-bDone:
		if err != nil {
			t.Fatalf("replica B after A died: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("replica B still waits for the lock of a dead replica")
	}
	close(release)
	if err := <-aErr; err == nil {
		t.Error("the dead replica's transaction committed")
	}
	if ids := checkFeed(t, b); fmt.Sprint(ids) != "[first second]" {
		t.Errorf("feed = %v, want [first second]", ids)
	}
}

// TestWriteLease: a replica that hangs inside a write transaction (stops
// talking to PostgreSQL without dying) holds the lock at most WriteLease.
func TestWriteLease(t *testing.T) {
	dsn := testDSN(t)
	const lease = time.Second
	a := openWith(t, dsn, Options{Name: "replica-a", WriteLease: lease})
	b := openWith(t, dsn, Options{Name: "replica-b", WriteLease: lease})
	holding, release := make(chan struct{}), make(chan struct{})
	aErr := make(chan error, 1)
	var attempts int
	go func() {
		aErr <- a.Update(ctx, func(tx store.Tx) error {
			if attempts++; attempts > 1 {
				return errNoRetry
			}
			if _, err := store.AppendFeed(ctx, tx, trustfeed.Name, storetestTime, store.NewEntry{Kind: trustfeed.KindAppliance,
				Data: trustfeed.Appliance{ID: "hung", Status: trustfeed.Active}}); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	t0 := time.Now()
	if err := appendOne(ctx, b, "after-lease"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d < lease/2 || d > lease+5*time.Second {
		t.Errorf("B waited %v for a hung writer's lock, want about the lease (%v)", d, lease)
	}
	close(release)
	if err := <-aErr; err == nil {
		t.Error("the hung replica's transaction committed after its lease ended")
	}
	// A's pool replaces the ended session: it writes again.
	if err := appendOne(ctx, a, "a-again"); err != nil {
		t.Fatalf("replica A after its lease ended: %v", err)
	}
	if ids := checkFeed(t, a); fmt.Sprint(ids) != "[after-lease a-again]" {
		t.Errorf("feed = %v, want [after-lease a-again]", ids)
	}
}

// TestManyWritersOneSequence: three replicas, many concurrent appends: one
// gap-free sequence, each entry exactly once, and each replica hears of
// every append (its Changed fires).
func TestManyWritersOneSequence(t *testing.T) {
	dsn := testDSN(t)
	rs := []*Store{openWith(t, dsn, Options{Name: "r0"}), openWith(t, dsn, Options{Name: "r1"}), openWith(t, dsn, Options{Name: "r2"})}
	const writers, each = 9, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := appendOne(ctx, rs[w%3], fmt.Sprintf("w%d-%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, r := range rs {
		ids := checkFeed(t, r)
		seen := map[string]bool{}
		for _, id := range ids {
			if seen[id] {
				t.Fatalf("replica %d: %s appears twice", i, id)
			}
			seen[id] = true
		}
		if len(seen) != writers*each {
			t.Fatalf("replica %d: %d entries, want %d", i, len(seen), writers*each)
		}
		// Every replica learnt the final size from the notifications.
		deadline := time.Now().Add(5 * time.Second)
		for {
			if head, _, _ := r.heads.behind(trustfeed.Name, 0); head == writers*each {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d never heard of the last append", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// lagging makes a schema holding a copy of dsn's feed tables and returns a
// DSN for it and a function copying the primary's first n entries into it:
// a streaming replica whose replay we control.
func lagging(t *testing.T, dsn string) (string, func(n int)) {
	t.Helper()
	standby := storetest.PostgresDSN(t)
	s := openWith(t, standby, Options{}) // creates the tables
	s.Close()
	conn, err := pgx.Connect(ctx, standby)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	u, _ := url.Parse(dsn)
	primary := u.Query().Get("search_path")
	return standby, func(n int) {
		t.Helper()
		for _, q := range []string{
			fmt.Sprintf("INSERT INTO feed_entries SELECT * FROM %s.feed_entries p WHERE p.seq <= %d ON CONFLICT DO NOTHING", primary, n),
			fmt.Sprintf(`INSERT INTO feed_heads SELECT p.feed, %d, '{}' FROM %s.feed_heads p ON CONFLICT (feed) DO UPDATE SET size = EXCLUDED.size`, n, primary),
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
	}
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

// TestStandbyReads: feed reads go to the read DSN while it is up to date or
// brings entries no later than MaxLag; past that, or when it fails, to the
// primary; and FeedView says which, with the head and the lag.
//
// The "standby" is a second schema whose replay the test controls (copying
// the primary's rows), so lag can be made exactly; with
// EDGETRUST_PG_STANDBY_DSN (scripts/start-pg-standby.sh) TestRealStandby
// runs the same reads on a real streaming replica.
func TestStandbyReads(t *testing.T) {
	dsn := testDSN(t)
	standby, replay := lagging(t, dsn)
	clk := &testClock{t: time.Now()}
	s := openWith(t, dsn, Options{Name: "reader", ReadDSN: standby, MaxLag: 5 * time.Second, Now: clk.Now})
	for i := range 5 {
		if err := appendOne(ctx, s, fmt.Sprintf("e%d", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	waitHead(t, s, 5)
	replay(5)
	recs, size, v, err := s.ReadFeedView(ctx, trustfeed.Name, 0, 100)
	if err != nil || len(recs) != 5 || size != 5 || v != (store.FeedView{Source: store.SourceStandby, Head: 5}) {
		t.Fatalf("up-to-date standby: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	for i := range 3 {
		if err := appendOne(ctx, s, fmt.Sprintf("e%d", 6+i)); err != nil {
			t.Fatal(err)
		}
	}
	waitHead(t, s, 8)
	clk.Add(time.Second)
	// Behind by 3 entries for 1 s, but it brings 5: served, lag visible.
	recs, size, v, err = s.ReadFeedView(ctx, trustfeed.Name, 0, 100)
	if err != nil || len(recs) != 5 || size != 5 || v.Source != store.SourceStandby || v.Head != 8 || v.Lag != time.Second {
		t.Fatalf("lagging standby: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	// It has nothing after 5: the primary answers, not an empty batch.
	recs, size, v, err = s.ReadFeedView(ctx, trustfeed.Name, 5, 100)
	if err != nil || len(recs) != 3 || size != 8 || v != (store.FeedView{Source: store.SourcePrimary, Head: 8}) {
		t.Fatalf("standby without the wanted entries: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	// A follower ahead of the standby (served by the primary before): the
	// primary answers, never "beyond the end".
	recs, size, v, err = s.ReadFeedView(ctx, trustfeed.Name, 7, 100)
	if err != nil || len(recs) != 1 || size != 8 || v.Source != store.SourcePrimary {
		t.Fatalf("follower ahead of the standby: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	// Past MaxLag the standby is not used even when it has entries.
	clk.Add(5 * time.Second)
	recs, size, v, err = s.ReadFeedView(ctx, trustfeed.Name, 0, 100)
	if err != nil || len(recs) != 8 || size != 8 || v.Source != store.SourcePrimary {
		t.Fatalf("standby beyond MaxLag: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	// Caught up: back to the standby. FeedRoot too.
	replay(8)
	if _, _, v, _ = s.ReadFeedView(ctx, trustfeed.Name, 8, 100); v != (store.FeedView{Source: store.SourceStandby, Head: 8}) {
		t.Errorf("caught-up standby: %+v", v)
	}
	if root, err := s.FeedRoot(ctx, trustfeed.Name, 8); err != nil || len(root) != 32 {
		t.Errorf("FeedRoot = %x, %v", root, err)
	}
	st := s.ReadStats()
	if st.Fresh != 2 || st.Behind != 1 || st.Fallback != 3 || st.Errors != 0 {
		t.Errorf("read stats = %+v", st)
	}
}

// TestStandbyDown: a read DSN that fails sends reads to the primary.
func TestStandbyDown(t *testing.T) {
	dsn := testDSN(t)
	u, _ := url.Parse(dsn)
	u.Host = "127.0.0.1:1" // nothing listens
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	s := openWith(t, dsn, Options{ReadDSN: u.String()})
	if err := appendOne(ctx, s, "x"); err != nil {
		t.Fatal(err)
	}
	recs, size, v, err := s.ReadFeedView(ctx, trustfeed.Name, 0, 10)
	if err != nil || len(recs) != 1 || size != 1 || v.Source != store.SourcePrimary {
		t.Fatalf("standby down: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	if s.ReadStats().Errors != 1 {
		t.Errorf("read stats = %+v", s.ReadStats())
	}
}

// TestRealStandby runs on a real streaming replica when one is configured
// (EDGETRUST_PG_STANDBY_DSN, e.g. from scripts/start-pg-standby.sh): an
// append on the primary is read from the standby once replayed, and never
// later than MaxLag from either.
func TestRealStandby(t *testing.T) {
	sdsn := os.Getenv("EDGETRUST_PG_STANDBY_DSN")
	if sdsn == "" {
		t.Skip("EDGETRUST_PG_STANDBY_DSN not set: no streaming replica (scripts/start-pg-standby.sh makes one)")
	}
	dsn := testDSN(t)
	// The standby replays the primary's schemas: point it at this test's.
	u, _ := url.Parse(dsn)
	su, err := url.Parse(sdsn)
	if err != nil {
		t.Fatal(err)
	}
	q := su.Query()
	q.Set("search_path", u.Query().Get("search_path"))
	su.RawQuery = q.Encode()
	s := openWith(t, dsn, Options{ReadDSN: su.String(), MaxLag: 5 * time.Second})
	var inRecovery bool
	if err := s.read.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&inRecovery); err != nil || !inRecovery {
		t.Fatalf("EDGETRUST_PG_STANDBY_DSN is not a hot standby: %v %v", inRecovery, err)
	}
	for i := range 20 {
		if err := appendOne(ctx, s, fmt.Sprintf("e%d", i)); err != nil {
			t.Fatal(err)
		}
		recs, size, v, err := s.ReadFeedView(ctx, trustfeed.Name, uint64(i), 10)
		if err != nil || len(recs) == 0 || recs[0].Seq != uint64(i)+1 {
			t.Fatalf("after append %d: %d entries, size %d, %+v, %v", i+1, len(recs), size, v, err)
		}
		if v.Lag > 5*time.Second {
			t.Fatalf("lag %v beyond MaxLag", v.Lag)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, size, v, err := s.ReadFeedView(ctx, trustfeed.Name, 20, 10)
		if err == nil && v.Source == store.SourceStandby && size == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the standby never served the feed: %+v %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("standby reads: %+v", s.ReadStats())
}

func waitHead(t *testing.T, s *Store, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if head, _, _ := s.heads.behind(trustfeed.Name, 0); head >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("never notified of size %d", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var ctx = context.Background()

var errNoRetry = errors.New("test: no second attempt")

// TestPrimaryUnreachable: while the primary cannot be reached (PostgreSQL
// failing over) and LISTEN is down, a standby's answer is served anyway,
// its Lag the time since the replica last heard from the primary.
func TestPrimaryUnreachable(t *testing.T) {
	dsn := testDSN(t)
	standby, replay := lagging(t, dsn)
	clk := &testClock{t: time.Now()}
	s := openWith(t, dsn, Options{ReadDSN: standby, Now: clk.Now})
	for i := range 3 {
		if err := appendOne(ctx, s, fmt.Sprintf("e%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	replay(3)
	s.heads.setBlind(true, clk.Now())
	clk.Add(3 * time.Second)
	// With the primary up, a blind replica reads the primary.
	if _, _, v, err := s.ReadFeedView(ctx, trustfeed.Name, 0, 10); err != nil || v.Source != store.SourcePrimary {
		t.Fatalf("blind, primary up: %+v %v", v, err)
	}
	u, _ := url.Parse(dsn)
	u.Host = "127.0.0.1:1"
	cfg, err := pgxpoolParse(u.String())
	if err != nil {
		t.Fatal(err)
	}
	primary := s.pool
	s.pool = cfg
	defer func() { s.pool.Close(); s.pool = primary }()
	recs, size, v, err := s.ReadFeedView(ctx, trustfeed.Name, 0, 10)
	if err != nil || len(recs) != 3 || size != 3 || v.Source != store.SourceStandby || v.Lag != 3*time.Second {
		t.Fatalf("primary unreachable: %d entries, size %d, %+v, %v", len(recs), size, v, err)
	}
	if s.ReadStats().Unreachable != 1 {
		t.Errorf("stats %+v", s.ReadStats())
	}
}

// TestConnectionsLost: every session of a replica is ended (as a
// PostgreSQL restart ends them); the replica writes again and hears other
// replicas' appends again, by itself.
func TestConnectionsLost(t *testing.T) {
	dsn := testDSN(t)
	a := openWith(t, dsn, Options{Name: "lost-a"})
	b := openWith(t, dsn, Options{Name: "lost-b"})
	if err := appendOne(ctx, a, "before"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.pool.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name LIKE 'lost-a %'").Scan(&n); err != nil || n == 0 {
		t.Fatalf("terminated %d sessions: %v", n, err)
	}
	// Writes: the first may fail (the statement reached a dying session),
	// the pool then replaces its connections.
	var err error
	for i := range 3 {
		if err = appendOne(ctx, a, fmt.Sprintf("after-%d", i)); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("replica cannot write after losing its sessions: %v", err)
	}
	// Notifications: the listener reconnects and hears B's append.
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-a.Changed():
		default:
		}
		if err := appendOne(ctx, b, "from-b"); err != nil {
			t.Fatal(err)
		}
		_, size, err := b.ReadFeed(ctx, trustfeed.Name, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-a.Changed():
			// The notification itself (not a reconnection's wake-up)
			// carried B's new size.
			if head, _, _ := a.heads.behind(trustfeed.Name, 0); head == size {
				ids := checkFeed(t, a)
				if ids[0] != "before" || ids[len(ids)-1] != "from-b" {
					t.Errorf("feed %v", ids)
				}
				return
			}
		case <-time.After(500 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("replica A never heard of B's appends again")
		}
	}
}
