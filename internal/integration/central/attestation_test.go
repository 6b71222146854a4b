package centralint

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"slices"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/follow"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
	"github.com/edgetrust/edgetrust/central/attestation"
	wire "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// A real agent on swtpm, enrolled with central, attests; the vendor raises
// its firmware floor above what the module runs (remote downgrade
// protection: the device's own NV floor still says 1.0.0); the agent's next
// answer fails and the device is quarantined; an appliance following the
// trust feed refuses the device's next capture with device-quarantined. The
// time from the failed verdict to the appliance's registry knowing it is
// measured (goal ≤ 1 s).
func TestAttestationQuarantineReachesAppliance(t *testing.T) {
	h := newHarness(t)
	ra := startRegAgent(t, h)

	st, err := db.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	trust, err := truststate.Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := h.c.FeedPublicKey()
	sy, err := follow.New(follow.Config{Central: h.srv.URL, Feed: truststate.FeedName,
		Keys: map[string]ed25519.PublicKey{feed.KeyID(pub): pub}, Wait: 5 * time.Second,
		MinInterval: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}, trust)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go sy.Run(runCtx)
	ver := &captureverify.Verifier{Trust: trust}
	codes := func() []string {
		t.Helper()
		p, err := captureverify.ParseCapture("txn-attest-1", ra.capture(t, h, 7))
		if err != nil {
			t.Fatal(err)
		}
		r, err := ver.Verify(p)
		if err != nil {
			t.Fatal(err)
		}
		return r.Codes
	}

	// The vendor registers the module's measurement as golden.
	var golden string
	for _, e := range ra.svc.EventLog() {
		if e.PCR == tpm.PCRFirmware && e.Type == firmware.EventType {
			golden = hex.EncodeToString(e.Digest)
		}
	}
	if golden == "" {
		t.Fatal("the agent's event log has no firmware-bridge measurement")
	}
	pol := attestation.Policy{Scope: "ACME", MinFirmware: "1.0.0", Firmware: []attestation.Golden{{Digest: golden, Version: "1.0.0"}}}
	if _, err := h.c.SetAttestPolicy(ctx, h.admin, pol); err != nil {
		t.Fatal(err)
	}
	vs, err := ra.svc.Attest(ctx)
	if err != nil || len(vs) != 2 || vs[0].Status != wire.Attested || vs[1].Status != wire.Attested {
		t.Fatalf("round 1: %+v %v", vs, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if d, _ := trust.Device(regAuth); d != nil && d.Status == trustfeed.Active {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the appliance never learned the device")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if c := codes(); slices.Contains(c, captureverify.ReasonQuarantined) || slices.Contains(c, captureverify.ReasonDeviceSusp) {
		t.Fatalf("an attested device's capture refused: %q", c)
	}

	pol.MinFirmware = "2.0.0"
	if _, err := h.c.SetAttestPolicy(ctx, h.admin, pol); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Attestation().Round(ctx); err != nil {
		t.Fatal(err)
	}
	vs, err = ra.svc.Attest(ctx)
	if err != nil || len(vs) != 2 || vs[1].Status != wire.Failed || vs[1].Reason != wire.ReasonFWBelowFloor {
		t.Fatalf("round 2: %+v %v", vs, err)
	}
	failedAt := time.Now()
	for {
		if d, _ := trust.Device(regAuth); d != nil && d.Status == trustfeed.Suspended {
			break
		}
		if time.Since(failedAt) > 5*time.Second {
			t.Fatal("the quarantine never reached the appliance")
		}
		time.Sleep(time.Millisecond)
	}
	lag := time.Since(failedAt)
	t.Logf("failed verdict → appliance registry: %s", lag)
	if lag > time.Second {
		t.Errorf("quarantine took %s to reach the appliance, goal ≤ 1 s", lag)
	}
	if c := codes(); !slices.Contains(c, captureverify.ReasonQuarantined) {
		t.Fatalf("a quarantined device's capture: %q, want %s", c, captureverify.ReasonQuarantined)
	}
}
