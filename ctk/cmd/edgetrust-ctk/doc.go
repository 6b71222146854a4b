// Command edgetrust-ctk runs MOSIP's own SBI compliance test cases against
// an SBI 0.9.5 device service, offline. See `edgetrust-ctk help`. main.go
// is the command tree (internal/cli runs it); run.go, list.go and cert.go
// turn flags into calls on package ctk. It may import ctk/..., sbi/ and
// internal/...; never another daemon.
package main
