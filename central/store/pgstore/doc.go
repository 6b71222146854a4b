// Package pgstore is central's PostgreSQL store, for several central
// replicas sharing one database. Every query is parameterised (pgx prepares
// and caches the statements). Writers are serialised across replicas by a
// transaction-scoped advisory lock taken at the start of each Update, and
// feed and audit heads are additionally read FOR UPDATE, so a feed entry, its
// Merkle root and the new head are written in the same transaction as the
// registry change they describe. The audit and feed tables are insert-only:
// triggers refuse UPDATE, DELETE and TRUNCATE.
//
// The write lock is only as long-lived as a transaction: a replica that
// dies frees it at once, one that hangs holds it at most Options.WriteLease
// (idle_in_transaction_session_timeout, TCP keepalives). Each append
// notifies its feed's new size on a per-schema channel; every replica
// listens, which wakes its long polls and bounds the lag of feed reads
// served from a streaming replica (Options.ReadDSN, ReadFeedView). See
// replicas.go and docs/decisions/0019-replicas.md.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (central/...), never another daemon.
package pgstore
