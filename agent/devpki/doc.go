// Package devpki is the development PKI the agent makes with --dev: a device
// provider CA and an FTM provider CA in the state directory, and leaf
// certificates for keys that live in the TPM. It stands in for enrolment with
// central until a device is enrolled; verifiers are given the two CA
// certificates it writes. The CA keys are software keys in files (0600):
// good enough for a developer laptop, never for production.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (agent/...), never another daemon. It
// imports nothing of this module.
package devpki
