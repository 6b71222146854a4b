package appliance

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/httpx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// The appliance answers central's challenge with a quote under its enrolled
// AK; the fake central checks it as central/attestation does (signature,
// nonce, PCR digest, empty log replayed to PCRs 14 and 16).
func TestApplianceAnswersAttestationChallenge(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Start(ctx, Config{State: dir, Listen: "127.0.0.1:0", TPM: "sim", ID: "EDGE-A"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ak, err := a.keys.TPM.LoadOrCreateKey(ctx, filepath.Join(dir, tpmkey.AKFile), tpm.AttestationKey)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := a.keys.TPM.EndorsementKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, tpmkey.IDFile), []byte("EDGE-A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var nonce []byte
	var got *attest.Evidence
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case attest.PathChallenge:
			if r.URL.Query().Get("kind") != attest.KindAppliance || r.URL.Query().Get("id") != "EDGE-A" {
				t.Errorf("challenge asked for %s", r.URL.RawQuery)
			}
			nonce = make([]byte, attest.NonceSize)
			rand.Read(nonce)
			name, _, _ := tpm.AKName(ak.PublicArea())
			blob, secret, err := tpm.MakeCredential(ek.PublicArea(), name, nonce)
			if err != nil {
				t.Error(err)
			}
			httpx.WriteJSON(w, 200, attest.Challenge{Node: attest.Node{Kind: attest.KindAppliance, ID: "EDGE-A"},
				CredentialBlob: blob, EncryptedSecret: secret, PCRs: []int{14, 16}, Expires: time.Now().Add(time.Minute)})
		case attest.PathEvidence:
			ev, err := attest.DecodeEvidence(r.Body)
			if err != nil {
				t.Error(err)
				return
			}
			got = ev
			v := attest.Verdict{Node: ev.Node, Status: attest.Attested}
			if err := tpm.VerifyQuote(ak.Public(), &ev.Quote, nonce); err != nil {
				v.Status, v.Reason = attest.Failed, attest.ReasonBadSignature
			} else if err := tpm.CheckReplay(ev.EventLog, []int{14, 16}, ev.Quote.PCRs); err != nil {
				v.Status, v.Reason = attest.Failed, attest.ReasonLogReplay
			}
			httpx.WriteJSON(w, 200, v)
		}
	}))
	defer srv.Close()
	a.cfg.Central = srv.URL

	v, err := a.Attest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v.Status != attest.Attested || got == nil || len(got.EventLog) != 0 {
		t.Fatalf("verdict %+v, evidence %+v", v, got)
	}
	// Something extends the debug PCR behind the appliance's back: the
	// empty log no longer explains the quote.
	if _, err := a.keys.TPM.Measure(ctx, tpm.PCRDebug, []byte("debug build")); err != nil {
		t.Fatal(err)
	}
	if v, err = a.Attest(ctx); err != nil || v.Status != attest.Failed || v.Reason != attest.ReasonLogReplay {
		t.Fatalf("after a debug extend: %+v %v", v, err)
	}
}
