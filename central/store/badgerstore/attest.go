package badgerstore

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
)

// Attestation state: one key per node and one for the round record. Badger
// is one process per directory, so Update's mutex is the lock across
// "replicas" (there is only one).
const (
	pAttest      = "at\x00" // node → AttestNode JSON
	kAttestRound = "atr"
)

// ModifyAttest implements store.AttestStore.
func (s *Store) ModifyAttest(ctx context.Context, node string, f func(*store.AttestNode) (*store.AttestNode, error)) error {
	return s.Update(ctx, func(st store.Tx) error {
		t := st.(*tx)
		var cur *store.AttestNode
		var n store.AttestNode
		if err := t.getJSON(pAttest+node, &n); err == nil {
			cur = &n
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		next, err := f(cur)
		if err != nil || next == nil {
			return err
		}
		next.Node = node
		return t.putJSON(pAttest+node, next)
	})
}

// AttestNodes implements store.AttestStore.
func (s *Store) AttestNodes(ctx context.Context, nodes []string) (map[string]*store.AttestNode, error) {
	out := make(map[string]*store.AttestNode, len(nodes))
	err := s.View(ctx, func(st store.Tx) error {
		t := st.(*tx)
		for _, node := range nodes {
			var n store.AttestNode
			if err := t.getJSON(pAttest+node, &n); errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			out[node] = &n
		}
		return nil
	})
	return out, err
}

// InitAttestNodes implements store.AttestStore.
func (s *Store) InitAttestNodes(ctx context.Context, ns []*store.AttestNode) error {
	if len(ns) == 0 {
		return nil
	}
	return s.Update(ctx, func(st store.Tx) error {
		t := st.(*tx)
		for _, n := range ns {
			if _, err := t.get([]byte(pAttest + n.Node)); err == nil {
				continue
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if err := t.putJSON(pAttest+n.Node, n); err != nil {
				return err
			}
		}
		return nil
	})
}

func (t *tx) attestRound() (store.AttestRound, error) {
	var r store.AttestRound
	b, err := t.get([]byte(kAttestRound))
	if errors.Is(err, store.ErrNotFound) {
		return r, nil
	} else if err != nil {
		return r, err
	}
	return r, json.Unmarshal(b, &r)
}

// ClaimAttestRound implements store.AttestStore.
func (s *Store) ClaimAttestRound(ctx context.Context, holder string, now time.Time, minGap time.Duration) (bool, error) {
	won := false
	err := s.Update(ctx, func(st store.Tx) error {
		t := st.(*tx)
		r, err := t.attestRound()
		if err != nil {
			return err
		}
		won = minGap <= 0 || r.Started.IsZero() || !r.Started.After(now.Add(-minGap))
		if !won {
			return nil
		}
		r.Holder, r.Started, r.Claims = holder, now.UTC(), r.Claims+1
		return t.putJSON(kAttestRound, r)
	})
	return won && err == nil, err
}

// FinishAttestRound implements store.AttestStore.
func (s *Store) FinishAttestRound(ctx context.Context, now time.Time) error {
	return s.Update(ctx, func(st store.Tx) error {
		t := st.(*tx)
		r, err := t.attestRound()
		if err != nil {
			return err
		}
		r.Finished, r.Rounds = now.UTC(), r.Rounds+1
		return t.putJSON(kAttestRound, r)
	})
}

// AttestRound implements store.AttestStore.
func (s *Store) AttestRound(ctx context.Context) (store.AttestRound, error) {
	var r store.AttestRound
	err := s.View(ctx, func(st store.Tx) error {
		var err error
		r, err = st.(*tx).attestRound()
		return err
	})
	return r, err
}
