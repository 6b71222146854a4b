package central

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// get fetches a batch over HTTP.
func (h *harness) get(t *testing.T, query string) (*feed.Batch, int, int) {
	t.Helper()
	rsp, err := http.Get(h.srv.URL + "/v1/feeds/trust?" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	body, _ := io.ReadAll(rsp.Body)
	if rsp.StatusCode != http.StatusOK {
		return nil, rsp.StatusCode, len(body)
	}
	var b feed.Batch
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return &b, rsp.StatusCode, len(body)
}

// sync applies batches until the follower is at the feed's end and returns
// the entries it applied.
func (f *follower) sync(t *testing.T, h *harness) []feed.Entry {
	t.Helper()
	var all []feed.Entry
	for {
		b, code, _ := h.get(t, fmt.Sprintf("after=%d", f.st.Head.Size))
		if code != http.StatusOK {
			t.Fatalf("feed answered %d", code)
		}
		es, st, err := f.f.Apply(f.st, b)
		if err != nil {
			t.Fatalf("follower refused a batch: %v", err)
		}
		f.st = st
		all = append(all, es...)
		if b.After+uint64(len(b.Entries)) >= b.Latest {
			break
		}
	}
	return all
}

func TestFeedOverHTTP(t *testing.T) {
	h := newHarness(t)
	fo := h.follower()
	es := fo.sync(t, h)
	if len(es) != 1 || es[0].Kind != trustfeed.KindVendor {
		t.Fatalf("initial feed = %+v, want the vendor entry", es)
	}
	v, err := trustfeed.Decode(es[0].Kind, es[0].Data)
	if err != nil || len(v.(*trustfeed.Vendor).CACert) == 0 || v.(*trustfeed.Vendor).Name != "Acme Biometrics" {
		t.Fatalf("vendor entry = %+v, %v", v, err)
	}
	// Suspend, reinstate, revoke: three entries; revocation is final.
	for _, s := range []string{trustfeed.Suspended, trustfeed.Active, trustfeed.Revoked} {
		if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", StatusChange{Status: s, Reason: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", StatusChange{Status: trustfeed.Active}); err == nil {
		t.Error("a revoked vendor was reinstated")
	}
	es = fo.sync(t, h)
	if len(es) != 3 || !strings.Contains(string(es[2].Data), `"status":"revoked"`) {
		t.Fatalf("status entries = %d", len(es))
	}

	// Bad queries are refused with reasons; a follower ahead of central is told.
	for _, q := range []string{"after=x", "after=99", "limit=0", "limit=10001", "wait=2m", "wait=-1s"} {
		if _, code, _ := h.get(t, q); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, code)
		}
	}
	rsp, err := http.Get(h.srv.URL + "/v1/feeds/nope?after=0")
	if err != nil {
		t.Fatal(err)
	}
	rsp.Body.Close()
	if rsp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown feed: %d", rsp.StatusCode)
	}
	// limit pages the feed; each page verifies on its own.
	f2 := h.follower()
	b, _, _ := h.get(t, "after=0&limit=2")
	if len(b.Entries) != 2 || b.Latest != 4 {
		t.Fatalf("limit=2: %d entries, latest %d", len(b.Entries), b.Latest)
	}
	if _, _, err := f2.f.Apply(f2.st, b); err != nil {
		t.Fatal(err)
	}
}

// TestLongPoll: a waiting request returns as soon as an entry is appended,
// and at its timeout returns an empty batch under a fresh checkpoint.
func TestLongPoll(t *testing.T) {
	h := newHarness(t)
	fo := h.follower()
	fo.sync(t, h)
	at := fo.st.Head.Size

	type result struct {
		b       *feed.Batch
		elapsed time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		b, _, _ := h.get(t, fmt.Sprintf("after=%d&wait=30s", at))
		done <- result{b, time.Since(start)}
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("the long poll answered before anything was appended")
	default:
	}
	revoked := time.Now()
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", StatusChange{Status: trustfeed.Suspended}); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if lag := time.Since(revoked); lag > time.Second {
		t.Errorf("the long poll answered %s after the change", lag)
	}
	if r.b == nil || len(r.b.Entries) != 1 {
		t.Fatalf("long poll batch = %+v", r.b)
	}
	if _, st, err := fo.f.Apply(fo.st, r.b); err != nil {
		t.Fatal(err)
	} else {
		fo.st = st
	}

	// Timeout: empty, freshly signed, and the follower accepts it.
	h.clock.Add(5 * time.Second)
	start := time.Now()
	b, _, _ := h.get(t, fmt.Sprintf("after=%d&wait=1s", fo.st.Head.Size))
	if el := time.Since(start); el < 900*time.Millisecond || el > 5*time.Second {
		t.Errorf("wait=1s answered after %s", el)
	}
	if len(b.Entries) != 0 || b.After != fo.st.Head.Size {
		t.Fatalf("timeout batch = %+v", b)
	}
	_, st, err := fo.f.Apply(fo.st, b)
	if err != nil {
		t.Fatalf("empty batch refused: %v", err)
	}
	if !st.Time.After(fo.st.Time) {
		t.Errorf("the timeout checkpoint is not fresher: %s, was %s", st.Time, fo.st.Time)
	}
}

