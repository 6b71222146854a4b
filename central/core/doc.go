// Package core holds what every concept package of central shares and
// nothing more: API errors in internal/enrol's shape, the admin identity
// and how it appears in the audit log, status changes (revoked is final
// unless explicitly undone), and appending an audit row.
//
// It may import central/store and internal packages; no other package of
// central.
package core
