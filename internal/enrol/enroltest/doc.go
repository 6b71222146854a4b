// Package enroltest helps test enrolment against real TPMs: it starts
// Debian's swtpm processes and plays an attacker who talks to a TPM
// directly (for example to get a certify proof over a software key).
//
// It is test support (imported by _test.go files only); it imports
// internal/tpm and go-tpm.
package enroltest
