// Package tlsca is central's TLS certificate authority: a root (10 years)
// that certifies an intermediate (1 year), which issues central's own
// server certificate and the client (and server) certificates of enrolled
// appliances (30 days each). Central creates the hierarchy on first start;
// the private keys are sealed at rest to central's keyring (the age X25519
// identity inside central-keys.age, as vendor CA keys are), so only a
// process that unlocked the keyring can issue. The device-provider CAs,
// the appliance CA and the feed key are not part of it (central/keys).
//
// It also serves the two TLS endpoints: GET /v1/tls/root (the root to pin)
// and POST /v1/tls/appliance-cert (a CSR signed by an enrolled appliance,
// proven by its TPM signing key or by its current client certificate).
//
// It may import the standard library, internal/pki, internal/tlsx,
// internal/jsonx and internal/httpx; nothing of central but what its
// caller injects (the keyring as a Sealer, the appliance lookup).
package tlsca
