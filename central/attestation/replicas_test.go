package attestation

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/central/store/pgstore"
	"github.com/edgetrust/edgetrust/central/store/storetest"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// replicas makes two verifiers (two replicas) on one store: badger (one
// process, so one Store) or PostgreSQL (two pools on one schema). The
// harness is replica 0's.
func replicas(t testing.TB, kind string) (*harness, *Verifier) {
	t.Helper()
	var a, b store.Store
	switch kind {
	case "badger":
		s, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		a, b = s, s
	case "postgres":
		dsn := storetest.PostgresDSN(t)
		for _, p := range []*store.Store{&a, &b} {
			s, err := pgstore.Open(ctx, dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			*p = s
		}
	}
	tt, _ := t.(*testing.T)
	h := &harness{t: tt, st: a, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, admin: &core.Admin{TokenID: "tok1", Name: "test"}}
	h.v = New(Config{Store: a, Now: h.clock.Now, Interval: interval, Replica: "A"})
	vb := New(Config{Store: b, Now: h.clock.Now, Interval: interval, Replica: "B"})
	if err := a.Update(ctx, func(tx store.Tx) error {
		return tx.PutVendor(ctx, &store.Vendor{ID: "ACME", Name: "Acme", Status: trustfeed.Active, Created: h.clock.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	return h, vb
}

var storeKinds = []string{"badger", "postgres"}

// TestReplicasShareOutcomes: a challenge minted on one replica is the one
// the other hands out (no second challenge for one node); evidence posted to
// the other replica answers it; both report the same attested state and
// time, then the same failure.
func TestReplicasShareOutcomes(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			h, vb := replicas(t, kind)
			n := h.enrol("SN1")
			n.flash(t, "1.2.0")
			ch1, err := h.v.Challenge(ctx, n.id)
			if err != nil {
				t.Fatal(err)
			}
			ch2, err := vb.Challenge(ctx, n.id)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ch1.CredentialBlob, ch2.CredentialBlob) || !bytes.Equal(ch1.EncryptedSecret, ch2.EncryptedSecret) {
				t.Fatal("the second replica minted another challenge for a node with one outstanding")
			}
			ev, err := n.prov.Prove(ctx, ch2)
			if err != nil {
				t.Fatal(err)
			}
			h.clock.Add(time.Second)
			vd, err := vb.Submit(ctx, ev)
			if err != nil || vd.Status != attest.Attested {
				t.Fatalf("evidence to replica B for A's challenge: %+v, %v", vd, err)
			}
			sa, err := h.v.Status(ctx, n.id)
			if err != nil {
				t.Fatal(err)
			}
			sb, _ := vb.Status(ctx, n.id)
			if sa.State != attest.Attested || !sa.LastAttested.Equal(vd.Time) || !sb.LastAttested.Equal(sa.LastAttested) || sa.Challenged {
				t.Fatalf("replica A sees %+v, B %+v; want attested at %s on both", sa, sb, vd.Time)
			}
			// The same quote replayed to replica A: the nonce was used on B.
			h.v.Round(ctx)
			h.wantFailed(h.submit(ev), n, attest.ReasonReplayedNonce)
			if sb, _ := vb.Status(ctx, n.id); sb.State != attest.Failed || sb.Reason != attest.ReasonReplayedNonce {
				t.Fatalf("replica B after A's verdict: %+v", sb)
			}
			// Staleness is computed from the shared time on either replica.
			h.clock.Add(DefaultStaleAfter*interval + time.Second)
			if sb, _ := vb.Status(ctx, n.id); sb.State != attest.Failed {
				t.Fatalf("a failed node reads %s, want it to stay failed", sb.State)
			}
		})
	}
}

// TestRoundsNotDoubled: replicas ticking at the same moment run one round
// between them; ticking again within the interval runs none; after an
// interval one of them runs the next. A dead holder does not stop rounds:
// the other claims the next.
func TestRoundsNotDoubled(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			h, vb := replicas(t, kind)
			var mu sync.Mutex
			ran := map[string]int{}
			tick := func() int {
				t.Helper()
				var wg sync.WaitGroup
				total := 0
				for i, v := range []*Verifier{h.v, vb, h.v, vb} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						ok, err := v.Tick(ctx)
						if err != nil {
							t.Error(err)
						}
						if ok {
							mu.Lock()
							ran[[]string{"A", "B"}[i%2]]++
							total++
							mu.Unlock()
						}
					}()
				}
				wg.Wait()
				return total
			}
			if got := tick(); got != 1 {
				t.Fatalf("4 simultaneous ticks on 2 replicas ran %d rounds, want 1", got)
			}
			h.clock.Add(interval / 2)
			if got := tick(); got != 0 {
				t.Fatalf("ticks half an interval later ran %d rounds, want 0", got)
			}
			h.clock.Add(interval / 2)
			if got := tick(); got != 1 {
				t.Fatalf("ticks an interval later ran %d rounds, want 1", got)
			}
			r, err := vb.st.AttestRound(ctx)
			if err != nil || r.Rounds != 2 {
				t.Fatalf("round record %+v (%v), want 2 rounds", r, err)
			}
			// Replica A stops ticking (dead); B alone runs the next.
			h.clock.Add(interval)
			if ok, err := vb.Tick(ctx); err != nil || !ok {
				t.Fatalf("B alone, an interval on: ran=%v err=%v", ok, err)
			}
			t.Logf("rounds run: %v", ran)
		})
	}
}
