// Package truststate is the appliance's copy of central's trust feed
// (internal/feed/trustfeed): device providers (vendors) with their CA
// certificates, devices with the thumbprints of their current certificates,
// appliances, relying parties with their policy and API-key hashes, and the
// status of each. It is the follow.Sink of the trust feed: it applies
// verified feed entries to the badger store (together with the feed state,
// in one transaction) and keeps an in-memory snapshot of the
// trust anchors for the capture verifier.
//
// The trust anchors come only from the feed: the CA certificates of active
// vendors are the DEVICE and FTM roots. A suspended or revoked vendor's CA is
// not a root, so nothing of that vendor verifies.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package truststate
