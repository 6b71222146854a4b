// Package trust is what an offline Claim 169 verifier needs besides the QR
// code: a signed trust list of issuer keys (with ids, validity and status)
// and a signed credential revocation list, and a Verifier that applies them.
//
// Both lists are JSON documents in a small signed envelope. The envelope is
// signed with an Ed25519 key the verifier already trusts (central's list
// key); a list that does not verify is never used, and a list past its
// nextUpdate makes every answer say "stale" and, by policy, reject.
//
// As a library it never imports a daemon package.
package trust
