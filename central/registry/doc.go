// Package registry owns central's registry of vendors (device providers,
// with the provider CAs central issues and keeps sealed to its keyring),
// devices, appliances and relying parties (with their API keys): adding
// them, listing them, and changing their status, each change audited and
// published on the trust feed in the same transaction. Enrolment (which
// adds devices and appliances) is central/enrolment; a reinstated
// appliance's records backfill is a hook the root package sets.
//
// It may import central/core, central/feeds, central/keys, central/store,
// internal/ and sbi; not the root central package.
package registry
