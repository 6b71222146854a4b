// Package records is the appliance's zero-knowledge store of identity
// records that central issued and signed, following the seed design
// ("Zero Knowledge Storage") and design.md §4:
//
//	key   = "rec/r/" || HMAC-SHA256(indexKey, VID)
//	K_vid = HKDF-SHA256(secret = master, salt = key, info = "edgetrust/records/v1 record key")
//	value = 0x01 || nonce(12) || AES-256-GCM(K_vid, nonce, encode(record, sig), AAD = "edgetrust/records/v1" || key)
//
// Beside each record, under "rec/u/" || the same HMAC, the appliance keeps
// the VID's counters (uses of a limited VID, consecutive failures, lockout),
// encrypted the same way (usage.go). Apply writes puts and deletes with a
// caller's feed position in one transaction; LoadOrCreateSecret keeps other
// TPM-sealed secrets (the token-ID key) under "rec/meta/secret/".
//
// The 32-byte master and index keys are generated with crypto/rand on first
// use and stored only sealed by a Sealer (the TPM on an appliance). Each
// record carries central's signature, which is checked by a Verifier on
// ingest and again on every read. Nothing derived from a VID other than its
// keyed HMAC is stored, logged or put in an error.
//
// Subpackages: vid (MOSIP-style VIDs with a Verhoeff check digit), tokenid
// (per-relying-party token IDs) and normalize (demographic matching).
//
// It imports internal/tpm and badger only; its subpackages (vid, tokenid,
// normalize) import nothing of ours.
package records
