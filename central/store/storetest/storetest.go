package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// Opener opens a fresh, empty store. Opening it again with the same
// argument (a second replica) must reach the same data; the suite calls it
// with replica 0 first.
type Opener func(t *testing.T) (open func(replica int) store.Store)

var ctx = context.Background()

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		f    func(t *testing.T, open func(int) store.Store)
	}{
		{"Registry", testRegistry},
		{"DevicesListing", testDevices},
		{"TokensAndSessions", testTokensSessions},
		{"ConsoleAdminsAndSessions", testConsole},
		{"FeedPositionsAcrossReplicas", testFeedPositions},
		{"PeopleAndVIDs", testPeople},
		{"RoundTrip", testRoundTrip},
		{"AuditChain", testAudit},
		{"FeedAppendAndRead", testFeed},
		{"RollbackWritesNothing", testRollback},
		{"ConcurrentReplicasAppend", testConcurrent},
		{"AttestationState", testAttestState},
		{"AttestationRounds", testAttestRounds},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, open(t)) })
	}
}

func update(t *testing.T, s store.Store, f func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, f); err != nil {
		t.Fatal(err)
	}
}

func view(t *testing.T, s store.Store, f func(tx store.Tx) error) {
	t.Helper()
	if err := s.View(ctx, f); err != nil {
		t.Fatal(err)
	}
}

func testRegistry(t *testing.T, open func(int) store.Store) {
	s := open(0)
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.Vendor(ctx, "ACME"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing vendor: err = %v, want ErrNotFound", err)
		}
		if _, err := tx.Appliance(ctx, "A1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing appliance: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		for _, id := range []string{"ZETA", "ACME"} {
			if err := tx.PutVendor(ctx, &store.Vendor{ID: id, Name: id + " Biometrics", Status: trustfeed.Active,
				CACert: []byte{1, 2, 3}, CAKey: []byte("sealed"), Created: t0}); err != nil {
				return err
			}
		}
		if err := tx.PutAppliance(ctx, &store.Appliance{ID: "A1", Status: trustfeed.Active, SigningCert: []byte{9}}); err != nil {
			return err
		}
		return tx.PutRelyingParty(ctx, &store.RelyingParty{ID: "bank", Name: "Bank", Status: trustfeed.Active, Attributes: []string{"name"}})
	})
	// A second transaction changes a vendor; reads see the new value.
	update(t, s, func(tx store.Tx) error {
		v, err := tx.Vendor(ctx, "ACME")
		if err != nil {
			return err
		}
		v.Status, v.Reason = trustfeed.Revoked, "key compromise"
		if err := tx.PutVendor(ctx, v); err != nil {
			return err
		}
		got, err := tx.Vendor(ctx, "ACME")
		if err != nil || got.Status != trustfeed.Revoked {
			t.Errorf("read-your-writes: %+v, %v", got, err)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		vs, err := tx.Vendors(ctx)
		if err != nil {
			return err
		}
		if len(vs) != 2 || vs[0].ID != "ACME" || vs[1].ID != "ZETA" {
			t.Fatalf("vendors = %+v, want ACME, ZETA in order", vs)
		}
		if vs[0].Status != trustfeed.Revoked || vs[0].Reason != "key compromise" || !bytes.Equal(vs[0].CACert, []byte{1, 2, 3}) || !vs[0].Created.Equal(t0) {
			t.Errorf("vendor round trip: %+v", vs[0])
		}
		as, err := tx.Appliances(ctx)
		if err != nil || len(as) != 1 || !bytes.Equal(as[0].SigningCert, []byte{9}) {
			t.Errorf("appliances = %+v, %v", as, err)
		}
		rps, err := tx.RelyingParties(ctx)
		if err != nil || len(rps) != 1 || rps[0].Attributes[0] != "name" {
			t.Errorf("relying parties = %+v, %v", rps, err)
		}
		if err := tx.PutVendor(ctx, &store.Vendor{ID: "X"}); err == nil {
			t.Error("a read-only transaction accepted a write")
		}
		return nil
	})
}

