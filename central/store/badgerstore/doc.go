// Package badgerstore is central's embedded store on badger: the default for
// a single central node. Writers are serialised in-process, so transactions
// never conflict; values are JSON documents under prefixed keys.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (central/...), never another daemon.
package badgerstore
