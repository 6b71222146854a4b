// Package firmware decides whether a fingerprint module's firmware can be
// trusted: it measures what the module reports into a SHA-256 digest for a
// TPM PCR, refuses firmware older than a pinned minimum, and verifies
// vendor-signed update manifests before anything is flashed.
//
// As a library it never imports a daemon package.
package firmware
