package replicasint

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/central/httpapi"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// addDevices enrols n devices straight into the store (enrolment itself
// is tested elsewhere; here they are what gets revoked).
func (cl *cluster) addDevices(n int) []string {
	cl.t.Helper()
	if _, err := cl.c.AddVendor(ctx, cl.admin, "ACME", "Acme Biometrics"); err != nil {
		cl.t.Fatal(err)
	}
	serials := make([]string, n)
	var ds []*store.Device
	for i := range serials {
		serials[i] = fmt.Sprintf("ACME-%06d", i)
		ds = append(ds, &store.Device{Serial: serials[i], VendorID: "ACME", Type: "Finger", SubType: "Single", Status: trustfeed.Active})
	}
	if err := cl.st.Update(ctx, func(tx store.Tx) error { return tx.PutDevices(ctx, ds...) }); err != nil {
		cl.t.Fatal(err)
	}
	return serials
}

func (cl *cluster) addRP(hc *http.Client, base, id string) (int, error) {
	code, _, err := cl.adminPost(hc, base, "/v1/admin/relying-parties", map[string]any{"id": id, "name": id, "authTypes": []string{"demo"}})
	return code, err
}

// TestWakeAcrossReplicas: a long poll parked on replica A answers as soon
// as replica B commits an entry (PostgreSQL LISTEN/NOTIFY), with the
// freshness headers.
func TestWakeAcrossReplicas(t *testing.T) {
	cl := newCluster(t)
	a, b := cl.start("a"), cl.start("b")
	hc := &http.Client{Timeout: time.Minute}
	_, st := cl.syncAll(a.url)
	type res struct {
		b   *feed.Batch
		h   http.Header
		err error
		at  time.Time
	}
	got := make(chan res, 1)
	go func() {
		bt, h, err := getBatch(hc, a.url, st.Head.Size, 30*time.Second)
		got <- res{bt, h, err, time.Now()}
	}()
	time.Sleep(500 * time.Millisecond) // parked
	t0 := time.Now()
	if code, err := cl.addRP(hc, b.url, "RP-WAKE"); err != nil || code != http.StatusOK {
		t.Fatalf("adding a relying party through B: %d %v", code, err)
	}
	select {
	case r := <-got:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if _, _, err := cl.follower().Apply(st, r.b); err != nil || len(r.b.Entries) != 1 {
			t.Fatalf("woken batch: %d entries, %v", len(r.b.Entries), err)
		}
		e, _ := feed.DecodeEntry(r.b.Entries[0])
		if e.Kind != trustfeed.KindRP {
			t.Fatalf("woken by %s, want the relying party", e.Kind)
		}
		if r.h.Get(httpapi.HeaderFeedSize) != fmt.Sprint(st.Head.Size+1) || r.h.Get(httpapi.HeaderFeedSource) != store.SourcePrimary ||
			r.h.Get(httpapi.HeaderFeedLag) != "0.000" {
			t.Errorf("freshness headers: %v", r.h)
		}
		t.Logf("long poll on A answered %v after the write through B", r.at.Sub(t0))
	case <-time.After(5 * time.Second):
		t.Fatal("the long poll on A was not woken by a write through B (feedPoll is 2s)")
	}
}

