// Package feed is the format of edgetrust's signed, append-only feeds: the
// way central publishes device and vendor status, trust anchors, revocations
// and records, and the way appliances follow them without trusting the
// network or central's storage.
//
// A feed is a sequence of entries (1-based seq) under an RFC 6962 Merkle tree
// (github.com/transparency-dev/merkle). Central serves batches: the entries
// after a given seq, as their exact bytes, and a checkpoint — feed name,
// tree size, root, time — signed with central's Ed25519 feed key. A follower
// keeps the compact range of the tree it has verified (at most 64 hashes),
// appends each new entry's leaf hash and requires the signed root: so a batch
// that rewrites history (a fork), drops entries or goes back in time
// (a rollback) is refused, and nothing needs trusting but the key.
//
// It imports only the standard library, transparency-dev/merkle and
// internal/jsonx (entries are decoded strictly, so every follower reads the
// entry that was hashed): the log format is a contract between central and
// every appliance, so it depends on nothing else of ours.
package feed
