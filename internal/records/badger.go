package records

import "github.com/dgraph-io/badger/v4"

// BadgerOptions are the badger options for a database holding a record
// store (the appliance's), in one place so the benchmark measures what the
// appliance runs: values inline in the LSM tree (badger v4's 1 MiB value
// threshold: one block read per lookup), table indexes all in memory
// (IndexCacheSize 0, ≈ 26 B per record), 1 % bloom filters and a 32 MiB
// block cache. Callers add durability and logging (SyncWrites, Logger,
// value-log file size).
//
// LargeStoreOptions is the candidate tuning for stores of millions of
// records (256 MiB block cache, 0.1 % bloom filters). It is not the
// default: on the shared development VM it showed no gain at 1M records
// (docs/performance.md, "Cached-record authentication"); measure on the
// target hardware before adopting it.
func BadgerOptions(dir string) badger.Options {
	return badger.DefaultOptions(dir).
		WithNumVersionsToKeep(1).
		WithIndexCacheSize(0).
		WithBlockCacheSize(32 << 20).
		WithNumCompactors(2)
}

// LargeStoreOptions is BadgerOptions with a 256 MiB block cache and 0.1 %
// bloom filters (see BadgerOptions).
func LargeStoreOptions(dir string) badger.Options {
	return BadgerOptions(dir).
		WithBlockCacheSize(256 << 20).
		WithBloomFalsePositive(0.001)
}
