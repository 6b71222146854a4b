package agent

import (
	"crypto"
	"io"

	"github.com/prometheus/client_golang/prometheus"
)

// ServiceVersion is the agent's serviceVersion in discovery and info.
const ServiceVersion = "0.1.0"

var (
	mRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgetrust_agent_requests_total", Help: "SBI requests by verb and SBI error code.",
	}, []string{"verb", "code"})
	mCaptureSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "edgetrust_agent_capture_seconds", Help: "CAPTURE/RCAPTURE time, sensor included.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	}, []string{"purpose"})
	mTPMSigns = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "edgetrust_agent_tpm_signatures_total", Help: "Signatures made by TPM keys.",
	})
)

// Registry holds the agent's metrics; serve it on --metrics.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(mRequests, mCaptureSeconds, mTPMSigns)
}

// countingSigner counts TPM signatures, so "one signature per biometric"
// is measured, not assumed.
type countingSigner struct{ crypto.Signer }

func (c countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	mTPMSigns.Inc()
	return c.Signer.Sign(r, d, o)
}
