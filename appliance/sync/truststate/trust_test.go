package truststate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

func TestApplyBuildsTrustAnchors(t *testing.T) {
	e := newEnv(t)
	ca1, ca2 := caCert(t, "vendor one CA"), caCert(t, "vendor two CA")
	e.append(trustfeed.KindVendor,
		trustfeed.Vendor{ID: "v1", Name: "Vendor One", Status: trustfeed.Active, CACert: ca1},
		trustfeed.Vendor{ID: "v2", Name: "Vendor Two", Status: trustfeed.Suspended, CACert: ca2})
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Active), device("SN2", "v2", trustfeed.Active))
	e.append(trustfeed.KindAppliance, trustfeed.Appliance{ID: "edge-1", Status: trustfeed.Active})
	e.pollAll()

	snap := e.reg.Snapshot()
	if snap.Size != 5 || snap.CheckpointTime.IsZero() {
		t.Fatalf("snapshot size %d, checkpoint %v", snap.Size, snap.CheckpointTime)
	}
	if len(snap.Vendors) != 2 || snap.Vendors["v1"].Cert == nil || snap.Vendors["v2"].Status != trustfeed.Suspended {
		t.Fatalf("vendors: %+v", snap.Vendors)
	}
	// Only the active vendor's CA is a root.
	if n := snap.Anchors; n != 1 {
		t.Fatalf("%d roots, want 1 (the active vendor)", n)
	}
	d, err := e.reg.Device("SN1")
	if err != nil || d == nil || d.VendorID != "v1" || d.Seq != 3 {
		t.Fatalf("device SN1: %+v %v", d, err)
	}
	if d, _ := e.reg.Device("nope"); d != nil {
		t.Fatal("unknown device found")
	}
	if a, _ := e.reg.Appliance("edge-1"); a == nil || a.Status != trustfeed.Active {
		t.Fatalf("appliance: %+v", a)
	}
	checkStore(t, e.st, e.srv.Entries())
}

func TestStatusOnlyEntriesKeepCertificates(t *testing.T) {
	e := newEnv(t)
	ca := caCert(t, "v1 CA")
	d := device("SN1", "v1", trustfeed.Active)
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Name: "V", Status: trustfeed.Active, CACert: ca})
	e.append(trustfeed.KindDevice, d)
	e.pollAll()
	gen := e.reg.Snapshot().Generation

	// Status-only changes: no caCert, no thumbprints.
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Revoked})
	e.append(trustfeed.KindDevice, trustfeed.Device{Serial: "SN1", VendorID: "v1", Status: trustfeed.Suspended})
	e.pollAll()
	snap := e.reg.Snapshot()
	v := snap.Vendors["v1"]
	if v.Status != trustfeed.Revoked || v.Cert == nil || v.Name != "V" || snap.Generation == gen {
		t.Fatalf("vendor after status-only revoke: %+v gen %d", v, snap.Generation)
	}
	if snap.Anchors != 0 {
		t.Fatal("a revoked vendor's CA is still a root")
	}
	got, _ := e.reg.Device("SN1")
	if got.Status != trustfeed.Suspended || got.DeviceCertSHA256 != d.DeviceCertSHA256 {
		t.Fatalf("device after status-only change: %+v", got)
	}
	// Reinstated: the CA is a root again.
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active})
	e.pollAll()
	if e.reg.Snapshot().Anchors != 1 {
		t.Fatal("reinstated vendor's CA is not a root")
	}
}

func TestLongPollAppliesRevocationWithinASecond(t *testing.T) {
	e := newEnv(t)
	e.close()
	e.open(follow.Config{Wait: 30 * time.Second})
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Active))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { e.sync.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	waitFor(t, 5*time.Second, func() bool { return e.reg.Snapshot().Size == 2 })
	// Let the follower settle into a long poll.
	waitFor(t, 5*time.Second, func() bool { return e.srv.Waiting() == 1 })

	t0 := time.Now()
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Revoked))
	waitFor(t, 5*time.Second, func() bool {
		d, _ := e.reg.Device("SN1")
		return d != nil && d.Status == trustfeed.Revoked
	})
	lat := time.Since(t0)
	t.Logf("revocation applied %v after it was appended", lat)
	if lat > time.Second {
		t.Fatalf("revocation took %v to apply, want ≤ 1s", lat)
	}
	var waited bool
	for _, r := range e.srv.Requests() {
		waited = waited || r.Wait == 30*time.Second
	}
	if !waited {
		t.Fatalf("the follower never long-polled: %+v", e.srv.Requests())
	}
}

