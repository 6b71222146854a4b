// Package qrverify is the appliance's offline Claim 169 QR verification: a signed
// trust list and revocation list loaded from files (and reloaded when they
// change), QR text or camera images in, a decision out — over HTTP as
// POST /v1/qr/verify and for the verify-qr command.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package qrverify
