// Package decisionlog is the appliance's audit log of authentication
// decisions: one canonical JSON entry per decision, appended to an
// insert-only RFC 6962 Merkle log (internal/audit) in the appliance's
// database, with checkpoints signed by the appliance's TPM key every Every
// entries, every Interval and on Close.
//
// Identifiers are never stored: the VID and the transaction id are replaced
// by HMAC-SHA256 under a 32-byte key that exists only sealed by the TPM, so
// decisions about one VID correlate inside this log but the VID cannot be
// read back from it (nor found by hashing candidate VIDs without the TPM).
//
// An Uploader sends entries and checkpoints to central, which recomputes
// the Merkle root from the entries before it accepts a checkpoint
// (central/applianceaudit.go).
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package decisionlog
