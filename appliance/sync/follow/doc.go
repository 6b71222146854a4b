// Package follow follows one of central's signed feeds over HTTP (the
// appliance's side of internal/feed; appliance/sync/truststate and
// appliance/sync/recordsink are the Sinks of its two feeds):
//
//	GET <central>/v1/feeds/<name>?after=<seq>&wait=<duration>
//
// answers a feed.Batch (JSON). Central returns at once when there are entries
// after seq, else after the wait with no entries and a freshly signed
// checkpoint. Every batch is checked by feed.Follower (signature by a trusted
// key, Merkle root, no fork, no rollback, no gap) and a checkpoint signed
// more than MaxClockSkew in the future is refused; only then are its entries
// handed to the Sink, which applies them together with the new feed.State in
// one transaction. A refused batch is logged and counted, the stored state
// is kept, and the follower retries with back-off. Resuming after a restart
// needs nothing but the Sink's stored state, and so does failing over:
// given several URLs of central's replicas (Config.Replicas), a follower
// whose poll fails asks the next replica soon (jittered), and backs off
// exponentially only once every URL failed in turn; whichever replica
// answers continues from the stored checkpoint, and the same checks refuse
// a replica that would fork or roll the feed back. Batches are strict JSON
// (internal/jsonx) with at most feed.MaxBatchEntries entries, counted before
// anything is decoded.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package follow
