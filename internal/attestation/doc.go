// Package attestation is the wire protocol of continuous remote attestation with
// central, shared by central's verifier (central/attest) and the provers
// (the agent and the appliance): the challenge, the evidence (a TPM quote
// and the event log that explains it), the verdict, their strict bounded
// decoders, the HTTP client a prover uses, the prover's side of a round
// (Prove), and the decoder of a firmware-bridge measurement event.
//
// A round is pulled by the prover over its own connection to central (it
// may sit behind NAT): GET /v1/attest/challenge returns the node's
// outstanding challenge — central mints one per node and round — whose nonce
// is not sent in the clear but sealed with TPM2_MakeCredential to the node's
// enrolled EK and AK Name, so only that TPM, with that AK loaded, can
// recover it (TPM2_ActivateCredential). The prover quotes the challenge's
// PCRs with that nonce and POSTs the quote and its event log to
// /v1/attest/evidence. Because nobody else can learn the nonce, evidence
// that answers the outstanding challenge comes from the node's TPM, so a
// bad signature on it can mark the node failed without letting a stranger
// fail nodes at will. docs/decisions/0018-attestation.md has the design.
//
// It imports internal/tpm, internal/jsonx and internal/sensor/firmware;
// central and the provers share it, so it imports no daemon.
package attestation
