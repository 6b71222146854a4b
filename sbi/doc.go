// Package sbi implements the MOSIP Secure Biometric Interface 0.9.5 wire
// protocol: message types, JWS signing and verification, digital IDs, the
// capture hash chain, bioValue encryption, the request rules, answer
// builders for a device service, and a verifier that checks answers the way
// MOSIP servers and the CTK do.
//
// Input is read tolerantly (numbers or strings for counts, ids, timeouts and
// scores; previousHash "", null or absent; members a version does not know;
// MOSIPDINFO, MOSIPINFO and SBIINFO) but strictly as JSON, through
// internal/jsonx (docs/decisions/0013-strict-json.md): a duplicated member,
// top-level names differing only in case, invalid UTF-8, nesting past
// MaxDepth and any array past 16 elements are refused (ErrJSON, ErrTooMany)
// while the tokens stream by, before anything is built, so no document reads
// one way here and another in a MOSIP server, and none inside its size bound
// can expand the heap. Output is written exactly as the CTK schemas expect (strings for scores and
// deviceSubId, {"errorCode":"0","errorInfo":"Success"}, yyyy-MM-ddTHH:mm:ssZ
// timestamps, upper-case hex hashes, no bioSubType on Face entries).
//
// Signing goes through any crypto.Signer and decryption through any
// crypto.Decrypter, so TPM-held keys plug in directly. Every parser bounds
// its input; see the Max* constants. Builder and Verifier hold no mutable
// state and may be shared between goroutines.
//
// A device service answers a capture like this:
//
//	req, err := sbi.ParseCaptureRequest(body)
//	if err != nil { /* answer sbi.ErrorCapture(purpose, "", sbi.NewError(sbi.CodeMalformedRequest)) */ }
//	if e := sbi.ValidateCaptureRequest(sbi.PurposeAuth, req); !e.OK() { /* answer sbi.ErrorCapture(...e) */ }
//	segs := capture(sbi.Segments(sbi.PurposeAuth, &req.Bio[0])) // []sbi.Segment with ISO records
//	resp, err := builder.Capture(req, segs, idaCert)
//
// and a server checks it with
//
//	res, problems := verifier.VerifyCapture(raw, sbi.Expect{Request: req, Device: info})
//
// where every Problem names its Check, so callers can branch on it.
//
// Subpackages: iso reads ISO/IEC 19794-4/-5/-6:2011 records (and writes
// finger records);
// client discovers and calls device services on 127.0.0.1:4501-4600.
//
// It imports internal/jsonx (strict JSON), its subpackage iso and go-jose,
// nothing else of the module.
//
// Size: about 3,000 lines in 15 files, over the house limit of ~1,500, on
// purpose: the SBI 0.9.5 wire types, JWS, digital ID, bioValue encryption,
// hash chain and error codes are one protocol whose parts refer to each
// other, and a caller imports one package to speak it, as with
// filippo.io/age. The parts that stand alone are already subpackages (iso,
// client).
package sbi
