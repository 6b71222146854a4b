// Package verifypage serves the appliance's verifier page, /verify/: a
// person at a counter holds an identity QR (MOSIP Claim 169) to a camera, or
// uploads a photo of one, or pastes its text, and sees who it belongs to and
// whether it is valid, and why not in plain words.
//
// The page is static HTML, CSS and JavaScript embedded in the binary
// (go:embed): it works with the appliance offline and asks nothing of any
// origin but the appliance, whose POST /v1/qr/verify (appliance/qrverify)
// does the decoding and verification. A strict Content-Security-Policy
// allows scripts, styles and requests from the appliance only, no inline
// script or style, and no framing.
//
// May import: the standard library.
package verifypage
