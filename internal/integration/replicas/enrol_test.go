package replicasint

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// hopper sends each request to the next replica in turn, and runs
// beforeFinish (once) before an enrolment finish: a client behind a load
// balancer whose replicas come and go.
type hopper struct {
	mu           sync.Mutex
	urls         func() []string
	n            int
	beforeFinish func()
}

// backendTransport is the balancer's side: a fresh connection per request,
// so a request is never sent down a pooled connection to a replica killed
// since (that ends in EOF after the request left, which neither a balancer
// nor the client may retry), as a balancer's health-checked pool avoids.
var backendTransport = &http.Transport{DisableKeepAlives: true}

func (h *hopper) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/finish") && h.beforeFinish != nil {
		h.mu.Lock()
		f := h.beforeFinish
		h.beforeFinish = nil
		h.mu.Unlock()
		if f != nil {
			f()
		}
	}
	var err error
	for range 3 {
		h.mu.Lock()
		urls := h.urls()
		u, _ := url.Parse(urls[h.n%len(urls)])
		h.n++
		h.mu.Unlock()
		rr := r.Clone(r.Context())
		rr.URL.Host, rr.Host = u.Host, u.Host
		if r.GetBody != nil {
			if rr.Body, err = r.GetBody(); err != nil {
				return nil, err
			}
		}
		var rsp *http.Response
		if rsp, err = backendTransport.RoundTrip(rr); err == nil {
			return rsp, nil
		}
		// Like a load balancer, skip a replica that refuses connections
		// (the request never reached it).
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "dial" {
			return nil, err
		}
	}
	return nil, err
}

// simDevice is a TPM (the in-process simulator) with an AK and one
// device's keys, as an agent has.
type simDevice struct {
	tpm *tpm.TPM
	p   *enrol.Prover
	dev enrol.DeviceKeys
	ek  string
}

func newSimDevice(t *testing.T, serial string) *simDevice {
	t.Helper()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ftm, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := tp.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := tp.EndorsementKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fp, err := enrol.EKFingerprint(ek.Public())
	if err != nil {
		t.Fatal(err)
	}
	return &simDevice{tpm: tp, p: &enrol.Prover{TPM: tp, AK: ak}, ek: fp, dev: enrol.DeviceKeys{FTM: ftm, Device: dk, DigitalID: sbi.DigitalID{
		SerialNo: serial, Make: "Acme", Model: "F1", Type: sbi.TypeFinger, DeviceSubType: "Single",
		DeviceProvider: "Acme Biometrics", DeviceProviderID: "ACME"}}}
}

// TestEnrolAcrossReplicas: TPM-attested device enrolments whose start and
// finish reach different replicas, concurrently with revocations through
// all three; for one of them the replica that answered start is killed
// (SIGKILL) before finish, which another replica completes from the
// session in the database. Each enrolled device is in the feed exactly
// once, after its vendor, in one gap-free feed.
func TestEnrolAcrossReplicas(t *testing.T) {
	cl := newCluster(t)
	serials := cl.addDevices(30) // adds vendor ACME
	const enrolments = 3
	devs := make([]*simDevice, enrolments)
	for i := range devs {
		devs[i] = newSimDevice(t, fmt.Sprintf("SIM-%d", i))
		cl.ekAllow = append(cl.ekAllow, devs[i].ek)
	}
	var mu sync.Mutex
	rs := []*replica{cl.start("r0"), cl.start("r1"), cl.start("r2")}
	urls := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return []string{rs[0].url, rs[1].url, rs[2].url}
	}
	var wg sync.WaitGroup
	// Revocations meanwhile, through every replica.
	hc := &http.Client{Timeout: time.Minute}
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(serials); i += 3 {
				for attempt := 0; ; attempt++ {
					code, body, err := cl.adminPost(hc, urls()[(i+attempt)%3], "/v1/admin/devices/status",
						map[string]any{"serials": []string{serials[i]}, "status": trustfeed.Revoked, "reason": "test"})
					if err == nil && (code == http.StatusOK || (attempt > 0 && code == http.StatusConflict)) {
						break
					}
					if attempt > 5 {
						t.Errorf("revoking %s: %d %s %v", serials[i], code, body, err)
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	results := make([]error, enrolments)
	for i, d := range devs {
		tok, err := cl.c.CreateEnrolmentToken(ctx, cl.admin, central.TokenRequest{Kind: store.TokenDevice, VendorID: "ACME"})
		if err != nil {
			t.Fatal(err)
		}
		h := &hopper{urls: urls, n: i}
		if i == 0 {
			// Start goes to r0; r0 dies before finish; finish goes to
			// the next replica in turn (r1).
			h.beforeFinish = func() {
				mu.Lock()
				r := rs[0]
				mu.Unlock()
				r.kill()
				nr := cl.start("r0")
				mu.Lock()
				rs[0] = nr
				mu.Unlock()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = d.p.EnrolDevices(ctx, &enrol.Client{URL: "http://replicas", HTTP: &http.Client{Transport: h, Timeout: time.Minute}},
				tok.Token, []enrol.DeviceKeys{d.dev})
		}()
		if i == 0 {
			// The others run together once r0 has been killed and
			// replaced: a request in flight to a replica as it dies fails
			// whatever the client does (it may have been applied), which
			// is not what this test is about.
			wg.Wait()
		}
	}
	wg.Wait()
	for i, err := range results {
		if err != nil {
			t.Errorf("enrolment %d (start and finish on different replicas): %v", i, err)
		}
	}
	entries, _ := cl.syncAll(urls()[2])
	seen := map[string]int{}
	vendorAt := -1
	for i, e := range entries {
		switch e.Kind {
		case trustfeed.KindVendor:
			vendorAt = i
		case trustfeed.KindDevice:
			var d trustfeed.Device
			json.Unmarshal(e.Data, &d)
			if strings.HasPrefix(d.Serial, "SIM-") {
				if vendorAt < 0 || d.Status != trustfeed.Active || d.DeviceCertSHA256 == "" {
					t.Errorf("enrolled device entry %+v (vendor entry at %d)", d, vendorAt)
				}
				seen[d.Serial]++
			}
		}
	}
	for i := range devs {
		if n := seen[fmt.Sprintf("SIM-%d", i)]; n != 1 {
			t.Errorf("SIM-%d is in the feed %d times, want once", i, n)
		}
	}
	if _, err := cl.c.VerifyAudit(ctx); err != nil {
		t.Error(err)
	}
}
