// Package issuer is central's Claim 169 issuer: issuer keys kept encrypted at
// rest (age, scrypt passphrase), batch issuance from JSON, JSONL or CSV to
// Base45 text and QR PNGs, and the export of signed trust and revocation
// lists for offline verifiers.
//
// As a library it never imports a daemon package. Of this module it imports
// claim169, claim169/qr, claim169/trust.
package issuer
