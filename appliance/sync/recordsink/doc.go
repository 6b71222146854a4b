// Package recordsink applies the appliance's own records feed,
// records.<appliance id> (recordfeed.FeedName), to its zero-knowledge
// record store (internal/records). It is a follow.Sink: follow checks
// each batch's signed checkpoint and Merkle tree; here each entry (kind
// recordfeed.Kind, data a recordfeed.Sealed) is opened with the TPM
// decryption key the appliance's encryption certificate certifies, and its
// puts and deletes are applied — every record's signature checked with
// central's feed keys on the way in (and again on every read).
//
// A batch that is not for this appliance, does not open, or holds a record
// that does not verify or parse is refused as a whole (follow logs and
// counts it, keeps the stored position and retries): nothing of it is
// applied, so a batch is never half-skipped. Nothing about a record's
// content (VID, UIN, demographics) is logged or put in an error.
//
// The records and the feed position are written in one badger transaction
// (records.Store.Apply), so after a crash a batch is either applied with
// its position or not at all. Only when a batch's records outgrow one
// transaction are they written in several, and then a crash can leave part
// of it applied without the position: the batch is applied again on
// restart, which is harmless (puts replace, deletes are idempotent, use
// counters are kept).
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package recordsink
