package appliance_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/internal/feedtest"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

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

// clock is a settable offset from the real time.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within %v", what, d)
}

func verify(t testing.TB, url string, body any) *captureverify.Result {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url+"/v1/captures/verify", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("verify: %s %s", resp.Status, msg)
	}
	var r captureverify.Result
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func codes(r *captureverify.Result) string {
	var cs []string
	for _, s := range r.Reasons {
		cs = append(cs, strings.SplitN(s, ":", 2)[0])
	}
	return strings.Join(cs, ",")
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{}
	srv, err := feedtest.New(truststate.FeedName)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.SetClock(clk.now)
	keyFile := filepath.Join(t.TempDir(), "feed.pem")
	os.WriteFile(keyFile, srv.PublicKeyPEM(), 0o644)
	logs := &syncBuf{}
	cfg := appliance.Config{State: dir, Listen: "127.0.0.1:0", Central: srv.URL(), FeedKeys: []string{keyFile},
		TPM: "sim", MaxStaleness: appliance.Duration(2 * time.Minute), CaptureMaxAge: appliance.Duration(time.Hour)}
	opts := appliance.Options{Logger: newLogger(logs), Now: clk.now,
		Sync: follow.Config{MinBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MinInterval: 20 * time.Millisecond}}
	a, err := appliance.Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if b, err := os.ReadFile(filepath.Join(dir, appliance.APIFile)); err != nil || !strings.Contains(string(b), a.URL()) {
		t.Fatalf("api.json: %s %v", b, err)
	}

	// The agent encrypts to the certificate the appliance made for its TPM key.
	vendor := agenttest.NewVendor(t, "v1")
	ag := agenttest.Start(t, vendor, filepath.Join(dir, tpmkey.CertFile))
	const dev = "TFA000000001"
	enrol := func(status string) {
		srv.Append(trustfeed.KindDevice, trustfeed.Device{Serial: dev, VendorID: "v1", Status: status,
			DeviceCertSHA256: sbi.Thumbprint(ag.DeviceCert(t, dev)), FTMCertSHA256: sbi.Thumbprint(ag.FTMCert(t, dev))})
	}
	srv.Append(trustfeed.KindVendor, trustfeed.Vendor{ID: "v1", Name: "Vendor One", Status: trustfeed.Active, CACert: vendor.Cert.Raw})
	enrol(trustfeed.Active)
	waitFor(t, 5*time.Second, "initial sync", func() bool { return a.Status().Trust.Size == 2 })

	req := agenttest.AuthRequest(dev, sbi.TypeFinger, 1)
	raw := ag.Capture(t, req)
	body := map[string]any{"transactionId": req.TransactionID, "request": req, "response": json.RawMessage(raw)}
	if r := verify(t, a.URL(), body); !r.Valid || r.Device.Serial != dev || r.Stale {
		t.Fatalf("valid capture: %+v", r)
	}
	if r := verify(t, a.URL(), map[string]any{"transactionId": req.TransactionID, "response": json.RawMessage(raw)}); !r.Valid {
		t.Fatalf("valid capture, transactionId only: %q", r.Reasons)
	}

	// A revocation reaches answers within a second of being appended at central.
	t0 := time.Now()
	enrol(trustfeed.Revoked)
	waitFor(t, 5*time.Second, "revocation", func() bool { return !verify(t, a.URL(), body).Valid })
	lat := time.Since(t0)
	t.Logf("revocation effective at the API %v after it was appended", lat)
	if lat > time.Second {
		t.Fatalf("revocation took %v", lat)
	}
	if r := verify(t, a.URL(), body); codes(r) != captureverify.ReasonDeviceRevoked || r.Device.Status != trustfeed.Revoked {
		t.Fatalf("revoked: %q %+v", r.Reasons, r.Device)
	}
	enrol(trustfeed.Active)
	waitFor(t, 5*time.Second, "reinstatement", func() bool { return verify(t, a.URL(), body).Valid })

	// Central down: answers come from the store until the staleness bound.
	srv.Down()
	waitFor(t, 5*time.Second, "a failed poll", func() bool { return a.Status().Sync.Failures > 0 })
	if r := verify(t, a.URL(), body); !r.Valid || r.Stale {
		t.Fatalf("central down, within the bound: %q stale %v", r.Reasons, r.Stale)
	}
	clk.advance(3 * time.Minute)
	r := verify(t, a.URL(), body)
	if r.Valid || !r.Stale || codes(r) != captureverify.ReasonStale {
		t.Fatalf("central down, past the bound: valid %v stale %v %q", r.Valid, r.Stale, r.Reasons)
	}
	if st := a.Status(); !st.Stale || st.Trust.AgeSeconds < 180 {
		t.Fatalf("status while stale: %+v", st)
	}
	// Central back: a fresh checkpoint ends the staleness.
	if err := srv.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "fresh again", func() bool { return !a.Status().Stale })
	if r := verify(t, a.URL(), body); !r.Valid {
		t.Fatalf("after central came back: %q", r.Reasons)
	}

	// Metrics and logs.
	resp, err := http.Get(a.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range []string{`edgetrust_appliance_feed_size{feed="trust"} 4`, `edgetrust_appliance_feed_checkpoint_age_seconds{feed="trust"}`,
		`edgetrust_appliance_verifications_total{result="valid"}`, `edgetrust_appliance_verifications_total{result="invalid"}`,
		`edgetrust_appliance_verification_reasons_total{reason="device-revoked"}`, `edgetrust_appliance_feed_fetch_errors_total{feed="trust"}`} {
		if !strings.Contains(string(mb), m) {
			t.Errorf("metrics lack %s", m)
		}
	}
	var resp0 sbi.CaptureResponse
	json.Unmarshal(raw, &resp0)
	log := logs.String()
	for _, want := range []string{`"msg":"capture verified"`, `"device":"TFA000000001"`, `"msg":"feed poll failed"`, `"msg":"feed reachable again"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	for _, secret := range []string{"bioValue", *resp0.Biometrics[0].SessionKey, resp0.Biometrics[0].Data[:60], req.TransactionID} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains capture material (%.20s…)", secret)
		}
	}

	// Restart: resumes from the store, nothing applied twice.
	before := len(srv.Requests())
	a.Close()
	if _, err := os.Stat(filepath.Join(dir, appliance.APIFile)); !os.IsNotExist(err) {
		t.Fatal("api.json left behind")
	}
	a, err = appliance.Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if a.Status().Trust.Size != 4 {
		t.Fatalf("restarted at %d", a.Status().Trust.Size)
	}
	if r := verify(t, a.URL(), body); !r.Valid {
		t.Fatalf("after restart: %q", r.Reasons)
	}
	waitFor(t, 5*time.Second, "a poll after restart", func() bool { return len(srv.Requests()) > before })
	if rq := srv.Requests()[before]; rq.After != 4 {
		t.Fatalf("resumed after %d, want 4", rq.After)
	}
	if n, _ := a.Trust().Applied(); n != 4 {
		t.Fatalf("%d entries applied for a feed of 4", n)
	}
}

func TestStartRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "k.pem")
	os.WriteFile(keyFile, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644)
	for _, c := range []struct {
		cfg  appliance.Config
		want string
	}{
		{appliance.Config{}, "--state"},
		{appliance.Config{State: dir, Central: "http://central"}, "--feed-key"},
		{appliance.Config{State: dir, Central: "ftp://central", FeedKeys: []string{keyFile}}, "want a URL"},
		{appliance.Config{State: dir, Central: "http://central", FeedKeys: []string{keyFile}}, "no PEM \"PUBLIC KEY\""},
		{appliance.Config{State: dir, StalePolicy: "shrug"}, "want reject or warn"},
		{appliance.Config{State: dir, Listen: "nope"}, "HOST:PORT"},
		{appliance.Config{State: dir, PollWait: appliance.Duration(time.Hour)}, "poll wait"},
	} {
		a, err := appliance.Start(context.Background(), c.cfg, appliance.Options{})
		if err == nil {
			a.Close()
			t.Errorf("%+v accepted", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want it to mention %s", c.cfg, err, c.want)
		}
	}
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
