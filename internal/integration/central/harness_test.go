package centralint

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// The harness is central's test harness (central/helpers_test.go) written
// against central's exported API.

var ctx = context.Background()

func init() {
	keyring.WorkFactor = 10
	keyring.WorkFactor = 10
}

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

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// harness is a central on an in-memory badger store behind an httptest
// server, with an admin and a vendor.
type harness struct {
	t      *testing.T
	c      *central.Central
	keys   *central.Keyring
	st     store.Store
	srv    *httptest.Server
	admin  *central.Admin
	token  string // admin bearer token
	clock  *clock
	ek     *enrol.EKPolicy
	client *enrol.Client
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	keys, err := central.InitKeyring(t.TempDir(), []byte("correct horse battery"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, keys: keys, clock: clk, ek: &enrol.EKPolicy{Allow: map[string]bool{}}}
	h.c, err = central.New(central.Config{Store: st, Keys: keys, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.c.Close)
	h.srv = httptest.NewServer(h.c.Handler(central.HTTPOptions{EnrolRate: 1000, AdminRate: 1000}))
	t.Cleanup(h.srv.Close)
	h.client = &enrol.Client{URL: h.srv.URL}
	tok, rec, err := h.c.CreateAdminToken(ctx, "system", "test")
	if err != nil {
		t.Fatal(err)
	}
	h.token, h.admin = tok, &central.Admin{TokenID: rec.ID, Name: rec.Name}
	if _, err := h.c.AddVendor(ctx, h.admin, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}
	return h
}

// setEK installs the harness's EK policy.
func (h *harness) setEK() {
	allow := map[string]bool{}
	for k, v := range h.ek.Allow {
		allow[k] = v
	}
	h.c.SetEKPolicy(enrol.EKPolicy{Roots: h.ek.Roots, Intermediates: h.ek.Intermediates, Allow: allow})
}

func (h *harness) deviceToken(vendor string) string {
	h.t.Helper()
	r, err := h.c.CreateEnrolmentToken(ctx, h.admin, central.TokenRequest{Kind: store.TokenDevice, VendorID: vendor})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.Token
}

// vendorCA is a vendor's provider CA, its key opened with the keyring.
func (h *harness) vendorCA(id string) *pki.CA {
	h.t.Helper()
	var v *store.Vendor
	if err := h.st.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = tx.Vendor(ctx, id)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	key, err := h.keys.Open(v.CAKey)
	if err != nil {
		h.t.Fatal(err)
	}
	ca, err := pki.ParseCA(v.CACert, key)
	if err != nil {
		h.t.Fatal(err)
	}
	return ca
}

// snapshot is what "nothing written to the registry" compares.
type snapshot struct {
	devices, appliances int
	auditSeq, feedSize  uint64
}

func (h *harness) snapshot() snapshot {
	h.t.Helper()
	var s snapshot
	err := h.st.View(ctx, func(tx store.Tx) error {
		ds, err := tx.Devices(ctx, store.DeviceFilter{})
		if err != nil {
			return err
		}
		as, err := tx.Appliances(ctx)
		if err != nil {
			return err
		}
		s.devices, s.appliances = len(ds), len(as)
		s.auditSeq, _, err = tx.AuditHead(ctx)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	_, s.feedSize, err = h.st.ReadFeed(ctx, trustfeed.Name, 0, 0)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// agentTPM is a TPM with an AK, as an agent or appliance has.
type agentTPM struct {
	t   *testing.T
	sw  *enroltest.Swtpm
	tpm *tpm.TPM
	ak  *tpm.Key
}

func newAgentTPM(t *testing.T) *agentTPM {
	t.Helper()
	sw := enroltest.StartSwtpm(t)
	tp, err := tpm.Open(ctx, sw.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tp.Close() })
	a := &agentTPM{t: t, sw: sw, tpm: tp}
	if a.ak, err = a.tpm.CreateAK(ctx); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a *agentTPM) prover() *enrol.Prover { return &enrol.Prover{TPM: a.tpm, AK: a.ak} }

// allow puts a's EK on the harness's allow-list.
func (h *harness) allow(a *agentTPM) string {
	h.t.Helper()
	ek, err := a.tpm.EndorsementKey(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	fp, err := enrol.EKFingerprint(ek.Public())
	if err != nil {
		h.t.Fatal(err)
	}
	h.ek.Allow[fp] = true
	h.setEK()
	return fp
}

// testAppliance is an appliance enrolled with central and its TPM keys.
type testAppliance struct {
	id   string
	tpm  *agentTPM
	dec  *tpm.Key
	sign *tpm.Key
}

func enrolTestAppliance(t *testing.T, h *harness, id string) *testAppliance {
	t.Helper()
	a := newAgentTPM(t)
	h.allow(a)
	enc, err := a.tpm.CreateKey(ctx, tpm.RSA2048Decrypt)
	if err != nil {
		t.Fatal(err)
	}
	sign, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := h.c.CreateEnrolmentToken(ctx, h.admin, central.TokenRequest{Kind: store.TokenAppliance, Appliance: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.prover().EnrolAppliance(ctx, h.client, tr.Token, id, enc, sign, nil); err != nil {
		t.Fatal(err)
	}
	return &testAppliance{id: id, tpm: a, dec: enc, sign: sign}
}

// ops reads an appliance's records feed from seq after, opens every batch
// with its TPM key and checks every record's signature.
func (ta *testAppliance) ops(t *testing.T, h *harness, after uint64) ([]recordfeed.Op, []*recordfeed.Record) {
	t.Helper()
	b, err := h.c.Batch(ctx, recordfeed.FeedName(ta.id), after, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ap *store.Appliance
	h.st.View(ctx, func(tx store.Tx) error {
		var err error
		ap, err = tx.Appliance(ctx, ta.id)
		return err
	})
	cert, err := x509.ParseCertificate(ap.EncryptionCert)
	if err != nil {
		t.Fatal(err)
	}
	ver := recordfeed.Verifier{Keys: []ed25519.PublicKey{h.c.FeedPublicKey()}}
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

func feedSize(t *testing.T, h *harness, name string) uint64 {
	t.Helper()
	_, size, err := h.st.ReadFeed(ctx, name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return size
}