// TestUndoRevocation: revocation is final unless an admin undoes it
// explicitly, with a reason; the undo is published and audited.
func TestUndoRevocation(t *testing.T) {
	h := newHarness(t)
	fo := h.follower()
	fo.sync(t, h)
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", StatusChange{Status: trustfeed.Revoked, Reason: "key leak"}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []StatusChange{
		{Status: trustfeed.Active},
		{Status: trustfeed.Active, Reason: "mistake"},
		{Status: trustfeed.Active, UndoRevocation: true},
		{Status: trustfeed.Suspended, UndoRevocation: true, Reason: "x"},
	} {
		if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", s); err == nil {
			t.Errorf("%+v reinstated a revoked vendor", s)
		}
	}
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", StatusChange{Status: trustfeed.Active, UndoRevocation: true, Reason: "revoked by mistake"}); err != nil {
		t.Fatal(err)
	}
	es := fo.sync(t, h)
	if len(es) != 2 || !strings.Contains(string(es[1].Data), `"status":"active"`) || !strings.Contains(string(es[1].Data), "revoked by mistake") {
		t.Fatalf("feed after undo: %d entries", len(es))
	}
}

// TestBulkStatusIsOneEntryPer500Devices: a status change of many devices is
// published as device-status entries of up to 500 serials (status and
// reason only; the devices' certificates were published when they
// enrolled), one device's change as its whole device entry, and with
// PerDeviceStatusEntries (appliances not upgraded yet) as whole device
// entries again. Over HTTP with Accept-Encoding: gzip the thousand
// revocations cost under 40 bytes each.
func TestBulkStatusIsOneEntryPer500Devices(t *testing.T) {
	h := newHarness(t)
	var serials []string
	var ds []*store.Device
	for i := range 1001 {
		sn := fmt.Sprintf("ACME-%06d", i)
		serials = append(serials, sn)
		ds = append(ds, &store.Device{Serial: sn, VendorID: "ACME", Status: trustfeed.Active, DeviceCert: []byte{1}})
	}
	if err := h.st.Update(ctx, func(tx store.Tx) error { return tx.PutDevices(ctx, ds...) }); err != nil {
		t.Fatal(err)
	}
	fo := h.follower()
	fo.sync(t, h)
	if _, err := h.c.SetDeviceStatus(ctx, h.admin, serials[:1000], StatusChange{Status: trustfeed.Revoked, Reason: "lost shipment"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.SetDeviceStatus(ctx, h.admin, serials[1000:], StatusChange{Status: trustfeed.Suspended, Reason: "check"}); err != nil {
		t.Fatal(err)
	}
	// The wire: gzip asked for, as appliances do.
	req, _ := http.NewRequest("GET", fmt.Sprintf("%s/v1/feeds/trust?after=%d", h.srv.URL, fo.st.Head.Size), nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rsp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, wire, err := feed.ReadBody(rsp.Body, rsp.Header.Get("Content-Encoding"), 1<<20)
	rsp.Body.Close()
	if err != nil || rsp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("gzip answer: %v, Content-Encoding %q", err, rsp.Header.Get("Content-Encoding"))
	}
	if per := float64(wire) / 1001; per > 40 {
		t.Errorf("%.1f bytes per status change on the wire, goal ≤ 40", per)
	}
	es := fo.sync(t, h)
	if len(es) != 3 || es[0].Kind != trustfeed.KindDeviceStatus || es[1].Kind != trustfeed.KindDeviceStatus || es[2].Kind != trustfeed.KindDevice {
		t.Fatalf("%d entries after a bulk and a single change", len(es))
	}
	got := map[string]bool{}
	for _, e := range es[:2] {
		v, err := trustfeed.Decode(e.Kind, e.Data)
		if err != nil {
			t.Fatal(err)
		}
		x := v.(*trustfeed.DeviceStatus)
		if x.Status != trustfeed.Revoked || x.Reason != "lost shipment" || len(x.Serials) != 500 {
			t.Fatalf("device-status entry: %s %q %d serials", x.Status, x.Reason, len(x.Serials))
		}
		for _, sn := range x.Serials {
			got[sn] = true
		}
	}
	if len(got) != 1000 || got[serials[1000]] {
		t.Fatalf("device-status entries list %d devices", len(got))
	}

	h.c.reg.PerDeviceStatusEntries = true
	if _, err := h.c.SetDeviceStatus(ctx, h.admin, serials[:3], StatusChange{Status: trustfeed.Active, Reason: "found", UndoRevocation: true}); err != nil {
		t.Fatal(err)
	}
	es = fo.sync(t, h)
	if len(es) != 3 || es[0].Kind != trustfeed.KindDevice || es[2].Kind != trustfeed.KindDevice {
		t.Fatalf("per-device mode: %d entries, first %q", len(es), es[0].Kind)
	}
}
