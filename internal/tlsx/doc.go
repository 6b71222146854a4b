// Package tlsx is how edgetrust's daemons use TLS: one policy (TLS 1.3,
// TLS 1.2 only with AEAD suites), a listen guard that refuses plain HTTP
// anywhere but loopback, certificates that renew themselves while the
// daemon runs, and the identities that client certificates carry.
//
// Identities are URIs in the certificate's subject alternative names,
// urn:edgetrust:<kind>:<id> (appliance, rp, admin, central), so a peer is
// named by what central certified, never by a host name it claims.
//
// Clients never trust the system roots for central: ClientConfig verifies
// against central's TLS root, given as a file or as the SHA-256 pin an
// operator passes at enrolment (the root is then taken from the chain the
// server sends and must match the pin). Guard is the per-route check that
// a client certificate names the identity a route is for.
//
// It imports only the standard library.
package tlsx
