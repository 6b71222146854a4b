// Package sensors are the agent's image sources: a fingerprint module on a
// serial port through the firmware bridge (a real one, or the R30x emulator
// on a pseudo-terminal in --dev), and emulated iris and face sensors that
// serve MOSIP's sample ISO records.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (agent/...), never another daemon.
package sensors
