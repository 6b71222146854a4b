// Package degrade generates deterministic sets of degraded QR-code images
// that imitate camera captures of MOSIP Claim 169 identity QRs (long
// Base45 texts in alphanumeric mode). It exists so that decoders can be
// compared on the same, reproducible input; nothing here is used at run time.
//
// As a library it never imports a daemon package.
package degrade
