package attestation

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgetrust/edgetrust/central/core"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/central/store/badgerstore"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

var ctx = context.Background()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// node is a TPM (the in-process simulator) enrolled as device serial of
// vendor ACME, with the event log its firmware bridge keeps.
type node struct {
	tpm  *tpm.TPM
	ak   *tpm.Key
	log  *tpm.EventLog
	id   attest.Node
	prov *attest.Prover
}

type harness struct {
	t     *testing.T
	st    store.Store
	clock *clock
	v     *Verifier
	admin *core.Admin
}

const interval = time.Minute

func newHarness(t *testing.T) *harness {
	t.Helper()
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &harness{t: t, st: st, clock: &clock{t: time.Now().UTC().Truncate(time.Second)}, admin: &core.Admin{TokenID: "tok1", Name: "test"}}
	h.v = New(Config{Store: st, Now: h.clock.Now, Interval: interval})
	err = st.Update(ctx, func(tx store.Tx) error {
		return tx.PutVendor(ctx, &store.Vendor{ID: "ACME", Name: "Acme", Status: trustfeed.Active, Created: h.clock.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// enrol registers a fresh simulated TPM as device serial, with the EK and
// AK bound (as enrolment's credential activation does).
func (h *harness) enrol(serial string) *node {
	h.t.Helper()
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { tp.Close() })
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	ek, err := tp.EndorsementKey(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	fp, _ := enrol.EKFingerprint(ek.Public())
	now := h.clock.Now()
	err = h.st.Update(ctx, func(tx store.Tx) error {
		return tx.PutDevices(ctx, &store.Device{Serial: serial, VendorID: "ACME", Status: trustfeed.Active, Type: "Finger", SubType: "Single",
			EKPublic: ek.PublicArea(), EKFingerprint: fp, AKPublic: ak.PublicArea(), Enrolled: now, Updated: now})
	})
	if err != nil {
		h.t.Fatal(err)
	}
	n := &node{tpm: tp, ak: ak, log: tpm.NewEventLog(tp), id: attest.Node{Kind: attest.KindDevice, ID: serial}}
	n.prov = &attest.Prover{TPM: tp, AK: ak, Log: n.log}
	return n
}

// flash measures a module reporting fw into PCR 14 through the event log,
// as the firmware bridge does when it opens the sensor.
func (n *node) flash(t *testing.T, fw string) firmware.Measurement {
	t.Helper()
	m := firmware.Measure(firmware.Report{Firmware: fw, SystemID: 9})
	if err := m.Extend(ctx, n.log, tpm.PCRFirmware); err != nil {
		t.Fatal(err)
	}
	return m
}

// evidence fetches a challenge and proves it.
func (h *harness) evidence(n *node) *attest.Evidence {
	h.t.Helper()
	ch, err := h.v.Challenge(ctx, n.id)
	if err != nil {
		h.t.Fatal(err)
	}
	ev, err := n.prov.Prove(ctx, ch)
	if err != nil {
		h.t.Fatal(err)
	}
	return ev
}

func (h *harness) submit(ev *attest.Evidence) *attest.Verdict {
	h.t.Helper()
	vd, err := h.v.Submit(ctx, ev)
	if err != nil {
		h.t.Fatal(err)
	}
	return vd
}

// next makes the node due for a new challenge (a new round).
func (h *harness) next() {
	h.t.Helper()
	if err := h.v.Round(ctx); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) device(serial string) *store.Device {
	h.t.Helper()
	var d *store.Device
	if err := h.st.View(ctx, func(tx store.Tx) error {
		var err error
		d, err = tx.Device(ctx, serial)
		return err
	}); err != nil {
		h.t.Fatal(err)
	}
	return d
}

// lastFeedDevice is the newest trust-feed entry for serial.
func (h *harness) lastFeedDevice(serial string) *trustfeed.Device {
	h.t.Helper()
	recs, _, err := h.st.ReadFeed(ctx, trustfeed.Name, 0, 1000)
	if err != nil {
		h.t.Fatal(err)
	}
	var out *trustfeed.Device
	for _, r := range recs {
		e, err := feed.DecodeEntry(r.Body)
		if err != nil {
			h.t.Fatal(err)
		}
		if e.Kind != trustfeed.KindDevice {
			continue
		}
		v, err := trustfeed.Decode(e.Kind, e.Data)
		if err != nil {
			h.t.Fatal(err)
		}
		if d := v.(*trustfeed.Device); d.Serial == serial {
			out = d
		}
	}
	return out
}

// wantFailed checks a failed verdict, the node's status and its quarantine
// on the trust feed.
func (h *harness) wantFailed(vd *attest.Verdict, n *node, reason string) {
	h.t.Helper()
	if vd.Status != attest.Failed || vd.Reason != reason {
		h.t.Fatalf("verdict %s/%s (%s), want failed/%s", vd.Status, vd.Reason, vd.Message, reason)
	}
	st, err := h.v.Status(ctx, n.id)
	if err != nil {
		h.t.Fatal(err)
	}
	if st.State != attest.Failed || st.Reason != reason {
		h.t.Fatalf("status %s/%s, want failed/%s", st.State, st.Reason, reason)
	}
	d := h.device(n.id.ID)
	if d.Status != trustfeed.Suspended || d.Reason != QuarantineFailed+": "+reason {
		h.t.Fatalf("device is %s (%q), want suspended by the attestation quarantine", d.Status, d.Reason)
	}
	fe := h.lastFeedDevice(n.id.ID)
	if fe == nil || fe.Status != trustfeed.Suspended || !strings.HasPrefix(fe.Reason, QuarantineFailed) {
		h.t.Fatalf("trust feed's newest entry for %s: %+v, want the quarantine", n.id.ID, fe)
	}
}

func TestGoodQuote(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	m := n.flash(t, "1.2.0")
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", MinFirmware: "1.0.0",
		Firmware: []Golden{{Digest: m.Hex(), Version: "1.2.0"}}}); err != nil {
		t.Fatal(err)
	}
	vd := h.submit(h.evidence(n))
	if vd.Status != attest.Attested || len(vd.Firmware) != 1 || vd.Firmware[0] != "1.2.0" || vd.PolicyVersion != 1 {
		t.Fatalf("verdict %+v", vd)
	}
	st, err := h.v.Status(ctx, n.id)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != attest.Attested || !st.LastAttested.Equal(h.clock.Now()) || st.Challenged {
		t.Fatalf("status %+v", st)
	}
	if d := h.device("SN1"); d.Status != trustfeed.Active {
		t.Fatalf("device %s after a good quote", d.Status)
	}
	// A second answer to the same (consumed) challenge is a replay.
	h.next()
	if _, err := h.v.Challenge(ctx, n.id); err != nil {
		t.Fatal(err)
	}
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested {
		t.Fatalf("second round: %+v", vd)
	}
}

func TestReflashedFirmwareQuarantined(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	good := firmware.Measure(firmware.Report{Firmware: "1.2.0", SystemID: 9})
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", Firmware: []Golden{{Digest: good.Hex(), Version: "1.2.0"}}}); err != nil {
		t.Fatal(err)
	}
	n.flash(t, "6.6.6") // re-flashed: PCR 14 now differs from the golden value
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonUnknownFW)
}

func TestDowngradeBelowPolicyFloor(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", MinFirmware: "1.2.0"}); err != nil {
		t.Fatal(err)
	}
	// The device's local NV floor may have been wiped: the module reports
	// an old version, measured honestly into PCR 14.
	n.flash(t, "1.1.9")
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonFWBelowFloor)
}

