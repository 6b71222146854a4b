// Package feeds owns what central publishes to appliances: the trust feed
// (vendors, devices, appliances, relying parties, one entry per change of
// a subject's whole state) and the records feed of each appliance (record
// puts and VID deletions, sealed in batches to that appliance's TPM
// encryption key, each batch fitting one feed entry), and serves both
// under checkpoints signed with the feed key, with long polls. Long polls
// wake on the store's change signal (on PostgreSQL: an append by any
// replica), and the trust feed's batches are read and signed once per
// change and second for every waiter (Server's cache), which is what lets
// one replica fan a revocation out to thousands of appliances at once.
// WithView reports where a batch was read (primary or streaming replica)
// and how far behind it is.
//
// It builds feed entries from store rows and knows nothing of HTTP, admins
// or how records are made (the people package signs them). It may import
// central/store and the internal feed, pki and enrol (error shape)
// packages; nothing in central/ but store.
package feeds
