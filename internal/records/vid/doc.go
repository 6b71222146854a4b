// Package vid makes and checks MOSIP-style virtual IDs: random 16-digit
// numbers whose last digit is a Verhoeff check digit, with a kind that
// says how long and how often the VID may be used.
//
// A VID is an identifier of a person, so it is personal data: String and
// LogValue mask all but the last four digits, and the store keys records
// by a keyed HMAC of the number, never the number.
//
// It imports only the standard library.
package vid
