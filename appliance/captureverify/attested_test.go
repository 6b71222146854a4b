package captureverify_test

import (
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/internal/agenttest"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

// Issue #17 item 5: the trust feed carries each device's attestation
// horizon (attestedUntil), and an appliance that no longer hears from
// central refuses a device once its horizon has passed on the appliance's
// own clock, while a freshly attested device's captures are still accepted.
func TestAttestationHorizonOffline(t *testing.T) {
	f := newFixture(t)
	now := time.Now().UTC()
	// Central's last word before the appliance went offline: fingerAuth's
	// last good quote was a lease ago, so its horizon is 40 s from now;
	// fingerReg attested just now, its horizon a day away.
	dev := func(serial string, at, until time.Time) trustfeed.Device {
		return trustfeed.Device{Serial: serial, VendorID: "v1", Status: trustfeed.Active,
			DeviceCertSHA256: sbi.Thumbprint(f.ag.DeviceCert(t, serial)), FTMCertSHA256: sbi.Thumbprint(f.ag.FTMCert(t, serial)),
			AttestedAt: at, AttestedUntil: until}
	}
	f.feed(trustfeed.KindDevice, dev(fingerAuth, now.Add(-24*time.Hour+40*time.Second), now.Add(40*time.Second)),
		dev(fingerReg, now, now.Add(24*time.Hour)))
	f.srv.Close() // offline: central is gone

	oldReq := agenttest.AuthRequest(fingerAuth, sbi.TypeFinger, 1)
	oldCap := f.ag.Capture(t, oldReq)
	freshReq := agenttest.RegRequest(fingerReg, sbi.TypeFinger, 1, 4)
	freshCap := f.ag.Capture(t, freshReq)

	clock := now
	// Offline operation: trust older than a second is stale, but the
	// appliance keeps judging on what it has (warn), which is where the
	// horizon is the only thing that stops a device nobody re-checked.
	v := &captureverify.Verifier{Trust: f.reg, Keys: f.v.Keys, Now: func() time.Time { return clock },
		MaxStaleness: time.Second, StalePolicy: captureverify.StaleWarn}

	wantValid(t, f.verify(v, oldReq.TransactionID, oldReq, oldCap))
	wantValid(t, f.verify(v, freshReq.TransactionID, freshReq, freshCap))

	clock = now.Add(time.Minute) // past fingerAuth's horizon, inside the capture's 2-minute age
	r := f.verify(v, oldReq.TransactionID, oldReq, oldCap)
	wantReason(t, r, captureverify.ReasonAttestationExpired)
	if len(r.Codes) != 1 || !strings.Contains(r.Reasons[0], "attest again") || r.Device == nil || r.Device.Status != trustfeed.Active {
		t.Fatalf("want only %s with a plain message, got %q (device %+v)", captureverify.ReasonAttestationExpired, r.Reasons, r.Device)
	}
	if !r.Stale || len(r.Warnings) == 0 {
		t.Fatalf("the appliance is offline: want stale trust as a warning, got stale=%v warnings=%q", r.Stale, r.Warnings)
	}
	wantValid(t, f.verify(v, freshReq.TransactionID, freshReq, freshCap))

	// A device central publishes no horizon for (never attested) is judged
	// by its status alone, as before.
	f2 := newFixture(t)
	r2 := f2.verify(&captureverify.Verifier{Trust: f2.reg, Keys: f2.v.Keys, Now: func() time.Time { return time.Now().Add(time.Minute) }},
		oldReq.TransactionID, oldReq, f2.ag.Capture(t, oldReq))
	wantValid(t, r2)
}

func TestDecodeAttestationHorizon(t *testing.T) {
	for _, bad := range []string{
		`{"serial":"SN1","vendorId":"v1","status":"active","attestedUntil":"2026-01-02T00:00:00Z"}`,
		`{"serial":"SN1","vendorId":"v1","status":"active","attestedAt":"2026-01-02T00:00:00Z"}`,
		`{"serial":"SN1","vendorId":"v1","status":"active","attestedAt":"2026-01-02T00:00:00Z","attestedUntil":"2026-01-01T00:00:00Z"}`,
		`{"serial":"SN1","vendorId":"v1","status":"active","attestedAt":"yesterday","attestedUntil":"2026-01-01T00:00:00Z"}`,
	} {
		if _, err := trustfeed.Decode(trustfeed.KindDevice, []byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	v, err := trustfeed.Decode(trustfeed.KindDevice, []byte(`{"serial":"SN1","vendorId":"v1","status":"active","attestedAt":"2026-01-01T00:00:00Z","attestedUntil":"2026-01-02T00:00:00Z"}`))
	if err != nil || v.(*trustfeed.Device).AttestedUntil.Day() != 2 {
		t.Fatalf("%v %v", v, err)
	}
}
