// Package report holds the results of an edgetrust-ctk run and writes them
// as report.json (machine-readable), report.xml (JUnit, for CI) and
// report.html (self-contained, for a person).
//
// Nothing in a report carries biometric data: the runner replaces every
// bioValue, sessionKey and signed data block before it gets here.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (ctk/...), never another daemon.
package report
