package pgstore

import (
	"context"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/storetest"
)

func testDSN(t *testing.T) string { return storetest.PostgresDSN(t) }

func open(t *testing.T, dsn string) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSuite runs the store suite on PostgreSQL, with two replicas (two
// pools) on one schema.
func TestSuite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) func(int) store.Store {
		dsn := testDSN(t)
		var rs []*Store
		return func(i int) store.Store {
			for len(rs) <= i {
				rs = append(rs, open(t, dsn))
			}
			return rs[i]
		}
	})
}

// TestInsertOnly checks the database itself refuses to change or delete
// audit rows and feed entries, whatever the application does.
func TestInsertOnly(t *testing.T) {
	s := open(t, testDSN(t))
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := store.AppendAudit(ctx, tx, store.AuditEvent{Action: "a", Subject: "s"}); err != nil {
			return err
		}
		_, err := store.AppendFeed(ctx, tx, "trust", storetestTime, store.NewEntry{Kind: "appliance", Data: map[string]string{"id": "A", "status": "active"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE audit SET subject = 'x'",
		"DELETE FROM audit",
		"TRUNCATE audit",
		"UPDATE feed_entries SET body = 'x'",
		"DELETE FROM feed_entries",
		"TRUNCATE feed_entries",
	} {
		_, err := s.pool.Exec(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "insert-only") {
			t.Errorf("%s: err = %v, want the insert-only trigger to refuse", q, err)
		}
	}
}

var storetestTime = mustTime("2026-11-23T12:00:00Z")
