// Package verifierint tests the appliance's verifier page (/verify/) end to
// end in a real browser: identity QR codes issued by central's issuance path
// (internal/issuer, as edgetrust-central credential issue and trust export
// do), an appliance serving the page and POST /v1/qr/verify over TLS, and
// Debian's Chromium (internal/browsertest) with its fake camera playing a
// Y4M video of the QR. It also holds the camera-to-verdict benchmark.
//
// It lives under internal/integration because it runs central's issuance
// beside the appliance, which neither daemon may import.
package verifierint
