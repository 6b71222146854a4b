// Package central is edgetrust's device trust registry: device providers
// (vendors) with the provider CAs central issues them, devices and
// appliances enrolled with TPM attestation, relying parties, people and
// their VIDs, enrolment and admin tokens, revocation, an insert-only
// hash-chained audit log, and the signed feeds appliances follow.
//
// Central is a library (this package and its concept packages) and a
// binary (cmd/edgetrust-central). This package wires the concepts (New,
// Config, Serve, Handler, and Central's methods, most of them one-line
// wrappers) and holds what no concept package owns alone: admin and
// enrolment tokens, the audit API and the appliance audit upload:
//
//   - central/core: API errors, the admin identity, status changes, audit
//     rows, token secrets;
//   - central/keys: the keyring file and central's CAs;
//   - central/registry: vendors, devices, appliances, relying parties;
//   - central/enrolment: TPM-attested enrolment and key rotation;
//   - central/people: people, their VIDs and locks, verifying enrolment
//     captures, records publishing, backfills and the sweep of expired VIDs;
//   - central/feeds: the trust and records feeds, published and served;
//   - central/attestation: continuous attestation — challenges, the
//     quote and event-log verifier, versioned policies, quarantine;
//   - central/httpapi: the HTTP handlers (decoding, auth, answers) over
//     Central's methods;
//   - central/store: storage (badger for one node, PostgreSQL for several).
//
// It may import its own subpackages, internal/ and sbi; never another
// daemon, even in tests (those tests are in internal/integration/central).
// See docs/decisions/0008-central.md and docs/api/central.md.
package central
