package recordsink_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/recordsink"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/records"
	"github.com/edgetrust/edgetrust/internal/records/vid"
)

const applianceID = "EDGE-T"

type env struct {
	t       *testing.T
	keys    *tpmkey.Keys
	st      *db.Store
	recs    *records.Store
	sink    *recordsink.Sink
	srv     *feedtest.Server
	sync    *follow.Syncer
	central ed25519.PrivateKey
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	e := &env{t: t}
	var err error
	if e.keys, err = tpmkey.Open(ctx, "sim", dir, "test", time.Now(), false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.keys.Close() })
	if e.st, err = db.Open(filepath.Join(dir, "db"), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.st.Close() })
	if e.srv, err = feedtest.New(recordfeed.FeedName(applianceID)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	// Records are signed with central's feed key, as central does.
	_, e.central, _ = ed25519.GenerateKey(rand.Reader)
	if e.recs, err = records.Open(ctx, e.st.DB, records.TPMSealer{TPM: e.keys.TPM},
		recordfeed.Verifier{Keys: []ed25519.PublicKey{e.central.Public().(ed25519.PublicKey)}}); err != nil {
		t.Fatal(err)
	}
	if e.sink, err = recordsink.New(recordsink.Config{ApplianceID: applianceID, Cert: e.keys.Cert, Key: e.keys.Decrypt,
		Store: e.st, Records: e.recs}); err != nil {
		t.Fatal(err)
	}
	if e.sink.Feed() != "records."+applianceID {
		t.Fatalf("feed %q", e.sink.Feed())
	}
	if e.sync, err = follow.New(follow.Config{Central: e.srv.URL(), Feed: e.sink.Feed(), Keys: e.srv.Keys(), ChunkEntries: 1}, e.sink); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) record(uin string) (string, *recordfeed.Signed) {
	e.t.Helper()
	n, _ := vid.Generate()
	now := time.Now()
	r := &recordfeed.Record{Version: recordfeed.Version, UIN: uin, VID: n, VIDKind: "perpetual", VIDIssued: now, Issued: now,
		Demographics: map[string]string{"fullName": "Asha Rao"}, TokenSeed: bytes.Repeat([]byte{9}, recordfeed.TokenSeedLen)}
	b, err := r.Marshal()
	if err != nil {
		e.t.Fatal(err)
	}
	return n, &recordfeed.Signed{Record: b, Sig: recordfeed.Sign(e.central, b)}
}

func (e *env) seal(b *recordfeed.Batch, id string, cert *x509.Certificate) *recordfeed.Sealed {
	e.t.Helper()
	s, err := recordfeed.Seal(b, id, cert)
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

// poll appends one entry at central and polls once.
func (e *env) poll(data any) error {
	e.t.Helper()
	if _, err := e.srv.Append(recordfeed.Kind, data); err != nil {
		e.t.Fatal(err)
	}
	_, err := e.sync.Poll(context.Background(), 0)
	return err
}

func (e *env) size() uint64 {
	e.t.Helper()
	st, err := e.sink.State()
	if err != nil {
		e.t.Fatal(err)
	}
	return st.Head.Size
}

func otherCert(t *testing.T) *x509.Certificate {
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "another appliance"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

func TestAppliesSealedBatches(t *testing.T) {
	e := newEnv(t)
	v1, r1 := e.record("1000000001")
	v2, r2 := e.record("1000000002")
	if err := e.poll(e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r1}, {Put: r2}}}, applianceID, e.keys.Cert)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{v1, v2} {
		got, err := e.recs.Get(n)
		if err != nil {
			t.Fatal(err)
		}
		r, err := recordfeed.Unmarshal(got)
		if err != nil || r.VID != n {
			t.Fatalf("stored record: %v", err)
		}
	}
	if e.size() != 1 {
		t.Fatalf("feed size %d", e.size())
	}
	if n, _ := e.sink.Applied(); n != 1 {
		t.Fatalf("applied %d", n)
	}
	// A used VID's counters go with its record when central deletes it.
	if _, err := e.recs.Succeeded(v1, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.poll(e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Delete: v1}}}, applianceID, e.keys.Cert)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.recs.Get(v1); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("deleted VID: %v", err)
	}
	if u, err := e.recs.Usage(v1); err != nil || u != (records.Usage{}) {
		t.Fatalf("counters of a deleted VID: %+v %v", u, err)
	}
	if _, err := e.recs.Get(v2); err != nil {
		t.Fatalf("the other VID: %v", err)
	}
}

