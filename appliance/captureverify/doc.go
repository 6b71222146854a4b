// Package captureverify verifies SBI capture answers at the appliance against the
// trust registry: every check of sbi.Verifier (signature, chain to the
// current trust anchors, validity, timestamps, transactionId binding, hash
// chain, decryption, ISO sanity) plus the registry's word on the device and
// its vendor (enrolled, not suspended or revoked, the signing certificate is
// the device's current one) and the trust data's staleness.
//
// ParseRequest and ParseCapture read strict JSON (internal/jsonx, Limits):
// duplicates, invalid UTF-8 and unknown members are refused and counts are
// bounded while the body streams. The certificates of each x5c header are
// the ones the sbi verifier parsed (sbi.SegmentResult), decoded once.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package captureverify
