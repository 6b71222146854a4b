package people

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/biometric/template"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/sbi"
)

var ctx = context.Background()

// A finger sample with too few minutiae for a reference (enough for an
// authentication sample) yields no template: enrolment says which finger
// to capture again.
func TestTemplatesRefuseFewMinutiae(t *testing.T) {
	v := template.View{Position: 7, Quality: 80}
	for i := range EnrolMinMinutiae - 2 {
		v.Minutiae = append(v.Minutiae, template.Minutia{Type: template.RidgeEnding, X: uint16(30 + 20*i), Y: uint16(40 + 25*(i%5)), Angle: uint8(23 * i), Quality: 60})
	}
	fmr, err := (&template.Record{Format: template.ISO2005, Width: 300, Height: 400, ResX: 197, ResY: 197, Views: []template.View{v}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if tpl, err := match.NewFingerprint().Extract(fmr); err != nil || len(tpl.Minutiae) != EnrolMinMinutiae-2 {
		t.Fatalf("the sample must be usable for authentication: %d minutiae, %v", len(tpl.Minutiae), err)
	}
	_, err = Templates([]Segment{{Type: sbi.TypeFinger, SubType: "Left IndexFinger", ISO: fmr, Quality: 80}})
	var e *enrol.Error
	if !errors.As(err, &e) || e.Code != "template_failed" || !strings.Contains(e.Message, "Left IndexFinger") ||
		!strings.Contains(e.Message, "too few minutiae") || !strings.Contains(e.Message, "capture that finger again") {
		t.Fatalf("a finger with %d minutiae: %v", EnrolMinMinutiae-2, err)
	}
	t.Log(e.Message)
}

// A record appliances would refuse (here: too large) is refused before
// anything is written.

// RecheckSigners runs again inside the enrolment's transaction, for a
// revocation or key rotation between verification and the write. (The
// real-agent test in internal/integration/central drives the same
// refusals end to end through EnrolPerson.)
func TestRecheckSigners(t *testing.T) {
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const sn = "ACME-FR-1"
	now := time.Now().UTC()
	vendor := func(status string) {
		t.Helper()
		if err := st.Update(ctx, func(tx store.Tx) error {
			return tx.PutVendor(ctx, &store.Vendor{ID: "ACME", Name: "Acme Biometrics", Status: status, Created: now, Updated: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	vendor(trustfeed.Active)
	v1, v2 := []byte("device certificate 1"), []byte("device certificate 2")
	put := func(status string, cert []byte) {
		t.Helper()
		if err := st.Update(ctx, func(tx store.Tx) error {
			return tx.PutDevices(ctx, &store.Device{Serial: sn, VendorID: "ACME", Status: status, DeviceCert: cert, Enrolled: now, Updated: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, signers map[string]string, code string) {
		t.Helper()
		st.View(ctx, func(tx store.Tx) error {
			err := RecheckSigners(ctx, tx, signers)
			var e *enrol.Error
			if code == "" && err != nil {
				t.Errorf("recheck of %s: %v", what, err)
			} else if code != "" && (!errors.As(err, &e) || e.Code != code) {
				t.Errorf("recheck of %s: %v, want %s", what, err, code)
			}
			return nil
		})
	}
	put(trustfeed.Active, v1)
	check("an active device", map[string]string{sn: feeds.Thumb(v1)}, "")
	put(trustfeed.Revoked, v1)
	check("a revoked device", map[string]string{sn: feeds.Thumb(v1)}, "device_not_active")
	put(trustfeed.Active, v2)
	check("a rotated device", map[string]string{sn: feeds.Thumb(v1)}, "device_key_retired")
	check("an unknown device", map[string]string{"ACME-FX-1": feeds.Thumb(v1)}, "device_unknown")
	vendor(trustfeed.Suspended)
	check("a device of a suspended vendor", map[string]string{sn: feeds.Thumb(v2)}, "device_not_active")
}
