// Package feedtest is a test feed server: the network boundary to central,
// built with internal/feed exactly as central serves a feed —
//
//	GET /v1/feeds/<name>?after=<seq>&wait=<Go duration>
//
// answers 200 with a feed.Batch: the entries after seq (at most MaxBatch),
// a checkpoint signed with an Ed25519 feed key at after+len(entries) and
// Latest, the feed's size. With no entries after seq it holds the request
// until one is appended or the wait (capped at 60 s) runs out, then answers
// an empty batch with a freshly signed checkpoint. An after beyond the
// feed's size answers the current checkpoint with no entries, which a
// follower reports as a rollback.
//
// It can misbehave on request (bad signatures, unknown keys, forks,
// rollbacks, times going backwards or into the future) and go down and come
// back on the same address. Tests only.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package feedtest
