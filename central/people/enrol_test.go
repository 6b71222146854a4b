package people

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

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
	sealed, err := h.svc.sealPerson(d)
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
