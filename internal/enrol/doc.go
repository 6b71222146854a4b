// Package enrol is the wire protocol of TPM-attested enrolment with central,
// shared by central (the verifier) and the agent and appliance (the provers).
//
// Enrolment is two round trips over HTTPS:
//
//  1. start: the prover sends a one-use enrolment token, its TPM's
//     endorsement key (EK: public area, and the manufacturer's certificate
//     when the TPM has one) and a fresh attestation key (AK: public area).
//     Central checks the token and the EK (certificate chain to a trusted
//     TPM manufacturer CA, or an allow-listed EK fingerprint), then answers
//     with a credential made with TPM2_MakeCredential for that EK and AK
//     Name, a nonce, and a session id. The session lives server side for a
//     short time and is bound to everything sent so far.
//  2. finish: the prover recovers the credential's secret with
//     TPM2_ActivateCredential — possible only in the TPM that holds that EK
//     and has that AK loaded — and sends it together with TPM2_Certify proofs,
//     made by the AK, for each key it wants certified. Each certify proof
//     carries a nonce that binds the session nonce, the key's role and the
//     subject (the device's digital ID or the appliance's id), so a proof
//     cannot be replayed into another session, role or device. Central checks
//     the secret, the proofs (the certified Name is the key's public area,
//     which says the key was generated inside that TPM and can never leave
//     it), and only then consumes the token, writes the registry and issues
//     certificates.
//
// Key rotation repeats the certify step for a new device key under the AK
// central recorded at enrolment (rotate/start, rotate/finish).
//
// Every request decoder here is bounded and strict: unknown fields, trailing
// data and oversize fields are errors, reported before any cryptography.
//
// It imports internal/tpm, sbi and go-tpm; central and the enrolling
// agent or appliance share it, so it imports neither.
package enrol
