package people

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

// seedPeople stores n people of group (UINs from base) with one active
// perpetual VID each, without publishing, and returns the VIDs.
func seedPeople(t *testing.T, h *harness, group string, base, n int) map[string]bool {
	t.Helper()
	d := &personData{Demographics: map[string]string{"fullName": "Asha Rao"}, TokenSeed: bytes.Repeat([]byte{4}, recordfeed.TokenSeedLen),
		Biometrics: []recordfeed.Biometric{{Type: sbi.TypeFinger, SubType: "Left IndexFinger", Format: recordfeed.TemplateMCC, Data: bytes.Repeat([]byte{5}, 300)}}}
	sealed, err := h.svc.sealPerson(d)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	vids := map[string]bool{}
	err = h.st.Update(ctx, func(tx store.Tx) error {
		for i := range n {
			uin := fmt.Sprint(base + i)
			if err := tx.PutPerson(ctx, &store.Person{UIN: uin, Group: group, Status: PersonActive, Sealed: sealed, Created: now, Updated: now}); err != nil {
				return err
			}
			v, _ := vid.New(vid.Perpetual, now, 0)
			if err := tx.PutVID(ctx, &store.VID{Number: v.Number, UIN: uin, Kind: "perpetual", IssuedAt: now, Status: VIDActive, Updated: now}); err != nil {
				return err
			}
			vids[v.Number] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return vids
}

// A group larger than one step is backfilled in several transactions, each
// record exactly once; a group change deletes the old group's VIDs first.
func TestBackfillInSteps(t *testing.T) {
	h := newHarnessWith(t, Config{BackfillBytes: 16 << 10})
	north := seedPeople(t, h, "north", 3_000_000_000, 300)
	south := seedPeople(t, h, "south", 4_000_000_000, 120)
	a := enrolTestAppliance(t, h, "EDGE-1")
	if _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-1", "north"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RunBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	if ap := h.appliance(t, "EDGE-1"); ap.Backfill != nil {
		t.Fatalf("backfill still pending: %+v", ap.Backfill)
	}
	n := feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	if n < 10 {
		t.Fatalf("%d records-feed entries: 300 records in 16 KiB steps take more", n)
	}
	_, recs := a.ops(t, h, 0)
	got := map[string]int{}
	for _, r := range recs {
		got[r.VID]++
	}
	if len(recs) != len(north) || len(got) != len(north) {
		t.Fatalf("backfill of north: %d records of %d VIDs, want each of %d once", len(recs), len(got), len(north))
	}
	for v := range north {
		if got[v] != 1 {
			t.Fatalf("VID %s published %d times", vid.Mask(v), got[v])
		}
	}

	// Moving to south: deletions of north's VIDs, then south's records.
	if _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-1", "south"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RunBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	ops, _ := a.ops(t, h, n)
	deleted, put := map[string]bool{}, map[string]bool{}
	for _, op := range ops {
		if op.Delete != "" {
			if len(put) > 0 {
				t.Fatal("a deletion of the old group after records of the new one")
			}
			deleted[op.Delete] = true
		} else {
			r, _ := recordfeed.Unmarshal(op.Put.Record)
			put[r.VID] = true
		}
	}
	if len(deleted) != len(north) || len(put) != len(south) {
		t.Fatalf("group change: %d deletions (want %d), %d records (want %d)", len(deleted), len(north), len(put), len(south))
	}
	for v := range south {
		if !put[v] {
			t.Fatalf("VID %s of south not published", vid.Mask(v))
		}
	}
}

// A suspended appliance gets deletions but no records; reinstated, it gets
// its group's records again. A revoked one gets nothing, not even a
// pending backfill.
func TestSuspendedApplianceRecords(t *testing.T) {
	h := newHarness(t)
	a := enrolTestAppliance(t, h, "EDGE-1")
	const uin = "2837465021"
	_, number := addPerson(t, h, uin, DefaultGroup)
	if _, err := h.reg.SetApplianceStatus(ctx, h.admin, "EDGE-1", core.StatusChange{Status: trustfeed.Suspended, Reason: "audit"}); err != nil {
		t.Fatal(err)
	}
	size := feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	tv, err := h.svc.IssueVID(ctx, h.admin, uin, "temporary", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if feedSize(t, h, recordfeed.FeedName("EDGE-1")) != size {
		t.Fatal("a suspended appliance received a record")
	}
	if _, err := h.svc.RevokeVID(ctx, h.admin, number, "lost card"); err != nil {
		t.Fatal(err)
	}
	if ops, _ := a.ops(t, h, size); len(ops) != 1 || ops[0].Delete != number {
		t.Fatalf("a suspended appliance must get the deletion: %+v", ops)
	}
	size = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	if _, err := h.reg.SetApplianceStatus(ctx, h.admin, "EDGE-1", core.StatusChange{Status: trustfeed.Active}); err != nil {
		t.Fatal(err)
	}
	if _, recs := a.ops(t, h, size); len(recs) != 1 || recs[0].VID != tv.Number {
		t.Fatalf("reinstated: want the one active VID's record, got %+v", recs)
	}
	if _, err := h.reg.SetApplianceStatus(ctx, h.admin, "EDGE-1", core.StatusChange{Status: trustfeed.Revoked, Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	size = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	if _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-1", "north"); err != nil {
		t.Fatal(err)
	}
	h.svc.RevokeVID(ctx, h.admin, tv.Number, "done")
	if n, _ := h.svc.RunBackfills(ctx); n != 0 || feedSize(t, h, recordfeed.FeedName("EDGE-1")) != size || h.appliance(t, "EDGE-1").Backfill != nil {
		t.Fatal("a revoked appliance received records-feed entries or keeps a backfill")
	}
}

// crashStore is central's store until it has committed left transactions;
// after that every transaction fails, as if the replica had died.
type crashStore struct {
	store.Store
	left int
}

var errCrashed = errors.New("replica crashed")

func (c *crashStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	if c.left <= 0 {
		return errCrashed
	}
	c.left--
	return c.Store.Update(ctx, fn)
}

// TestBackfillResumesAfterACrash: the replica running a backfill dies after
// a few steps; a new replica (another Service on the same store) resumes
// from the progress stored with the appliance. The appliance, which had
// applied the feed up to the crash, reads on from where it was: nothing
// published before the crash is published again, every VID of the group
// arrives exactly once, and the end state is the group's records at
// central. Each step stays within its byte bound.
func TestBackfillResumesAfterACrash(t *testing.T) {
	const stepBytes = 16 << 10
	h := newHarnessWith(t, Config{BackfillBytes: stepBytes})
	north := seedPeople(t, h, "north", 5_000_000_000, 400)
	a := enrolTestAppliance(t, h, "EDGE-1")
	if _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-1", "north"); err != nil {
		t.Fatal(err)
	}
	first, err := New(Config{Store: &crashStore{Store: h.st, left: 3}, Keys: h.keys, Now: h.clock.Now, BackfillBytes: stepBytes})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := first.RunBackfills(ctx); !errors.Is(err, errCrashed) || n != 3 {
		t.Fatalf("first replica ran %d steps, %v; want 3 then the crash", n, err)
	}
	ap := h.appliance(t, "EDGE-1")
	if ap.Backfill == nil || ap.Backfill.After == "" {
		t.Fatalf("no progress stored at the crash: %+v", ap.Backfill)
	}
	// The appliance applied everything published before the crash.
	seen := feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	_, before := a.ops(t, h, 0)
	if len(before) == 0 || len(before) >= len(north) {
		t.Fatalf("%d records before the crash: want part of the group's %d", len(before), len(north))
	}

	second, err := New(Config{Store: h.st, Keys: h.keys, Now: h.clock.Now, BackfillBytes: stepBytes})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := second.RunBackfills(ctx); err != nil {
		t.Fatal(err)
	}
	if ap := h.appliance(t, "EDGE-1"); ap.Backfill != nil {
		t.Fatalf("backfill still pending after the restart: %+v", ap.Backfill)
	}
	_, after := a.ops(t, h, seen)
	got := map[string]int{}
	for _, r := range append(before, after...) {
		got[r.VID]++
	}
	for _, r := range after {
		if got[r.VID] > 1 {
			t.Fatalf("VID %s re-sent after the restart", vid.Mask(r.VID))
		}
	}
	if len(got) != len(north) {
		t.Fatalf("appliance holds %d VIDs, the group %d", len(got), len(north))
	}
	for v := range north {
		if got[v] != 1 {
			t.Fatalf("VID %s arrived %d times", vid.Mask(v), got[v])
		}
	}
	// Bounded work per step: no records-feed entry much over the bound
	// (a step stops at the first record past it).
	b, err := h.feeds.Batch(ctx, recordfeed.FeedName("EDGE-1"), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range b.Entries {
		if len(raw) > 4*stepBytes {
			t.Errorf("records-feed entry %d is %d bytes for a %d-byte step", i+1, len(raw), stepBytes)
		}
	}
}
