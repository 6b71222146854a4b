// Package enrolment owns TPM-attested enrolment at central: one-use
// enrolment tokens spent in a start/finish session, the EK checked
// against the EK policy, the AK's credential activated, every key
// certified by the AK, and then devices certified by their vendor's
// provider CA (or an appliance by the appliance CA), stored, audited and
// published on the trust feed; device-key rotation likewise.
//
// It may import central/core, central/feeds, central/keys,
// central/registry, central/store, internal/ and sbi; not the root
// central package, which hands it the records backfill as a function.
package enrolment
