// Package people owns central's people concept (decision 0012): enrolling
// a person from RCAPTURE answers verified against central's own registry
// (signature and chain to an active vendor's provider CA, the signing
// device enrolled, active and on its current certificate, purpose
// Registration, freshness) and the templates made from them; the person
// sealed to the keyring; the VID lifecycle (issue, revoke, expire by the
// sweep); auth-type locks; the signed records each active VID puts on the
// records feed of every appliance of the person's group; and backfills,
// which publish a group's records to an appliance that enrols, changes
// group or is reinstated, in bounded steps that resume on any replica.
//
// The root central package wires it: it hands the registry and enrolment
// StartBackfill and Kick as hooks, and runs BackfillLoop and SweepLoop.
//
// It may import central/core, central/feeds (sealing batches to
// appliances, certificate thumbprints), central/keys, central/store,
// internal/ and sbi; not the root central package, registry or enrolment
// (its tests use central/registry, as the root wires it, to change
// appliance status).
package people
