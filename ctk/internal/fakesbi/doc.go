// Package fakesbi is a small SBI 0.9.5 finger device on loopback for
// edgetrust-ctk's tests: a correct one, or one with a named fault the ctk
// must catch. It answers with sbi.Builder and software RSA keys, then
// tampers with the answer. It is test support, not a device service.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (ctk/...), never another daemon.
package fakesbi
