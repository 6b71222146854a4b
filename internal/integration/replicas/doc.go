// Package replicasint runs several central replicas — real processes (this
// test binary re-executed), each with its own PostgreSQL pool — on one
// PostgreSQL database, with appliance feed followers against them: one
// gap-free, fork-free feed however many replicas write, long polls woken
// on every replica, a replica killed with SIGKILL mid-write and restarted,
// followers failing over between replicas, reads from a streaming replica,
// a bulk revocation reaching appliances' trust registries as gzip-compressed
// device-status entries, and the fan-out of a revocation to many simulated
// appliances
// (docs/decisions/0019-replicas.md, docs/performance.md "Fan-out").
//
// It lives under internal/integration because it runs central and the
// appliance's follower together; it uses only their exported APIs.
package replicasint
