// Package console is central's admin console: the web pages under
// /console/ where admins sign in with passkeys (WebAuthn), look at vendors,
// devices, appliances and relying parties, and suspend, revoke or reinstate
// them through central's own registry operations (the same ones the admin
// API and CLI call), then watch the trust feed reach the appliances. It
// also issues Claim 169 QR codes from an uploaded CSV or JSONL file
// (issue.go: the whole file checked first, then a job with a progress page
// and a zip of PNGs, every credential audited).
//
// Security rules it keeps: one-time codes (admin init, invites) stored
// hashed, single use and short-lived; session ids random, stored hashed,
// in a __Host- cookie (Secure, HttpOnly, SameSite=Strict), 15 min idle and
// 8 h at most; a synchronizer CSRF token bound to the session plus an
// Origin check on every POST; a strict Content-Security-Policy with every
// asset embedded and no inline script or style; rate-limited sign-in;
// every change audited with the admin's identity.
//
// May import: central/core, central/registry, central/people, central/store,
// claim169, internal/issuer, internal/httpx, internal/jsonx and go-webauthn. Never the central root package (it
// imports this one): central satisfies Service.
package console