func TestRestartResumesFromStoredState(t *testing.T) {
	e := newEnv(t)
	e.srv.MaxBatch = 100
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	for i := range 249 {
		e.append(trustfeed.KindDevice, device(fmt.Sprintf("SN%03d", i%120), "v1", []string{trustfeed.Active, trustfeed.Suspended}[i%2]))
	}
	e.pollAll()
	if got := checkStore(t, e.st, e.srv.Entries()); got != 250 {
		t.Fatalf("size %d", got)
	}
	e.close()
	for i := range 50 {
		e.append(trustfeed.KindDevice, device(fmt.Sprintf("SN%03d", i), "v1", trustfeed.Revoked))
	}
	before := len(e.srv.Requests())
	e.open(follow.Config{})
	if e.reg.Snapshot().Size != 250 {
		t.Fatalf("reopened at %d", e.reg.Snapshot().Size)
	}
	e.pollAll()
	rs := e.srv.Requests()[before:]
	if rs[0].After != 250 {
		t.Fatalf("resumed after %d, want 250", rs[0].After)
	}
	if got := checkStore(t, e.st, e.srv.Entries()); got != 300 {
		t.Fatalf("size %d after resume", got)
	}
	if n, _ := e.reg.Applied(); n != 300 {
		t.Fatalf("applied %d entries for a feed of 300", n)
	}
}

func TestBadBatchesAreRefusedAndLogged(t *testing.T) {
	e := newEnv(t)
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Active), device("SN2", "v1", trustfeed.Active))
	e.pollAll()

	cases := []struct {
		name, reason string
		break_, fix  func(ref [][]byte)
	}{
		{"bad signature", "signature", func([][]byte) { e.srv.SetFault(feedtest.BadSignature) }, func([][]byte) { e.srv.SetFault(feedtest.None) }},
		{"unknown key", "unknown-key", func([][]byte) { e.srv.SetFault(feedtest.UnknownKey) }, func([][]byte) { e.srv.SetFault(feedtest.None) }},
		{"checkpoint older than the accepted one", "rollback", func([][]byte) { e.srv.SetFault(feedtest.OldTime) }, func([][]byte) { e.srv.SetFault(feedtest.None) }},
		{"checkpoint from the future", "future-checkpoint", func([][]byte) { e.srv.SetFault(feedtest.FutureTime) }, func([][]byte) { e.srv.SetFault(feedtest.None) }},
		{"fork: history rewritten", "fork",
			func([][]byte) { e.srv.Rewrite(2, device("SN1", "v1", trustfeed.Revoked)) },
			func([][]byte) { e.srv.Rewrite(2, device("SN1", "v1", trustfeed.Active)) }},
		{"rollback: central lost entries", "rollback",
			func([][]byte) { e.srv.Truncate(1) },
			func(ref [][]byte) { e.srv.Truncate(0); e.srv.AppendRaw(ref...) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ref := e.srv.Entries()
			c.break_(ref)
			size := e.reg.Snapshot().Size
			e.append(trustfeed.KindDevice, device("SN2", "v1", trustfeed.Revoked))
			_, err := e.sync.Poll(t.Context(), 0)
			var re *follow.RefusedError
			if !errors.As(err, &re) || re.Reason != c.reason {
				t.Fatalf("want refusal %q, got %v", c.reason, err)
			}
			if e.reg.Snapshot().Size != size {
				t.Fatal("a refused batch changed the state")
			}
			checkStore(t, e.st, ref)
			// Through the loop: logged at error level with the reason.
			line := `"level":"ERROR","msg":"feed batch refused; keeping the stored state","feed":"trust","reason":"` + c.reason + `"`
			before := strings.Count(e.log.String(), line)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan struct{})
			go func() { e.sync.Run(ctx); close(done) }()
			waitFor(t, 5*time.Second, func() bool { return strings.Count(e.log.String(), line) > before })
			c.fix(ref)
			waitFor(t, 5*time.Second, func() bool { return e.reg.Snapshot().Size == e.srv.Size() })
			cancel()
			<-done
			checkStore(t, e.st, e.srv.Entries())
		})
	}
}

func TestUndecodableEntryRefusesTheBatch(t *testing.T) {
	e := newEnv(t)
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	e.pollAll()
	// Signed and consistent, but a device without a vendor is not an entry
	// the appliance can apply: refuse rather than skip (it could be a revocation).
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Active), map[string]string{"serial": "SN2", "status": "revoked"})
	_, err := e.sync.Poll(t.Context(), 0)
	var re *follow.RefusedError
	if !errors.As(err, &re) || re.Reason != "entry" || !errors.Is(err, ErrBadEntry) {
		t.Fatalf("want an entry refusal, got %v", err)
	}
	if d, _ := e.reg.Device("SN1"); d != nil || e.reg.Snapshot().Size != 1 {
		t.Fatal("part of a refused batch was applied")
	}
	// A vendor CA certificate that does not parse is refused too.
	e2 := newEnv(t)
	e2.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: []byte("not DER")})
	if _, err := e2.sync.Poll(t.Context(), 0); !errors.Is(err, ErrBadEntry) {
		t.Fatalf("bad CA accepted: %v", err)
	}
}