// TestOneSequenceAcrossReplicas: revocations and relying-party additions
// sent concurrently through three replicas, one of them killed with
// SIGKILL mid-burst and restarted: one feed, gap-free and fork-free (every
// batch from every replica verifies against the same roots), every
// acknowledged change in it exactly once, unacknowledged ones at most
// once, and the audit chain intact.
func TestOneSequenceAcrossReplicas(t *testing.T) {
	cl := newCluster(t)
	const n = 240
	serials := cl.addDevices(n)
	rs := []*replica{cl.start("r0"), cl.start("r1"), cl.start("r2")}
	var mu sync.Mutex
	urlOf := func(i int) string { mu.Lock(); defer mu.Unlock(); return rs[i%3].url }
	hc := &http.Client{Timeout: time.Minute}
	type outcome struct{ acked, failed bool }
	revoked := make([]outcome, n)
	rps := make([]outcome, n/10)
	var done atomic.Int32
	var failed [3]atomic.Int32
	const writers = 12
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				// A request that fails (its replica died) is sent again
				// through the next replica, as an operator's tooling
				// would; 409 means an earlier attempt did commit.
				send := func(r int, path string, body any) outcome {
					o := outcome{}
					for attempt := 0; attempt < 6; attempt++ {
						code, _, err := cl.adminPost(hc, urlOf(r), path, body)
						if err == nil && (code == http.StatusOK || (attempt > 0 && code == http.StatusConflict)) {
							o.acked = true
							return o
						}
						o.failed = true
						failed[r%3].Add(1)
						r++
						time.Sleep(20 * time.Millisecond)
					}
					return o
				}
				r := w + i
				revoked[i] = send(r, "/v1/admin/devices/status",
					map[string]any{"serials": []string{serials[i]}, "status": trustfeed.Revoked, "reason": "test"})
				if i%10 == 0 {
					id := fmt.Sprintf("RP-%d", i/10)
					rps[i/10] = send(r+1, "/v1/admin/relying-parties", map[string]any{"id": id, "name": id, "authTypes": []string{"demo"}})
				}
				done.Add(1)
			}
		}()
	}
	// Mid-burst: replica r2 dies (SIGKILL) with requests in flight, and
	// comes back.
	for done.Load() < n/2 {
		time.Sleep(time.Millisecond)
	}
	rs[2].kill()
	killedAt := done.Load()
	time.Sleep(300 * time.Millisecond)
	r2 := cl.start("r2")
	mu.Lock()
	rs[2] = r2
	mu.Unlock()
	wg.Wait()
	t.Logf("r2 killed after %d of %d revocations; failed attempts per replica: %d %d %d", killedAt, n,
		failed[0].Load(), failed[1].Load(), failed[2].Load())

	// Every replica serves the same feed: same size, same root.
	var root []byte
	var entries []feed.Entry
	for i := range 3 {
		es, st := cl.syncAll(urlOf(i))
		if root == nil {
			root, _ = st.Head.Root()
			entries = es
			continue
		}
		if r, _ := st.Head.Root(); string(r) != string(root) || len(es) != len(entries) {
			t.Fatalf("replica %d serves %d entries with another root: a fork", i, len(es))
		}
	}
	// Exactly once.
	devs, rpSeen := map[string]int{}, map[string]int{}
	for _, e := range entries {
		switch e.Kind {
		case trustfeed.KindDevice:
			var d trustfeed.Device
			json.Unmarshal(e.Data, &d)
			if d.Status == trustfeed.Revoked {
				devs[d.Serial]++
			}
		case trustfeed.KindRP:
			var r trustfeed.RelyingParty
			json.Unmarshal(e.Data, &r)
			rpSeen[r.ID]++
		}
	}
	acked := 0
	for i, o := range revoked {
		c := devs[serials[i]]
		if (o.acked && c != 1) || c > 1 {
			t.Errorf("revocation of %s (acknowledged %v) is in the feed %d times", serials[i], o.acked, c)
		}
		if o.acked {
			acked++
		}
	}
	for i, o := range rps {
		c := rpSeen[fmt.Sprintf("RP-%d", i)]
		if (o.acked && c != 1) || c > 1 {
			t.Errorf("relying party RP-%d (acknowledged %v) is in the feed %d times", i, o.acked, c)
		}
	}
	if acked != n {
		t.Errorf("%d of %d revocations acknowledged after retries through other replicas", acked, n)
	}
	for i, o := range rps {
		if !o.acked {
			t.Errorf("relying party RP-%d never acknowledged", i)
		}
	}
	if _, err := cl.c.VerifyAudit(ctx); err != nil {
		t.Errorf("audit chain after the kill: %v", err)
	}
	t.Logf("%d entries, %d of %d revocations acknowledged", len(entries), acked, n)
}

// memSink is an appliance's feed store in memory.
type memSink struct {
	mu      sync.Mutex
	st      feed.State
	entries []feed.Entry
}

func (m *memSink) State() (feed.State, error) { m.mu.Lock(); defer m.mu.Unlock(); return m.st, nil }
func (m *memSink) Apply(es []feed.Entry, next feed.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st.Head.Size+uint64(len(es)) != next.Head.Size {
		return fmt.Errorf("does not continue")
	}
	m.st, m.entries = next, append(m.entries, es...)
	return nil
}

