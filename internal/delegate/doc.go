// Package delegate lets a slow hardware key vouch for a fast software key:
// a TPM key signs a short-lived credential (a compact JWS naming an ECDSA
// P-256 public key, its use, its subject and a validity of at most a day)
// and the key it names, held only in memory, signs the messages. It is the
// idea of TLS delegated credentials (RFC 9345) applied to signed
// decisions: one TPM signature per renewal instead of one per message,
// with the TPM key still the root every verifier checks, and revocation
// of the parent (its certificate) ending every delegate it vouched for.
// docs/decisions/0017-delegated-signing.md weighs it against Merkle
// batching.
//
// It may import only the standard library and internal/jsonx.
package delegate
