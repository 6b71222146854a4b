// Package agenttest starts a real edgetrust agent in-process so appliance
// tests verify genuine, TPM-signed SBI captures. It is imported by _test.go
// files only, never by the appliance binary (daemons talk over wire formats;
// only tests cross that line).
//
// The agent runs in --dev mode, but its development PKI directory is seeded
// with one vendor CA standing in for the provider CA central issues: device
// and FTM certificates both chain to it, as the trust feed expects.
//
// It may import anything, the agent included: it is a test harness
// (layercheck exempts packages named *test).
package agenttest
