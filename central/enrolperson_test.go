package central

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
)

// How people reach appliances is tested in central/people; this tests the
// root package's wiring of it: an appliance enrolled with its TPM over the
// HTTP API gets its group's records. Person enrolment from captures of a
// real agent is tested in internal/integration/central.

// sealTestPerson seals a person's data as central/people stores it.
func sealTestPerson(t *testing.T, h *harness, demographics map[string]string, bio []recordfeed.Biometric, seed []byte) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"demographics": demographics, "biometrics": bio, "tokenSeed": seed})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := h.c.keys.Seal(b)
	if err != nil {
		t.Fatal(err)
	}
	return sealed
}

// An appliance that enrols into a group with people gets all their
// records, in batches of at most recordfeed.MaxOps operations.
func TestApplianceEnrolmentBackfills(t *testing.T) {
	h := newHarness(t)
	sealed := sealTestPerson(t, h, map[string]string{"fullName": "Asha Rao"},
		[]recordfeed.Biometric{{Type: sbi.TypeFinger, SubType: "Left IndexFinger", Format: recordfeed.TemplateMCC, Data: []byte{1, 2, 3}}},
		bytes.Repeat([]byte{4}, recordfeed.TokenSeedLen))
	now := h.clock.Now()
	var err error
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
