// Package tokenid derives MOSIP-style token IDs: the identifier a relying
// party gets instead of the person's UIN. The same person always has the
// same token ID at one relying party, and unlinkable ones at two:
//
//	token = HMAC-SHA256(tokenKey, UIN || 0x00 || rpID)
//
// rendered as 36 decimal digits or as 52 characters of unpadded base32.
// Without tokenKey the tokens of one person at two relying parties cannot
// be linked, nor a token traced back to the UIN.
//
// It imports only the standard library.
package tokenid
