package delegate

import (
	"crypto"
	"crypto/sha256"
	"testing"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

// BenchmarkSign compares one decision signature made by a TPM RSA key (on
// the simulator, or as a discrete chip with EDGETRUST_TPM_COST=discrete)
// with one made by a delegated P-256 key that the same TPM key vouches for.
func BenchmarkSign(b *testing.B) {
	msg := []byte(`{"authStatus":true,"transactionId":"1234567890"}`)
	parent := tpmKey(b, tpm.RSA2048Sign)
	b.Run("key=tpm-rs256", func(b *testing.B) {
		d := sha256.Sum256(msg)
		for b.Loop() {
			if _, err := parent.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
	})
	b.Run("key=delegated-es256", func(b *testing.B) {
		h, err := NewHolder(parent, "decision", "EDGE-A", 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				key, _, err := h.Current()
				if err != nil {
					b.Fatal(err)
				}
				if _, err := SignES256(key, msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
	})
}
