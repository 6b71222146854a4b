package records

import "github.com/dgraph-io/badger/v4"

// BadgerOptions are the badger options for a database holding a record
// store (the appliance's): tuned for random point reads of millions of
// ~1–2 KB records, the path of every authentication (lookup, decrypt,
// verify). Callers add durability and logging (SyncWrites, Logger).
//
//   - Values stay in the LSM tree (ValueThreshold 1 MiB, badger's v4
//     default): one block read per lookup, no second read in the value log.
//   - Table indexes all in memory (IndexCacheSize 0): ≈ 25 B per record,
//     ≈ 250 MB at 10M, so a lookup never reads an index from disk.
//   - Bloom filters at 0.1 % false positives (badger: 1 %): a lookup that
//     misses a table (most of them, across the levels) reads nothing from
//     it; ≈ 1.8 B per record more of filter.
//   - A 256 MiB block cache (the appliance had 32 MiB) for the blocks of
//     recently used records.
//
// docs/performance.md ("Cached-record authentication") has the figures.
func BadgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithNumVersionsToKeep(1).
		WithValueThreshold(1 << 20).
		WithIndexCacheSize(0).
		WithBloomFalsePositive(0.001).
		WithBlockCacheSize(256 << 20).
		WithNumCompactors(2)
}
