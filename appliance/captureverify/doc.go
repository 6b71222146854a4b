// Package captureverify verifies SBI capture answers at the appliance against the
// trust registry: every check of sbi.Verifier (signature, chain to the
// current trust anchors, validity, timestamps, transactionId binding, hash
// chain, decryption, ISO sanity) plus the registry's word on the device and
// its vendor (enrolled, not suspended or revoked, the signing certificate is
// the device's current one) and the trust data's staleness.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package captureverify