func TestDebugPCRNonZero(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	if err := n.log.Extend(ctx, tpm.Event{PCR: tpm.PCRDebug, Type: "debug", Digest: sha(t, "debug firmware")}); err != nil {
		t.Fatal(err)
	}
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonDebugPCR)
}

func sha(t *testing.T, s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func TestReplayedNonce(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	old := h.evidence(n)
	if vd := h.submit(old); vd.Status != attest.Attested {
		t.Fatalf("first answer: %+v", vd)
	}
	h.next()
	if _, err := h.v.Challenge(ctx, n.id); err != nil { // the new, outstanding challenge
		t.Fatal(err)
	}
	// The old quote, signed by the right AK, replayed against the new round.
	h.wantFailed(h.submit(old), n, attest.ReasonReplayedNonce)
}

func TestBadSignatureMarksFailed(t *testing.T) {
	t.Run("tampered signature", func(t *testing.T) {
		h := newHarness(t)
		n := h.enrol("SN1")
		n.flash(t, "1.2.0")
		ev := h.evidence(n)
		ev.Quote.Signature[10] ^= 1
		h.wantFailed(h.submit(ev), n, attest.ReasonBadSignature)
	})
	t.Run("quote by another AK of the same TPM", func(t *testing.T) {
		h := newHarness(t)
		n := h.enrol("SN1")
		n.flash(t, "1.2.0")
		ch, err := h.v.Challenge(ctx, n.id)
		if err != nil {
			t.Fatal(err)
		}
		// The holder recovers the nonce with the enrolled AK, then quotes
		// with an AK central never bound.
		nonce, err := n.tpm.ActivateCredential(ctx, n.ak, ch.CredentialBlob, ch.EncryptedSecret)
		if err != nil {
			t.Fatal(err)
		}
		other, err := n.tpm.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		q, err := n.tpm.Quote(ctx, other, ch.PCRs, nonce)
		if err != nil {
			t.Fatal(err)
		}
		h.wantFailed(h.submit(&attest.Evidence{Node: n.id, Quote: *q, EventLog: n.log.Events()}), n, attest.ReasonBadSignature)
	})
	t.Run("stranger's garbage changes nothing", func(t *testing.T) {
		h := newHarness(t)
		n := h.enrol("SN1")
		n.flash(t, "1.2.0")
		if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested {
			t.Fatal(vd)
		}
		// A quote by a TPM that is not the node's, over a nonce it made up:
		// nobody but the node can learn the outstanding nonce.
		stranger := h.enrol("SN2")
		q, err := stranger.tpm.Quote(ctx, stranger.ak, []int{14, 16}, []byte("guessed nonce"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.v.Submit(ctx, &attest.Evidence{Node: n.id, Quote: *q})
		var e *enrol.Error
		if !errors.As(err, &e) || e.Code != CodeUnverified {
			t.Fatalf("got %v, want %s", err, CodeUnverified)
		}
		if st, _ := h.v.Status(ctx, n.id); st.State != attest.Attested {
			t.Fatalf("node is %s after a stranger's evidence", st.State)
		}
		if d := h.device("SN1"); d.Status != trustfeed.Active {
			t.Fatalf("device %s after a stranger's evidence", d.Status)
		}
	})
}

func TestEventLogTampered(t *testing.T) {
	cases := map[string]struct {
		edit   func(ev *attest.Evidence)
		reason string
	}{
		"event hidden": {func(ev *attest.Evidence) { ev.EventLog = ev.EventLog[1:] }, attest.ReasonLogReplay},
		"event replaced": {func(ev *attest.Evidence) {
			m := firmware.Measure(firmware.Report{Firmware: "1.2.0", SystemID: 9})
			ev.EventLog[1] = tpm.Event{PCR: 14, Type: firmware.EventType, Digest: m.Digest[:], Data: m.Event}
		}, attest.ReasonLogReplay},
		"event data edited":                       {func(ev *attest.Evidence) { ev.EventLog[1].Data[len(ev.EventLog[1].Data)-1] ^= 1 }, attest.ReasonLogReplay},
		"PCR values the quote does not commit to": {func(ev *attest.Evidence) { ev.Quote.PCRs[14] = sha(nil, "fake") }, attest.ReasonPCRMismatch},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			n := h.enrol("SN1")
			n.flash(t, "1.2.0")
			n.flash(t, "6.6.6") // a second module, which the edits try to hide
			ev := h.evidence(n)
			c.edit(ev)
			h.wantFailed(h.submit(ev), n, c.reason)
		})
	}
}

func TestClockWentBack(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested {
		t.Fatal(vd)
	}
	// The last quote claimed a later clock than this TPM has.
	if err := h.st.ModifyAttest(ctx, n.id.String(), func(s *store.AttestNode) (*store.AttestNode, error) {
		s.Clock += 1 << 40
		return s, nil
	}); err != nil {
		t.Fatal(err)
	}
	h.next()
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonCounters)
}

