// Package emulator is a software fingerprint module. It speaks the R30x
// protocol byte for byte on a pseudo-terminal, so the real driver, the real
// serial library and the real framing are exercised in tests and demos
// without hardware. Faults (no finger, silence, noise, bad checksums, wrong
// password) can be switched on to test the driver's recovery paths.
//
// As a library it never imports a daemon package.
package emulator
