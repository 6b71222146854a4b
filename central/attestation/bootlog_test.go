package attestation

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"testing"

	gattest "github.com/google/go-attestation/attest"

	attest "github.com/edgetrust/edgetrust/internal/attestation"
)

// bootTPM extends the node's PCRs 0–7 with a real crypto-agile boot log's
// SHA-256 digests (copied from go-attestation's test data, see
// internal/attestation/testdata), as the platform firmware would, and
// returns the log.
func (n *node) boot(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../internal/attestation/testdata/bootlog-ubuntu-2104.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Raw string }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(f.Raw)
	if err != nil {
		t.Fatal(err)
	}
	el, err := gattest.ParseEventLog(raw)
	if err != nil {
		t.Fatal(err)
	}
	const evNoAction = 3
	for _, e := range el.Events(gattest.HashSHA256) {
		if e.Index < 8 && e.Type != evNoAction {
			if err := n.tpm.ExtendPCR(ctx, e.Index, e.Digest); err != nil {
				t.Fatal(err)
			}
		}
	}
	return raw
}

// TestBootLogChecked: on the TPM simulator booted through a real TCG log,
// a policy that requires the boot log attests the node when the log
// reproduces the quoted PCRs 0–7, and fails it when the log is missing,
// when the PCRs moved on after the log (an event the log hides), or when the
// policy requires Secure Boot and the log shows it off.
func TestBootLogChecked(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	raw := n.boot(t)
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", RequireBootLog: true}); err != nil {
		t.Fatal(err)
	}
	ch, err := h.v.Challenge(ctx, n.id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.PCRs) != 10 || ch.PCRs[0] != 0 || ch.PCRs[7] != 7 {
		t.Fatalf("challenge PCRs %v, want 0–7, 14, 16", ch.PCRs)
	}
	n.prov.BootLog = func() ([]byte, error) { return raw, nil }
	ev, err := n.prov.Prove(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.BootLog) != len(raw) {
		t.Fatal("the prover did not attach the boot log")
	}
	if vd := h.submit(ev); vd.Status != attest.Attested {
		t.Fatalf("real boot log: %+v", vd)
	}

	n.prov.BootLog = nil
	h.next()
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonBootLogAbsent)

	n.prov.BootLog = func() ([]byte, error) { return raw, nil }
	if err := n.tpm.ExtendPCR(ctx, 4, make([]byte, 32)); err != nil { // a boot event the log does not show
		t.Fatal(err)
	}
	h.next()
	// Already quarantined (boot-log-missing): the verdict and status say why now.
	if vd := h.submit(h.evidence(n)); vd.Status != attest.Failed || vd.Reason != attest.ReasonBootLog {
		t.Fatalf("PCR 4 moved past the log: %+v", vd)
	}
	if st, _ := h.v.Status(ctx, n.id); st.Reason != attest.ReasonBootLog {
		t.Fatalf("status %+v", st)
	}
}

func TestSecureBootRequired(t *testing.T) {
	h := newHarness(t)
	n := h.enrol("SN1")
	n.flash(t, "1.2.0")
	raw := n.boot(t)
	n.prov.BootLog = func() ([]byte, error) { return raw, nil }
	if _, err := h.v.SetPolicy(ctx, h.admin, Policy{Scope: "ACME", RequireSecureBoot: true}); err != nil {
		t.Fatal(err)
	}
	h.wantFailed(h.submit(h.evidence(n)), n, attest.ReasonSecureBootOff)
}
