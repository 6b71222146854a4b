// Command edgetrust-bridge talks to the fingerprint module of an edgetrust
// capture device: diagnostics, a one-off capture, firmware manifest checks,
// and a software module on a pseudo-terminal for tests and demos. main.go
// is the command tree (internal/cli runs it); each command's file turns
// flags into calls on internal/sensor. It may import firmware-bridge/...,
// sbi/ and internal/...; never another daemon.
package main
