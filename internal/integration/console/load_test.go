package consoleint

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
)

// navTiming is the page's PerformanceNavigationTiming, in ms from the
// navigation's start.
type navTiming struct {
	RequestStart  float64 `json:"requestStart"`
	ResponseStart float64 `json:"responseStart"`
	ResponseEnd   float64 `json:"responseEnd"`
	DOMContent    float64 `json:"domContentLoadedEventEnd"`
	LoadEnd       float64 `json:"loadEventEnd"`
	Bytes         float64 `json:"decodedBodySize"`
}

// navigationTiming waits for the load event to end and reads the timing.
func navigationTiming(t *testing.T, bctx context.Context) navTiming {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	js := ""
	for js == "" {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`(() => { const n = performance.getEntriesByType("navigation")[0];
		return n && n.loadEventEnd > 0 ? JSON.stringify(n.toJSON()) : "" })()`))
		if err == nil {
			js = v
		}
		if js == "" {
			if time.Now().After(deadline) {
				t.Fatalf("navigation timing: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var n navTiming
	if err := json.Unmarshal([]byte(js), &n); err != nil {
		t.Fatal(err)
	}
	return n
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// TestConsoleLoad100k measures console page loads in Chromium with
// 100,000 devices in central's store (in-memory badger, 2 vendors): the
// Navigation Timing of each page (time to first byte — central's work
// plus loopback TLS —, DOMContentLoaded and the load event), the median
// and the fastest of EDGETRUST_CONSOLE_LOADS (default 10) loads. It
// reports; it asserts nothing about time. Off unless
// EDGETRUST_CONSOLE_LOAD=1 (seeding takes a while):
//
//	EDGETRUST_CONSOLE_LOAD=1 go test -p 1 -run TestConsoleLoad100k -v ./internal/integration/console/
func TestConsoleLoad100k(t *testing.T) {
	if os.Getenv("EDGETRUST_CONSOLE_LOAD") != "1" {
		t.Skip("a measurement: set EDGETRUST_CONSOLE_LOAD=1 to run it")
	}
	loads := 10
	if v := os.Getenv("EDGETRUST_CONSOLE_LOADS"); v != "" {
		fmt.Sscan(v, &loads)
	}
	s := start(t)
	a := &central.Admin{TokenID: "seed", Name: "seed"}
	for _, v := range []string{"ACME", "BETA"} {
		if _, err := s.ce.AddVendor(ctx, a, v, v); err != nil {
			t.Fatal(err)
		}
	}
	// Sign in first: registration lands on the overview, which counts the
	// (no) devices; the first overview measured below comes after that
	// count's 30 s cache, so it counts all 100k.
	bctx := s.signIn(t)
	counted := time.Now()
	const n = 100_000
	seedStart := time.Now()
	now := time.Now().UTC()
	for i := 0; i < n; i += 1000 {
		err := s.st.Update(ctx, func(tx store.Tx) error {
			ds := make([]*store.Device, 0, 1000)
			for j := i; j < i+1000; j++ {
				ds = append(ds, &store.Device{Serial: fmt.Sprintf("SN-%06d", j), VendorID: []string{"ACME", "BETA"}[j%2], Make: "Acme", Model: "F1",
					Type: "Finger", SubType: "Single", Status: "active", Enrolled: now, Updated: now,
					Certs: []store.CertRecord{{Role: "device", SHA256: "00", Issued: now, NotAfter: now.Add(time.Hour)}}})
			}
			return tx.PutDevices(ctx, ds...)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("seeded %d devices in %v", n, time.Since(seedStart).Round(time.Millisecond))
	time.Sleep(time.Until(counted.Add(31 * time.Second)))

	type result struct {
		name            string
		ttfb, dcl, load []float64
		bytes           float64
	}
	var results []*result
	measure := func(name, path string, times int) *result {
		r := &result{name: name}
		for range times {
			run(t, bctx, chromedp.Navigate(s.origin+path))
			nt := navigationTiming(t, bctx)
			r.ttfb = append(r.ttfb, nt.ResponseStart-nt.RequestStart)
			r.dcl = append(r.dcl, nt.DOMContent)
			r.load = append(r.load, nt.LoadEnd)
			r.bytes = nt.Bytes
		}
		results = append(results, r)
		return r
	}
	// The first overview counts all 100k devices; later ones reuse the
	// count for 30 s.
	measure("overview, counting 100k devices (first load)", "/console/", 1)
	if row, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("main a[href='/console/devices']").closest("tr").textContent`)); err != nil || !strings.Contains(row, "100000") {
		t.Fatalf("the overview did not count 100k devices: %q %v", row, err)
	}
	measure("overview, count cached", "/console/", loads)
	measure("devices, first page", "/console/devices", loads)
	if rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`)); err != nil || rows != 50 {
		t.Fatalf("devices page: %d rows (%v), want 50", rows, err)
	}
	// Follow the page's own "Next page" link, as an admin paging does.
	next := &result{name: "devices, next page (the page's rel=next link)"}
	for range loads {
		run(t, bctx, chromedp.Navigate(s.origin+"/console/devices?after=SN-050000"), chromedp.Click(chromedp.CSS(`a[rel=next]`)))
		waitQuery(t, bctx, "after=SN-050050")
		nt := navigationTiming(t, bctx)
		next.ttfb, next.dcl, next.load, next.bytes = append(next.ttfb, nt.ResponseStart-nt.RequestStart), append(next.dcl, nt.DOMContent), append(next.load, nt.LoadEnd), nt.Bytes
	}
	results = append(results, next)
	measure("devices, a middle page (after=SN-050000)", "/console/devices?after=SN-050000", loads)
	measure("devices of a vendor with a status", "/console/devices?vendor=BETA&status=active&after=SN-090000", loads)
	measure("serial prefix search (q=SN-0777)", "/console/devices?q=SN-0777", loads)
	measure("device detail", "/console/devices/SN-042424", loads)

	count, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("tbody tr").length`))
	if err != nil || count == 0 {
		t.Fatalf("device detail rows: %d %v", count, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d loads each (first overview: 1), Chromium headless, GOMAXPROCS %d; ms: median (fastest)\n", loads, runtime.GOMAXPROCS(0))
	fmt.Fprintf(&b, "| page | time to first byte | DOMContentLoaded | load event | HTML |\n|---|---|---|---|---|\n")
	for _, r := range results {
		lo := func(xs []float64) float64 { s := append([]float64(nil), xs...); sort.Float64s(s); return s[0] }
		fmt.Fprintf(&b, "| %s | %.1f (%.1f) | %.1f (%.1f) | %.1f (%.1f) | %.0f KB |\n", r.name,
			median(r.ttfb), lo(r.ttfb), median(r.dcl), lo(r.dcl), median(r.load), lo(r.load), r.bytes/1000)
	}
	t.Log(b.String())
}

func waitQuery(t *testing.T, bctx context.Context, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](`location.search`))
		if err == nil && strings.Contains(v, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	v, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`location.href + " | " + document.body.innerText.slice(-300)`))
	t.Fatalf("never reached a page with %s: at %s", want, v)
}
