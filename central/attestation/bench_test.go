package attestation

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/central/store"
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
	benchVerify(b, ak.Public(), ev, ch, p, pcrs, len(wire))
}

// BenchmarkVerifyEvidenceBootLog is BenchmarkVerifyEvidence with the
// platform's TCG boot log: PCRs 0–7 quoted too (the simulator extended with
// a real crypto-agile Ubuntu log's events) and the log parsed and replayed
// into them (go-attestation). It reports the evidence's size on the wire.
func BenchmarkVerifyEvidenceBootLog(b *testing.B) {
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		b.Fatal(err)
	}
	defer tp.Close()
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		b.Fatal(err)
	}
	n := &node{tpm: tp}
	raw := n.boot(b)
	l := tpm.NewEventLog(tp)
	m := firmware.Measure(firmware.Report{Firmware: "1.2.0", SystemID: 9})
	if err := m.Extend(ctx, l, tpm.PCRFirmware); err != nil {
		b.Fatal(err)
	}
	p := &Policy{Scope: "ACME", MinFirmware: "1.0.0", Firmware: []Golden{{Digest: m.Hex(), Version: "1.2.0"}}, StaleAfter: 3,
		OnStale: OnStaleQuarantine, RequireBootLog: true}
	pcrs := p.QuotePCRs()
	nonce := make([]byte, attest.NonceSize)
	q, evs, err := l.QuoteWithLog(ctx, ak, pcrs, nonce)
	if err != nil {
		b.Fatal(err)
	}
	ev := &attest.Evidence{Node: attest.Node{Kind: attest.KindDevice, ID: "SN1"}, Quote: *q, EventLog: evs, BootLog: raw}
	wire, _ := json.Marshal(ev)
	ch := &challenge{nonce: nonce, pcrs: pcrs}
	benchVerify(b, ak.Public(), ev, ch, p, pcrs, len(wire))
}

func rusage() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkStateWrite is the store cost of one node's attestation state
// per answer: one ModifyAttest (per-node lock, read, write) of a state with
// an outstanding challenge, as Challenge and Submit each make. A node costs
// two per interval.
func BenchmarkStateWrite(b *testing.B) {
	for _, kind := range storeKinds {
		b.Run(kind, func(b *testing.B) {
			h, _ := replicas(b, kind)
			wire := make([]byte, 700) // a challenge's JSON: credential blob and secret, base64
			i := 0
			ru0 := rusage()
			b.ResetTimer()
			for b.Loop() {
				i++
				node := "device:SN" + strconv.Itoa(i%1000)
				if err := h.st.ModifyAttest(ctx, node, func(s *store.AttestNode) (*store.AttestNode, error) {
					if s == nil {
						s = &store.AttestNode{Status: attest.Pending}
					}
					s.Challenge = &store.AttestChallenge{NonceHash: make([]byte, 32), PCRs: []int{14, 16}, Wire: json.RawMessage(`"` + base64.StdEncoding.EncodeToString(wire) + `"`)}
					s.LastCheck = time.Now()
					return s, nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((rusage()-ru0).Microseconds())/float64(b.N), "central-cpu-µs/op")
		})
	}
}

// benchVerify times what central does per evidence: the AK signature, the
// quote against the challenge and the event log, and the policy.
func benchVerify(b *testing.B, ak crypto.PublicKey, ev *attest.Evidence, ch *challenge, p *Policy, pcrs []int, wireBytes int) {
	ru0 := rusage()
	b.ResetTimer()
	for b.Loop() {
		if err := tpm.VerifyAttestationSignature(ak, &ev.Quote.Attestation); err != nil {
			b.Fatal(err)
		}
		if _, reason, msg := verifyQuote(ak, ev, ch); reason != "" {
			b.Fatal(reason, msg)
		}
		if _, reason, msg := checkPolicy(p, ev, pcrs); reason != "" {
			b.Fatal(reason, msg)
		}
	}
	// CPU time (user + system) is what capacity rests on: 2 cores give
	// 2e6 / cpu-µs verifications per second; wall time under load is not.
	b.ReportMetric(float64((rusage()-ru0).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64(wireBytes), "wire-bytes")
}
