// Package db is the appliance's embedded database: badger, opened with
// synchronous writes so that a transaction that returned is on disk, and a
// key layout shared by the appliance's packages.
//
// Key layout (all keys are ASCII prefixes followed by an identifier):
//
//	feed/<name>/state     the feed.State of a followed feed (JSON)
//	feed/<name>/applied   how many entries of that feed were applied (8-byte big-endian)
//	trust/vendor/<id>     trust-feed state of a device provider (JSON)
//	trust/device/<serial> trust-feed state of a device (JSON)
//	trust/appliance/<id>  trust-feed state of an appliance (JSON)
//	trust/rp/<id>         trust-feed state of a relying party (JSON)
//	rec/...               identity records and their counters (internal/records)
//
// Whatever a feed entry changes is written in the same transaction as the
// feed's state and applied counter, so a crash leaves either all of a
// transaction or none of it.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package db
