// Package e2e holds end-to-end tests that run edgetrust's binaries as real
// processes on loopback, the way an operator would: central, agents on a
// real swtpm, appliances. It has no non-test code.
package e2e
