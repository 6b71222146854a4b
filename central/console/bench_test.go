package console_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/console"
	"github.com/edgetrust/edgetrust/central/store"
)

// BenchmarkPages serves console pages with 100k devices in the store
// (badger, in memory), signed in, one page of 50 devices at a time; the
// overview counts all of them.
//
//	go test -p 1 -run '^$' -bench Pages -benchtime 20x ./central/console/
func BenchmarkPages(b *testing.B) {
	t := b
	e := setup(b, console.Config{})
	a := &central.Admin{TokenID: "bench", Name: "bench"}
	for _, v := range []string{"ACME", "BETA"} {
		if _, err := e.ce.AddVendor(ctx, a, v, v); err != nil {
			b.Fatal(err)
		}
	}
	const n = 100_000
	now := e.clk.Now()
	for i := 0; i < n; i += 1000 {
		err := e.st.Update(ctx, func(tx store.Tx) error {
			ds := make([]*store.Device, 0, 1000)
			for j := i; j < i+1000; j++ {
				ds = append(ds, &store.Device{Serial: fmt.Sprintf("SN-%06d", j), VendorID: []string{"ACME", "BETA"}[j%2], Make: "Acme", Model: "F1",
					Type: "Finger", SubType: "Single", Status: "active", Enrolled: now, Updated: now,
					Certs: []store.CertRecord{{Role: "device", SHA256: "00", Issued: now, NotAfter: now}}})
			}
			return tx.PutDevices(ctx, ds...)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	secret, _ := e.session(t)
	for _, p := range []struct {
		name, path string
		recount    bool
	}{
		{"devices-first", "/console/devices", false},
		{"devices-middle", "/console/devices?after=SN-050000", false},
		{"devices-vendor-status", "/console/devices?vendor=BETA&status=active&after=SN-090000", false},
		{"devices-search", "/console/devices?q=SN-0777", false},
		{"device-detail", "/console/devices/SN-042424", false},
		{"overview-recount-100k", "/console/", true},
		{"overview-cached", "/console/", false},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				if p.recount {
					e.clk.Add(31 * time.Second) // past the count cache
				}
				if st, body := e.do(t, "GET", p.path, secret, "", ""); st != http.StatusOK {
					b.Fatalf("%s: %d %.200s", p.path, st, body)
				}
			}
		})
	}
}
