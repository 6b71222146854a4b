// Package api is the appliance's HTTP interface:
//
//	POST /v1/captures/verify   verify an SBI capture answer (capture.Request → capture.Result)
//	GET  /v1/devices/{serial}  what the trust feed says about a device
//	GET  /v1/status            feed position, staleness, sync health, decryption key
//	GET  /healthz              liveness (200 while serving), with the stale flag
//	GET  /metrics              Prometheus
//
// The verify endpoint is bounded: bodies over capture.MaxRequestSize are
// refused (413), requests over the rate limit get 429, and at most
// MaxInFlight verifications run at once (the rest wait briefly, then 503).
// Logs name devices, results and reason codes, never biometric data.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package api
