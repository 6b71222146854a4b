// Package httpapi is central's HTTP API, handlers only: routing, strict
// and bounded body decoding (internal/jsonx; the limits are in
// docs/api/central.md, "Limits"), admin authentication with the throttling
// of failed credential checks (httpx.Failures per client address and token
// id or session), rate limits, the JSON error shape (also on 404 and 405,
// httpx.Fallback), the headers every answer carries, and central's
// Prometheus metrics. What a request means is decided by the Service it
// is given, which the root central package's *Central implements; New is
// called by central.Central.Handler.
//
// It may import central/core, central/feeds, central/keys,
// central/people, central/registry, central/store (for their types and
// limits), internal/ and the Prometheus client; not the root central
// package (its external tests do, to serve a real Central).
package httpapi
