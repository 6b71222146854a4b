// Package storetest is the one test suite every central store must pass.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (central/...), never another daemon.
package storetest
