package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edgetrust/edgetrust/central/store"
)

// attestLockClass is the first key of the per-node advisory locks
// (pg_advisory_xact_lock(int4, int4): a key space apart from the writer
// lock's bigint key); the second is a 32-bit hash of the node. Two nodes
// whose hashes collide only share a lock.
const attestLockClass = 0x61747374 // "atst"

func nodeLockKey(node string) int32 {
	h := fnv.New32a()
	h.Write([]byte(node))
	return int32(h.Sum32())
}

// retry runs f up to five times while it fails with a retryable error.
func (s *Store) retry(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 20 * time.Millisecond):
			}
		}
		if err = f(); err == nil || !retryable(err) {
			return err
		}
	}
	return fmt.Errorf("%w: %v", store.ErrConflict, err)
}

// ModifyAttest implements store.AttestStore: one transaction holding the
// node's advisory lock, not the writer lock.
func (s *Store) ModifyAttest(ctx context.Context, node string, f func(*store.AttestNode) (*store.AttestNode, error)) error {
	return s.retry(ctx, func() error {
		ptx, err := s.pool.Begin(ctx)
		if err != nil {
			return fmt.Errorf("pgstore: %w", redact(err))
		}
		defer ptx.Rollback(ctx)
		if _, err := ptx.Exec(ctx, "SELECT pg_advisory_xact_lock($1::int4, $2::int4)", int32(attestLockClass), nodeLockKey(node)); err != nil {
			return err
		}
		var cur *store.AttestNode
		var doc []byte
		switch err := ptx.QueryRow(ctx, "SELECT doc FROM attest_nodes WHERE node = $1", node).Scan(&doc); {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			cur = new(store.AttestNode)
			if err := json.Unmarshal(doc, cur); err != nil {
				return fmt.Errorf("pgstore: attestation state of %s: %w", node, err)
			}
		}
		next, err := f(cur)
		if err != nil {
			return err
		}
		if next == nil {
			return ptx.Commit(ctx)
		}
		next.Node = node
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if _, err := ptx.Exec(ctx, "INSERT INTO attest_nodes (node, doc) VALUES ($1, $2) ON CONFLICT (node) DO UPDATE SET doc = EXCLUDED.doc", node, b); err != nil {
			return err
		}
		return ptx.Commit(ctx)
	})
}

// AttestNodes implements store.AttestStore.
func (s *Store) AttestNodes(ctx context.Context, nodes []string) (map[string]*store.AttestNode, error) {
	out := make(map[string]*store.AttestNode, len(nodes))
	if len(nodes) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT node, doc FROM attest_nodes WHERE node = ANY($1)", nodes)
	if err != nil {
		return nil, fmt.Errorf("pgstore: %w", redact(err))
	}
	defer rows.Close()
	for rows.Next() {
		var node string
		var doc []byte
		if err := rows.Scan(&node, &doc); err != nil {
			return nil, err
		}
		n := new(store.AttestNode)
		if err := json.Unmarshal(doc, n); err != nil {
			return nil, fmt.Errorf("pgstore: attestation state of %s: %w", node, err)
		}
		out[node] = n
	}
	return out, rows.Err()
}

// InitAttestNodes implements store.AttestStore (one statement; existing
// states are left alone).
func (s *Store) InitAttestNodes(ctx context.Context, ns []*store.AttestNode) error {
	if len(ns) == 0 {
		return nil
	}
	nodes := make([]string, len(ns))
	docs := make([][]byte, len(ns))
	for i, n := range ns {
		b, err := json.Marshal(n)
		if err != nil {
			return err
		}
		nodes[i], docs[i] = n.Node, b
	}
	return s.retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, "INSERT INTO attest_nodes (node, doc) SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (node) DO NOTHING", nodes, docs)
		return err
	})
}

// ClaimAttestRound implements store.AttestStore: a conditional UPDATE of
// the one round row. Concurrent claims queue on its row lock and each
// re-checks the condition against the winner's row (READ COMMITTED), so
// exactly one replica wins a round.
func (s *Store) ClaimAttestRound(ctx context.Context, holder string, now time.Time, minGap time.Duration) (bool, error) {
	var won bool
	err := s.retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, "UPDATE attest_round SET holder = $1, started = $2, claims = claims + 1 WHERE id = 1 AND ($4 OR started IS NULL OR started <= $3)",
			holder, now.UTC(), now.Add(-minGap).UTC(), minGap <= 0)
		won = err == nil && tag.RowsAffected() == 1
		return err
	})
	return won, err
}

// FinishAttestRound implements store.AttestStore.
func (s *Store) FinishAttestRound(ctx context.Context, now time.Time) error {
	return s.retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, "UPDATE attest_round SET finished = $1, rounds = rounds + 1 WHERE id = 1", now.UTC())
		return err
	})
}

// AttestRound implements store.AttestStore.
func (s *Store) AttestRound(ctx context.Context) (store.AttestRound, error) {
	var r store.AttestRound
	var started, finished *time.Time
	var rounds, claims int64
	err := s.pool.QueryRow(ctx, "SELECT holder, started, claims, finished, rounds FROM attest_round WHERE id = 1").Scan(&r.Holder, &started, &claims, &finished, &rounds)
	if err != nil {
		return r, fmt.Errorf("pgstore: %w", redact(err))
	}
	if started != nil {
		r.Started = started.UTC()
	}
	if finished != nil {
		r.Finished = finished.UTC()
	}
	r.Rounds, r.Claims = uint64(rounds), uint64(claims)
	return r, nil
}
