// Package keyring keeps secrets encrypted at rest with age (filippo.io/age):
// files sealed with a passphrase (scrypt) that a daemon unlocks at start,
// and a Box, an X25519 identity kept inside such a file, that seals
// smaller secrets (CA keys, records) so that whoever unlocks the keyring,
// and nobody else, can open them. central's keyring and the Claim 169
// issuer key are both kept this way.
//
// It imports only the standard library and age.
package keyring