func testDevices(t *testing.T, open func(int) store.Store) {
	s := open(0)
	update(t, s, func(tx store.Tx) error {
		for i := 0; i < 25; i++ {
			vendor := "ACME"
			if i%2 == 1 {
				vendor = "ZETA"
			}
			status := trustfeed.Active
			if i%5 == 0 {
				status = trustfeed.Revoked
			}
			if err := tx.PutDevices(ctx, &store.Device{Serial: fmt.Sprintf("SN%03d", i), VendorID: vendor, Status: status,
				Certs: []store.CertRecord{{Role: "device", SHA256: "AB"}}}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		// Pages of 5 through ACME's 13 devices.
		var got []string
		after := ""
		for page := 0; page < 10; page++ {
			ds, err := tx.Devices(ctx, store.DeviceFilter{VendorID: "ACME", After: after, Limit: 5})
			if err != nil {
				return err
			}
			for _, d := range ds {
				if d.VendorID != "ACME" {
					t.Errorf("vendor filter let %s of %s through", d.Serial, d.VendorID)
				}
				got = append(got, d.Serial)
			}
			if len(ds) < 5 {
				break
			}
			after = ds[len(ds)-1].Serial
		}
		if len(got) != 13 || got[0] != "SN000" || got[12] != "SN024" {
			t.Errorf("ACME devices paged = %v", got)
		}
		rev, err := tx.Devices(ctx, store.DeviceFilter{Status: trustfeed.Revoked})
		if err != nil {
			return err
		}
		if len(rev) != 5 {
			t.Errorf("revoked devices = %d, want 5", len(rev))
		}
		all, err := tx.Devices(ctx, store.DeviceFilter{After: "SN020"})
		if err != nil || len(all) != 4 || all[0].Serial != "SN021" {
			t.Errorf("devices after SN020 = %d (%v)", len(all), err)
		}
		d, err := tx.Device(ctx, "SN007")
		if err != nil || d.VendorID != "ZETA" || len(d.Certs) != 1 {
			t.Errorf("device SN007 = %+v, %v", d, err)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutDevices(ctx, &store.Device{Serial: "SN002", VendorID: "ACME", Status: trustfeed.Revoked},
			&store.Device{Serial: "SN001", VendorID: "ACME", Status: trustfeed.Active})
	})
	if err == nil {
		t.Error("a device moved from one vendor to another")
	}
	view(t, s, func(tx store.Tx) error {
		got, err := tx.DevicesBySerial(ctx, []string{"SN001", "SN002", "SN404"})
		if err != nil {
			return err
		}
		if len(got) != 2 || got["SN001"].VendorID != "ZETA" || got["SN002"].Status != trustfeed.Active {
			t.Errorf("after a refused batch: %+v", got)
		}
		return nil
	})
	// A batch that succeeds changes every device in it.
	update(t, s, func(tx store.Tx) error {
		return tx.PutDevices(ctx, &store.Device{Serial: "SN002", VendorID: "ACME", Status: trustfeed.Suspended, DeviceCert: []byte{1, 2}},
			&store.Device{Serial: "SN003", VendorID: "ZETA", Status: trustfeed.Suspended})
	})
	view(t, s, func(tx store.Tx) error {
		got, err := tx.DevicesBySerial(ctx, []string{"SN002", "SN003"})
		if err != nil {
			return err
		}
		if got["SN002"].Status != trustfeed.Suspended || !bytes.Equal(got["SN002"].DeviceCert, []byte{1, 2}) || got["SN003"].Status != trustfeed.Suspended {
			t.Errorf("batch update: %+v %+v", got["SN002"], got["SN003"])
		}
		return nil
	})
}

func testTokensSessions(t *testing.T, open func(int) store.Store) {
	s := open(0)
	update(t, s, func(tx store.Tx) error {
		for i, k := range []store.Token{
			{ID: "a1", Kind: store.TokenAdmin, SecretHash: []byte{1}},
			{ID: "a2", Kind: store.TokenAdmin, Revoked: true},
			{ID: "e1", Kind: store.TokenDevice, VendorID: "ACME", Expires: t0.Add(time.Hour)},
		} {
			if err := tx.PutToken(ctx, &k); err != nil {
				return fmt.Errorf("token %d: %w", i, err)
			}
		}
		for _, ss := range []store.Session{
			{ID: "old", Kind: "device", Nonce: []byte{1}, Expires: t0.Add(-time.Minute)},
			{ID: "new", Kind: "device", Nonce: []byte{2}, Expires: t0.Add(time.Minute), AKPublic: []byte{7}},
		} {
			if err := tx.PutSession(ctx, &ss); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		n, err := tx.CountTokens(ctx, store.TokenAdmin)
		if err != nil || n != 1 {
			t.Errorf("active admin tokens = %d, %v; want 1", n, err)
		}
		k, err := tx.Token(ctx, "e1")
		if err != nil || k.VendorID != "ACME" || !k.Expires.Equal(t0.Add(time.Hour)) || !k.Used.IsZero() {
			t.Errorf("token e1 = %+v, %v", k, err)
		}
		k.Used = t0
		if err := tx.PutToken(ctx, k); err != nil {
			return err
		}
		n, err = tx.DeleteExpiredSessions(ctx, t0)
		if err != nil || n != 1 {
			t.Errorf("expired sessions deleted = %d, %v; want 1", n, err)
		}
		if _, err := tx.Session(ctx, "old"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session still there: %v", err)
		}
		ss, err := tx.Session(ctx, "new")
		if err != nil || !bytes.Equal(ss.AKPublic, []byte{7}) {
			t.Errorf("session = %+v, %v", ss, err)
		}
		if err := tx.DeleteSession(ctx, "new"); err != nil {
			return err
		}
		if err := tx.DeleteSession(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting a session twice: %v, want ErrNotFound", err)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		k, err := tx.Token(ctx, "e1")
		if err != nil || !k.Used.Equal(t0) {
			t.Errorf("used token = %+v, %v", k, err)
		}
		return nil
	})
}

func testConsole(t *testing.T, open func(int) store.Store) {
	s := open(0)
	update(t, s, func(tx store.Tx) error {
		for _, a := range []store.ConsoleAdmin{
			{ID: "b2", Name: "Bo", Created: t0, CreatedBy: "console:a1"},
			{ID: "a1", Name: "Ana", Created: t0, CreatedBy: "system",
				Credentials: []store.ConsoleCredential{{ID: []byte{9, 9}, WebAuthn: []byte(`{"k":1}`), Added: t0}}},
		} {
			if err := tx.PutConsoleAdmin(ctx, &a); err != nil {
				return err
			}
		}
		for _, ss := range []store.ConsoleSession{
			{ID: "old", AdminID: "a1", Created: t0.Add(-time.Hour), Seen: t0.Add(-time.Hour), Expires: t0.Add(-time.Minute)},
			{ID: "new", AdminID: "a1", Created: t0, Seen: t0, Expires: t0.Add(15 * time.Minute)},
		} {
			if err := tx.PutConsoleSession(ctx, &ss); err != nil {
				return err
			}
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		as, err := tx.ConsoleAdmins(ctx)
		if err != nil || len(as) != 2 || as[0].ID != "a1" || as[1].ID != "b2" {
			t.Errorf("console admins = %+v, %v; want a1, b2", as, err)
		}
		a, err := tx.ConsoleAdmin(ctx, "a1")
		if err != nil || len(a.Credentials) != 1 || !bytes.Equal(a.Credentials[0].ID, []byte{9, 9}) || string(a.Credentials[0].WebAuthn) != `{"k":1}` {
			t.Errorf("console admin a1 = %+v, %v", a, err)
		}
		if _, err := tx.ConsoleAdmin(ctx, "zz"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown console admin: %v, want ErrNotFound", err)
		}
		n, err := tx.DeleteExpiredConsoleSessions(ctx, t0)
		if err != nil || n != 1 {
			t.Errorf("expired console sessions deleted = %d, %v; want 1", n, err)
		}
		ss, err := tx.ConsoleSession(ctx, "new")
		if err != nil || ss.AdminID != "a1" || !ss.Expires.Equal(t0.Add(15*time.Minute)) {
			t.Errorf("console session = %+v, %v", ss, err)
		}
		if err := tx.DeleteConsoleSession(ctx, "new"); err != nil {
			return err
		}
		if err := tx.DeleteConsoleSession(ctx, "new"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("deleting a console session twice: %v, want ErrNotFound", err)
		}
		return nil
	})
}

// testFeedPositions: positions written by one replica are read by the
// other; an older position never replaces a newer one, whichever replica
// writes it, and a batch may name an appliance twice.
func testFeedPositions(t *testing.T, open func(int) store.Store) {
	a, b := open(0), open(1)
	update(t, a, func(tx store.Tx) error {
		return tx.PutFeedPositions(ctx, []store.FeedPosition{
			{Appliance: "ap-2", After: 7, Seen: t0},
			{Appliance: "ap-1", After: 5, Seen: t0},
			{Appliance: "ap-1", After: 6, Seen: t0.Add(time.Second)},
		})
	})
	update(t, b, func(tx store.Tx) error {
		return tx.PutFeedPositions(ctx, []store.FeedPosition{
			{Appliance: "ap-1", After: 4, Seen: t0.Add(-time.Minute)}, // older: ignored
			{Appliance: "ap-2", After: 9, Seen: t0.Add(time.Minute)},
			{Appliance: "ap-3", After: 1, Seen: t0},
		})
	})
	update(t, a, func(tx store.Tx) error { return tx.PutFeedPositions(ctx, nil) })
	for i, s := range []store.Store{a, b} {
		view(t, s, func(tx store.Tx) error {
			ps, err := tx.FeedPositions(ctx)
			if err != nil {
				return err
			}
			got := map[string]store.FeedPosition{}
			for _, p := range ps {
				got[p.Appliance] = p
			}
			if len(ps) != 3 || got["ap-1"].After != 6 || !got["ap-1"].Seen.Equal(t0.Add(time.Second)) || got["ap-2"].After != 9 || got["ap-3"].After != 1 {
				t.Errorf("replica %d: positions %+v", i, ps)
			}
			return nil
		})
	}
}

func testAudit(t *testing.T, open func(int) store.Store) {
	s := open(0)
	ev := func(i int) store.AuditEvent {
		subj := "device:SN1"
		if i%2 == 1 {
			subj = "vendor:ACME"
		}
		return store.AuditEvent{Time: t0.Add(time.Duration(i) * time.Second),
			Actor: "admin:a1", Action: "test.event", Subject: subj, Detail: []byte(fmt.Sprintf(`{"i":%d}`, i))}
	}
	// Three rows one at a time, then three in one batch.
	for i := 0; i < 3; i++ {
		update(t, s, func(tx store.Tx) error {
			_, err := store.AppendAudit(ctx, tx, ev(i))
			return err
		})
	}
	update(t, s, func(tx store.Tx) error {
		rows, err := store.AppendAudit(ctx, tx, ev(3), ev(4), ev(5))
		if err == nil && (len(rows) != 3 || rows[0].Seq != 4 || rows[2].Seq != 6) {
			t.Errorf("batch append returned %+v", rows)
		}
		return err
	})
	view(t, s, func(tx store.Tx) error {
		all, err := tx.Audit(ctx, store.AuditFilter{})
		if err != nil {
			return err
		}
		if len(all) != 6 || all[0].Seq != 1 || all[5].Seq != 6 {
			t.Fatalf("audit rows = %d", len(all))
		}
		last, err := store.VerifyAuditChain(make([]byte, 32), all)
		if err != nil {
			t.Fatal(err)
		}
		seq, head, err := tx.AuditHead(ctx)
		if err != nil || seq != 6 || !bytes.Equal(head, last) {
			t.Errorf("audit head = %d %x, want 6 %x (%v)", seq, head, last, err)
		}
		// A tampered row breaks the chain.
		bad := append([]store.AuditEvent(nil), all...)
		bad[2].Action = "test.other"
		if _, err := store.VerifyAuditChain(make([]byte, 32), bad); err == nil {
			t.Error("an altered audit row verified")
		}
		dev, err := tx.Audit(ctx, store.AuditFilter{Subject: "device:SN1"})
		if err != nil || len(dev) != 3 || dev[1].Seq != 3 {
			t.Errorf("audit for device:SN1 = %+v, %v", dev, err)
		}
		page, err := tx.Audit(ctx, store.AuditFilter{After: 4, Limit: 1})
		if err != nil || len(page) != 1 || page[0].Seq != 5 {
			t.Errorf("audit page = %+v, %v", page, err)
		}
		return nil
	})
	// Insert-only: a row is never replaced.
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertAudit(ctx, []*store.AuditEvent{{Seq: 3, Action: "forged", Prev: make([]byte, 32), Hash: make([]byte, 32)}})
	})
	if err == nil {
		t.Error("InsertAudit replaced audit row 3")
	}
	view(t, s, func(tx store.Tx) error {
		r, err := tx.Audit(ctx, store.AuditFilter{After: 2, Limit: 1})
		if err != nil || len(r) != 1 || r[0].Action != "test.event" {
			t.Errorf("row 3 after a forged insert = %+v, %v", r, err)
		}
		return nil
	})
}

// follow reads the whole feed as a follower would, verifying every root.
func follow(t *testing.T, s store.Store, name string) (feed.State, []feed.Entry) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	f := feed.Follower{Origin: name, Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}}
	var st feed.State
	var all []feed.Entry
	for {
		recs, size, err := s.ReadFeed(ctx, name, st.Head.Size, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			if st.Head.Size != size {
				t.Fatalf("follower at %d, feed size %d, no entries returned", st.Head.Size, size)
			}
			return st, all
		}
		b := &feed.Batch{Feed: name, After: st.Head.Size, Latest: size}
		for _, r := range recs {
			b.Entries = append(b.Entries, r.Body)
		}
		end := recs[len(recs)-1]
		sc, err := feed.Sign(priv, feed.Checkpoint{Origin: name, Size: end.Seq, Root: end.Root, Time: t0})
		if err != nil {
			t.Fatal(err)
		}
		b.Checkpoint = sc
		es, nst, err := f.Apply(st, b)
		if err != nil {
			t.Fatalf("follower refused entries %d–%d: %v", b.After+1, end.Seq, err)
		}
		st, all = nst, append(all, es...)
	}
}

func testFeed(t *testing.T, open func(int) store.Store) {
	s := open(0)
	select {
	case <-s.Changed():
	default:
	}
	for i := 0; i < 4; i++ {
		update(t, s, func(tx store.Tx) error {
			var es []store.NewEntry
			for j := 0; j <= i; j++ {
				es = append(es, store.NewEntry{Kind: trustfeed.KindDevice, Data: trustfeed.Device{
					Serial: fmt.Sprintf("SN%d-%d", i, j), VendorID: "ACME", Status: trustfeed.Revoked}})
			}
			_, err := store.AppendFeed(ctx, tx, trustfeed.Name, t0, es...)
			return err
		})
	}
	select {
	case <-s.Changed():
	case <-time.After(5 * time.Second):
		t.Error("Changed was not signalled after a feed append")
	}
	st, entries := follow(t, s, trustfeed.Name)
	if st.Head.Size != 10 || len(entries) != 10 {
		t.Fatalf("followed %d entries, want 10", len(entries))
	}
	if v, err := trustfeed.Decode(entries[9].Kind, entries[9].Data); err != nil || v.(*trustfeed.Device).Serial != "SN3-3" {
		t.Errorf("last entry = %s %s (%v)", entries[9].Kind, entries[9].Data, err)
	}
	root, err := s.FeedRoot(ctx, trustfeed.Name, 10)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := st.Head.Root()
	if !bytes.Equal(root, want) {
		t.Error("FeedRoot(10) is not the root a follower computes")
	}
	empty, err := s.FeedRoot(ctx, trustfeed.Name, 0)
	if e, _ := (feed.Head{}).Root(); err != nil || !bytes.Equal(empty, e) {
		t.Errorf("FeedRoot(0) = %x, %v", empty, err)
	}
	// Other feeds are independent; reading past the end returns nothing.
	recs, size, err := s.ReadFeed(ctx, "other", 0, 10)
	if err != nil || len(recs) != 0 || size != 0 {
		t.Errorf("empty feed: %d records, size %d, %v", len(recs), size, err)
	}
	recs, size, err = s.ReadFeed(ctx, trustfeed.Name, 10, 10)
	if err != nil || len(recs) != 0 || size != 10 {
		t.Errorf("read at the end: %d records, size %d, %v", len(recs), size, err)
	}
	recs, _, err = s.ReadFeed(ctx, trustfeed.Name, 3, 2)
	if err != nil || len(recs) != 2 || recs[0].Seq != 4 || recs[1].Seq != 5 {
		t.Errorf("ReadFeed(after 3, limit 2) = %+v, %v", recs, err)
	}
}

func testRollback(t *testing.T, open func(int) store.Store) {
	s := open(0)
	boom := errors.New("refused")
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutDevices(ctx, &store.Device{Serial: "SN1", VendorID: "ACME", Status: trustfeed.Active}); err != nil {
			return err
		}
		if _, err := store.AppendAudit(ctx, tx, store.AuditEvent{Time: t0, Action: "device.enrol", Subject: "device:SN1"}); err != nil {
			return err
		}
		if _, err := store.AppendFeed(ctx, tx, trustfeed.Name, t0, store.NewEntry{Kind: trustfeed.KindDevice,
			Data: trustfeed.Device{Serial: "SN1", VendorID: "ACME", Status: trustfeed.Active}}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.Device(ctx, "SN1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("device written by a failed transaction: %v", err)
		}
		if seq, _, err := tx.AuditHead(ctx); err != nil || seq != 0 {
			t.Errorf("audit head after a failed transaction = %d, %v", seq, err)
		}
		return nil
	})
	if _, size, err := s.ReadFeed(ctx, trustfeed.Name, 0, 10); err != nil || size != 0 {
		t.Errorf("feed size after a failed transaction = %d, %v", size, err)
	}
}

// testConcurrent has two replicas (two Store values on the same data, where
// the backend allows it) append concurrently: no seq is lost or repeated,
// and the roots verify.
func testConcurrent(t *testing.T, open func(int) store.Store) {
	replicas := []store.Store{open(0), open(1)}
	const writers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			s := replicas[w%len(replicas)]
			for i := 0; i < each; i++ {
				err := s.Update(ctx, func(tx store.Tx) error {
					if _, err := store.AppendAudit(ctx, tx, store.AuditEvent{Time: t0, Action: "x", Subject: fmt.Sprintf("w%d", w)}); err != nil {
						return err
					}
					_, err := store.AppendFeed(ctx, tx, trustfeed.Name, t0, store.NewEntry{Kind: trustfeed.KindAppliance,
						Data: trustfeed.Appliance{ID: fmt.Sprintf("w%d-%d", w, i), Status: trustfeed.Active}})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, entries := follow(t, replicas[1], trustfeed.Name)
	if st.Head.Size != writers*each {
		t.Fatalf("feed size %d after %d appends", st.Head.Size, writers*each)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[string(e.Data)] = true
	}
	if len(seen) != writers*each {
		t.Errorf("%d distinct entries, want %d", len(seen), writers*each)
	}
	view(t, replicas[0], func(tx store.Tx) error {
		all, err := tx.Audit(ctx, store.AuditFilter{Limit: 1000})
		if err != nil {
			return err
		}
		if len(all) != writers*each {
			t.Errorf("%d audit rows, want %d", len(all), writers*each)
		}
		_, err = store.VerifyAuditChain(make([]byte, 32), all)
		return err
	})
}

func testPeople(t *testing.T, open func(int) store.Store) {
	s := open(0)
	now := time.Now().UTC().Truncate(time.Second)
	view(t, s, func(tx store.Tx) error {
		if _, err := tx.Person(ctx, "1000000001"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing person: %v", err)
		}
		if _, err := tx.VID(ctx, "2389475610293847"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing VID: %v", err)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		for i, g := range []string{"north", "south", "north", "north"} {
			p := &store.Person{UIN: fmt.Sprintf("10000000%02d", i), Group: g, Status: "active", Sealed: []byte{byte(i)}, Created: now, Updated: now}
			if err := tx.PutPerson(ctx, p); err != nil {
				return err
			}
		}
		for i, n := range []string{"1111111111111111", "2222222222222222", "3333333333333333"} {
			uin := "1000000000"
			if i == 2 {
				uin = "1000000001"
			}
			if err := tx.PutVID(ctx, &store.VID{Number: n, UIN: uin, Kind: "perpetual", IssuedAt: now, Status: "active", Updated: now}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		ps, err := tx.People(ctx, "north", "", 0)
		if err != nil || len(ps) != 3 || ps[0].UIN != "1000000000" || ps[2].UIN != "1000000003" {
			t.Errorf("north: %+v %v", ps, err)
		}
		ps, _ = tx.People(ctx, "north", "1000000000", 1)
		if len(ps) != 1 || ps[0].UIN != "1000000002" {
			t.Errorf("north after 1000000000, limit 1: %+v", ps)
		}
		vs, err := tx.VIDsOf(ctx, "1000000000")
		if err != nil || len(vs) != 2 || vs[0].Number != "1111111111111111" {
			t.Errorf("VIDs of 1000000000: %+v %v", vs, err)
		}
		return nil
	})
	// Expiring VIDs, soonest first; revoking one takes it out.
	update(t, s, func(tx store.Tx) error {
		for i, n := range []string{"4444444444444444", "5555555555555555", "6666666666666666"} {
			v := &store.VID{Number: n, UIN: "1000000003", Kind: "temporary", IssuedAt: now, ExpiresAt: now.Add(time.Duration(30-10*i) * time.Minute), Status: "active", Updated: now}
			if err := tx.PutVID(ctx, v); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		vs, err := tx.ExpiringVIDs(ctx, now.Add(25*time.Minute), 0)
		if err != nil || len(vs) != 2 || vs[0].Number != "6666666666666666" || vs[1].Number != "5555555555555555" {
			t.Errorf("expiring before +25m: %+v %v", vs, err)
		}
		if vs, _ := tx.ExpiringVIDs(ctx, now.Add(time.Hour), 1); len(vs) != 1 {
			t.Errorf("limit 1: %d", len(vs))
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		v, err := tx.VID(ctx, "6666666666666666")
		if err != nil {
			return err
		}
		v.Status = "revoked"
		return tx.PutVID(ctx, v)
	})
	view(t, s, func(tx store.Tx) error {
		if vs, _ := tx.ExpiringVIDs(ctx, now.Add(25*time.Minute), 0); len(vs) != 1 || vs[0].Number != "5555555555555555" {
			t.Errorf("after revoking one: %+v", vs)
		}
		return nil
	})

	// Moving a person to another group moves them in the listing.
	update(t, s, func(tx store.Tx) error {
		p, err := tx.Person(ctx, "1000000002")
		if err != nil {
			return err
		}
		p.Group = "south"
		return tx.PutPerson(ctx, p)
	})
	view(t, s, func(tx store.Tx) error {
		n, _ := tx.People(ctx, "north", "", 0)
		so, _ := tx.People(ctx, "south", "", 0)
		if len(n) != 2 || len(so) != 2 {
			t.Errorf("after the move: north %d, south %d", len(n), len(so))
		}
		v, err := tx.VID(ctx, "3333333333333333")
		if err != nil || v.UIN != "1000000001" || !v.IssuedAt.Equal(now) {
			t.Errorf("VID: %+v %v", v, err)
		}
		return nil
	})
}

// testRoundTrip: every field of the records added for people, VIDs,
// appliance groups and relying-party keys comes back as stored, from
// another replica too, and a second put replaces the first.
func testRoundTrip(t *testing.T, open func(int) store.Store) {
	s := open(0)
	ap := &store.Appliance{ID: "EDGE-1", Status: trustfeed.Active, EKPublic: []byte{1}, EKFingerprint: "ab", AKPublic: []byte{2},
		EncryptionCert: []byte{3}, SigningCert: []byte{4}, Group: "north", Enrolled: t0, Updated: t0,
		Backfill: &store.Backfill{Group: "north", DeleteGroup: "south", After: "2837465019", Started: t0},
		Certs:    []store.CertRecord{{Role: "encryption", SHA256: "CD", Issued: t0, NotBefore: t0, NotAfter: t0.Add(time.Hour)}}}
	rp := &store.RelyingParty{ID: "kiosk", Name: "Kiosk", Status: trustfeed.Suspended, Reason: "audit",
		Attributes: []string{"fullName"}, AuthTypes: []string{"demo", "bio-Finger"}, Created: t0, Updated: t0,
		Keys: []store.RPKey{{ID: "0123456789abcdef", SHA256: bytes.Repeat([]byte{7}, 32), Created: t0}, {ID: "fedcba9876543210", SHA256: bytes.Repeat([]byte{8}, 32), Created: t0, Revoked: true}}}
	p := &store.Person{UIN: "2837465019", Group: "north", Status: "active", Locked: []string{"bio-Finger", "demo"},
		Sealed: []byte("age-encryption.org/v1 ..."), Created: t0, Updated: t0.Add(time.Minute)}
	v := &store.VID{Number: "4444444444444444", UIN: p.UIN, Kind: "temporary", IssuedAt: t0, ExpiresAt: t0.Add(30 * time.Minute),
		Status: "revoked", Reason: "lost", Updated: t0.Add(time.Minute)}
	update(t, s, func(tx store.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.PutAppliance(ctx, ap) },
			func() error { return tx.PutRelyingParty(ctx, rp) },
			func() error { return tx.PutPerson(ctx, p) },
			func() error { return tx.PutVID(ctx, v) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	check := func(s store.Store, who string) {
		t.Helper()
		view(t, s, func(tx store.Tx) error {
			if got, err := tx.Appliance(ctx, ap.ID); err != nil || !reflect.DeepEqual(got, ap) {
				t.Errorf("%s: appliance %+v %v, want %+v", who, got, err, ap)
			}
			if got, err := tx.RelyingParty(ctx, rp.ID); err != nil || !reflect.DeepEqual(got, rp) {
				t.Errorf("%s: relying party %+v %v, want %+v", who, got, err, rp)
			}
			if got, err := tx.Person(ctx, p.UIN); err != nil || !reflect.DeepEqual(got, p) {
				t.Errorf("%s: person %+v %v, want %+v", who, got, err, p)
			}
			if got, err := tx.VID(ctx, v.Number); err != nil || !reflect.DeepEqual(got, v) {
				t.Errorf("%s: VID %+v %v, want %+v", who, got, err, v)
			}
			if vs, err := tx.VIDsOf(ctx, p.UIN); err != nil || len(vs) != 1 || !reflect.DeepEqual(&vs[0], v) {
				t.Errorf("%s: VIDs of the person %+v %v", who, vs, err)
			}
			// A revoked VID is not expiring.
			if vs, err := tx.ExpiringVIDs(ctx, t0.Add(time.Hour), 0); err != nil || len(vs) != 0 {
				t.Errorf("%s: expiring %+v %v", who, vs, err)
			}
			return nil
		})
	}
	check(s, "replica 0")
	check(open(1), "replica 1")

	// A second put replaces: the person moves and is unlocked, the VID
	// is reinstated (and so expiring), the appliance changes group.
	p.Group, p.Locked, p.Updated = "south", nil, t0.Add(2*time.Minute)
	v.Status, v.Reason = "active", ""
	ap.Group, ap.Backfill = "", nil
	rp.Keys = rp.Keys[:1]
	update(t, s, func(tx store.Tx) error {
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		if err := tx.PutVID(ctx, v); err != nil {
			return err
		}
		if err := tx.PutRelyingParty(ctx, rp); err != nil {
			return err
		}
		return tx.PutAppliance(ctx, ap)
	})
	view(t, s, func(tx store.Tx) error {
		if got, err := tx.Person(ctx, p.UIN); err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("person after the second put: %+v %v", got, err)
		}
		if ps, _ := tx.People(ctx, "north", "", 0); len(ps) != 0 {
			t.Errorf("the person is still listed in north: %+v", ps)
		}
		if ps, _ := tx.People(ctx, "south", "", 0); len(ps) != 1 {
			t.Errorf("the person is not listed in south: %+v", ps)
		}
		if vs, err := tx.ExpiringVIDs(ctx, t0.Add(time.Hour), 0); err != nil || len(vs) != 1 || vs[0].Number != v.Number {
			t.Errorf("the reinstated VID is not expiring: %+v %v", vs, err)
		}
		if got, _ := tx.Appliance(ctx, ap.ID); got == nil || got.Group != "" || got.Backfill != nil {
			t.Errorf("appliance group after the second put: %+v", got)
		}
		if got, _ := tx.RelyingParty(ctx, rp.ID); got == nil || len(got.Keys) != 1 {
			t.Errorf("relying-party keys after the second put: %+v", got)
		}
		return nil
	})
}
