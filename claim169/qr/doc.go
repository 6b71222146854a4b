// Package qr renders Claim 169 text as a QR code, in PNG or SVG.
//
// The text must be Base45 (what claim169.Issuer.Issue returns): every
// character is then in the QR alphanumeric set, so the symbol uses
// alphanumeric mode (11 bits per 2 characters) and never byte mode. The
// error-correction level is chosen from the text length: the strongest
// level whose symbol stays within MaxVersion.
//
// As a library it never imports a daemon package.
package qr
