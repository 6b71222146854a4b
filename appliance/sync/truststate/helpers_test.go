package truststate

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
)

// syncBuf is a goroutine-safe log sink.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func caCert(t testing.TB, name string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func device(serial, vendor, status string) trustfeed.Device {
	return trustfeed.Device{Serial: serial, VendorID: vendor, Status: status,
		DeviceCertSHA256: strings.Repeat(fmt.Sprintf("%02X", len(serial)%256), 32)}
}

// env is a feed server, a store, a registry and a syncer on them.
type env struct {
	t    testing.TB
	srv  *feedtest.Server
	dir  string
	st   *db.Store
	reg  *Registry
	sync *follow.Syncer
	log  *syncBuf
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv, err := feedtest.New(FeedName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, dir: t.TempDir(), log: &syncBuf{}}
	e.open(follow.Config{})
	t.Cleanup(func() { e.close() })
	return e
}

func (e *env) open(cfg follow.Config) {
	e.t.Helper()
	log := newLogger(e.log)
	st, err := db.Open(e.dir, log)
	if err != nil {
		e.t.Fatal(err)
	}
	reg, err := Open(st, log)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg.Central, cfg.Feed, cfg.Keys, cfg.Logger = e.srv.URL(), FeedName, e.srv.Keys(), log
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 100*time.Millisecond
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = 20 * time.Millisecond
	}
	sy, err := follow.New(cfg, reg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.st, e.reg, e.sync = st, reg, sy
}

func (e *env) close() {
	if e.st != nil {
		e.st.Close()
		e.st = nil
	}
}

func (e *env) append(kind string, data ...any) {
	e.t.Helper()
	if _, err := e.srv.Append(kind, data...); err != nil {
		e.t.Fatal(err)
	}
}

// pollAll polls (without waiting) until the registry has everything.
func (e *env) pollAll() {
	e.t.Helper()
	for range 1000 {
		res, err := e.sync.Poll(e.t.Context(), 0)
		if err != nil {
			e.t.Fatal(err)
		}
		if !res.More {
			return
		}
	}
	e.t.Fatal("feed never caught up")
}

// expected computes, independently of the registry, what the store must
// hold after the first n entries: the latest data per subject.
func expected(t testing.TB, raw [][]byte, n uint64) map[string]expect {
	t.Helper()
	m := map[string]expect{}
	for _, r := range raw[:n] {
		e, err := feed.DecodeEntry(r)
		if err != nil {
			t.Fatal(err)
		}
		var id struct {
			ID     string `json:"id"`
			Serial string `json:"serial"`
		}
		json.Unmarshal(e.Data, &id)
		var key string
		switch e.Kind {
		case trustfeed.KindVendor:
			key = db.VendorPrefix + id.ID
		case trustfeed.KindDevice:
			key = db.DevicePrefix + id.Serial
		case trustfeed.KindAppliance:
			key = db.AppliancePrefix + id.ID
		}
		m[key] = expect{seq: e.Seq, data: e.Data}
	}
	return m
}

type expect struct {
	seq  uint64
	data []byte
}

// checkStore compares the store with the expected state at its own size and
// checks the applied counter and feed head. It returns the size.
func checkStore(t testing.TB, st *db.Store, raw [][]byte) uint64 {
	t.Helper()
	var fs feed.State
	var applied uint64
	got := map[string][]byte{}
	err := st.DB.View(func(txn *badger.Txn) error {
		if _, err := db.GetJSON(txn, db.FeedStateKey(FeedName), &fs); err != nil {
			return err
		}
		var err error
		if applied, err = db.GetUint64(txn, db.FeedAppliedKey(FeedName)); err != nil {
			return err
		}
		return db.ForEach(txn, "trust/", func(k, v []byte) error {
			got[string(k)] = bytes.Clone(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if applied != fs.Head.Size {
		t.Fatalf("applied counter %d != feed size %d: entries applied twice or lost", applied, fs.Head.Size)
	}
	var h feed.Head
	for _, r := range raw[:fs.Head.Size] {
		h, _, _ = h.Append(feed.LeafHash(r))
	}
	wantRoot, _ := h.Root()
	if gotRoot, err := fs.Head.Root(); err != nil || !bytes.Equal(gotRoot, wantRoot) {
		t.Fatalf("stored head is not the head of the first %d entries", fs.Head.Size)
	}
	want := expected(t, raw, fs.Head.Size)
	if len(got) != len(want) {
		t.Fatalf("store has %d subjects, want %d at size %d", len(got), len(want), fs.Head.Size)
	}
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Fatalf("%s missing at size %d", k, fs.Head.Size)
		}
		var rec Record
		json.Unmarshal(g, &rec)
		if rec.Seq != w.seq {
			t.Fatalf("%s from entry %d, want %d", k, rec.Seq, w.seq)
		}
		// Every field of the entry's data is in the record, with the same value.
		var gm, wm map[string]any
		json.Unmarshal(g, &gm)
		json.Unmarshal(w.data, &wm)
		for f, wv := range wm {
			if fmt.Sprint(gm[f]) != fmt.Sprint(wv) {
				t.Fatalf("%s.%s = %v, want %v", k, f, gm[f], wv)
			}
		}
	}
	return fs.Head.Size
}
