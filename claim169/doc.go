// Package claim169 encodes, decodes and verifies MOSIP Claim 169 identity
// QR codes (spec v1.2.1).
//
// A Claim 169 QR code holds Base45 text. Decoding runs, in order:
//
//	Base45 -> zlib (or Brotli) -> COSE_Encrypt0 (optional) -> COSE_Sign1
//	       -> CWT claims -> claim 169 identity map -> exp/nbf/iat checks
//
// Decoder.Decode runs that pipeline on untrusted input with limits checked
// before the work they guard (text length, inflated size, CBOR depth and
// counts). The signature is required unless the caller sets
// AllowUnverified. The algorithm is read from the protected header only and
// must match the type of the key the caller's KeyResolver returns for the
// kid; nothing in the QR code is trusted to pick a key.
//
// Errors are *Error values naming the failed Stage and wrapping a sentinel
// such as ErrBadSignature or ErrExpired, for use with errors.Is and
// errors.As.
//
// Issuer builds credentials: deterministic CBOR, COSE_Sign1 with EdDSA or
// ES256 from any crypto.Signer, optional AES-GCM COSE_Encrypt0, zlib,
// Base45. Package qr renders the text as a QR code image.
//
// Size: about 2,600 lines over the ~1,500 house limit, on purpose: the Claim
// 169 codec (CBOR claim map, COSE Sign1/Encrypt0, zlib, Base45) is one
// public API, and splitting the claim map from its COSE envelope would
// export internals. QR, Base45, scanning and trust stand alone as
// subpackages.
package claim169
