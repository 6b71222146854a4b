package agentenrol_test

import (
	"context"
	"crypto/x509"
	"errors"
	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

var ctx = context.Background()

// testCentral is a real central on an in-memory store. (A test-only
// dependency: the agent itself speaks to central over HTTP only.)
type testCentral struct {
	c     *central.Central
	url   string
	admin *central.Admin
}

func newTestCentral(t *testing.T) *testCentral {
	t.Helper()
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	keyring.WorkFactor = 10
	keys, err := central.InitKeyring(t.TempDir(), []byte("agent test passphrase"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := central.New(central.Config{Store: st, Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv := httptest.NewServer(c.Handler(central.HTTPOptions{}))
	t.Cleanup(srv.Close)
	_, rec, err := c.CreateAdminToken(ctx, "system", "test")
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCentral{c: c, url: srv.URL, admin: &central.Admin{TokenID: rec.ID}}
	if _, err := c.AddVendor(ctx, tc.admin, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}
	return tc
}

func (tc *testCentral) token(t *testing.T) string {
	t.Helper()
	r, err := tc.c.CreateEnrolmentToken(ctx, tc.admin, central.TokenRequest{Kind: "device", VendorID: "ACME"})
	if err != nil {
		t.Fatal(err)
	}
	return r.Token
}

// TestEnrolServeRotate: a non-dev agent is Not Registered until it enrols
// with central; then serve loads central's certificates and is Ready, SBI
// verifiers accept its answers under central's provider CA, and rotate-key
// goes through central.
func TestEnrolServeRotate(t *testing.T) {
	tc := newTestCentral(t)
	state := t.TempDir()
	cfg := agent.Config{State: state, TPM: "sim?seed=424242", Provider: "Acme Biometrics", ProviderID: "ACME",
		Devices: []agent.DeviceConfig{
			{ID: "ACME-IR-1", Type: sbi.TypeIris, SubType: "Single", Purpose: sbi.PurposeAuth, Make: "Acme", Model: "I1"},
			{ID: "ACME-CF-1", Type: sbi.TypeFace, SubType: "Full face", Purpose: sbi.PurposeRegistration, Make: "Acme", Model: "C1"},
		}}

	svc, err := agent.Start(ctx, cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range svc.Devices() {
		if d.Status() != sbi.StatusNotRegistered {
			t.Errorf("%s before enrolment: %s", d.ID(), d.Status())
		}
	}
	// Enrolment refuses to run beside a running agent.
	if _, err := agent.Enrol(ctx, cfg, agent.EnrolOptions{Central: tc.url, Token: tc.token(t)}); err == nil {
		t.Error("enrolled while an agent was running on the state directory")
	}
	svc.Close()

	// Central does not know this TPM yet.
	ek, err := agent.ShowEK(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = agent.Enrol(ctx, cfg, agent.EnrolOptions{Central: tc.url, Token: tc.token(t)})
	var ce *enrol.Error
	if !errors.As(err, &ce) || ce.Code != enrol.CodeEKUntrusted {
		t.Fatalf("enrol with an unknown EK: %v", err)
	}
	if _, err := os.Stat(filepath.Join(state, "devices", "ACME-IR-1", "device.pem")); !os.IsNotExist(err) {
		t.Error("a refused enrolment left a certificate behind")
	}
	tc.c.SetEKPolicy(enrol.EKPolicy{Allow: map[string]bool{ek.Fingerprint: true}})
	tok := tc.token(t)
	r, err := agent.Enrol(ctx, cfg, agent.EnrolOptions{Central: tc.url, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Devices) != 2 || r.EKFingerprint != ek.Fingerprint {
		t.Fatalf("enrol result = %+v", r)
	}
	// The token is spent.
	if _, err := agent.Enrol(ctx, cfg, agent.EnrolOptions{Central: tc.url, Token: tok}); !errors.As(err, &ce) || ce.Code != enrol.CodeTokenUsed {
		t.Errorf("second enrolment with the same token: %v", err)
	}

	svc, err = agent.Start(ctx, cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	for _, d := range svc.Devices() {
		if d.Status() != sbi.StatusReady {
			t.Errorf("%s after enrolment: %s", d.ID(), d.Status())
		}
	}
	// An SBI verifier with central's provider CA accepts the answers.
	caPEM, err := os.ReadFile(filepath.Join(state, "devices", "ACME-IR-1", agent.ProviderCAFile))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	ver := &sbi.Verifier{DeviceRoots: roots, FTMRoots: roots}
	cl := &client.Client{PortMin: svc.Port(), PortMax: svc.Port()}
	entries, _, err := cl.Info(ctx, svc.Port())
	if err != nil {
		t.Fatal(err)
	}
	for i := range entries {
		res, ps := ver.VerifyInfo(&entries[i], i)
		if len(ps) > 0 {
			t.Fatalf("device info %d does not verify under central's CA: %v", i, ps)
		}
		if res.Info.DeviceStatus != sbi.StatusReady {
			t.Errorf("info says %s", res.Info.DeviceStatus)
		}
	}

	dv, err := tc.c.Device(ctx, "ACME-IR-1")
	if err != nil {
		t.Fatal(err)
	}
	old := sbi.Thumbprint(svc.Device("ACME-IR-1").Builder().DeviceKey.Chain[0])
	if thumb := r.DeviceCerts["ACME-IR-1"]; thumb != old || len(dv.Certs) != 2 {
		t.Fatalf("agent's certificate %s, central issued %s", old, thumb)
	}
	crt, err := svc.RotateKey(ctx, "ACME-IR-1")
	if err != nil {
		t.Fatal(err)
	}
	dv, err = tc.c.Device(ctx, "ACME-IR-1")
	if err != nil {
		t.Fatal(err)
	}
	if sbi.Thumbprint(crt) == old || len(dv.Certs) != 3 || dv.Certs[2].SHA256 != sbi.Thumbprint(crt) {
		t.Errorf("rotation: new %s, central's record %+v", sbi.Thumbprint(crt), dv.Certs)
	}
	if got := sbi.Thumbprint(svc.Device("ACME-IR-1").Builder().DeviceKey.Chain[0]); got != sbi.Thumbprint(crt) {
		t.Error("the agent does not sign with the rotated key")
	}
	// A revoked device cannot rotate.
	if _, err := tc.c.SetDeviceStatus(ctx, tc.admin, []string{"ACME-IR-1"}, central.StatusChange{Status: "revoked"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RotateKey(ctx, "ACME-IR-1"); !errors.As(err, &ce) || ce.Code != enrol.CodeNotActive {
		t.Errorf("rotation of a revoked device: %v", err)
	}
}
