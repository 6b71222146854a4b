package attestation

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// TestAttestationRoundScale runs whole attestation rounds over
// EDGETRUST_ATTEST_ROUND simulated devices (e.g. 10000; skipped when
// unset, so not part of make test): for every device central's Round,
// Challenge (MakeCredential to the EK) and Submit (signature, nonce, PCR
// digest, log replay, policy, state write, horizon), the node's
// ActivateCredential and quote in between. Devices share one simulated
// TPM (its PCRs are one chip's; central does not care whose EK a record
// names, and a TPM is the node side's cost, not central's). It reports central's CPU (process CPU
// time around central's calls only: the simulator's work is outside),
// the round's wall time, central's share of it, and bytes on the wire per
// quote (challenge + evidence JSON). Two rounds: the first publishes each
// device's horizon on the trust feed, the second (an interval later) does
// not, which is the steady state.
func TestAttestationRoundScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EDGETRUST_ATTEST_ROUND"))
	if n <= 0 {
		t.Skip("set EDGETRUST_ATTEST_ROUND=10000 to run a 10,000-device round")
	}
	st, err := badgerstore.Open(t.TempDir(), badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	h := &harness{t: t, st: st, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, admin: &core.Admin{TokenID: "tok1", Name: "test"}}
	h.v = New(Config{Store: st, Now: h.clock.Now, Interval: 10 * time.Minute})
	const tpms = 1
	type chip struct {
		tp *tpm.TPM
		ak *tpm.Key
		lg *tpm.EventLog
	}
	chips := make([]chip, tpms)
	now := h.clock.Now()
	if err := st.Update(ctx, func(tx store.Tx) error {
		return tx.PutVendor(ctx, &store.Vendor{ID: "ACME", Name: "Acme", Status: trustfeed.Active, Created: now})
	}); err != nil {
		t.Fatal(err)
	}
	for i := range chips {
		tp, err := tpm.Open(ctx, "sim")
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close()
		ak, err := tp.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ek, err := tp.EndorsementKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		fp, _ := enrol.EKFingerprint(ek.Public())
		chips[i] = chip{tp, ak, tpm.NewEventLog(tp)}
		(&node{log: chips[i].lg}).flash(t, "1.2.0")
		var ds []*store.Device
		for j := i; j < n; j += tpms {
			ds = append(ds, &store.Device{Serial: fmt.Sprintf("SN%07d", j), VendorID: "ACME", Status: trustfeed.Active,
				EKPublic: ek.PublicArea(), EKFingerprint: fp, AKPublic: ak.PublicArea(), Enrolled: now, Updated: now})
		}
		for len(ds) > 0 {
			b := ds[:min(len(ds), 500)]
			ds = ds[len(b):]
			if err := st.Update(ctx, func(tx store.Tx) error { return tx.PutDevices(ctx, b...) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", MinFirmware: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	for r := 0; r < 2; r++ {
		if r > 0 {
			h.clock.Add(10 * time.Minute)
		}
		var central time.Duration
		var wire int
		_, feed0, _ := st.ReadFeed(ctx, trustfeed.Name, 0, 1)
		wall0 := time.Now()
		c0 := rusage()
		if err := h.v.Round(ctx); err != nil {
			t.Fatal(err)
		}
		central += rusage() - c0
		for j := 0; j < n; j++ {
			c := chips[j%tpms]
			id := attest.Node{Kind: attest.KindDevice, ID: fmt.Sprintf("SN%07d", j)}
			c0 := rusage()
			ch, err := h.v.Challenge(ctx, id)
			central += rusage() - c0
			if err != nil {
				t.Fatal(err)
			}
			ev, err := (&attest.Prover{TPM: c.tp, AK: c.ak, Log: c.lg}).Prove(ctx, ch)
			if err != nil {
				t.Fatal(err)
			}
			cw, _ := json.Marshal(ch)
			ew, _ := json.Marshal(ev)
			wire += len(cw) + len(ew)
			c0 = rusage()
			vd, err := h.v.Submit(ctx, ev)
			central += rusage() - c0
			if err != nil {
				t.Fatalf("device %s: %v", id.ID, err)
			}
			if vd.Status != attest.Attested {
				t.Fatalf("device %s: %s %s %s", id.ID, vd.Status, vd.Reason, vd.Message)
			}
		}
		wall := time.Since(wall0)
		_, feed1, _ := st.ReadFeed(ctx, trustfeed.Name, 0, 1)
		t.Logf("round %d over %d devices: wall %s (node-side simulator included), central CPU %s = %.0f µs/device → %.0f devices/s on 2 cores; %d B on the wire per quote (challenge + evidence); %d trust-feed entries",
			r+1, n, wall.Round(time.Millisecond), central.Round(time.Millisecond), float64(central.Microseconds())/float64(n),
			2e6*float64(n)/float64(central.Microseconds()), wire/n, feed1-feed0)
	}
}
