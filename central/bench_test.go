package central

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/central/store/pgstore"
	"github.com/edgetrust/edgetrust/central/store/storetest"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// BenchmarkFeedSync100k measures the goal: central revokes 100,000
// devices (admin requests of 1,000 serials, each one transaction with its
// audit rows and feed entries), and a follower that was up to date before
// the revocations syncs them over HTTP with feed.Follower.Apply, verifying
// every checkpoint and root. Reported: produce and sync seconds, total
// seconds (goal ≤ 10 s), and bytes on the wire per revocation (goal ≤ 40).
//
// Two wire formats, in the same run: "before" publishes one whole device
// entry per device and sends plain JSON (Config.PerDeviceStatusEntries,
// Accept-Encoding: identity); "after" publishes device-status entries of
// 500 serials and sends gzip. EDGETRUST_BENCH_ALL=1 adds
// "per-device-gzip": whole device entries, gzip (central run with
// --feed-per-device-status).
//
//	go test -run '^$' -bench FeedSync100k -benchtime 1x ./central/
//	EDGETRUST_PG_DSN=postgres://... go test -run '^$' -bench FeedSync100k -benchtime 1x ./central/
//
// EDGETRUST_BENCH_REVOCATIONS changes the count.
func BenchmarkFeedSync100k(b *testing.B) {
	n := 100000
	if s := os.Getenv("EDGETRUST_BENCH_REVOCATIONS"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	for _, w := range []struct {
		name      string
		perDevice bool
		accept    string
	}{{"before", true, "identity"}, {"per-device-gzip", true, "gzip"}, {"after", false, "gzip"}} {
		if w.name == "per-device-gzip" && os.Getenv("EDGETRUST_BENCH_ALL") == "" {
			continue // --feed-per-device-status: EDGETRUST_BENCH_ALL=1
		}
		b.Run("badger/"+w.name, func(b *testing.B) {
			st, err := badgerstore.Open(b.TempDir(), badgerstore.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchFeedSync(b, st, n, w.perDevice, w.accept)
		})
		b.Run("postgres/"+w.name, func(b *testing.B) {
			dsn := storetest.PostgresDSN(b)
			st, err := pgstore.Open(ctx, dsn, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			benchFeedSync(b, st, n, w.perDevice, w.accept)
			pgSizes(b, dsn, n)
		})
	}
}

func benchFeedSync(b *testing.B, st store.Store, n int, perDevice bool, accept string) {
	keys, err := InitKeyring(b.TempDir(), []byte("benchmark passphrase"), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Config{Store: st, Keys: keys, PerDeviceStatusEntries: perDevice})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	admin := &Admin{TokenID: "bench"}
	v, err := c.AddVendor(ctx, admin, "ACME", "Acme Biometrics")
	if err != nil {
		b.Fatal(err)
	}
	// n enrolled devices with real-sized certificates (not timed), each
	// its own (so each device entry carries its own thumbprints, as in the
	// field, and gzip cannot fold them into one another).
	serials := make([]string, n)
	for i := 0; i < n; i += 1000 {
		var ds []*store.Device
		for j := i; j < min(i+1000, n); j++ {
			serials[j] = fmt.Sprintf("ACME-%08d", j)
			ds = append(ds, &store.Device{Serial: serials[j], VendorID: "ACME", Type: "Finger", SubType: "Single",
				Status: trustfeed.Active, DeviceCert: append(slices.Clip(v.CACert), serials[j]...), FTMCert: append(append(slices.Clip(v.CACert), 'F'), serials[j]...)})
		}
		err := st.Update(ctx, func(tx store.Tx) error { return tx.PutDevices(ctx, ds...) })
		if err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler(HTTPOptions{}))
	defer srv.Close()
	pub := c.FeedPublicKey()
	fo := feed.Follower{Origin: trustfeed.Name, Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}}

	for it := 0; it < b.N; it++ {
		// The follower is up to date before the revocations.
		var state feed.State
		if _, _, err := syncAll(srv.URL, accept, fo, &state); err != nil {
			b.Fatal(err)
		}
		if it > 0 {
			b.Fatal("run with -benchtime 1x: the devices are revoked once")
		}
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < n; i += MaxBulk {
			if _, err := c.SetDeviceStatus(ctx, admin, serials[i:min(i+MaxBulk, n)], StatusChange{Status: trustfeed.Revoked, Reason: "benchmark"}); err != nil {
				b.Fatal(err)
			}
		}
		produced := time.Since(start)
		bytes, revoked, err := syncAll(srv.URL, accept, fo, &state)
		if err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		b.StopTimer()
		if len(revoked) != n {
			b.Fatalf("follower saw %d devices revoked, want %d", len(revoked), n)
		}
		for _, sn := range serials {
			if !revoked[sn] {
				b.Fatalf("%s not revoked at the follower", sn)
			}
		}
		b.ReportMetric(produced.Seconds(), "produce-s")
		b.ReportMetric((total - produced).Seconds(), "sync-s")
		b.ReportMetric(total.Seconds(), "total-s")
		b.ReportMetric(float64(bytes)/float64(n), "bytes/revocation")
	}
}

// syncAll follows the feed to its end, asking for the given
// Accept-Encoding; it returns the bytes read on the wire and the devices
// the entries applied revoke.
func syncAll(base, accept string, fo feed.Follower, st *feed.State) (int64, map[string]bool, error) {
	var total int64
	revoked := map[string]bool{}
	for {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/v1/feeds/trust?after=%d", base, st.Head.Size), nil)
		req.Header.Set("Accept-Encoding", accept)
		rsp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil, err
		}
		body, wire, err := feed.ReadBody(rsp.Body, rsp.Header.Get("Content-Encoding"), 64<<20)
		rsp.Body.Close()
		if err != nil {
			return 0, nil, err
		}
		total += wire
		var b feed.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			return 0, nil, err
		}
		es, ns, err := fo.Apply(*st, &b)
		if err != nil {
			return 0, nil, err
		}
		*st = ns
		for _, e := range es {
			v, err := trustfeed.Decode(e.Kind, e.Data)
			if err != nil {
				return 0, nil, err
			}
			switch x := v.(type) {
			case *trustfeed.Device:
				if x.Status == trustfeed.Revoked {
					revoked[x.Serial] = true
				}
			case *trustfeed.DeviceStatus:
				for _, sn := range x.Serials {
					if x.Status == trustfeed.Revoked {
						revoked[sn] = true
					}
				}
			}
		}
		if ns.Head.Size >= b.Latest {
			return total, revoked, nil
		}
	}
}

// pgSizes reports PostgreSQL's bytes (tables, indexes, TOAST) per device,
// per audit row and per trust-feed entry after the run: the per-unit
// storage docs/scale.md sizes central from.
func pgSizes(b *testing.B, dsn string, n int) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, t := range []struct{ table, count, unit string }{
		{"devices", "SELECT count(*) FROM devices", "pg-B/device"},
		{"audit", "SELECT count(*) FROM audit", "pg-B/audit-row"},
		{"feed_entries", "SELECT count(*) FROM feed_entries WHERE feed = 'trust'", "pg-B/feed-entry"},
	} {
		var size, rows int64
		if err := conn.QueryRow(ctx, "SELECT pg_total_relation_size($1::regclass)", t.table).Scan(&size); err != nil {
			b.Fatal(err)
		}
		if err := conn.QueryRow(ctx, t.count).Scan(&rows); err != nil {
			b.Fatal(err)
		}
		if rows > 0 {
			b.ReportMetric(float64(size)/float64(rows), t.unit)
		}
	}
}
