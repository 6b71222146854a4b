package auth_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/internal/delegate"
	"github.com/edgetrust/edgetrust/sbi"
)

// BenchmarkDemoAuth is demographic authentication through the HTTP
// handler: API-key check, record lookup (HMAC, AES-GCM, Ed25519 verify),
// normalised comparison, RS256 signature by the (simulated) TPM, audit.
func BenchmarkDemoAuth(b *testing.B) {
	for _, mode := range []string{"tpm", "delegated"} {
		b.Run("sign="+mode, func(b *testing.B) {
			f := newFixture(b, func(c *auth.Config) {
				c.MaxInFlight = 64
				if mode == "delegated" {
					c.Delegate = mustDelegate(b, c)
				}
			})
			number := f.person("1111222233", "perpetual", asha, nil, nil)
			body, _ := json.Marshal(demoReq(number, map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01"}))
			key := "Bearer " + f.rpKeys["kiosk-b"].String()
			lat := make(chan time.Duration, 1<<16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					start := time.Now()
					req := httptest.NewRequest(http.MethodPost, "/v1/auth", bytes.NewReader(body))
					req.Header.Set("Authorization", key)
					w := httptest.NewRecorder()
					f.h.ServeHTTP(w, req)
					if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"authStatus":true`)) {
						b.Fatalf("HTTP %d %s", w.Code, w.Body)
					}
					select {
					case lat <- time.Since(start):
					default:
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "auth/s")
			reportP99(b, lat)
		})
	}
}

// mustDelegate makes a decision delegate for c's signing key.
func mustDelegate(b testing.TB, c *auth.Config) *delegate.Holder {
	h, err := delegate.NewHolder(c.SigningKey, auth.DelegateUse, c.ApplianceID, time.Hour, nil)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// reportP99 reports the 99th percentile of the latencies collected.
func reportP99(b *testing.B, lat chan time.Duration) {
	close(lat)
	var all []time.Duration
	for d := range lat {
		all = append(all, d)
	}
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkBioAuth is one fingerprint authentication end to end, capture
// excluded: the handler verifies the SBI capture (signatures, chains,
// registry, bioValue session key unwrapped in the TPM, hash chain),
// extracts the probe's minutiae, matches it 1:1 against the record's four
// templates, signs and audits. The same capture is sent each time, so the
// replay check (one badger transaction, tens of µs) is off.
func BenchmarkBioAuth(b *testing.B) {
	for _, mode := range []string{"tpm", "delegated", "delegated,unwrap=software"} {
		b.Run("sign="+mode, func(b *testing.B) {
			fixtureSoftUnwrap = strings.HasSuffix(mode, "unwrap=software")
			defer func() { fixtureSoftUnwrap = false }()
			f := newFixture(b, func(c *auth.Config) {
				c.ReplayWindow = -1
				if strings.HasPrefix(mode, "delegated") {
					c.Delegate = mustDelegate(b, c)
				}
			})
			f.capv.MaxAge = time.Hour
			number := f.person("1212343456", "perpetual", asha, f.enrolFingers(7), nil)
			f.present(7, "Left IndexFinger")
			txn := txnID()
			body, _ := json.Marshal(bioReq(number, txn, f.authCapture(fingerAuth, sbi.TypeFinger, txn)))
			key := "Bearer " + f.rpKeys["kiosk-a"].String()
			b.ResetTimer()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/auth", bytes.NewReader(body))
				req.Header.Set("Authorization", key)
				w := httptest.NewRecorder()
				f.h.ServeHTTP(w, req)
				if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"authStatus":true`)) {
					b.Fatalf("HTTP %d %s", w.Code, w.Body)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/auth")
		})
	}
}
