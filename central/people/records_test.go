package people

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
)

func TestRecordsFeeds(t *testing.T) {
	h := newHarness(t)
	a1 := enrolTestAppliance(t, h, "EDGE-1")
	a2 := enrolTestAppliance(t, h, "EDGE-2")
	if _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-2", "north"); err != nil {
		t.Fatal(err)
	}
	// An empty records feed is served (with a fresh checkpoint); an unknown
	// appliance's is not.
	if b, err := h.feeds.Batch(ctx, recordfeed.FeedName("EDGE-1"), 0, 0); err != nil || len(b.Entries) != 0 {
		t.Fatalf("empty records feed: %v %v", b, err)
	}
	if _, err := h.feeds.Batch(ctx, recordfeed.FeedName("EDGE-404"), 0, 0); err == nil {
		t.Fatal("a records feed of an unknown appliance is served")
	}

	const uin = "2837465019"
	seed, number := addPerson(t, h, uin, DefaultGroup)
	_, recs := a1.ops(t, h, 0)
	if len(recs) != 1 || recs[0].UIN != uin || recs[0].VID != number || !bytes.Equal(recs[0].TokenSeed, seed.TokenSeed) || recs[0].Demographics["fullName"] != "Asha Rao" {
		t.Fatalf("EDGE-1 records: %+v", recs)
	}
	if n := feedSize(t, h, recordfeed.FeedName("EDGE-2")); n != 0 {
		t.Fatalf("EDGE-2 (group north) got %d entries for a person of group default", n)
	}
	// A batch for EDGE-1 does not open with EDGE-2's key, even relabelled.
	b, _ := h.feeds.Batch(ctx, recordfeed.FeedName("EDGE-1"), 0, 0)
	e, _ := feed.DecodeEntry(b.Entries[0])
	s, _ := recordfeed.DecodeSealed(e.Data)
	if _, err := recordfeed.Open(s, "EDGE-2", a2.cert(t, h), a2.dec); !errors.Is(err, recordfeed.ErrNotForUs) {
		t.Fatalf("EDGE-1's batch with EDGE-2's key: %v", err)
	}
	s.Appliance, s.CertSHA256 = "EDGE-2", recordfeed.Thumbprint(a2.cert(t, h))
	if _, err := recordfeed.Open(s, "EDGE-2", a2.cert(t, h), a2.dec); !errors.Is(err, recordfeed.ErrOpen) {
		t.Fatalf("EDGE-1's batch relabelled for EDGE-2: %v", err)
	}
	if bytes.Contains(b.Entries[0], []byte(uin)) || bytes.Contains(b.Entries[0], []byte(number)) || bytes.Contains(b.Entries[0], []byte("Asha")) {
		t.Fatal("identity data in plaintext on the records feed")
	}

	// Moving EDGE-2 into the group backfills it.
	if _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-2", DefaultGroup); err != nil {
		t.Fatal(err)
	}
	if _, recs := a2.ops(t, h, 0); len(recs) != 1 || recs[0].VID != number {
		t.Fatalf("EDGE-2 after joining the group: %+v", recs)
	}

	// A temporary VID, a lock and a revocation each reach both appliances.
	s1, s2 := feedSize(t, h, recordfeed.FeedName("EDGE-1")), feedSize(t, h, recordfeed.FeedName("EDGE-2"))
	tv, err := h.svc.IssueVID(ctx, h.admin, uin, "temporary", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !tv.ExpiresAt.Equal(tv.IssuedAt.Add(10 * time.Minute)) {
		t.Fatalf("temporary VID expiry %v", tv.ExpiresAt)
	}
	_, recs = a1.ops(t, h, s1)
	if len(recs) != 1 || recs[0].VID != tv.Number || recs[0].VIDKind != "temporary" || recs[0].VIDExpires.IsZero() {
		t.Fatalf("new temporary VID on EDGE-1: %+v", recs)
	}
	s1 = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	if _, err := h.svc.SetLocks(ctx, h.admin, uin, []string{recordfeed.AuthFinger}, nil); err != nil {
		t.Fatal(err)
	}
	_, recs = a1.ops(t, h, s1)
	if len(recs) != 2 || !recs[0].IsLocked(recordfeed.AuthFinger) || !recs[1].IsLocked(recordfeed.AuthFinger) {
		t.Fatalf("after the lock, both VIDs' records must say bio-Finger is locked: %+v", recs)
	}
	s1 = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	if _, err := h.svc.RevokeVID(ctx, h.admin, tv.Number, "lost"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.RevokeVID(ctx, h.admin, tv.Number, "again"); err == nil {
		t.Fatal("a VID revoked twice")
	}
	ops, _ := a1.ops(t, h, s1)
	if len(ops) != 1 || ops[0].Delete != tv.Number {
		t.Fatalf("revocation on EDGE-1: %+v", ops)
	}
	if ops, _ := a2.ops(t, h, s2); len(ops) != 4 || ops[3].Delete != tv.Number {
		t.Fatalf("EDGE-2 got %d operations since joining, want put, two lock puts, delete", len(ops))
	}
	vs, _ := h.svc.VIDs(ctx, uin)
	if len(vs) != 2 {
		t.Fatalf("VIDs: %+v", vs)
	}
	// A revoked appliance gets nothing more.
	if _, err := h.reg.SetApplianceStatus(ctx, h.admin, "EDGE-2", core.StatusChange{Status: trustfeed.Revoked, Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	s2 = feedSize(t, h, recordfeed.FeedName("EDGE-2"))
	if _, err := h.svc.IssueVID(ctx, h.admin, uin, "one-time", 0); err != nil {
		t.Fatal(err)
	}
	if feedSize(t, h, recordfeed.FeedName("EDGE-2")) != s2 {
		t.Fatal("a revoked appliance received records")
	}
	// Central's audit log never names the UIN or a VID.
	rows := h.audit(t)
	raw, _ := json.Marshal(rows)
	if bytes.Contains(raw, []byte(uin)) || bytes.Contains(raw, []byte(number)) || bytes.Contains(raw, []byte(tv.Number)) {
		t.Fatal("the audit log names a UIN or VID")
	}
	// Bad input.
	for _, err := range []error{
		func() error { _, err := h.svc.IssueVID(ctx, h.admin, uin, "forever", 0); return err }(),
		func() error { _, err := h.svc.IssueVID(ctx, h.admin, "9999999999", "perpetual", 0); return err }(),
		func() error { _, err := h.svc.RevokeVID(ctx, h.admin, "1234567890123456", "x"); return err }(),
		func() error { _, err := h.svc.SetLocks(ctx, h.admin, uin, []string{"otp"}, nil); return err }(),
		func() error { _, err := h.svc.SetApplianceGroup(ctx, h.admin, "EDGE-1", "bad group"); return err }(),
	} {
		if err == nil {
			t.Error("bad input accepted")
		}
	}
}

func TestExpiredVIDsLeaveTheAppliances(t *testing.T) {
	h := newHarness(t)
	a1 := enrolTestAppliance(t, h, "EDGE-1")
	const uin = "2837465020"
	_, perpetual := addPerson(t, h, uin, DefaultGroup)
	tv, err := h.svc.IssueVID(ctx, h.admin, uin, "temporary", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.svc.SweepExpiredVIDs(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: %d %v", n, err)
	}
	size := feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	h.clock.Add(11 * time.Minute)
	if n, err := h.svc.SweepExpiredVIDs(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry: %d %v", n, err)
	}
	ops, _ := a1.ops(t, h, size)
	if len(ops) != 1 || ops[0].Delete != tv.Number {
		t.Fatalf("after the sweep EDGE-1 got %+v, want the temporary VID deleted", ops)
	}
	vs, _ := h.svc.VIDs(ctx, uin)
	for _, v := range vs {
		want := VIDActive
		if v.Number == tv.Number {
			want = VIDExpired
		}
		if v.Status != want {
			t.Errorf("VID %s is %s, want %s", vid.Mask(v.Number), v.Status, want)
		}
	}
	if n, _ := h.svc.SweepExpiredVIDs(ctx); n != 0 {
		t.Fatalf("a second sweep expired %d more", n)
	}
	// A lock now republishes only the perpetual VID.
	size = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	h.svc.SetLocks(ctx, h.admin, uin, []string{recordfeed.AuthDemo}, nil)
	if _, recs := a1.ops(t, h, size); len(recs) != 1 || recs[0].VID != perpetual {
		t.Fatalf("republished after expiry: %+v", recs)
	}
}
