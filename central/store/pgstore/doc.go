// Package pgstore is central's PostgreSQL store, for several central
// replicas sharing one database. Every query is parameterised (pgx prepares
// and caches the statements). Writers are serialised across replicas by a
// transaction-scoped advisory lock taken at the start of each Update, and
// feed and audit heads are additionally read FOR UPDATE, so a feed entry, its
// Merkle root and the new head are written in the same transaction as the
// registry change they describe. The audit and feed tables are insert-only:
// triggers refuse UPDATE, DELETE and TRUNCATE.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (central/...), never another daemon.
package pgstore