func (m *memSink) size() uint64 { m.mu.Lock(); defer m.mu.Unlock(); return m.st.Head.Size }

// TestFollowerFailsOver: an appliance follows replica r0, which is killed
// mid-follow (its long poll open); the follower resumes from its
// checkpoint on another replica and misses nothing.
func TestFollowerFailsOver(t *testing.T) {
	cl := newCluster(t)
	rs := []*replica{cl.start("r0"), cl.start("r1"), cl.start("r2")}
	sink := &memSink{}
	f, err := follow.New(follow.Config{Central: rs[0].url, Replicas: []string{rs[1].url, rs[2].url}, Feed: trustfeed.Name,
		Keys: cl.follower().Keys, Wait: 10 * time.Second, MinBackoff: 400 * time.Millisecond, MinInterval: 10 * time.Millisecond}, sink)
	if err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() { f.Run(fctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	hc := &http.Client{Timeout: time.Minute}
	waitFor := func(n uint64) time.Duration {
		t.Helper()
		t0 := time.Now()
		for sink.size() < n {
			if time.Since(t0) > 20*time.Second {
				t.Fatalf("follower at %d, want %d: %+v", sink.size(), n, f.Status())
			}
			time.Sleep(5 * time.Millisecond)
		}
		return time.Since(t0)
	}
	for i := range 5 {
		if code, err := cl.addRP(hc, rs[1].url, fmt.Sprintf("RP-A%d", i)); err != nil || code != 200 {
			t.Fatal(code, err)
		}
	}
	waitFor(5)
	if f.Status().Central != rs[0].url {
		t.Fatalf("following %s, want r0", f.Status().Central)
	}
	time.Sleep(300 * time.Millisecond) // the follower is parked in a long poll on r0
	rs[0].kill()
	for i := range 5 {
		if code, err := cl.addRP(hc, rs[2].url, fmt.Sprintf("RP-B%d", i)); err != nil || code != 200 {
			t.Fatal(code, err)
		}
	}
	d := waitFor(10)
	t.Logf("after r0 was killed the follower had the next entries in %v, from %s", d, f.Status().Central)
	if f.Status().Central == rs[0].url {
		t.Error("still following the dead replica")
	}
	if d > 5*time.Second {
		t.Errorf("failover took %v", d)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, e := range sink.entries {
		if e.Seq != uint64(i)+1 {
			t.Fatalf("entry %d has seq %d", i+1, e.Seq)
		}
	}
}

// TestReadsFromStandby: a replica with a read DSN serves feed reads from
// it and says so in its answers. The read DSN is a real streaming replica
// when EDGETRUST_PG_STANDBY_DSN is set (scripts/start-pg-standby.sh), else a
// second connection to the primary.
func TestReadsFromStandby(t *testing.T) {
	cl := newCluster(t)
	real := cl.standbyDSN()
	if cl.readDSN = real; real == "" {
		cl.readDSN = cl.dsn
	}
	r := cl.start("reader")
	hc := &http.Client{Timeout: time.Minute}
	if code, err := cl.addRP(hc, r.url, "RP-1"); err != nil || code != 200 {
		t.Fatal(code, err)
	}
	var served []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, h, err := getBatch(hc, r.url, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Whichever answered, the batch is the whole feed, verified.
		if _, _, err := cl.follower().Apply(feed.State{}, b); err != nil || len(b.Entries) != 1 {
			t.Fatalf("%d entries, %v", len(b.Entries), err)
		}
		lag, err := strconv.ParseFloat(h.Get(httpapi.HeaderFeedLag), 64)
		if err != nil || lag > 5 || h.Get(httpapi.HeaderFeedSize) != "1" || h.Get(httpapi.HeaderFeedHead) != "1" {
			t.Fatalf("headers %v", h)
		}
		served = append(served, h.Get(httpapi.HeaderFeedSource))
		if h.Get(httpapi.HeaderFeedSource) == store.SourceStandby {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never served by the standby: %v", served)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("real standby: %v; sources until the standby had replayed the entry: %v", real != "", served)
}