func TestStaleQuarantineAndRelease(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME"}); err != nil { // onStale: quarantine by default
		t.Fatal(err)
	}
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested {
		t.Fatal(vd)
	}
	h.clock.Add(DefaultStaleAfter*interval - time.Second)
	h.next()
	if st, _ := h.v.Status(ctx, n.id); st.State != attest.Attested {
		t.Fatalf("state %s inside the window", st.State)
	}
	h.clock.Add(2 * time.Second)
	h.next()
	st, _ := h.v.Status(ctx, n.id)
	if st.State != attest.Stale {
		t.Fatalf("state %s after the window", st.State)
	}
	if d := h.device("SN1"); d.Status != trustfeed.Suspended || !strings.HasPrefix(d.Reason, QuarantineStale) {
		t.Fatalf("stale device is %s (%q), want quarantined", d.Status, d.Reason)
	}
	// An admin lifts it, audited; the node must answer within the window.
	if _, err := h.v.ReleaseQuarantine(ctx, h.admin, n.id, ""); err == nil {
		t.Fatal("release without a reason accepted")
	}
	st2, err := h.v.ReleaseQuarantine(ctx, h.admin, n.id, "sensor replaced, checked on site")
	if err != nil {
		t.Fatal(err)
	}
	if st2.State != attest.Pending {
		t.Fatalf("after release: %s", st2.State)
	}
	if d := h.device("SN1"); d.Status != trustfeed.Active {
		t.Fatalf("after release: device %s", d.Status)
	}
	var rows []store.AuditEvent
	h.st.View(ctx, func(tx store.Tx) error {
		rows, err = tx.Audit(ctx, store.AuditFilter{Subject: "device:SN1"})
		return err
	})
	if len(rows) != 2 || rows[0].Action != "device.quarantine" || rows[0].Actor != Actor ||
		rows[1].Action != "device.release-quarantine" || rows[1].Actor != "admin:tok1" {
		t.Fatalf("audit rows %+v", rows)
	}
	if _, err := h.v.ReleaseQuarantine(ctx, h.admin, n.id, "again"); err == nil {
		t.Fatal("releasing a node not under quarantine accepted")
	}
	// A manual suspension is not an attestation quarantine: neither a
	// release nor a good quote lifts it.
	if err := h.st.Update(ctx, func(tx store.Tx) error {
		d, _ := tx.Device(ctx, "SN1")
		d.Status, d.Reason = trustfeed.Suspended, "stolen?"
		return tx.PutDevices(ctx, d)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.v.ReleaseQuarantine(ctx, h.admin, n.id, "try"); err == nil {
		t.Fatal("an admin suspension was lifted as a quarantine")
	}
}

func TestWarnOnStaleAndAutoRelease(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", OnStale: OnStaleWarn, AutoRelease: true, MinFirmware: "1.3.0"}); err != nil {
		t.Fatal(err)
	}
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonFWBelowFloor)
	// The vendor lowers the floor (say, 1.2.0 was re-certified): the next
	// good quote lifts the quarantine because the policy says so.
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", OnStale: OnStaleWarn, AutoRelease: true, MinFirmware: "1.2.0"}); err != nil {
		t.Fatal(err)
	}
	h.next()
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested || vd.PolicyVersion != 2 {
		t.Fatalf("verdict %+v", vd)
	}
	if d := h.device("SN1"); d.Status != trustfeed.Active {
		t.Fatalf("device %s (%q) after a good quote with autoRelease", d.Status, d.Reason)
	}
	h.clock.Add(10 * interval)
	h.next()
	if st, _ := h.v.Status(ctx, n.id); st.State != attest.Stale {
		t.Fatalf("state %s", st.State)
	}
	if d := h.device("SN1"); d.Status != trustfeed.Active {
		t.Fatalf("onStale warn quarantined the device (%s)", d.Status)
	}
}

