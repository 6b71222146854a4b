package agent

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// fakeVerifier is the part of central's verifier the agent talks to: it
// seals a nonce to the agent's EK and AK and checks the answer with the
// same library checks central makes (signature, nonce, digest, log replay).
type fakeVerifier struct {
	t        *testing.T
	ekPublic []byte
	akPublic []byte
	mu       sync.Mutex
	nonces   map[string][]byte
	got      []*attest.Evidence
	pcrs     []int // asked for; nil: 14 and 16
}

func (f *fakeVerifier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case attest.PathChallenge:
		n := attest.Node{Kind: r.URL.Query().Get("kind"), ID: r.URL.Query().Get("id")}
		nonce := make([]byte, attest.NonceSize)
		rand.Read(nonce)
		name, _, err := tpm.AKName(f.akPublic)
		if err != nil {
			f.t.Error(err)
		}
		blob, secret, err := tpm.MakeCredential(f.ekPublic, name, nonce)
		if err != nil {
			f.t.Error(err)
		}
		f.mu.Lock()
		f.nonces[n.ID] = nonce
		f.mu.Unlock()
		pcrs := f.pcrs
		if pcrs == nil {
			pcrs = []int{14, 16}
		}
		httpx.WriteJSON(w, 200, attest.Challenge{Node: n, CredentialBlob: blob, EncryptedSecret: secret, PCRs: pcrs,
			Issued: time.Now(), Expires: time.Now().Add(time.Minute)})
	case attest.PathEvidence:
		ev, err := attest.DecodeEvidence(r.Body)
		if err != nil {
			f.t.Errorf("agent's evidence does not decode strictly: %v", err)
			httpx.WriteJSON(w, 400, map[string]any{"error": map[string]string{"code": "bad_request", "message": err.Error()}})
			return
		}
		f.mu.Lock()
		nonce := f.nonces[ev.ID]
		f.got = append(f.got, ev)
		f.mu.Unlock()
		_, ak, _ := tpm.AKName(f.akPublic)
		v := attest.Verdict{Node: ev.Node, Status: attest.Attested, Time: time.Now()}
		if err := tpm.VerifyQuote(ak, &ev.Quote, nonce); err != nil {
			v.Status, v.Reason, v.Message = attest.Failed, attest.ReasonBadSignature, err.Error()
		} else if err := tpm.CheckReplay(ev.EventLog, []int{14, 16}, ev.Quote.PCRs); err != nil {
			v.Status, v.Reason, v.Message = attest.Failed, attest.ReasonLogReplay, err.Error()
		}
		httpx.WriteJSON(w, 200, v)
	default:
		http.NotFound(w, r)
	}
}

func TestAgentAnswersAttestationChallenge(t *testing.T) {
	state := t.TempDir()
	h := startDev(t, state)
	svc := h.svc
	// What enrolment leaves behind: the AK blob and central.json.
	ak, err := svc.tpm.LoadOrCreateKey(ctx, filepath.Join(state, AKFile), tpm.AttestationKey)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := svc.tpm.EndorsementKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fv := &fakeVerifier{t: t, ekPublic: ek.PublicArea(), akPublic: ak.PublicArea(), nonces: map[string][]byte{}}
	srv := httptest.NewServer(fv)
	defer srv.Close()
	devs := []string{"TFA000000001"}
	b, _ := json.Marshal(CentralEnrolment{URL: srv.URL, VendorID: "ACME", Devices: devs})
	if err := os.WriteFile(filepath.Join(state, CentralFile), b, 0o600); err != nil {
		t.Fatal(err)
	}

	vs, err := svc.Attest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Status != attest.Attested {
		t.Fatalf("verdicts %+v", vs)
	}
	// The log explains PCR 14 with the firmware bridge's measurement of
	// each emulated fingerprint module, in the documented format.
	ev := fv.got[0]
	fw := 0
	for _, e := range ev.EventLog {
		if e.PCR == tpm.PCRFirmware && e.Type == firmware.EventType {
			fe, err := attest.ParseFirmwareEvent(e.Data)
			if err != nil {
				t.Fatal(err)
			}
			if fe.Firmware != "1.0.0" {
				t.Fatalf("measured firmware %q, want the emulator's 1.0.0", fe.Firmware)
			}
			fw++
		}
	}
	if fw == 0 {
		t.Fatalf("no firmware-bridge measurement in the event log %+v", ev.EventLog)
	}
	// The saved log is the one answered with.
	saved, err := os.ReadFile(filepath.Join(state, EventLogFile))
	if err != nil {
		t.Fatal(err)
	}
	var evs []tpm.Event
	if err := json.Unmarshal(saved, &evs); err != nil || len(evs) != len(ev.EventLog) {
		t.Fatalf("saved log: %d events (%v), answered with %d", len(evs), err, len(ev.EventLog))
	}
	// A measurement made behind the log's back (not through it) makes the
	// log fail to replay: the verifier sees the PCR is unexplained.
	if _, err := svc.tpm.Measure(ctx, tpm.PCRFirmware, []byte("unlogged firmware")); err != nil {
		t.Fatal(err)
	}
	vs, err = svc.Attest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Status != attest.Failed || vs[0].Reason != attest.ReasonLogReplay {
		t.Fatalf("after an unlogged extend: %+v", vs[0])
	}
}
