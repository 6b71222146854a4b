// Package store is central's storage: one interface, Store, with two
// implementations that pass the same test suite (storetest): badger, the
// embedded single-node default (package badgerstore), and PostgreSQL for
// several central replicas behind a load balancer (package pgstore).
//
// Everything that changes the registry runs in one Update transaction, so a
// registry change, its audit row and its feed entry land together or not at
// all. Feed appends are serialised across replicas: Tx.FeedHead locks the
// feed's head until the transaction ends. A store that can read feeds from
// a streaming replica implements FeedViewer, saying where each read came
// from and how far behind it is (FeedView).
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (central/...), never another daemon.
package store
