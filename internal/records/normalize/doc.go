// Package normalize prepares demographic text (names, addresses) for
// MOSIP-style matching against a cached record: Unicode NFC, case folding,
// punctuation and whitespace collapsed, leading honorifics removed from
// names; then an exact or a partial (token overlap) comparison.
//
// It imports golang.org/x/text only.
package normalize
