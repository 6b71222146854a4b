package appliance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

// BenchmarkVerifyHTTP measures POST /v1/captures/verify end to end on a
// running appliance (HTTP, rate limiter, logging, metrics) with a real
// one-finger auth capture whose session key the TPM (simulator) unwraps.
// -tpm=false runs the appliance without a TPM key: every check but the
// unwrap (the answer is then invalid, hash-not-verified).
//
//	go test -run '^$' -bench VerifyHTTP -benchtime 3s ./appliance/
func BenchmarkVerifyHTTP(b *testing.B) {
	for _, withTPM := range []bool{true, false} {
		name := "tpm-sim"
		if !withTPM {
			name = "no-key"
		}
		b.Run(name, func(b *testing.B) { benchHTTP(b, withTPM) })
	}
}

func benchHTTP(b *testing.B, withTPM bool) {
	dir := b.TempDir()
	srv, err := feedtest.New(truststate.FeedName)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	keyFile := filepath.Join(b.TempDir(), "feed.pem")
	os.WriteFile(keyFile, srv.PublicKeyPEM(), 0o644)
	cfg := appliance.Config{State: dir, Listen: "127.0.0.1:0", Central: srv.URL(), FeedKeys: []string{keyFile},
		CaptureMaxAge: appliance.Duration(time.Hour), RateLimit: -1}
	if withTPM {
		cfg.TPM = "sim"
	} else {
		// The agent needs a certificate to encrypt to even when the
		// appliance runs without the key.
		keys, err := tpmkey.Open(context.Background(), "sim", dir, "bench", time.Now(), false)
		if err != nil {
			b.Fatal(err)
		}
		keys.Close()
	}
	a, err := appliance.Start(context.Background(), cfg, appliance.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	vendor := agenttest.NewVendor(b, "v1")
	ag := agenttest.Start(b, vendor, filepath.Join(dir, tpmkey.CertFile), agenttest.Devices()[0])
	const dev = "TFA000000001"
	srv.Append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Status: trustfeed.Active, CACert: vendor.Cert.Raw})
	srv.Append(trustfeed.KindDevice, trustfeed.Device{Serial: dev, VendorID: "v1", Status: trustfeed.Active,
		DeviceCertSHA256: sbi.Thumbprint(ag.DeviceCert(b, dev)), FTMCertSHA256: sbi.Thumbprint(ag.FTMCert(b, dev))})
	waitFor(b, 5*time.Second, "sync", func() bool { return a.Status().Trust.Size == 2 })
	req := agenttest.AuthRequest(dev, sbi.TypeFinger, 1)
	raw := ag.Capture(b, req)
	body, _ := json.Marshal(map[string]any{"transactionId": req.TransactionID, "response": json.RawMessage(raw)})
	url := a.URL() + "/v1/captures/verify"
	cl := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := cl.Post(url, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			var r struct{ Valid bool }
			json.NewDecoder(resp.Body).Decode(&r)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || r.Valid != withTPM {
				b.Errorf("status %d valid %v", resp.StatusCode, r.Valid)
				return
			}
		}
	})
	b.StopTimer()
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
}
