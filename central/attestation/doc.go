// Package attestation is central's continuous-attestation verifier: it schedules
// rounds, hands each enrolled device and appliance a challenge whose nonce
// only that node's TPM can recover, checks the evidence (the AK signature
// under the AK central bound to the EK at enrolment, the nonce, the TPM
// clock and reset counters, the event log replayed to the quoted PCRs, and
// the vendor's policy: allowed firmware measurements, minimum firmware
// version, pinned PCR values, a zero debug PCR), keeps each node's outcome
// (attested, failed, stale, pending), and quarantines failed and stale
// nodes: a suspension with a reason starting "attestation-failed" or
// "attestation-stale", audited and published on the trust feed, which
// appliances already apply. A later good quote lifts it when the policy says
// so; an admin can lift it (audited).
//
// Policies are versioned and kept in the audit log (action
// attest-policy.set, subject attest-policy:<scope>): every change is an
// audit row, and the newest row is the policy. Outcomes, challenges (only
// the nonce's hash) and counters are in the store (store.AttestStore), read
// and written under a per-node lock, so every replica hands out the same
// challenge and reports the same state; rounds are claimed in the store, so
// one replica runs each.
//
// The loop is supervised (a panic restarts it) and watched: Health and the
// edgetrust_central_attest_loop_up metric go false when no round completed
// on any replica, or this replica's loop did not tick, within 1.5 intervals, and a node's state is computed from the time of its
// last good quote, never from a flag the loop sets, so a dead loop cannot
// make nodes look attested.
//
// It may import central/core, central/feeds, central/store and internal/;
// the wire protocol it speaks is internal/attest. See
// docs/decisions/0018-attestation.md.
package attestation
