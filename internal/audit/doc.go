// Package audit is edgetrust's tamper-evident audit log: insert-only
// entries under an RFC 6962 Merkle tree, checkpoints signed by the
// component's key (a TPM key on appliances), inclusion and consistency
// proofs, and a Verify that recomputes everything from the stored entries.
//
// The log lives in a badger database. Nothing in this package updates or
// deletes an entry; someone with write access to the files could, and
// Verify is how that is found: every stored checkpoint's root must be the
// root of the entries as stored.
//
// It imports badger and transparency-dev/merkle only.
package audit
