package central

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// testAppliance is an appliance enrolled with central and its TPM keys.
type testAppliance struct {
	id   string
	tpm  *agentTPM
	dec  *tpm.Key
	sign *tpm.Key
}

func enrolTestAppliance(t *testing.T, h *harness, id string) *testAppliance {
	t.Helper()
	a := newAgentTPM(t)
	h.allow(a)
	enc, err := a.tpm.CreateKey(ctx, tpm.RSA2048Decrypt)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenAppliance, Appliance: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.prover().EnrolAppliance(ctx, h.client, tr.Token, id, enc, sign); err != nil {
		t.Fatal(err)
	}
	return &testAppliance{id: id, tpm: a, dec: enc, sign: sign}
}

// ops reads an appliance's records feed from seq after, opens every batch
// with its TPM key and checks every record's signature.
func (ta *testAppliance) ops(t *testing.T, h *harness, after uint64) ([]recordfeed.Op, []*recordfeed.Record) {
	t.Helper()
	b, err := h.c.Batch(ctx, recordfeed.FeedName(ta.id), after, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert := ta.cert(t, h)
	ver := recordfeed.Verifier{Keys: []ed25519.PublicKey{h.c.FeedPublicKey()}}
	var ops []recordfeed.Op
	var recs []*recordfeed.Record
	for _, raw := range b.Entries {
		e, err := feed.DecodeEntry(raw)
		if err != nil || e.Kind != recordfeed.Kind {
			t.Fatalf("records feed entry: %v %q", err, e.Kind)
		}
		s, err := recordfeed.DecodeSealed(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := recordfeed.Open(s, ta.id, cert, ta.dec)
		if err != nil {
			t.Fatalf("%s cannot open its own batch: %v", ta.id, err)
		}
		for _, op := range batch.Ops {
			ops = append(ops, op)
			if op.Put != nil {
				if err := ver.Verify(op.Put.Record, op.Put.Sig); err != nil {
					t.Fatal(err)
				}
				r, err := recordfeed.Unmarshal(op.Put.Record)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
		}
	}
	return ops, recs
}

func (ta *testAppliance) cert(t *testing.T, h *harness) *x509.Certificate {
	t.Helper()
	var ap *store.Appliance
	h.st.View(ctx, func(tx store.Tx) error {
		var err error
		ap, err = tx.Appliance(ctx, ta.id)
		return err
	})
	c, err := x509.ParseCertificate(ap.EncryptionCert)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func feedSize(t *testing.T, h *harness, name string) uint64 {
	t.Helper()
	_, size, err := h.st.ReadFeed(ctx, name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// addPerson stores a person with one perpetual VID and publishes them, as
// EnrolPerson does after verifying captures (which the end-to-end test
// covers with the real agent).
func addPerson(t *testing.T, h *harness, uin, group string) (*personData, string) {
	t.Helper()
	d := &personData{Demographics: map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01"},
		Biometrics: []recordfeed.Biometric{{Type: "Finger", SubType: "Left IndexFinger", Format: recordfeed.TemplateMCC, Data: []byte{1, 2, 3}}},
		TokenSeed:  bytes.Repeat([]byte{4}, recordfeed.TokenSeedLen)}
	sealed, err := h.c.sealPerson(d)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	v, _ := vid.New(vid.Perpetual, now, 0)
	err = h.st.Update(ctx, func(tx store.Tx) error {
		p := &store.Person{UIN: uin, Group: group, Status: PersonActive, Sealed: sealed, Created: now, Updated: now}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		sv := store.VID{Number: v.Number, UIN: uin, Kind: "perpetual", IssuedAt: now, Status: VIDActive, Updated: now}
		if err := tx.PutVID(ctx, &sv); err != nil {
			return err
		}
		return h.c.publishPerson(ctx, tx, p, d, []store.VID{sv}, nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, v.Number
}

func TestRecordsFeeds(t *testing.T) {
	h := newHarness(t)
	a1 := enrolTestAppliance(t, h, "EDGE-1")
	a2 := enrolTestAppliance(t, h, "EDGE-2")
	if _, err := h.c.SetApplianceGroup(ctx, h.admin, "EDGE-2", "north"); err != nil {
		t.Fatal(err)
	}
	// An empty records feed is served (with a fresh checkpoint); an unknown
	// appliance's is not.
	if b, err := h.c.Batch(ctx, recordfeed.FeedName("EDGE-1"), 0, 0); err != nil || len(b.Entries) != 0 {
		t.Fatalf("empty records feed: %v %v", b, err)
	}
	if _, err := h.c.Batch(ctx, recordfeed.FeedName("EDGE-404"), 0, 0); err == nil {
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
	b, _ := h.c.Batch(ctx, recordfeed.FeedName("EDGE-1"), 0, 0)
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
	if _, err := h.c.SetApplianceGroup(ctx, h.admin, "EDGE-2", DefaultGroup); err != nil {
		t.Fatal(err)
	}
	if _, recs := a2.ops(t, h, 0); len(recs) != 1 || recs[0].VID != number {
		t.Fatalf("EDGE-2 after joining the group: %+v", recs)
	}

	// A temporary VID, a lock and a revocation each reach both appliances.
	s1, s2 := feedSize(t, h, recordfeed.FeedName("EDGE-1")), feedSize(t, h, recordfeed.FeedName("EDGE-2"))
	tv, err := h.c.IssueVID(ctx, h.admin, uin, "temporary", 10*time.Minute)
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
	if _, err := h.c.SetLocks(ctx, h.admin, uin, []string{recordfeed.AuthFinger}, nil); err != nil {
		t.Fatal(err)
	}
	_, recs = a1.ops(t, h, s1)
	if len(recs) != 2 || !recs[0].IsLocked(recordfeed.AuthFinger) || !recs[1].IsLocked(recordfeed.AuthFinger) {
		t.Fatalf("after the lock, both VIDs' records must say bio-Finger is locked: %+v", recs)
	}
	s1 = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	if _, err := h.c.RevokeVID(ctx, h.admin, tv.Number, "lost"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.RevokeVID(ctx, h.admin, tv.Number, "again"); err == nil {
		t.Fatal("a VID revoked twice")
	}
	ops, _ := a1.ops(t, h, s1)
	if len(ops) != 1 || ops[0].Delete != tv.Number {
		t.Fatalf("revocation on EDGE-1: %+v", ops)
	}
	if ops, _ := a2.ops(t, h, s2); len(ops) != 4 || ops[3].Delete != tv.Number {
		t.Fatalf("EDGE-2 got %d operations since joining, want put, two lock puts, delete", len(ops))
	}
	vs, _ := h.c.VIDs(ctx, uin)
	if len(vs) != 2 {
		t.Fatalf("VIDs: %+v", vs)
	}
	// A revoked appliance gets nothing more.
	if _, err := h.c.SetApplianceStatus(ctx, h.admin, "EDGE-2", StatusChange{Status: trustfeed.Revoked, Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	s2 = feedSize(t, h, recordfeed.FeedName("EDGE-2"))
	if _, err := h.c.IssueVID(ctx, h.admin, uin, "one-time", 0); err != nil {
		t.Fatal(err)
	}
	if feedSize(t, h, recordfeed.FeedName("EDGE-2")) != s2 {
		t.Fatal("a revoked appliance received records")
	}
	// Central's audit log never names the UIN or a VID.
	rows, _ := h.c.Audit(ctx, store.AuditFilter{})
	raw, _ := json.Marshal(rows)
	if bytes.Contains(raw, []byte(uin)) || bytes.Contains(raw, []byte(number)) || bytes.Contains(raw, []byte(tv.Number)) {
		t.Fatal("the audit log names a UIN or VID")
	}
	// Bad input.
	for _, err := range []error{
		func() error { _, err := h.c.IssueVID(ctx, h.admin, uin, "forever", 0); return err }(),
		func() error { _, err := h.c.IssueVID(ctx, h.admin, "9999999999", "perpetual", 0); return err }(),
		func() error { _, err := h.c.RevokeVID(ctx, h.admin, "1234567890123456", "x"); return err }(),
		func() error { _, err := h.c.SetLocks(ctx, h.admin, uin, []string{"otp"}, nil); return err }(),
		func() error { _, err := h.c.SetApplianceGroup(ctx, h.admin, "EDGE-1", "bad group"); return err }(),
	} {
		if err == nil {
			t.Error("bad input accepted")
		}
	}
}

func TestRelyingPartyKeysOnTheTrustFeed(t *testing.T) {
	h := newHarness(t)
	if _, err := h.c.AddRelyingParty(ctx, h.admin, "kiosk", "Kiosk", []string{"fullName"}, nil); err == nil {
		t.Fatal("a relying party without auth types")
	}
	if _, err := h.c.AddRelyingParty(ctx, h.admin, "kiosk", "Kiosk", []string{"fullName"}, []string{"demo", "bio-Finger"}); err != nil {
		t.Fatal(err)
	}
	key, keyID, err := h.c.AddRPKey(ctx, h.admin, "kiosk")
	if err != nil {
		t.Fatal(err)
	}
	id, secret, ok := trustfeed.ParseRPKey(key)
	if !ok || id != keyID {
		t.Fatalf("key %q does not parse", key)
	}
	last := func() *trustfeed.RelyingParty {
		entries := h.follower().sync(t, h)
		for i := len(entries) - 1; i >= 0; i-- {
			if v, err := trustfeed.Decode(entries[i].Kind, entries[i].Data); err == nil {
				if rp, ok := v.(*trustfeed.RelyingParty); ok {
					return rp
				}
			}
		}
		t.Fatal("no relying-party entry on the trust feed")
		return nil
	}
	rp := last()
	if rp.ID != "kiosk" || len(rp.Keys) != 1 || !trustfeed.RPKeyMatches(secret, rp.Keys[0]) || strings.Join(rp.AuthTypes, ",") != "demo,bio-Finger" {
		t.Fatalf("rp entry: %+v", rp)
	}
	sum := sha256.Sum256([]byte(secret))
	var stored *store.RelyingParty
	h.st.View(ctx, func(tx store.Tx) error { stored, _ = tx.RelyingParty(ctx, "kiosk"); return nil })
	if raw, _ := json.Marshal(stored); bytes.Contains(raw, []byte(secret)) || !bytes.Equal(stored.Keys[0].SHA256, sum[:]) {
		t.Fatal("the key secret is stored, or its hash is not")
	}
	if _, err := h.c.RevokeRPKey(ctx, h.admin, "kiosk", keyID); err != nil {
		t.Fatal(err)
	}
	if rp := last(); len(rp.Keys) != 0 {
		t.Fatalf("revoked key still published: %+v", rp.Keys)
	}
	if _, err := h.c.SetRelyingPartyStatus(ctx, h.admin, "kiosk", StatusChange{Status: trustfeed.Suspended, Reason: "audit"}); err != nil {
		t.Fatal(err)
	}
	if rp := last(); rp.Status != trustfeed.Suspended {
		t.Fatalf("suspension not published: %+v", rp)
	}
}

func TestExpiredVIDsLeaveTheAppliances(t *testing.T) {
	h := newHarness(t)
	a1 := enrolTestAppliance(t, h, "EDGE-1")
	const uin = "2837465020"
	_, perpetual := addPerson(t, h, uin, DefaultGroup)
	tv, err := h.c.IssueVID(ctx, h.admin, uin, "temporary", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h.c.SweepExpiredVIDs(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: %d %v", n, err)
	}
	size := feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	h.clock.Add(11 * time.Minute)
	if n, err := h.c.SweepExpiredVIDs(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry: %d %v", n, err)
	}
	ops, _ := a1.ops(t, h, size)
	if len(ops) != 1 || ops[0].Delete != tv.Number {
		t.Fatalf("after the sweep EDGE-1 got %+v, want the temporary VID deleted", ops)
	}
	vs, _ := h.c.VIDs(ctx, uin)
	for _, v := range vs {
		want := VIDActive
		if v.Number == tv.Number {
			want = VIDExpired
		}
		if v.Status != want {
			t.Errorf("VID %s is %s, want %s", vid.Mask(v.Number), v.Status, want)
		}
	}
	if n, _ := h.c.SweepExpiredVIDs(ctx); n != 0 {
		t.Fatalf("a second sweep expired %d more", n)
	}
	// A lock now republishes only the perpetual VID.
	size = feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	h.c.SetLocks(ctx, h.admin, uin, []string{recordfeed.AuthDemo}, nil)
	if _, recs := a1.ops(t, h, size); len(recs) != 1 || recs[0].VID != perpetual {
		t.Fatalf("republished after expiry: %+v", recs)
	}
}
