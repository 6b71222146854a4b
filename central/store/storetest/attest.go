package storetest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
)

// testAttestState: a node's attestation state written through one replica
// is read through the other; concurrent read-modify-writes of one node from
// both replicas never lose an update (the per-node lock); InitAttestNodes
// never overwrites; an error from f writes nothing.
func testAttestState(t *testing.T, open func(int) store.Store) {
	a, b := open(0), open(1)
	if got, err := a.AttestNodes(ctx, []string{"device:SN1"}); err != nil || len(got) != 0 {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	want := &store.AttestNode{Status: "attested", LastGood: t0, LastCheck: t0, Since: t0.Add(-time.Hour), Firmware: []string{"1.2.0"},
		PolicyVersion: 3, HaveCounters: true, Clock: 12345, Reset: 7, Restart: 9, Used: [][]byte{bytes.Repeat([]byte{1}, 32)},
		Challenge: &store.AttestChallenge{NonceHash: bytes.Repeat([]byte{2}, 32), PCRs: []int{14, 16}, Wire: json.RawMessage(`{"x":1}`), Expires: t0.Add(time.Minute)}}
	err := a.ModifyAttest(ctx, "device:SN1", func(cur *store.AttestNode) (*store.AttestNode, error) {
		if cur != nil {
			t.Errorf("first ModifyAttest saw %+v, want nil", cur)
		}
		c := *want
		return &c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.AttestNodes(ctx, []string{"device:SN1", "device:SN2"})
	if err != nil {
		t.Fatal(err)
	}
	w := *want
	w.Node = "device:SN1"
	if len(got) != 1 || !attestEqual(got["device:SN1"], &w) {
		t.Fatalf("read through the other replica: %+v, want %+v", got["device:SN1"], &w)
	}

	boom := errors.New("boom")
	if err := b.ModifyAttest(ctx, "device:SN1", func(cur *store.AttestNode) (*store.AttestNode, error) {
		cur.Status = "failed"
		return cur, boom
	}); !errors.Is(err, boom) {
		t.Fatalf("f's error: got %v", err)
	}
	if err := b.ModifyAttest(ctx, "device:SN1", func(cur *store.AttestNode) (*store.AttestNode, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	got, _ = a.AttestNodes(ctx, []string{"device:SN1"})
	if got["device:SN1"].Status != "attested" {
		t.Fatalf("a failed or empty modification wrote %q", got["device:SN1"].Status)
	}

	if err := b.InitAttestNodes(ctx, []*store.AttestNode{{Node: "device:SN1", Status: "pending"}, {Node: "appliance:A1", Status: "pending", Since: t0}}); err != nil {
		t.Fatal(err)
	}
	got, _ = a.AttestNodes(ctx, []string{"device:SN1", "appliance:A1"})
	if got["device:SN1"].Status != "attested" || got["appliance:A1"] == nil || got["appliance:A1"].Status != "pending" {
		t.Fatalf("InitAttestNodes: %+v", got)
	}

	// Lost updates: 2 replicas × 4 goroutines × 10 increments of one node.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := 0; r < 2; r++ {
		s := open(r)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 10; i++ {
					if err := s.ModifyAttest(ctx, "appliance:A1", func(cur *store.AttestNode) (*store.AttestNode, error) {
						cur.PolicyVersion++
						return cur, nil
					}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ = b.AttestNodes(ctx, []string{"appliance:A1"})
	if got["appliance:A1"].PolicyVersion != 80 {
		t.Fatalf("80 concurrent increments across replicas left %d: updates were lost", got["appliance:A1"].PolicyVersion)
	}
}

func attestEqual(a, b *store.AttestNode) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// testAttestRounds: of replicas claiming a round at once exactly one wins;
// a claim within the gap loses, one after it wins; completions are shared.
func testAttestRounds(t *testing.T, open func(int) store.Store) {
	a, b := open(0), open(1)
	r, err := b.AttestRound(ctx)
	if err != nil || !r.Started.IsZero() || r.Rounds != 0 {
		t.Fatalf("fresh round record: %+v, %v", r, err)
	}
	gap := 54 * time.Second
	for i, now := range []time.Time{t0, t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		for k := 0; k < 6; k++ {
			s := open(k % 2)
			holder := fmt.Sprintf("replica-%d", k)
			wg.Add(1)
			go func() {
				defer wg.Done()
				won, err := s.ClaimAttestRound(ctx, holder, now, gap)
				if err != nil {
					t.Error(err)
				}
				if won {
					mu.Lock()
					winners = append(winners, holder)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d claims won (%v), want exactly 1", i, len(winners), winners)
		}
		if won, err := a.ClaimAttestRound(ctx, "late", now.Add(gap-time.Second), gap); err != nil || won {
			t.Fatalf("round %d: a claim within the gap won (%v, %v)", i, won, err)
		}
		if err := open(i%2).FinishAttestRound(ctx, now.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		r, err := open((i + 1) % 2).AttestRound(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r.Holder != winners[0] || !r.Started.Equal(now) || !r.Finished.Equal(now.Add(time.Second)) || r.Rounds != uint64(i+1) || r.Claims != uint64(i+1) {
			t.Fatalf("round %d record %+v; want holder %s started %s", i, r, winners[0], now)
		}
	}
	if won, err := a.ClaimAttestRound(ctx, "forced", t0.Add(2*time.Minute), 0); err != nil || !won {
		t.Fatalf("a claim with no gap must win: %v, %v", won, err)
	}
}
