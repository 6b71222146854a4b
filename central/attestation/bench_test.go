package attestation

import (
	"encoding/json"
	"testing"

	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// BenchmarkVerifyEvidence is central's CPU per quote: the AK signature, the
// PCR digest, the event-log replay and the policy (golden digest, minimum
// version, debug PCR). It reports the evidence's size on the wire.
func BenchmarkVerifyEvidence(b *testing.B) {
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Close()
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		b.Fatal(err)
	}
	l := tpm.NewEventLog(tp)
	m := firmware.Measure(firmware.Report{Firmware: "1.2.0", SystemID: 9})
	if err := m.Extend(ctx, l, tpm.PCRFirmware); err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, attest.NonceSize)
	pcrs := []int{tpm.PCRFirmware, tpm.PCRDebug}
	q, evs, err := l.QuoteWithLog(ctx, ak, pcrs, nonce)
	if err != nil {
		b.Fatal(err)
	}
	ev := &attest.Evidence{Node: attest.Node{Kind: attest.KindDevice, ID: "SN1"}, Quote: *q, EventLog: evs}
	wire, _ := json.Marshal(ev)
	p := &Policy{Scope: "ACME", MinFirmware: "1.0.0", Firmware: []Golden{{Digest: m.Hex(), Version: "1.2.0"}}, StaleAfter: 3, OnStale: OnStaleQuarantine}
	ch := &challenge{nonce: nonce, pcrs: pcrs}
	b.ResetTimer()
	for b.Loop() {
		if err := tpm.VerifyAttestationSignature(ak.Public(), &ev.Quote.Attestation); err != nil {
			b.Fatal(err)
		}
		if _, reason, msg := verifyQuote(ak.Public(), ev, ch); reason != "" {
			b.Fatal(reason, msg)
		}
		if _, reason, msg := checkPolicy(p, ev, pcrs); reason != "" {
			b.Fatal(reason, msg)
		}
	}
	b.ReportMetric(float64(len(wire)), "wire-bytes")
}
