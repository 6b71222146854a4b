// Package issuer is central's Claim 169 issuer: issuer keys kept encrypted at
// rest (age, scrypt passphrase), batch issuance from JSON, JSONL or CSV to
// Base45 text and QR PNGs, and the export of signed trust and revocation
// lists for offline verifiers.
//
// The key file is sealed by internal/keyring, its key PEM by internal/pki. The package imports claim169
// and internal/ libraries, never a daemon.
package issuer
