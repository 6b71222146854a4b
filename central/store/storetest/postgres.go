package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns a DSN for a fresh schema in the database named by
// EDGETRUST_PG_DSN, dropped when the test ends. Without the variable the
// test is skipped, unless EDGETRUST_REQUIRE_PG=1 (CI), where it fails.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("EDGETRUST_PG_DSN")
	if dsn == "" {
		if os.Getenv("EDGETRUST_REQUIRE_PG") == "1" {
			t.Fatal("EDGETRUST_PG_DSN is not set but EDGETRUST_REQUIRE_PG=1: start PostgreSQL and set it (see docs/decisions/0008-central.md)")
		}
		t.Skip("EDGETRUST_PG_DSN not set: skipping PostgreSQL (e.g. EDGETRUST_PG_DSN=postgres://edgetrust:edgetrust@127.0.0.1:5432/edgetrust_test)")
	}
	u, err := url.Parse(dsn)
	if err != nil || !strings.HasPrefix(u.Scheme, "postgres") {
		t.Fatal("EDGETRUST_PG_DSN must be a postgres:// URL")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connecting to EDGETRUST_PG_DSN failed (is PostgreSQL running?): %v", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "et_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
