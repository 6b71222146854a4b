package agent

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Issue #17: the agent sends the platform's TCG boot log (Options.BootLog,
// serve --boot-log) with a quote that covers PCRs 0–7; a platform without
// one (the file is missing) sends none and still attests; "none" never
// sends it; a quote without PCRs 0–7 carries no log.
func TestAgentSendsBootLog(t *testing.T) {
	state := t.TempDir()
	h := startDev(t, state)
	svc := h.svc
	ak, err := svc.tpm.LoadOrCreateKey(ctx, filepath.Join(state, AKFile), tpm.AttestationKey)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := svc.tpm.EndorsementKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fv := &fakeVerifier{t: t, ekPublic: ek.PublicArea(), akPublic: ak.PublicArea(), nonces: map[string][]byte{},
		pcrs: []int{0, 1, 2, 3, 4, 5, 6, 7, 14, 16}}
	srv := httptest.NewServer(fv)
	defer srv.Close()
	b, _ := json.Marshal(CentralEnrolment{URL: srv.URL, VendorID: "ACME", Devices: []string{"TFA000000001"}})
	if err := os.WriteFile(filepath.Join(state, CentralFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(t.TempDir(), "binary_bios_measurements")
	platformLog := []byte("\x00\x00\x00\x00\x03\x00\x00\x00 a TCG log as securityfs serves it")
	if err := os.WriteFile(logFile, platformLog, 0o600); err != nil {
		t.Fatal(err)
	}
	round := func(path string) *attest.Evidence {
		t.Helper()
		svc.bootLog = attest.BootLogFile(path)
		fv.got = nil
		vs, err := svc.Attest(ctx)
		if err != nil || len(vs) != 1 || vs[0].Status != attest.Attested {
			t.Fatalf("path %q: verdicts %+v, %v", path, vs, err)
		}
		return fv.got[0]
	}
	if ev := round(logFile); !bytes.Equal(ev.BootLog, platformLog) {
		t.Fatalf("sent boot log %q, want the file's %q", ev.BootLog, platformLog)
	}
	if ev := round(filepath.Join(t.TempDir(), "absent")); ev.BootLog != nil {
		t.Fatalf("no file, yet a boot log was sent: %q", ev.BootLog)
	}
	if ev := round(attest.NoBootLog); ev.BootLog != nil {
		t.Fatalf("--boot-log none, yet a boot log was sent: %q", ev.BootLog)
	}
	fv.pcrs = nil // PCRs 14 and 16 only: the log explains nothing asked
	if ev := round(logFile); ev.BootLog != nil {
		t.Fatalf("a quote without PCRs 0-7 carried a boot log")
	}
	// A file over the bound is an error, not a truncated log.
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, make([]byte, attest.MaxBootLog+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := attest.BootLogFile(big)(); err == nil {
		t.Fatal("an oversized boot log was read")
	}
}
