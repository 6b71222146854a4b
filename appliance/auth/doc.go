// Package auth is the appliance's offline authentication API:
//
//	POST /v1/auth
//
// A relying party (authenticated by its API key, "Authorization: Bearer
// etr_<id>_<secret>", checked in constant time against the key hashes its
// trust-feed entry carries) asks whether the person holding a VID is
// present: by demographics, by a fingerprint, iris or face captured on an
// SBI device (several modalities at once as an array of CAPTURE answers),
// or both. The appliance decides against the record central issued for that
// VID (internal/records: found by keyed HMAC, decrypted, central's
// signature checked again) and answers a JWS signed by its TPM key with the
// decision, stable reason codes, and — on success only — the relying
// party's token ID for the person and the attributes its policy allows.
//
// Checks, in order, the first failure deciding: consent; trust data fresh;
// the relying party's policy allows the auth types asked for; the VID is
// well formed, has a record, the record is intact; the VID's policy (not
// expired, a one-time VID not used); the person has not locked the auth
// type; the VID is not locked out after repeated failures; then the
// demographics (internal/records/normalize) and the capture (verified
// exactly as POST /v1/captures/verify does — signature, chain, device and
// vendor active, timestamps, transactionId, hash chain, bioValue decrypted
// in the TPM — then matched 1:1 with the record's templates of the same
// modality: fingers with the MCC matcher at TargetFMR, irises with the
// iris code at IrisThreshold, faces with the descriptor at FaceThreshold;
// every sample must match, so a multi-modal request is decision-level AND
// fusion, and a sample is never compared with another modality's template).
//
// The body is strict JSON (internal/jsonx, Limits): a member given twice,
// invalid UTF-8, a case-folded or unknown member, or a count over the
// limits is a 400 before anything is decoded — so what the appliance
// decided is what a gateway or log reads (docs/decisions/0013). Failed API
// keys are throttled per source address and per key id (httpx.Failures,
// FailBurst then FailRate a second, 429): a guesser is slowed, the holder
// of the right key is not. Each lock-out (the failure that empties a
// bucket, once per refill period) is logged, counted and, when the Auditor
// is a LockoutAuditor (decisionlog.Log), recorded in the decision log by
// address or key id, never the secret.
//
// Every decision goes to the Auditor before it is answered; if it cannot
// be recorded the request fails (503) and a one-time VID's use is given
// back. Nothing identifying a person (VID, UIN, demographics, templates,
// transactionId) is logged, counted or put in an error message.
//
// As part of a daemon it may import libraries (sbi, claim169, internal/...)
// and packages of its own daemon (appliance/...), never another daemon.
package auth