func TestLargeBatchIsAppliedInVerifiedChunks(t *testing.T) {
	e := newEnv(t)
	e.close()
	e.open(follow.Config{ChunkEntries: 128})
	e.srv.MaxBatch = 5000
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	var ds []any
	for i := range 1000 {
		ds = append(ds, device(fmt.Sprintf("SN%04d", i%700), "v1", trustfeed.Active))
	}
	e.append(trustfeed.KindDevice, ds...)
	res, err := e.sync.Poll(t.Context(), 0)
	if err != nil || res.Applied != 1001 {
		t.Fatalf("%+v %v", res, err)
	}
	checkStore(t, e.st, e.srv.Entries())
	st, _ := e.reg.State()
	if st.Time.IsZero() || !e.reg.Snapshot().CheckpointTime.Equal(st.Time) {
		t.Fatal("the final chunk did not store the new checkpoint")
	}
}

func TestCentralDownKeepsTheStore(t *testing.T) {
	e := newEnv(t)
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Active))
	e.pollAll()
	cp := e.reg.Snapshot().CheckpointTime
	e.srv.Down()
	_, err := e.sync.Poll(t.Context(), 0)
	var re *follow.RefusedError
	if err == nil || errors.As(err, &re) {
		t.Fatalf("central down: want a transport error, got %v", err)
	}
	if d, _ := e.reg.Device("SN1"); d == nil || !e.reg.Snapshot().CheckpointTime.Equal(cp) {
		t.Fatal("store changed while central was down")
	}
	if err := e.srv.Up(); err != nil {
		t.Fatal(err)
	}
	e.append(trustfeed.KindDevice, device("SN1", "v1", trustfeed.Revoked))
	e.pollAll()
	if d, _ := e.reg.Device("SN1"); d.Status != trustfeed.Revoked {
		t.Fatal("not resumed after central came back")
	}
}

func TestApplyRefusesEntriesThatDoNotContinueTheState(t *testing.T) {
	e := newEnv(t)
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: caCert(t, "CA")})
	e.pollAll()
	st, _ := e.reg.State()
	// Same state again with no entries is fine (a fresh checkpoint); a
	// claim of one more entry than given is not.
	if err := e.reg.Apply(nil, st); err != nil {
		t.Fatal(err)
	}
	st.Head.Size++
	if err := e.reg.Apply(nil, st); !errors.Is(err, ErrConflict) {
		t.Fatalf("want ErrConflict, got %v", err)
	}
}

func waitFor(t testing.TB, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("condition not met within %v", d)
}

// A device-status entry changes the status and reason of every device it
// lists and nothing else (certificates, vendor, type stay); a serial the
// appliance never saw is kept with its status alone, so it matches no
// capture; one undecodable device-status entry refuses its whole batch.
func TestDeviceStatusEntryChangesOnlyStatus(t *testing.T) {
	e := newEnv(t)
	ca := caCert(t, "v1 CA")
	e.append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Name: "V", Status: trustfeed.Active, CACert: ca})
	var serials []string
	want := map[string]trustfeed.Device{}
	for i := range 5 {
		d := device(fmt.Sprintf("SN-%d", i), "v1", trustfeed.Active)
		d.Type = "Finger"
		e.append(trustfeed.KindDevice, d)
		want[d.Serial] = d
		serials = append(serials, d.Serial)
	}
	e.pollAll()
	e.append(trustfeed.KindDeviceStatus, trustfeed.DeviceStatus{Status: trustfeed.Revoked, Reason: "lost batch", Serials: []string{serials[1], serials[2], serials[3], "SN-unknown"}})
	e.pollAll()
	for i, sn := range serials {
		got, err := e.reg.Device(sn)
		if err != nil || got == nil {
			t.Fatalf("%s: %v %v", sn, got, err)
		}
		w := want[sn]
		status, reason := trustfeed.Active, ""
		if i >= 1 && i < 4 {
			status, reason = trustfeed.Revoked, "lost batch"
		}
		if got.Status != status || got.Reason != reason || got.DeviceCertSHA256 != w.DeviceCertSHA256 || got.VendorID != "v1" || got.Type != "Finger" {
			t.Errorf("%s after device-status: %+v", sn, got)
		}
	}
	unk, _ := e.reg.Device("SN-unknown")
	if unk == nil || unk.Status != trustfeed.Revoked || unk.VendorID != "" || unk.DeviceCertSHA256 != "" {
		t.Fatalf("unknown serial: %+v", unk)
	}
	if !strings.Contains(e.log.String(), `"msg":"device status changes","entries":1,"devices":4`) {
		t.Errorf("no summary line in the log:\n%s", e.log.String())
	}

	size := e.reg.Snapshot().Size
	e.append(trustfeed.KindDeviceStatus, json.RawMessage(`{"status":"active","serials":["SN-0","SN-0"]}`))
	if _, err := e.sync.Poll(e.t.Context(), 0); err == nil {
		t.Fatal("a batch with a bad device-status entry was not refused")
	}
	if e.reg.Snapshot().Size != size {
		t.Fatal("a device-status entry listing a serial twice was applied")
	}
	if got, _ := e.reg.Device("SN-1"); got.Status != trustfeed.Revoked {
		t.Fatalf("refused batch changed SN-1: %+v", got)
	}
}
