// Package people owns central's side of person enrolment: verifying
// RCAPTURE answers against central's own registry (signature and chain to
// an active vendor's provider CA, the signing device enrolled, active and
// on its current certificate, purpose Registration, freshness) and turning
// verified segments into the templates a person's record holds.
//
// It is the first part of the people concept to leave the root package;
// the VID lifecycle, locks, the sweep of expired VIDs and the records
// backfill still live in central/people.go and are to follow.
//
// It may import central/core, central/feeds (certificate thumbprints),
// central/store, internal/ and sbi; not the root central package.
package people
