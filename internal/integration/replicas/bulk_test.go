package replicasint

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// TestBulkRevocationReachesAppliances: 1,200 published devices are revoked
// in two admin requests through two replicas while three appliances (the
// real follower and trust registry, on their own badger stores) long-poll
// other replicas. Each appliance ends with every one of them revoked and
// its certificate thumbprints kept; the feed carries three device-status
// entries (500 + 500 + 200 serials), and the appliances received them
// gzip-compressed at under 40 bytes a revocation.
func TestBulkRevocationReachesAppliances(t *testing.T) {
	cl := newCluster(t)
	if _, err := cl.c.AddVendor(ctx, cl.admin, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}
	const n = 1200
	serials := make([]string, n)
	err := cl.st.Update(ctx, func(tx store.Tx) error {
		var ds []*store.Device
		var es []store.NewEntry
		for i := range serials {
			serials[i] = fmt.Sprintf("ACME-%06d", i)
			d := &store.Device{Serial: serials[i], VendorID: "ACME", Type: "Finger", SubType: "Single", Status: trustfeed.Active,
				DeviceCert: []byte("device certificate " + serials[i]), FTMCert: []byte("FTM certificate " + serials[i])}
			ds = append(ds, d)
			es = append(es, feeds.DeviceEntry(d))
		}
		if err := tx.PutDevices(ctx, ds...); err != nil {
			return err
		}
		return feeds.Publish(ctx, tx, time.Now(), es...)
	})
	if err != nil {
		t.Fatal(err)
	}
	rs := []*replica{cl.start("r0"), cl.start("r1"), cl.start("r2")}

	type appliance struct {
		reg  *truststate.Registry
		f    *follow.Syncer
		prom *prometheus.Registry
	}
	var aps []*appliance
	for i := range 3 {
		st, err := db.Open(filepath.Join(t.TempDir(), "db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		reg, err := truststate.Open(st, nil)
		if err != nil {
			t.Fatal(err)
		}
		prom := prometheus.NewRegistry()
		f, err := follow.New(follow.Config{Central: rs[i].url, Replicas: []string{rs[(i+1)%3].url}, Feed: trustfeed.Name,
			Keys: cl.follower().Keys, Wait: 10 * time.Second, Registerer: prom, MinInterval: 10 * time.Millisecond}, reg)
		if err != nil {
			t.Fatal(err)
		}
		fctx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() { f.Run(fctx); close(stopped) }()
		t.Cleanup(func() { cancel(); <-stopped })
		aps = append(aps, &appliance{reg: reg, f: f, prom: prom})
	}
	size := func() uint64 {
		_, sz, err := cl.st.ReadFeed(ctx, trustfeed.Name, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		return sz
	}
	wireBytes := func(a *appliance) float64 {
		mfs, err := a.prom.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "edgetrust_appliance_feed_wire_bytes_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		t.Fatal("no wire bytes metric")
		return 0
	}
	converge := func(want uint64) {
		t.Helper()
		t0 := time.Now()
		for _, a := range aps {
			for a.reg.Snapshot().Size < want {
				if time.Since(t0) > 60*time.Second {
					t.Fatalf("appliance at %d, want %d: %+v", a.reg.Snapshot().Size, want, a.f.Status())
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	converge(size())
	before := make([]float64, len(aps))
	for i, a := range aps {
		before[i] = wireBytes(a)
	}
	start := size()

	hc := &http.Client{Timeout: time.Minute}
	for i, part := range [][]string{serials[:1000], serials[1000:]} {
		code, body, err := cl.adminPost(hc, rs[(i+1)%3].url, "/v1/admin/devices/status",
			map[string]any{"serials": part, "status": trustfeed.Revoked, "reason": "lost shipment"})
		if err != nil || code != http.StatusOK {
			t.Fatalf("bulk revoke: %d %s %v", code, body, err)
		}
	}
	end := size()
	if end-start != 3 {
		t.Fatalf("the two bulk revocations appended %d entries, want 3 device-status entries", end-start)
	}
	converge(end)
	for i, a := range aps {
		for _, sn := range serials {
			d, err := a.reg.Device(sn)
			if err != nil || d == nil || d.Status != trustfeed.Revoked || d.Reason != "lost shipment" || d.DeviceCertSHA256 != feeds.Thumb([]byte("device certificate "+sn)) {
				t.Fatalf("appliance %d, %s: %+v %v", i, sn, d, err)
			}
		}
		per := (wireBytes(a) - before[i]) / n
		t.Logf("appliance %d (following %s): %.1f bytes on the wire per revocation", i, a.f.Status().Central, per)
		if per > 40 {
			t.Errorf("appliance %d: %.1f bytes per revocation, goal ≤ 40", i, per)
		}
	}
	recs, _, err := cl.st.ReadFeed(ctx, trustfeed.Name, start, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		e, err := feed.DecodeEntry(r.Body)
		if err != nil || e.Kind != trustfeed.KindDeviceStatus {
			t.Fatalf("entry %d: kind %q, %v", e.Seq, e.Kind, err)
		}
	}
}