func TestPolicyVersionedInAuditLog(t *testing.T) {
	h := newHarness(t)
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", MinFirmware: "1.0.0"}); err != nil {
		t.Fatal(err)
	}
	p, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", MinFirmware: "2.0.0", PCRValues: map[string]string{"0": strings.Repeat("00", 32)}})
	if err != nil || p.Version != 2 {
		t.Fatalf("%+v %v", p, err)
	}
	// Another verifier (a restart, or another replica) reads it back.
	v2 := New(Config{Store: h.st, Now: h.clock.Now, Interval: interval})
	got, err := v2.Policy(ctx, "ACME")
	if err != nil || got.Version != 2 || got.MinFirmware != "2.0.0" || got.UpdatedBy != "admin:tok1" {
		t.Fatalf("%+v %v", got, err)
	}
	if q := got.QuotePCRs(); len(q) != 3 || q[0] != 0 || q[1] != 14 || q[2] != 16 {
		t.Fatalf("quote PCRs %v", q)
	}
	for _, bad := range []Policy{
		{Scope: "NOPE"},
		{Scope: "ACME", MinFirmware: "x"},
		{Scope: "ACME", Firmware: []Golden{{Digest: "ABCD"}}},
		{Scope: "ACME", PCRValues: map[string]string{"24": strings.Repeat("00", 32)}},
		{Scope: "ACME", OnStale: "ignore"},
	} {
		if _, err := h.v.SetPolicy(ctx, h.admin, bad); err == nil {
			t.Errorf("policy %+v accepted", bad)
		}
	}
}

