// Package swtpmtest starts Debian's swtpm for tests: a real software TPM on
// loopback with a fresh state, stopped when the test ends.
//
// It is test support (imported by _test.go files only) and imports only
// the standard library.
package swtpmtest
