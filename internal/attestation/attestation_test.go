package attestation

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

var ctx = context.Background()

func TestFirmwareEventRoundTrip(t *testing.T) {
	for _, r := range []firmware.Report{
		{Firmware: "1.2.0", SystemID: 9},
		{Firmware: "v2.0.1-r30x", ProdInfo: &proto.ProdInfo{Model: "R307"}, LibrarySize: 1000},
	} {
		m := firmware.Measure(r)
		fe, err := ParseFirmwareEvent(m.Event)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if r.ProdInfo != nil {
			want = r.ProdInfo.Model
		}
		if fe.Firmware != r.Firmware || fe.Model != want {
			t.Fatalf("%+v from %+v", fe, r)
		}
	}
	m := firmware.Measure(firmware.Report{Firmware: "1.2.0"})
	for name, b := range map[string][]byte{
		"wrong tag": append([]byte("other/tag\x00"), m.Event[len(firmware.EventType)+1:]...),
		"truncated": m.Event[:len(m.Event)-1],
		"duplicate": append(append([]byte{}, m.Event...), 1, 0, 0),
		"no fw":     []byte(firmware.EventType + "\x00"),
	} {
		if _, err := ParseFirmwareEvent(b); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

func sampleEvidence(t testing.TB) []byte {
	tp, err := tpm.Open(ctx, "sim")
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	ak, err := tp.CreateAK(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := tpm.NewEventLog(tp)
	m := firmware.Measure(firmware.Report{Firmware: "1.2.0"})
	if err := m.Extend(ctx, l, tpm.PCRFirmware); err != nil {
		t.Fatal(err)
	}
	q, evs, err := l.QuoteWithLog(ctx, ak, []int{14, 16}, make([]byte, NonceSize))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(Evidence{Node: Node{Kind: KindDevice, ID: "SN1"}, Quote: *q, EventLog: evs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeEvidenceStrict(t *testing.T) {
	good := string(sampleEvidence(t))
	ev, err := DecodeEvidence(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.EventLog) != 1 || ev.EventLog[0].Type != firmware.EventType || len(ev.Quote.PCRs) != 2 {
		t.Fatalf("%+v", ev)
	}
	bad := map[string]string{
		"unknown member":   strings.Replace(good, `{"kind"`, `{"x":1,"kind"`, 1),
		"duplicate":        strings.Replace(good, `{"kind":"device"`, `{"kind":"device","kind":"device"`, 1),
		"bad kind":         strings.Replace(good, `"kind":"device"`, `"kind":"printer"`, 1),
		"trailing":         good + "{}",
		"pcr out of range": strings.Replace(good, `"pcrs":{"14"`, `"pcrs":{"99"`, 1),
		"too many events": strings.Replace(good, `"eventLog":[`, `"eventLog":[`+
			httpxtest.CountBomb("", tpm.MaxEvents+1, "")+``, 1),
	}
	for name, b := range bad {
		if _, err := DecodeEvidence(strings.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A body of the largest size is decoded within the per-request budget.
	big := `{"kind":"device","id":"SN1","eventLog":[` + strings.Repeat(`{"pcr":1,"type":"x","digest":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},`, 1000)
	big = big[:len(big)-1] + `]}`
	if n := httpxtest.Allocated(func() { DecodeEvidence(strings.NewReader(big)) }); n > httpxtest.Budget(len(big)) {
		t.Fatalf("decoding %d bytes allocated %d", len(big), n)
	}
}

func TestDecodeChallenge(t *testing.T) {
	c := Challenge{Node: Node{Kind: KindAppliance, ID: "EDGE"}, CredentialBlob: []byte{1}, EncryptedSecret: []byte{2},
		PCRs: []int{16, 14, 14}, Expires: time.Now()}
	b, _ := json.Marshal(c)
	got, err := DecodeChallenge(b)
	if err != nil || len(got.PCRs) != 2 || got.PCRs[0] != 14 {
		t.Fatalf("%+v %v", got, err)
	}
	c.PCRs = []int{30}
	b, _ = json.Marshal(c)
	if _, err := DecodeChallenge(b); err == nil {
		t.Fatal("PCR 30 accepted")
	}
}

// Evidence and challenges come from the network: their decoders must fail
// cleanly on any input, and what they accept must pass Check.
func FuzzDecodeEvidence(f *testing.F) {
	f.Add(sampleEvidence(f))
	f.Add([]byte(`{"kind":"device","id":"x","quote":{"attest":"AA==","signature":"AA==","pcrs":{"14":"AA=="}},"eventLog":[]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvidence(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		if err := ev.Check(); err != nil {
			t.Fatalf("decoded evidence fails Check: %v", err)
		}
		tpm.QuoteNonce(&ev.Quote)
		tpm.ReplayEvents(ev.EventLog)
		for _, e := range ev.EventLog {
			if e.Type == firmware.EventType {
				ParseFirmwareEvent(e.Data)
			}
		}
	})
}

func FuzzParseFirmwareEvent(f *testing.F) {
	f.Add(firmware.Measure(firmware.Report{Firmware: "1.2.0", ProdInfo: &proto.ProdInfo{Model: "R307"}}).Event)
	f.Fuzz(func(t *testing.T, b []byte) {
		fe, err := ParseFirmwareEvent(b)
		if err == nil && fe == nil {
			t.Fatal("nil event without an error")
		}
	})
}
