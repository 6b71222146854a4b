// Package registry owns central's registry of vendors (device providers,
// with the provider CAs central issues and keeps sealed to its keyring),
// devices and relying parties (with their API keys): adding them, listing
// them, and changing their status, each change audited and published on
// the trust feed in the same transaction.
//
// Appliances, tokens and enrolment are not here yet (appliance status
// changes start records backfills, which still live in the root package).
//
// It may import central/core, central/feeds, central/keys, central/store,
// internal/ and sbi; not the root central package.
package registry
