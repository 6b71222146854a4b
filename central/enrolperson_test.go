package central

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/feeds"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/biometric/template"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

// Person enrolment tests that need no other daemon; those that capture
// with a real agent are in internal/integration/central.

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
	_, err = templates([]capturedSegment{{Type: sbi.TypeFinger, SubType: "Left IndexFinger", ISO: fmr, Quality: 80}})
	var e *enrol.Error
	if !errors.As(err, &e) || e.Code != "template_failed" || !strings.Contains(e.Message, "Left IndexFinger") ||
		!strings.Contains(e.Message, "too few minutiae") || !strings.Contains(e.Message, "capture that finger again") {
		t.Fatalf("a finger with %d minutiae: %v", EnrolMinMinutiae-2, err)
	}
	t.Log(e.Message)
}

// A record appliances would refuse (here: too large) is refused before
// anything is written.
func TestRecordFits(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	v, _ := vid.New(vid.Perpetual, now, 0)
	d := &personData{Demographics: map[string]string{"fullName": "Asha Rao"}, TokenSeed: bytes.Repeat([]byte{1}, recordfeed.TokenSeedLen),
		Biometrics: []recordfeed.Biometric{{Type: sbi.TypeFinger, SubType: "Left IndexFinger", Format: recordfeed.TemplateMCC, Data: []byte{1, 2, 3}}}}
	if err := recordFits(d, v, now); err != nil {
		t.Fatalf("a small record: %v", err)
	}
	for range 8 {
		d.Biometrics = append(d.Biometrics, recordfeed.Biometric{Type: sbi.TypeIris, SubType: "Left", Format: "iso19794-6", Data: bytes.Repeat([]byte{7}, recordfeed.MaxTemplate)})
	}
	var e *enrol.Error
	if err := recordFits(d, v, now); !errors.As(err, &e) || e.Code != "record_invalid" || strings.Contains(e.Message, "Asha") {
		t.Fatalf("a record of 8 × 32 KiB iris images: %v", err)
	}
}

// An appliance that enrols into a group with people gets all their
// records, in batches of at most recordfeed.MaxOps operations.
func TestApplianceEnrolmentBackfills(t *testing.T) {
	h := newHarness(t)
	d := &personData{Demographics: map[string]string{"fullName": "Asha Rao"}, TokenSeed: bytes.Repeat([]byte{4}, recordfeed.TokenSeedLen),
		Biometrics: []recordfeed.Biometric{{Type: sbi.TypeFinger, SubType: "Left IndexFinger", Format: recordfeed.TemplateMCC, Data: []byte{1, 2, 3}}}}
	sealed, err := h.c.sealPerson(d)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	const people = recordfeed.MaxOps + 5
	err = h.st.Update(ctx, func(tx store.Tx) error {
		for i := range people {
			uin := fmt.Sprint(3_000_000_000 + i)
			if err := tx.PutPerson(ctx, &store.Person{UIN: uin, Group: DefaultGroup, Status: PersonActive, Sealed: sealed, Created: now, Updated: now}); err != nil {
				return err
			}
			v, _ := vid.New(vid.Perpetual, now, 0)
			if err := tx.PutVID(ctx, &store.VID{Number: v.Number, UIN: uin, Kind: "perpetual", IssuedAt: now, Status: VIDActive, Updated: now}); err != nil {
				return err
			}
		}
		// One revoked VID and one person of another group stay behind.
		v, _ := vid.New(vid.Perpetual, now, 0)
		if err := tx.PutVID(ctx, &store.VID{Number: v.Number, UIN: "3000000000", Kind: "perpetual", IssuedAt: now, Status: VIDRevoked, Updated: now}); err != nil {
			return err
		}
		if err := tx.PutPerson(ctx, &store.Person{UIN: "4000000000", Group: "north", Status: PersonActive, Sealed: sealed, Created: now, Updated: now}); err != nil {
			return err
		}
		v, _ = vid.New(vid.Perpetual, now, 0)
		return tx.PutVID(ctx, &store.VID{Number: v.Number, UIN: "4000000000", Kind: "perpetual", IssuedAt: now, Status: VIDActive, Updated: now})
	})
	if err != nil {
		t.Fatal(err)
	}
	a := enrolTestAppliance(t, h, "EDGE-9")
	if n := feedSize(t, h, recordfeed.FeedName("EDGE-9")); n < 2 {
		t.Fatalf("backfill of %d records in %d entries: a records-feed entry holds at most %d operations", people, n, recordfeed.MaxOps)
	}
	_, recs := a.ops(t, h, 0)
	uins := map[string]bool{}
	for _, r := range recs {
		uins[r.UIN] = true
	}
	if len(recs) != people || len(uins) != people || uins["4000000000"] {
		t.Fatalf("backfill: %d records of %d people, want one per person of group default (%d)", len(recs), len(uins), people)
	}
}

// recheckSigners runs again inside the enrolment's transaction, for a
// revocation or key rotation between verification and the write. (The
// real-agent test in internal/integration/central drives the same
// refusals end to end through EnrolPerson.)
func TestRecheckSigners(t *testing.T) {
	h := newHarness(t)
	const sn = "ACME-FR-1"
	now := h.clock.Now()
	v1, v2 := []byte("device certificate 1"), []byte("device certificate 2")
	put := func(status string, cert []byte) {
		t.Helper()
		if err := h.st.Update(ctx, func(tx store.Tx) error {
			return tx.PutDevices(ctx, &store.Device{Serial: sn, VendorID: "ACME", Status: status, DeviceCert: cert, Enrolled: now, Updated: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, signers map[string]string, code string) {
		t.Helper()
		h.st.View(ctx, func(tx store.Tx) error {
			err := recheckSigners(ctx, tx, signers)
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
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", StatusChange{Status: trustfeed.Suspended, Reason: "audit"}); err != nil {
		t.Fatal(err)
	}
	check("a device of a suspended vendor", map[string]string{sn: feeds.Thumb(v2)}, "device_not_active")
}
