// Package feeds owns what central publishes to appliances: the trust feed
// (vendors, devices, appliances, relying parties, one entry per change of
// a subject's whole state) and the records feed of each appliance (record
// puts and VID deletions, sealed in batches to that appliance's TPM
// encryption key, each batch fitting one feed entry), and serves both
// under checkpoints signed with the feed key, with long polls.
//
// It builds feed entries from store rows and knows nothing of HTTP, admins
// or how records are made (the people package signs them). It may import
// central/store and the internal feed, pki and enrol (error shape)
// packages; nothing in central/ but store.
package feeds
