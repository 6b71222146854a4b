// Package keys owns central's private keys: the keyring file (the feed
// key, the appliance CA and the box that seals vendor CA keys and people,
// passphrase-sealed with internal/keyring), the provider and appliance
// CAs and the leaf certificates they issue to TPM keys (internal/pki).
//
// It may import the standard library, internal/keyring and internal/pki;
// nothing else of central.
package keys
