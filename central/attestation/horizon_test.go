package attestation

import (
	"testing"
	"time"

	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// feedDevices counts the trust-feed entries for serial.
func (h *harness) feedDevices(serial string) int {
	h.t.Helper()
	recs, _, err := h.st.ReadFeed(ctx, trustfeed.Name, 0, 10000)
	if err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		e, err := feed.DecodeEntry(r.Body)
		if err != nil {
			h.t.Fatal(err)
		}
		if e.Kind == trustfeed.KindDevice {
			if v, err := trustfeed.Decode(e.Kind, e.Data); err == nil && v.(*trustfeed.Device).Serial == serial {
				n++
			}
		}
	}
	return n
}

// Issue #17 item 5: a good quote moves the device's attestedUntil horizon
// on the trust feed, but only when it moves by the policy's step: twelve
// rounds make three feed entries, not twelve. A failed quote keeps the
// horizon (the quarantine is what appliances act on), and so does the
// quarantine entry.
func TestHorizonPublishedPerStep(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", OfflineLease: 20, OfflineStep: 5}); err != nil {
		t.Fatal(err)
	}
	first := h.clock.Now()
	for i := 0; i < 12; i++ {
		if i > 0 {
			h.clock.Add(interval)
			h.next()
		}
		if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested {
			t.Fatalf("round %d: %+v", i, vd)
		}
	}
	if got := h.feedDevices("SN1"); got != 3 {
		t.Fatalf("%d trust-feed entries for 12 good rounds, want 3 (one per 5-interval step)", got)
	}
	fe := h.lastFeedDevice("SN1")
	wantAt := first.Add(10 * interval)
	if fe == nil || !fe.AttestedAt.Equal(wantAt) || !fe.AttestedUntil.Equal(wantAt.Add(20*interval)) || fe.Status != trustfeed.Active {
		t.Fatalf("newest entry %+v, want attested at %s until %s", fe, wantAt, wantAt.Add(20*interval))
	}
	if d := h.device("SN1"); !d.AttestedUntil.Equal(fe.AttestedUntil) {
		t.Fatalf("store says until %s, feed %s", d.AttestedUntil, fe.AttestedUntil)
	}

	// Re-flashed: the quarantine entry carries the same horizon, which a
	// failed quote never moves.
	h.clock.Add(10 * interval)
	h.next()
	n.flash(t, "6.6.6")
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", MinFirmware: "7.0.0", OfflineLease: 20, OfflineStep: 5}); err != nil {
		t.Fatal(err)
	}
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Failed {
		t.Fatalf("want failed, got %+v", vd)
	}
	q := h.lastFeedDevice("SN1")
	if q.Status != trustfeed.Suspended || !q.AttestedUntil.Equal(fe.AttestedUntil) {
		t.Fatalf("quarantine entry %+v, want suspended with the old horizon %s", q, fe.AttestedUntil)
	}
}

func TestHorizonPolicyChecked(t *testing.T) {
	for _, p := range []Policy{
		{Scope: "ACME", OfflineLease: 10, OfflineStep: 8},                 // step + staleAfter 3 > lease
		{Scope: "ACME", OfflineLease: MaxOfflineLease + 1},                // too long
		{Scope: "ACME", OfflineLease: -1},                                 // negative
		{Scope: "ACME", OfflineLease: 20, OfflineStep: -2},                // negative step
		{Scope: "ACME", StaleAfter: 50, OfflineLease: 40, OfflineStep: 1}, // lease inside the stale window
	} {
		if err := p.Check(); err == nil {
			t.Errorf("accepted lease %d step %d staleAfter %d", p.OfflineLease, p.OfflineStep, p.StaleAfter)
		}
	}
	p := Policy{Scope: "ACME"}
	if err := p.Check(); err != nil || p.OfflineLease != DefaultOfflineLease || p.OfflineStep != DefaultOfflineLease/4 {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	if d := DefaultPolicy("ACME"); time.Duration(d.OfflineLease)*10*time.Minute != 24*time.Hour {
		t.Fatalf("default lease %d intervals is not a day at 10 minutes", d.OfflineLease)
	}
}
