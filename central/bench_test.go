package central

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

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
// seconds (goal ≤ 10 s), and bytes on the wire per revocation.
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
	b.Run("badger", func(b *testing.B) {
		st, err := badgerstore.Open(b.TempDir(), badgerstore.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchFeedSync(b, st, n)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := storetest.PostgresDSN(b)
		st, err := pgstore.Open(ctx, dsn, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer st.Close()
		benchFeedSync(b, st, n)
	})
}

func benchFeedSync(b *testing.B, st store.Store, n int) {
	keys, err := InitKeyring(b.TempDir(), []byte("benchmark passphrase"), time.Now())
	if err != nil {
		b.Fatal(err)
	}
	c, err := New(Config{Store: st, Keys: keys})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	admin := &Admin{TokenID: "bench"}
	v, err := c.AddVendor(ctx, admin, "ACME", "Acme Biometrics")
	if err != nil {
		b.Fatal(err)
	}
	// n enrolled devices with real-sized certificates (not timed).
	serials := make([]string, n)
	for i := 0; i < n; i += 1000 {
		var ds []*store.Device
		for j := i; j < min(i+1000, n); j++ {
			serials[j] = fmt.Sprintf("ACME-%08d", j)
			ds = append(ds, &store.Device{Serial: serials[j], VendorID: "ACME", Type: "Finger", SubType: "Single",
				Status: trustfeed.Active, DeviceCert: v.CACert, FTMCert: v.CACert})
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
		if _, _, err := syncAll(srv.URL, fo, &state); err != nil {
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
		bytes, entries, err := syncAll(srv.URL, fo, &state)
		if err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		b.StopTimer()
		if entries != n {
			b.Fatalf("follower applied %d entries, want %d", entries, n)
		}
		b.ReportMetric(produced.Seconds(), "produce-s")
		b.ReportMetric((total - produced).Seconds(), "sync-s")
		b.ReportMetric(total.Seconds(), "total-s")
		b.ReportMetric(float64(bytes)/float64(n), "bytes/revocation")
	}
}

// syncAll follows the feed to its end; it returns the bytes read and the
// entries applied.
func syncAll(base string, fo feed.Follower, st *feed.State) (int64, int, error) {
	var total int64
	applied := 0
	for {
		rsp, err := http.Get(fmt.Sprintf("%s/v1/feeds/trust?after=%d", base, st.Head.Size))
		if err != nil {
			return 0, 0, err
		}
		body, err := io.ReadAll(rsp.Body)
		rsp.Body.Close()
		if err != nil {
			return 0, 0, err
		}
		total += int64(len(body))
		var b feed.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			return 0, 0, err
		}
		es, ns, err := fo.Apply(*st, &b)
		if err != nil {
			return 0, 0, err
		}
		*st = ns
		applied += len(es)
		if ns.Head.Size >= b.Latest {
			return total, applied, nil
		}
	}
}
