package feeds

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// TestWriteBatchNegotiatesGzip: a batch goes gzip-compressed only to a
// client that asks for it and only when large; either way the follower
// reads the same batch and verifies it entry by entry. A device-status
// entry of 500 serials costs well under 40 bytes a serial on the wire.
func TestWriteBatchNegotiatesGzip(t *testing.T) {
	ctx := context.Background()
	bs, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	s := NewServer(bs, key, time.Now)
	var serials []string
	for i := range 1000 {
		serials = append(serials, fmt.Sprintf("ACME-%08d", i))
	}
	if err := bs.Update(ctx, func(tx store.Tx) error {
		return Publish(ctx, tx, time.Now(), DeviceStatusEntries(serials, trustfeed.Revoked, "lost shipment")...)
	}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		b, err := s.Batch(r.Context(), trustfeed.Name, after, 0)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		WriteBatch(w, r, b)
	}))
	defer srv.Close()
	pub := key.Public().(ed25519.PublicKey)
	fo := feed.Follower{Origin: trustfeed.Name, Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}}

	get := func(accept, query string) (*http.Response, []byte, int64) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/?"+query, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		// Our own Accept-Encoding: the transport does not decompress.
		rsp, err := srv.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer rsp.Body.Close()
		body, wire, err := feed.ReadBody(rsp.Body, rsp.Header.Get("Content-Encoding"), 64<<20)
		if err != nil {
			t.Fatal(err)
		}
		return rsp, body, wire
	}
	var sizes []int64
	for _, accept := range []string{"", "identity", "gzip;q=0", "gzip", "br, gzip"} {
		rsp, body, wire := get(accept, "")
		enc := rsp.Header.Get("Content-Encoding")
		if (enc == "gzip") != (accept == "gzip" || accept == "br, gzip") {
			t.Errorf("Accept-Encoding %q answered with Content-Encoding %q", accept, enc)
		}
		if rsp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("no Vary: Accept-Encoding")
		}
		var b feed.Batch
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		es, _, err := fo.Apply(feed.State{}, &b)
		if err != nil || len(es) != 2 {
			t.Fatalf("%q: %d entries, %v", accept, len(es), err)
		}
		v, err := trustfeed.Decode(es[1].Kind, es[1].Data)
		if err != nil || len(v.(*trustfeed.DeviceStatus).Serials) != trustfeed.MaxStatusSerials {
			t.Fatalf("second entry: %v %v", v, err)
		}
		sizes = append(sizes, wire)
	}
	plain, gz := sizes[0], sizes[3]
	t.Logf("1,000 revocations: %d bytes plain (%.1f a serial), %d gzip (%.1f a serial)", plain, float64(plain)/1000, gz, float64(gz)/1000)
	if gz >= plain/2 || gz > 40*1000 {
		t.Errorf("gzip %d bytes for a %d-byte batch", gz, plain)
	}
	// A compressed trust batch is kept for the next follower asking.
	b, err := s.Batch(ctx, trustfeed.Name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	WriteBatch(httptest.NewRecorder(), req, b)
	if _, ok := cachedGzip(b); !ok {
		t.Error("compressed trust batch not kept")
	}
	// An empty long-poll answer is small: never compressed.
	if rsp, _, _ := get("gzip", "after=2"); rsp.Header.Get("Content-Encoding") != "" {
		t.Error("an empty batch was compressed")
	}
}
