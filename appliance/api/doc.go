// Package api is the appliance's HTTP interface:
//
//	POST /v1/captures/verify   verify an SBI capture answer (captureverify.Request → captureverify.Result)
//	GET  /v1/devices/{serial}  what the trust feed says about a device
//	GET  /v1/status            feed position, staleness, sync health, decryption key
//	GET  /healthz              liveness (200 while serving), with the stale flag
//	GET  /metrics              Prometheus
//
// The verify endpoint is bounded: bodies over captureverify.MaxRequestSize
// are refused (413), hostile JSON within it (captureverify.Limits) is a 400
// at a few times the body's size, requests over the rate limit get 429, and
// at most MaxInFlight verifications run at once (the rest wait briefly,
// then 503). Unrouted requests get 404/405 in the {"error": ...} shape
// (httpx.Fallback, Unrouted); every answer carries nosniff and no-store.
// Logs name devices, results and reason codes, never biometric data.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package api
