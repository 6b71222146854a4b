// Command edgetrust-central is the device trust registry. main.go is the
// command tree (internal/cli runs it); serve.go, config.go and admininit.go
// run the server, tls.go its TLS (central/tlsca's CA, the listener, the
// client-certificate guards on appliance routes, tls root); admin.go (with
// client.go and help.go), people.go and
// issuer.go are the admin API and Claim 169 commands. It may import
// central/..., sbi/, claim169/ and internal/...; never another daemon.
//
// Size: about 2,000 lines, over the ~1,500 house limit: the admin CLI has a
// verb for every registry object (vendors, devices, appliances, relying
// parties, people, VIDs, keys), each a few dozen lines of flags and help;
// and serve wires central's TLS (tls.go, about 300 lines) here rather than
// in package central, whose handler files other work owns.
package main
