// Package recordfeed is the contract between central and appliances for
// identity records (design.md §3–§4, seed "secure offline authentication"):
//
//   - Record: one VID's identity record — UIN, VID policy, demographics,
//     biometric templates and auth-type locks — as canonical JSON, signed by
//     central with Ed25519 under a domain-separation prefix (Sign, Verifier).
//   - Batch: record puts and VID deletions for one appliance, sealed to that
//     appliance's TPM-held RSA-2048 encryption key (RSA-OAEP-SHA256 wraps a
//     fresh AES-256-GCM key; the appliance id and certificate thumbprint are
//     in the AAD), so only that appliance can read it (Seal, Open).
//
// Central publishes sealed batches as entries of kind Kind on the signed
// feed FeedName(applianceID); the appliance follows it like the trust feed,
// opens each batch in its TPM and writes the records into its
// zero-knowledge store (internal/records), which checks the signature again
// on every read.
//
// It imports internal/records/vid, internal/jsonx (records and batches are
// decoded strictly) and the standard library only.
package recordfeed
