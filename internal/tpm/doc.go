// Package tpm is edgetrust's TPM 2.0 layer: one way to open a TPM (the
// in-process simulator, Debian's swtpm over TCP, or a kernel device) and the
// few things every part needs from it — keys that never leave the TPM exposed
// as crypto.Signer and crypto.Decrypter, sealing to PCRs, PCR extension,
// attestation keys, quotes, certify proofs and credential activation.
//
// It is written against the go-tpm "direct" API (github.com/google/go-tpm/tpm2)
// and uses go-tpm-tools only for its simulator.
//
// A *TPM serialises commands: it is safe for concurrent use, and every Key it
// hands out shares that lock. Transient TPM_RC_RETRY/YIELDED/TESTING answers
// are retried with a short back-off.
//
// Size: about 2,000 lines over the ~1,500 house limit: keys, sealing, NV,
// PCRs and attestation all drive one TPM connection and its
// session handling, as go-tpm-tools' client package does; the simulator
// harness is swtpmtest.
package tpm
