// Command edgetrust-agent is the SBI 0.9.5 device service. main.go is the
// command tree (internal/cli runs it); serve.go, control.go and enrol.go
// turn flags into calls on package agent; tls.go pins central's TLS root. It may import agent/..., sbi/
// and internal/...; never another daemon.
package main