// A dead loop must not leave nodes looking attested (GHSA-hff2-x2j9-gxgv):
// health and the loop_up metric go red within 1.5 intervals and nodes go
// stale on their own clock.
func TestLoopDeathReported(t *testing.T) {
	st, err := badgerstore.Open("", badgerstore.Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const iv = 200 * time.Millisecond
	hang := make(chan struct{})
	var rounds sync.WaitGroup
	rounds.Add(1)
	var once sync.Once
	calls := 0
	var mu sync.Mutex
	hook := func() {
		mu.Lock()
		calls++
		c := calls
		mu.Unlock()
		switch c {
		case 1:
		case 2:
			panic("fault hook: round crashed") // supervised: restarted
		default:
			once.Do(rounds.Done)
			<-hang // fault hook: the loop hangs for good
		}
	}
	v := New(Config{Store: st, Interval: iv, RoundHook: hook})
	h := &harness{t: t, st: st, clock: &clock{}, v: v, admin: &core.Admin{TokenID: "t"}}
	h.clock.t = time.Now()
	st.Update(ctx, func(tx store.Tx) error {
		return tx.PutVendor(ctx, &store.Vendor{ID: "ACME", Name: "Acme", Status: trustfeed.Active})
	})
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	stop := make(chan struct{})
	defer close(stop)
	defer close(hang)
	go v.Run(stop)
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Attested {
		t.Fatal(vd)
	}
	up := Metrics()[5].(prometheus.GaugeFunc)
	rounds.Wait() // the hang began
	if r := v.restarts.Load(); r != 1 {
		t.Errorf("restarts %d, want 1 (the panicking round)", r)
	}
	deadline := time.Now().Add(iv + iv/2 + iv)
	for v.Health().Healthy && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if hl := v.Health(); hl.Healthy || hl.Message == "" {
		t.Fatalf("health %+v while the loop hangs", hl)
	}
	if got := testutil.ToFloat64(up); got != 0 {
		t.Fatalf("edgetrust_central_attest_loop_up = %v while the loop hangs", got)
	}
	time.Sleep(time.Until(time.Now().Add(DefaultStaleAfter * iv)))
	if st, _ := v.Status(ctx, n.id); st.State != attest.Stale {
		t.Fatalf("node %s with no round and no quote for %d intervals", st.State, DefaultStaleAfter)
	}
}