func TestRefusesBatchesNotForUs(t *testing.T) {
	e := newEnv(t)
	good, rg := e.record("2000000001")
	if err := e.poll(e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: rg}}}, applianceID, e.keys.Cert)); err != nil {
		t.Fatal(err)
	}
	n, r := e.record("2000000002")
	forged := *r
	forged.Sig = append([]byte(nil), r.Sig...)
	forged.Sig[0] ^= 1
	_, unsigned := e.record("2000000003")
	unsigned.Sig = make([]byte, ed25519.SignatureSize)
	for name, data := range map[string]any{
		"sealed to another appliance": e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r}}}, "EDGE-X", e.keys.Cert),
		"sealed to another key":       e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r}}}, applianceID, otherCert(t)),
		"a forged record among good":  e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r}, {Put: &forged}}}, applianceID, e.keys.Cert),
		"an unsigned record":          e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r}, {Put: unsigned}}}, applianceID, e.keys.Cert),
		"not a sealed batch":          map[string]string{"hello": "world"},
	} {
		t.Run(name, func(t *testing.T) {
			b, _ := json.Marshal(data)
			err := e.sink.Apply([]feed.Entry{{Seq: 2, Kind: recordfeed.Kind, Data: b}}, feed.State{Head: feed.Head{Size: 2}})
			if !errors.Is(err, follow.ErrRejected) || !errors.Is(err, recordsink.ErrRefused) {
				t.Fatalf("want a refusal, got %v", err)
			}
			if _, err := e.recs.Get(n); !errors.Is(err, records.ErrNotFound) {
				t.Fatalf("a record of a refused batch was stored: %v", err)
			}
			if e.size() != 1 {
				t.Fatalf("feed size moved to %d", e.size())
			}
		})
	}
	// Through the follower: refused, counted, nothing applied, retried.
	err := e.poll(e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r}}}, "EDGE-X", e.keys.Cert))
	var re *follow.RefusedError
	if !errors.As(err, &re) || re.Reason != "entry" {
		t.Fatalf("follower: %v", err)
	}
	if e.size() != 1 {
		t.Fatal("the refused batch moved the feed")
	}
	// Another entry kind on the records feed is refused too.
	wrongKind := feed.Entry{Seq: 2, Kind: "vendor", Data: json.RawMessage(`{}`)}
	if err := e.sink.Apply([]feed.Entry{wrongKind}, feed.State{Head: feed.Head{Size: 2}}); !errors.Is(err, recordsink.ErrRefused) {
		t.Fatalf("entry of kind vendor: %v", err)
	}
	if _, err := e.recs.Get(good); err != nil {
		t.Fatal(err)
	}
}

func TestStateConflict(t *testing.T) {
	e := newEnv(t)
	n, r := e.record("3000000001")
	b, _ := json.Marshal(e.seal(&recordfeed.Batch{Ops: []recordfeed.Op{{Put: r}}}, applianceID, e.keys.Cert))
	err := e.sink.Apply([]feed.Entry{{Seq: 1, Kind: recordfeed.Kind, Data: b}}, feed.State{Head: feed.Head{Size: 5}})
	if !errors.Is(err, recordsink.ErrConflict) {
		t.Fatalf("want a conflict, got %v", err)
	}
	// The records went in the same transaction as the position: not stored.
	if _, err := e.recs.Get(n); !errors.Is(err, records.ErrNotFound) {
		t.Fatalf("records of a conflicting batch were stored: %v", err)
	}
}
