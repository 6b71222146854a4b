// Package trustfeed defines the entries of central's "trust" feed (see
// internal/feed for the signed, Merkle-checked transport): the status of
// device providers (vendors) and their CA certificates, of devices and of
// appliances. Central writes them; appliances apply them in order, so the
// latest entry for a subject is its current state. A device-status entry
// changes only the status of many devices at once (a bulk revocation costs
// about 20 bytes per device on the wire instead of a whole device entry).
//
// It imports only the standard library and internal/jsonx (entries are
// decoded strictly): central writes these entries and appliances read them,
// so the contract depends on neither.
package trustfeed
