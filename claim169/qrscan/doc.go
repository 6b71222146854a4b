// Package qrscan reads the text of a QR code from a camera image. It is
// built for MOSIP Claim 169 identity QRs — 1,000–1,500 Base45 characters
// in alphanumeric mode, QR versions ~20–30 — and is independent of the
// Claim 169 decoding itself: input is image bytes or an image.Image, output
// is the QR text, which callers must still treat as untrusted.
//
// With cgo, the default Pipeline combines ZXing-C++ (libZXing) and zbar
// (libzbar) with a preprocessing ladder; without cgo it falls back to
// the pure-Go gozxing port with the same ladder. See
// docs/decisions/0006-qr-decoding.md for the measurements behind it.
//
// As a library it never imports a daemon package.
package qrscan
