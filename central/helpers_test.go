package central

import (
	"context"
	"crypto/ed25519"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

var ctx = context.Background()

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

// harness is a central on an in-memory badger store behind an httptest
// server, with an admin and a vendor.
type harness struct {
	t      *testing.T
	c      *Central
	st     store.Store
	srv    *httptest.Server
	admin  *Admin
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
	keys, err := InitKeyring(t.TempDir(), []byte("correct horse battery"), clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, clock: clk, ek: &enrol.EKPolicy{Allow: map[string]bool{}}}
	h.c, err = New(Config{Store: st, Keys: keys, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.c.Close)
	h.srv = httptest.NewServer(h.handler())
	t.Cleanup(h.srv.Close)
	h.client = &enrol.Client{URL: h.srv.URL}
	tok, rec, err := h.c.CreateAdminToken(ctx, "system", "test")
	if err != nil {
		t.Fatal(err)
	}
	h.token, h.admin = tok, &Admin{TokenID: rec.ID, Name: rec.Name}
	if _, err := h.c.AddVendor(ctx, h.admin, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) handler() http.Handler {
	return h.c.Handler(HTTPOptions{EnrolRate: 1000, AdminRate: 1000})
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
	r, err := h.c.CreateEnrolmentToken(ctx, h.admin, TokenRequest{Kind: store.TokenDevice, VendorID: vendor})
	if err != nil {
		h.t.Fatal(err)
	}
	return r.Token
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

// agentTPM is a TPM with an AK and two devices' keys, as an agent has.
type agentTPM struct {
	t    *testing.T // owner: the TPM connection lives as long as it
	sw   *enroltest.Swtpm
	tpm  *tpm.TPM
	ak   *tpm.Key
	devs []enrol.DeviceKeys
}

func newAgentTPM(t *testing.T, serials ...string) *agentTPM {
	t.Helper()
	sw := enroltest.StartSwtpm(t)
	a := &agentTPM{t: t, sw: sw}
	a.reopen()
	var err error
	if a.ak, err = a.tpm.CreateAK(ctx); err != nil {
		t.Fatal(err)
	}
	for _, sn := range serials {
		ftm, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
		if err != nil {
			t.Fatal(err)
		}
		dev, err := a.tpm.CreateKey(ctx, tpm.RSA2048Sign)
		if err != nil {
			t.Fatal(err)
		}
		a.devs = append(a.devs, enrol.DeviceKeys{FTM: ftm, Device: dev, DigitalID: sbi.DigitalID{
			SerialNo: sn, Make: "Acme", Model: "F1", Type: sbi.TypeFinger, DeviceSubType: "Single",
			DeviceProvider: "Acme Biometrics", DeviceProviderID: "ACME"}})
	}
	return a
}

// reopen connects to the swtpm (again, after a.tpm.Close).
func (a *agentTPM) reopen() {
	a.t.Helper()
	tp, err := tpm.Open(ctx, a.sw.URL)
	if err != nil {
		a.t.Fatal(err)
	}
	a.tpm = tp
	a.t.Cleanup(func() { tp.Close() })
	// Keys belong to the connection that loaded them: reload the blobs.
	reload := func(k **tpm.Key) {
		if *k == nil {
			return
		}
		nk, err := tp.LoadKey(ctx, (*k).Blob())
		if err != nil {
			a.t.Fatal(err)
		}
		*k = nk
	}
	reload(&a.ak)
	for i := range a.devs {
		reload(&a.devs[i].FTM)
		reload(&a.devs[i].Device)
	}
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

// follower follows the trust feed over HTTP.
type follower struct {
	f  feed.Follower
	st feed.State
}

func (h *harness) follower() *follower {
	pub := h.c.FeedPublicKey()
	return &follower{f: feed.Follower{Origin: trustfeed.Name, Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}}}
}

func storeAuditSubject(s string) store.AuditFilter { return store.AuditFilter{Subject: s} }
