// Package pki is edgetrust's one place for X.509 issuing: certificate
// authorities that certify keys held elsewhere (a TPM, a peer's CSR),
// serial numbers, key identifiers and PEM helpers. central's vendor,
// appliance and TLS CAs, the agent's development PKI and the CTK's
// encryption certificate all issue through it, so every certificate the
// project makes follows the same rules: SHA-256 signatures, 127-bit random
// serials, RFC 7093 method 1 key identifiers (SHA-256, 160 bits), and
// leaves that never outlive their CA.
//
// It imports only the standard library.
package pki
