package people

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/keys"
	"github.com/edgetrust/edgetrust/central/registry"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/records/vid"
)

// The people tests run on real components: a badger store in a temporary
// directory, a keyring (its box seals people, its feed key signs records
// and checkpoints), the registry whose status changes call the people
// service's backfill hook as the root package wires it, and the feeds
// server that serves what appliances read. Appliances are enrolled as
// central/enrolment does it, in the store, with software RSA keys in
// place of TPM keys (the TPM side of enrolment is tested in central and
// internal/integration/central).

func init() { keyring.WorkFactor = 10 } // fast keyrings in tests

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type harness struct {
	t     *testing.T
	st    store.Store
	keys  *keys.Keyring
	svc   *Service
	reg   *registry.Registry
	feeds *feeds.Server
	clock *clock
	admin *core.Admin
}

func newHarness(t *testing.T) *harness { return newHarnessWith(t, Config{}) }

// newHarnessWith is newHarness with c's tunables (BackfillBytes,
// CaptureMaxAge); the store, keys and clock are the harness's.
func newHarnessWith(t *testing.T, c Config) *harness {
	t.Helper()
	st, err := badgerstore.Open(t.TempDir(), badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	k, err := keys.Init(t.TempDir(), []byte("correct horse battery"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.Store, c.Keys, c.Now = st, k, clk.Now
	svc, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, keys: k, svc: svc, clock: clk, admin: &core.Admin{TokenID: "0123456789abcdef", Name: "test"},
		reg: registry.New(st, k, clk.Now), feeds: feeds.NewServer(st, k.Feed, clk.Now)}
	h.reg.Reinstated = func(ctx context.Context, tx store.Tx, ap *store.Appliance) error {
		return svc.StartBackfill(ctx, tx, ap, feeds.ApplianceGroup(ap), "")
	}
	h.reg.Kick = svc.Kick
	return h
}

func (h *harness) appliance(t *testing.T, id string) *store.Appliance {
	t.Helper()
	var ap *store.Appliance
	if err := h.st.View(ctx, func(tx store.Tx) error {
		var err error
		ap, err = tx.Appliance(ctx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ap
}

// audit returns central's whole audit log.
func (h *harness) audit(t *testing.T) []store.AuditEvent {
	t.Helper()
	var rows []store.AuditEvent
	if err := h.st.View(ctx, func(tx store.Tx) error {
		var err error
		rows, err = tx.Audit(ctx, store.AuditFilter{Limit: 1000})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return rows
}

// testAppliance is an appliance enrolled with central and its decryption
// key.
type testAppliance struct {
	id  string
	dec *rsa.PrivateKey
}

// enrolTestAppliance stores an active appliance of the default group with
// certificates from the appliance CA, publishes it on the trust feed and
// starts its records backfill in the same transaction, as enrolment does.
func enrolTestAppliance(t *testing.T, h *harness, id string) *testAppliance {
	t.Helper()
	enc, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	encCert, err := keys.Issue(h.keys.ApplianceCA, &enc.PublicKey, keys.Leaf{CommonName: id, Organization: "edgetrust", Unit: "Encryption",
		Validity: keys.ApplianceValidity, Usage: x509.KeyUsageKeyEncipherment}, now)
	if err != nil {
		t.Fatal(err)
	}
	signCert, err := keys.Issue(h.keys.ApplianceCA, &sign.PublicKey, keys.Leaf{CommonName: id, Organization: "edgetrust", Unit: "Signing",
		Validity: keys.ApplianceValidity, Usage: x509.KeyUsageDigitalSignature}, now)
	if err != nil {
		t.Fatal(err)
	}
	err = h.st.Update(ctx, func(tx store.Tx) error {
		a := &store.Appliance{ID: id, Status: trustfeed.Active, EncryptionCert: encCert.Raw, SigningCert: signCert.Raw, Enrolled: now, Updated: now}
		if err := tx.PutAppliance(ctx, a); err != nil {
			return err
		}
		if err := feeds.Publish(ctx, tx, now, feeds.ApplianceEntry(a)); err != nil {
			return err
		}
		return h.svc.StartBackfill(ctx, tx, a, feeds.ApplianceGroup(a), "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return &testAppliance{id: id, dec: enc}
}

// ops reads an appliance's records feed from seq after, opens every batch
// with its key and checks every record's signature.
func (ta *testAppliance) ops(t *testing.T, h *harness, after uint64) ([]recordfeed.Op, []*recordfeed.Record) {
	t.Helper()
	b, err := h.feeds.Batch(ctx, recordfeed.FeedName(ta.id), after, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert := ta.cert(t, h)
	ver := recordfeed.Verifier{Keys: []ed25519.PublicKey{h.feeds.PublicKey()}}
	var ops []recordfeed.Op
	var recs []*recordfeed.Record
	for _, raw := range b.Entries {
		e, err := feed.DecodeEntry(raw)
		if err != nil || e.Kind != recordfeed.Kind {
			t.Fatalf("records feed entry: %v %q", err, e.Kind)
		}
		s, err := recordfeed.DecodeSealed(e.Data)
		if err != nil {
			t.Fatal(err)
		}
		batch, err := recordfeed.Open(s, ta.id, cert, ta.dec)
		if err != nil {
			t.Fatalf("%s cannot open its own batch: %v", ta.id, err)
		}
		for _, op := range batch.Ops {
			ops = append(ops, op)
			if op.Put != nil {
				if err := ver.Verify(op.Put.Record, op.Put.Sig); err != nil {
					t.Fatal(err)
				}
				r, err := recordfeed.Unmarshal(op.Put.Record)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, r)
			}
		}
	}
	return ops, recs
}

func (ta *testAppliance) cert(t *testing.T, h *harness) *x509.Certificate {
	t.Helper()
	c, err := x509.ParseCertificate(h.appliance(t, ta.id).EncryptionCert)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func feedSize(t *testing.T, h *harness, name string) uint64 {
	t.Helper()
	_, size, err := h.st.ReadFeed(ctx, name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// addPerson stores a person with one perpetual VID and publishes them, as
// EnrolPerson does after verifying captures (which the end-to-end test
// covers with the real agent).
func addPerson(t *testing.T, h *harness, uin, group string) (*personData, string) {
	t.Helper()
	d := &personData{Demographics: map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01"},
		Biometrics: []recordfeed.Biometric{{Type: "Finger", SubType: "Left IndexFinger", Format: recordfeed.TemplateMCC, Data: []byte{1, 2, 3}}},
		TokenSeed:  bytes.Repeat([]byte{4}, recordfeed.TokenSeedLen)}
	sealed, err := h.svc.sealPerson(d)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	v, _ := vid.New(vid.Perpetual, now, 0)
	err = h.st.Update(ctx, func(tx store.Tx) error {
		p := &store.Person{UIN: uin, Group: group, Status: PersonActive, Sealed: sealed, Created: now, Updated: now}
		if err := tx.PutPerson(ctx, p); err != nil {
			return err
		}
		sv := store.VID{Number: v.Number, UIN: uin, Kind: "perpetual", IssuedAt: now, Status: VIDActive, Updated: now}
		if err := tx.PutVID(ctx, &sv); err != nil {
			return err
		}
		return h.svc.publishPerson(ctx, tx, p, d, []store.VID{sv}, nil, "")
	})
	if err != nil {
		t.Fatal(err)
	}
	return d, v.Number
}
