package agent

import (
	"crypto"
	"io"
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgetrust/edgetrust/internal/httpx"
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
	mCertExpiryDays = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "edgetrust_agent_device_cert_expiry_days",
		Help: "Days until the device signing key's certificate expires (negative: expired), refreshed every rotation check.",
	}, []string{"device"})
)

// Registry holds the agent's metrics; serve it on --metrics.
var Registry = prometheus.NewRegistry()

func init() {
	Registry.MustRegister(mRequests, mCaptureSeconds, mTPMSigns, mCertExpiryDays)
}

// countingSigner counts TPM signatures, so "one signature per biometric"
// is measured, not assumed.
type countingSigner struct{ crypto.Signer }

func (c countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	mTPMSigns.Inc()
	return c.Signer.Sign(r, d, o)
}

// MetricsHandler serves GET /metrics (Prometheus text) and GET /healthz
// ("ok"); any other path is a 404, another method a 405, both as
// {"error":"…"} JSON (httpx.Fallback) instead of net/http's text/plain.
// Every answer carries nosniff.
func MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	h := httpx.Fallback(mux, func(w http.ResponseWriter, _ *http.Request, code int) {
		httpx.WriteJSON(w, code, map[string]string{"error": strings.ToLower(http.StatusText(code))})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}
