// Command edgetrust-central is the device trust registry. main.go is the
// command tree (internal/cli runs it); serve.go, config.go and admininit.go
// run the server; admin.go (with client.go and help.go), people.go and
// issuer.go are the admin API and Claim 169 commands. It may import
// central/..., sbi/, claim169/ and internal/...; never another daemon.
package main
