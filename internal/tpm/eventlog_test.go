package tpm

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
)

func TestEventLogReplaysToQuote(t *testing.T) {
	backends(t, func(t *testing.T, tp *TPM) {
		ak, err := tp.CreateAK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l := NewEventLog(tp)
		data := []byte("module firmware 1.2.0")
		d := sha256.Sum256(data)
		if err := l.ExtendPCREvent(ctx, PCRFirmware, "test/firmware", d[:], data); err != nil {
			t.Fatal(err)
		}
		d2 := sha256.Sum256([]byte("second"))
		if err := l.ExtendPCR(ctx, PCRFirmware, d2[:]); err != nil {
			t.Fatal(err)
		}
		if err := l.ExtendPCREvent(ctx, PCRFirmware, "test/firmware", d2[:], data); err == nil {
			t.Fatal("an event whose digest is not the SHA-256 of its data was logged")
		}
		nonce := []byte("fresh nonce")
		pcrs := []int{PCRFirmware, PCRDebug}
		q, evs, err := l.QuoteWithLog(ctx, ak, pcrs, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].Type != "test/firmware" || evs[1].Type != EventTypeDigest {
			t.Fatalf("log %+v", evs)
		}
		info, err := VerifyQuoteInfo(ak.Public(), q, nonce)
		if err != nil {
			t.Fatal(err)
		}
		if len(info.PCRs) != 2 || info.Clock == 0 {
			t.Fatalf("quote info %+v", info)
		}
		if got, _ := QuoteNonce(q); !bytes.Equal(got, nonce) {
			t.Fatalf("quote nonce %q", got)
		}
		if err := CheckReplay(evs, pcrs, q.PCRs); err != nil {
			t.Fatal(err)
		}
		// Hiding an event, reordering, or a log that extends a PCR the
		// quote does not cover: none replays.
		for name, bad := range map[string][]Event{
			"hidden":    evs[1:],
			"reordered": {evs[1], evs[0]},
			"uncovered": append(append([]Event{}, evs...), Event{PCR: 3, Type: "x", Digest: d[:]}),
		} {
			if err := CheckReplay(bad, pcrs, q.PCRs); !errors.Is(err, ErrLogReplay) {
				t.Errorf("%s: %v, want ErrLogReplay", name, err)
			}
		}
		if err := VerifyAttestationSignature(ak.Public(), &Attestation{Attest: q.Attest, Signature: append([]byte{}, q.Signature[:len(q.Signature)-1]...)}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("truncated signature: %v", err)
		}

		// A restart within the boot restores the log; a log that does not
		// match the PCRs is refused.
		l2 := NewEventLog(tp)
		if err := l2.Restore(ctx, evs); err != nil {
			t.Fatal(err)
		}
		if got := l2.Events(); len(got) != 2 {
			t.Fatalf("restored %d events", len(got))
		}
		l3 := NewEventLog(tp)
		if err := l3.Restore(ctx, evs[:1]); !errors.Is(err, ErrLogReplay) {
			t.Fatalf("restoring a log that does not explain the PCRs: %v", err)
		}
		if len(l3.Events()) != 0 {
			t.Fatal("a refused restore kept events")
		}
	})
}

func TestEventCheckBounds(t *testing.T) {
	d := make([]byte, 32)
	for name, e := range map[string]Event{
		"pcr":    {PCR: 24, Type: "x", Digest: d},
		"type":   {PCR: 1, Digest: d},
		"long":   {PCR: 1, Type: string(make([]byte, MaxEventTypeSize+1)), Digest: d},
		"digest": {PCR: 1, Type: "x", Digest: d[:20]},
		"data":   {PCR: 1, Type: "x", Digest: d, Data: make([]byte, MaxEventData+1)},
	} {
		if e.Check() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ReplayEvents(make([]Event, MaxEvents+1)); err == nil {
		t.Fatal("a log over MaxEvents replayed")
	}
}
