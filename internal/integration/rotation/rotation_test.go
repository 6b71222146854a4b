package rotationint

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/keyring"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

var ctx = context.Background()

func init() { keyring.WorkFactor = 10 }

// clock is the real time plus a settable offset, shared by central and the
// agent: enrolment happens "22 days ago", then the clock catches up with
// the real one, which the appliance and the ctk use.
type clock struct{ off atomic.Int64 }

func (c *clock) Now() time.Time        { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) set(off time.Duration) { c.off.Store(int64(off)) }

const (
	devAuth = "ACME-FA-1" // finger, Auth: its captures go to the appliance
	devReg  = "ACME-IR-1" // iris, Registration
	ctkSite = "https://ctk.example.org"
)

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, d)
}

func TestRotationSimulator(t *testing.T) { testRotation(t, "sim", true) }

// TestRotationSwtpm runs the same rotation on swtpm (skipped without it,
// unless EDGETRUST_REQUIRE_SWTPM=1); the ctk pass is the simulator test's.
func TestRotationSwtpm(t *testing.T) { testRotation(t, enroltest.StartSwtpm(t).URL, false) }

func testRotation(t *testing.T, tpmURL string, runCTK bool) {
	clk := &clock{}
	clk.set(-22 * 24 * time.Hour)

	// Central, its clock 22 days behind.
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cstate := t.TempDir()
	keys, err := central.InitKeyring(cstate, []byte("rotation test passphrase"), clk.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	c, err := central.New(central.Config{Store: st, Keys: keys, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	srv := httptest.NewServer(c.Handler(central.HTTPOptions{EnrolRate: 1000, AdminRate: 1000}))
	t.Cleanup(srv.Close)
	_, rec, err := c.CreateAdminToken(ctx, "system", "test")
	if err != nil {
		t.Fatal(err)
	}
	admin := &central.Admin{TokenID: rec.ID}
	if _, err := c.AddVendor(ctx, admin, "ACME", "Acme Biometrics"); err != nil {
		t.Fatal(err)
	}

	// The appliance's trust-feed key and the ctk's encryption key.
	adir := t.TempDir()
	feedPEM, err := central.FeedKeyPEM(keys.FeedSigner().Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	feedFile := filepath.Join(t.TempDir(), "feed.pem")
	if err := os.WriteFile(feedFile, feedPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	ctkKey, err := ctk.LoadOrCreateKey(filepath.Join(t.TempDir(), "ctk"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctkCert := filepath.Join(t.TempDir(), "ctk.pem")
	if err := os.WriteFile(ctkCert, ctkKey.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}

	// The appliance runs on the real clock, and on the process's TPM
	// simulator, which it keeps open for the agent when that uses "sim".
	a, err := appliance.Start(ctx, appliance.Config{State: adir, Listen: "127.0.0.1:0", Central: srv.URL,
		FeedKeys: []string{feedFile}, TPM: "sim", CaptureMaxAge: appliance.Duration(time.Hour)},
		appliance.Options{Sync: follow.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, MinInterval: 20 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })

	// The agent enrols "22 days ago".
	state := t.TempDir()
	cfg := agent.Config{State: state, TPM: tpmURL, Provider: "Acme Biometrics", ProviderID: "ACME",
		EncryptionCerts: map[string]string{"*": filepath.Join(adir, tpmkey.CertFile), ctkSite: ctkCert},
		Devices: []agent.DeviceConfig{
			{ID: devAuth, Type: sbi.TypeFinger, SubType: "Single", Purpose: sbi.PurposeAuth, Make: "Acme", Model: "F1"},
			{ID: devReg, Type: sbi.TypeIris, SubType: "Single", Purpose: sbi.PurposeRegistration, Make: "Acme", Model: "I1"},
		}}
	ek, err := agent.ShowEK(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetEKPolicy(enrol.EKPolicy{Allow: map[string]bool{ek.Fingerprint: true}})
	tok, err := c.CreateEnrolmentToken(ctx, admin, central.TokenRequest{Kind: store.TokenDevice, VendorID: "ACME"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := agent.Enrol(ctx, cfg, agent.EnrolOptions{Central: srv.URL, Token: tok.Token}); err != nil {
		t.Fatal(err)
	}

	// 22 days later (the real now) the agent serves
	// on the enrolment's certificates, 8 days from their end.
	clk.set(0)
	svc, err := agent.Start(ctx, cfg, agent.Options{Now: clk.Now, RotateCheck: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	cl := &client.Client{PortMin: svc.Port(), PortMax: svc.Port()}
	capture := func() (*sbi.CaptureRequest, []byte) {
		t.Helper()
		req := agenttest.AuthRequest(devAuth, sbi.TypeFinger, 1)
		_, raw, err := cl.Capture(ctx, svc.Port(), req)
		if err != nil {
			t.Fatal(err)
		}
		return req, raw
	}
	verify := func(req *sbi.CaptureRequest, raw []byte) *captureverify.Result {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"transactionId": req.TransactionID, "request": req, "response": json.RawMessage(raw)})
		resp, err := http.Post(a.URL()+"/v1/captures/verify", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var r captureverify.Result
		if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &r) != nil {
			t.Fatalf("verify: %s %s", resp.Status, body)
		}
		return &r
	}

	d := svc.Device(devAuth)
	old := d.Builder().DeviceKey.Chain[0]
	if left := time.Until(old.NotAfter); left > 9*24*time.Hour || left < 7*24*time.Hour {
		t.Fatalf("the enrolment certificate has %v left, want about 8 days", left)
	}
	oldReq, oldRaw := capture()
	waitFor(t, 30*time.Second, "the appliance accepts the enrolment key's capture", func() bool { return verify(oldReq, oldRaw).Valid })

	// The rotation check finds both keys past 2/3 of their life.
	rotated, err := svc.RotateDue(ctx)
	if err != nil || len(rotated) != 2 {
		t.Fatalf("rotated %v: %v", rotated, err)
	}
	fresh := d.Builder().DeviceKey.Chain[0]
	if sbi.Thumbprint(fresh) == sbi.Thumbprint(old) || time.Until(fresh.NotAfter) < 29*24*time.Hour {
		t.Fatalf("new certificate %s until %v", sbi.Thumbprint(fresh), fresh.NotAfter)
	}
	if again, err := svc.RotateDue(ctx); err != nil || len(again) != 0 {
		t.Fatalf("a second check rotated %v: %v", again, err)
	}
	// Central certified it, published it, and audited the rotation.
	dv, err := c.Device(ctx, devAuth)
	if err != nil {
		t.Fatal(err)
	}
	if sbi.Thumbprint(fresh) != dv.Certs[len(dv.Certs)-1].SHA256 {
		t.Fatalf("central's record does not end with the new certificate: %+v", dv.Certs)
	}
	evs, err := c.Audit(ctx, store.AuditFilter{Subject: "device:" + devAuth})
	if err != nil {
		t.Fatal(err)
	}
	var audited int
	for _, e := range evs {
		if e.Action == "device.rotate" && strings.Contains(string(e.Detail), sbi.Thumbprint(fresh)) && strings.Contains(string(e.Detail), sbi.Thumbprint(old)) {
			audited++
		}
	}
	if audited != 1 {
		t.Fatalf("%d device.rotate audit rows name the old and new certificates: %+v", audited, evs)
	}

	// The appliance follows the trust feed: the new key's captures are
	// accepted, and the retired key's — the very capture it accepted a
	// moment ago, well inside its age limit — are not.
	newReq, newRaw := capture()
	waitFor(t, 30*time.Second, "the appliance accepts the rotated key's capture", func() bool { return verify(newReq, newRaw).Valid })
	r := verify(oldReq, oldRaw)
	if r.Valid || !strings.Contains(strings.Join(r.Reasons, " "), captureverify.ReasonKeyRotated) {
		t.Fatalf("the retired key's capture after rotation: valid %v, reasons %q", r.Valid, r.Reasons)
	}

	// The rotated key and certificate survive a restart.
	svc.Close()
	svc, err = agent.Start(ctx, cfg, agent.Options{Now: clk.Now, RotateCheck: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	if got := svc.Device(devAuth).Builder().DeviceKey.Chain[0]; !got.Equal(fresh) {
		t.Fatal("a restart does not load the rotated certificate")
	}
	if runCTK {
		runCompliance(t, svc, state, ctkKey)
	}

	// Central revokes one device; 21 days on, both keys are due: the
	// active device's rotates, the revoked one's is refused and its
	// certificate is no longer used although it has days left.
	if _, err := c.SetDeviceStatus(ctx, admin, []string{devReg}, central.StatusChange{Status: "revoked", Reason: "lost"}); err != nil {
		t.Fatal(err)
	}
	clk.set(21 * 24 * time.Hour)
	rotated, err = svc.RotateDue(ctx)
	var ce *enrol.Error
	if len(rotated) != 1 || rotated[0] != devAuth || !errors.As(err, &ce) || ce.Code != enrol.CodeNotActive {
		t.Fatalf("rotation with %s revoked: rotated %v, %v", devReg, rotated, err)
	}
	rd := svc.Device(devReg)
	if time.Until(rd.CertExpiry()) < 24*time.Hour || rd.Status() != sbi.StatusNotRegistered {
		t.Fatalf("revoked device: certificate until %v, status %s", rd.CertExpiry(), rd.Status())
	}
}

// runCompliance runs MOSIP's compliance cases against the rotated agent,
// under central's provider CA: every applicable case passes.
func runCompliance(t *testing.T, svc *agent.Service, state string, ctkKey *ctk.EncryptionKey) {
	t.Helper()

	pool, err := ctk.LoadPool(filepath.Join(state, "devices", devAuth, agent.ProviderCAFile))
	if err != nil {
		t.Fatal(err)
	}
	target, err := ctk.ParseTarget(strings.TrimSuffix(svc.URL(), "/"))
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := ctk.ParseControl("unix:" + filepath.Join(state, "control.sock"))
	if err != nil {
		t.Fatal(err)
	}
	su, err := suite.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	rctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	rep, err := ctk.Run(rctx, ctk.Options{Target: target, Suite: su, DeviceRoots: pool, FTMRoots: pool, Key: ctkKey,
		Control: ctl, DomainURI: ctkSite, Parallel: true, Progress: &progress, Version: "test"})
	if err != nil {
		t.Fatalf("ctk: %v\n%s", err, progress.String())
	}
	t.Logf("ctk against the rotated agent: %d cases, %d passed, %d failed, %d skipped",
		rep.Summary.Total, rep.Summary.Passed, rep.Summary.Failed, rep.Summary.Skipped)
	for _, cs := range rep.Cases {
		switch {
		case cs.Status == report.Failed:
			t.Errorf("ctk %s/%s failed: %s", cs.ID, cs.Device, cs.Reason)
		case cs.Status == report.Skipped && !strings.Contains(cs.Reason, "10 different persons") && !strings.Contains(cs.Reason, "biometric SDK"):
			t.Errorf("ctk %s/%s skipped: %s", cs.ID, cs.Device, cs.Reason)
		}
	}
	if rep.Summary.Passed < 20 {
		t.Errorf("only %d ctk cases passed", rep.Summary.Passed)
	}
}
