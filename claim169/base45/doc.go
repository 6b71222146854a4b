// Package base45 implements the Base45 encoding of RFC 9285.
//
// Decoding is strict: characters outside the 45-character alphabet
// (lowercase letters included), groups whose value overflows, and a dangling
// single character are all rejected, so every accepted string has exactly one
// byte sequence and re-encodes to itself.
//
// As a library it never imports a daemon package.
package base45
