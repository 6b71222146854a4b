package enrol

import (
	"bytes"
	"encoding/json"
	"runtime"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/httpx/httpxtest"
)

// The request decoders take bytes from the network before any
// authentication: they must not panic, must bound what they accept, and
// what they accept must survive a round trip.

func FuzzDecodeStart(f *testing.F) {
	f.Add([]byte(enc(StartRequest{Token: "ete_0123456789abcdef_x", EKPublic: []byte{1}, AKPublic: []byte{2}, EKCert: []byte{3}})))
	f.Add([]byte(`{"token":"t","ekPublic":"AA==","akPublic":"AA==","extra":[]}`))
	f.Add([]byte(`{"token":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q *StartRequest
		var err error
		withinBudget(t, b, func() { q, err = DecodeStart(bytes.NewReader(b)) })
		if err != nil {
			return
		}
		if len(q.EKPublic) > MaxPublicArea || len(q.AKPublic) > MaxPublicArea || len(q.EKCert) > MaxEKCert || len(q.Token) > MaxToken {
			t.Fatal("decoder accepted an oversize field")
		}
		if _, err := DecodeStart(bytes.NewReader([]byte(enc(q)))); err != nil {
			t.Fatalf("accepted request does not round-trip: %v", err)
		}
		// The EK checker must not panic on what the decoder lets through.
		EKPolicy{Allow: map[string]bool{}}.Check(q.EKPublic, q.EKCert, time.Unix(0, 0))
	})
}

func FuzzDecodeFinish(f *testing.F) {
	f.Add([]byte(enc(validFinish())))
	q := validFinish()
	q.Devices = nil
	q.Appliance = &ApplianceRequest{ID: "EDGE-1", EncryptionKey: validFinish().Devices[0].FTMKey, SigningKey: validFinish().Devices[0].FTMKey}
	f.Add([]byte(enc(q)))
	f.Add([]byte(`{"session":"s","secret":"AQ==","devices":[{"digitalId":{}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var q *FinishRequest
		var err error
		withinBudget(t, b, func() { q, err = DecodeFinish(bytes.NewReader(b)) })
		if err != nil {
			return
		}
		if len(q.Devices) > MaxDevices || len(q.Secret) > MaxSecret || (len(q.Devices) > 0) == (q.Appliance != nil) {
			t.Fatal("decoder accepted an out-of-bounds request")
		}
		for _, d := range q.Devices {
			if CheckID("serial", d.DigitalID.SerialNo) != nil || len(d.DeviceKey.PublicArea) > MaxPublicArea {
				t.Fatal("decoder accepted a bad device")
			}
			DigitalIDSubject(d.DigitalID)
		}
		if _, err := DecodeFinish(bytes.NewReader([]byte(enc(q)))); err != nil {
			t.Fatalf("accepted request does not round-trip: %v", err)
		}
	})
}

func FuzzDecodeRotate(f *testing.F) {
	f.Add([]byte(`{"serial":"SN1"}`), []byte(enc(RotateFinishRequest{Session: "s", DeviceKey: validFinish().Devices[0].FTMKey})))
	f.Fuzz(func(t *testing.T, start, finish []byte) {
		withinBudget(t, start, func() { DecodeRotateStart(bytes.NewReader(start)) })
		withinBudget(t, finish, func() { DecodeRotateFinish(bytes.NewReader(finish)) })
		if q, err := DecodeRotateStart(bytes.NewReader(start)); err == nil && CheckID("serial", q.Serial) != nil {
			t.Fatal("bad serial accepted")
		}
		if q, err := DecodeRotateFinish(bytes.NewReader(finish)); err == nil {
			var back RotateFinishRequest
			if err := json.Unmarshal([]byte(enc(q)), &back); err != nil || back.Session != q.Session {
				t.Fatal("accepted request does not round-trip")
			}
		}
	})
}

// withinBudget fails t if decode allocates more than the per-request
// budget of issue #19 for a body of b.
func withinBudget(t *testing.T, b []byte, decode func()) {
	t.Helper()
	if n := allocated(decode); n > httpxtest.Budget(len(b)) {
		t.Fatalf("decoding %d bytes allocated %d (budget %d)", len(b), n, httpxtest.Budget(len(b)))
	}
}

// allocated is httpxtest.Allocated without its GC first (TotalAlloc counts
// every allocation anyway), which would slow fuzzing to a crawl.
func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}
