package agent

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// testClock is a settable clock for the rotation schedule.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func startScheduled(t *testing.T, rotation string, clk *testClock) (*Service, string) {
	t.Helper()
	state := t.TempDir()
	cfg := Config{State: state, TPM: "sim", Dev: true, Devices: DevDevices("S")[:1], KeyRotation: rotation}
	svc, err := Start(ctx, cfg, Options{Now: clk.Now, RotateCheck: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return svc, state
}

func TestParseKeyRotation(t *testing.T) {
	for in, want := range map[string]time.Duration{"": DefaultKeyRotation, "30d": 30 * 24 * time.Hour, "7d": 7 * 24 * time.Hour,
		"36h": 36 * time.Hour, "1h": time.Hour} {
		if got, err := ParseKeyRotation(in); err != nil || got != want {
			t.Errorf("ParseKeyRotation(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "0d", "-1d", "31d", "59m", "721h", "d", "1.5d", "30 days", "1e9d"} {
		if _, err := ParseKeyRotation(in); err == nil {
			t.Errorf("ParseKeyRotation(%q) accepted", in)
		}
	}
	cfg := Config{State: "x", TPM: "sim", Devices: DevDevices("V")[:1], KeyRotation: "45d"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "30d") {
		t.Errorf("Validate with keyRotation 45d: %v", err)
	}
}

// TestScheduledRotation: with an injected clock, a device key is kept until
// 2/3 of its certificate's life, then replaced on the next check (here by
// the development PKI; internal/integration/rotation covers central), and
// the days-to-expiry gauge follows.
func TestScheduledRotation(t *testing.T) {
	clk := &testClock{t: time.Now().UTC()}
	svc, _ := startScheduled(t, "", clk)
	const dev = "SFA000000001"
	d := svc.Device(dev)
	first := d.deviceCrt
	gauge := func() float64 { return testutil.ToFloat64(mCertExpiryDays.WithLabelValues(dev)) }

	if got, err := svc.RotateDue(ctx); err != nil || len(got) != 0 {
		t.Fatalf("fresh key rotated: %v %v", got, err)
	}
	if g := gauge(); g < 29 || g > 30.1 {
		t.Errorf("days to expiry of a fresh certificate: %.2f", g)
	}
	due := d.RotationDue(DefaultKeyRotation)
	life := first.NotAfter.Sub(first.NotBefore)
	if lo, hi := first.NotBefore.Add(life*2/3), first.NotBefore.Add(life*2/3*105/100); due.Before(lo) || due.After(hi) {
		t.Fatalf("due %v, want within 2/3 of the life plus 5%% (%v–%v)", due, lo, hi)
	}
	clk.Add(due.Sub(clk.Now()) - time.Minute)
	if got, _ := svc.RotateDue(ctx); len(got) != 0 {
		t.Fatal("rotated a minute before it was due")
	}
	clk.Add(2 * time.Minute)
	got, err := svc.RotateDue(ctx)
	if err != nil || len(got) != 1 || got[0] != dev {
		t.Fatalf("due key: rotated %v, %v", got, err)
	}
	second := d.deviceCrt
	if second.Equal(first) || pubEqual(second, first) {
		t.Fatal("rotation kept the old key")
	}
	if !second.NotBefore.After(first.NotBefore) {
		t.Errorf("new certificate starts %v, old %v", second.NotBefore, first.NotBefore)
	}
	if g := gauge(); g < 29 {
		t.Errorf("days to expiry after rotation: %.2f", g)
	}
	if d.Status() != sbi.StatusReady || sbi.Thumbprint(d.Builder().DeviceKey.Chain[0]) != sbi.Thumbprint(second) {
		t.Fatal("the device does not sign with the new key")
	}
	if got, _ := svc.RotateDue(ctx); len(got) != 0 {
		t.Fatal("the new key rotated again at once")
	}
	// Saved: a restart on the same state loads the rotated key.
	b, err := os.ReadFile(filepath.Join(d.dir, "device.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := pki.ParseCertPEM(b); err != nil || !saved.Equal(second) {
		t.Fatalf("device.pem does not hold the new certificate: %v", err)
	}
}

// TestShortRotationPeriod: a period shorter than 2/3 of the certificate's
// life decides.
func TestShortRotationPeriod(t *testing.T) {
	clk := &testClock{t: time.Now().UTC()}
	svc, _ := startScheduled(t, "7d", clk)
	d := svc.Device("SFA000000001")
	due := d.RotationDue(7 * 24 * time.Hour)
	if lo := d.deviceCrt.NotBefore.Add(7 * 24 * time.Hour); due.Before(lo) || due.After(lo.Add(9*time.Hour)) {
		t.Fatalf("due %v for a 7-day period from %v", due, d.deviceCrt.NotBefore)
	}
	clk.Add(8 * 24 * time.Hour)
	if got, err := svc.RotateDue(ctx); err != nil || len(got) != 1 {
		t.Fatalf("8 days into a 7-day period: %v %v", got, err)
	}
}

// TestFailedRotationKeepsKeyThenStops: when central cannot be reached the
// old key stays in use, attempts back off, and once its certificate has
// expired the device answers Not Registered instead of signing with it.
func TestFailedRotationKeepsKeyThenStops(t *testing.T) {
	clk := &testClock{t: time.Now().UTC()}
	svc, state := startScheduled(t, "", clk)
	const dev = "SFA000000001"
	d := svc.Device(dev)
	old := d.deviceCrt
	// Pretend central enrolled the device: rotation goes to it, and it is
	// gone (nothing listens on port 9 of loopback; no AK on file either).
	b, _ := json.Marshal(CentralEnrolment{URL: "http://127.0.0.1:9", Devices: []string{dev}})
	if err := os.WriteFile(filepath.Join(state, CentralFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	clk.Add(21 * 24 * time.Hour)
	if got, err := svc.RotateDue(ctx); err == nil || len(got) != 0 {
		t.Fatalf("rotation without central: %v %v", got, err)
	}
	if !d.deviceCrt.Equal(old) || d.Status() != sbi.StatusReady {
		t.Fatal("a failed rotation dropped the working key")
	}
	retry := d.RotationDue(DefaultKeyRotation)
	if want := clk.Now().Add(rotateRetryMin); !retry.Equal(want) {
		t.Fatalf("retry at %v, want %v", retry, want)
	}
	if got, err := svc.RotateDue(ctx); err != nil || len(got) != 0 {
		t.Fatalf("retried inside the back-off: %v %v", got, err)
	}
	clk.Add(rotateRetryMin)
	svc.RotateDue(ctx)
	if next := d.RotationDue(DefaultKeyRotation); !next.Equal(clk.Now().Add(2 * rotateRetryMin)) {
		t.Fatalf("second retry at %v, want the back-off doubled", next)
	}

	// Past the certificate's end: never used.
	clk.Add(old.NotAfter.Sub(clk.Now()) + time.Second)
	if st := d.Status(); st != sbi.StatusNotRegistered {
		t.Fatalf("status with an expired certificate: %s", st)
	}
	body, _ := json.Marshal(authReq(dev, sbi.TypeFinger, 1, "UNKNOWN"))
	if _, b := rawCall(t, svc.Port(), "CAPTURE", "/capture", string(body)); errCode(t, b) != sbi.CodeNotRegistered {
		t.Fatalf("capture with an expired certificate: %s", b)
	}
	cl := &client.Client{PortMin: svc.Port(), PortMax: svc.Port()}
	found, err := cl.Discover(ctx, sbi.TypeFinger)
	if err != nil || len(found) != 1 || len(found[0].Devices) != 1 || found[0].Devices[0].DeviceStatus != sbi.StatusNotRegistered {
		t.Fatalf("discovery with an expired certificate: %+v %v", found, err)
	}
	svc.RotateDue(ctx)
	if g := testutil.ToFloat64(mCertExpiryDays.WithLabelValues(dev)); g >= 0 {
		t.Errorf("days to expiry of an expired certificate: %.3f, want negative", g)
	}
}

func pubEqual(a, b *x509.Certificate) bool {
	return a.PublicKey.(*rsa.PublicKey).Equal(b.PublicKey)
}

// TestInterruptedRotation: a crash in the middle of installing a rotated
// key leaves files a restart completes (new key on file) or rolls back (the
// key was not yet written), never a pair that does not match.
func TestInterruptedRotation(t *testing.T) {
	state := t.TempDir()
	u, err := DevTPMURL(state)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{State: state, TPM: u, Dev: true, Devices: DevDevices("I")[:1]}
	const dev = "IFA000000001"
	f := filesIn(filepath.Join(state, "devices", dev))
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	s, err := Start(ctx, cfg, Options{RotateCheck: -1})
	if err != nil {
		t.Fatal(err)
	}
	oldKey, oldCert := read(f.deviceKey), read(f.deviceCert)
	if _, err := s.RotateKey(ctx, dev); err != nil {
		t.Fatal(err)
	}
	s.Close()
	newKey, newCert := read(f.deviceKey), read(f.deviceCert)
	if _, err := os.Stat(f.deviceCert + ".new"); !os.IsNotExist(err) {
		t.Fatal("a completed rotation left device.pem.new")
	}
	for _, c := range []struct {
		name     string
		key      []byte
		wantCert []byte
	}{
		{"crash after the key was written", newKey, newCert},
		{"crash before the key was written", oldKey, oldCert},
	} {
		os.WriteFile(f.deviceKey, c.key, 0o600)
		os.WriteFile(f.deviceCert, oldCert, 0o644)
		os.WriteFile(f.deviceCert+".new", newCert, 0o644)
		s, err := Start(ctx, cfg, Options{RotateCheck: -1})
		if err != nil {
			t.Fatalf("%s: restart: %v", c.name, err)
		}
		got := s.Device(dev).deviceCrt
		s.Close()
		want, _ := pki.ParseCertPEM(c.wantCert)
		if !got.Equal(want) {
			t.Errorf("%s: the restart loaded the wrong certificate", c.name)
		}
		if _, err := os.Stat(f.deviceCert + ".new"); !os.IsNotExist(err) {
			t.Errorf("%s: device.pem.new is still there", c.name)
		}
	}
}

// FuzzParseKeyRotation: any text is either refused or a period inside the
// bounds, and whole days read back as the same number of days.
func FuzzParseKeyRotation(f *testing.F) {
	for _, s := range []string{"", "30d", "7d", "720h", "1h", "0", "-1d", "31d", "1e9d", "9223372036854775807d", "1h30m"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseKeyRotation(s)
		if err != nil {
			return
		}
		if d < MinKeyRotation || d > MaxKeyRotation {
			t.Fatalf("%q → %v, outside %v–%v", s, d, MinKeyRotation, MaxKeyRotation)
		}
	})
}
