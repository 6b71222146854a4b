package central

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// The whole loop over HTTP on a real swtpm: a device enrolled with TPM
// attestation answers central's challenge; after a re-flash its next answer
// fails, the device is quarantined on the trust feed, and an admin lifts the
// quarantine through the API (audited).
func TestAttestationOverHTTP(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t, "SN-A")
	h.allow(a)
	if _, err := a.prover().EnrolDevices(ctx, h.client, h.deviceToken("ACME"), a.devs); err != nil {
		t.Fatal(err)
	}
	log := tpm.NewEventLog(a.tpm)
	good := firmware.Measure(firmware.Report{Firmware: "1.2.0"})
	if err := good.Extend(ctx, log, tpm.PCRFirmware); err != nil {
		t.Fatal(err)
	}
	code, body := h.do(t, "PUT", "/v1/admin/attest-policies/ACME", h.token, map[string]any{
		"minFirmware": "1.0.0", "firmware": []map[string]string{{"digest": good.Hex(), "version": "1.2.0"}}})
	if code != http.StatusOK || body["version"] != 1.0 || body["updatedBy"] != "admin:"+h.admin.TokenID {
		t.Fatalf("set policy: %d %v", code, body)
	}
	cl := &attestation.Client{URL: h.srv.URL}
	p := &attestation.Prover{TPM: a.tpm, AK: a.ak, Log: log}
	n := attestation.Node{Kind: attestation.KindDevice, ID: "SN-A"}
	v, err := cl.Round(ctx, p, n)
	if err != nil || v.Status != attestation.Attested || v.PolicyVersion != 1 {
		t.Fatalf("round 1: %+v %v", v, err)
	}
	code, body = h.do(t, "GET", "/v1/admin/attest/device/SN-A", h.token, nil)
	if code != http.StatusOK || body["state"] != attestation.Attested {
		t.Fatalf("status: %d %v", code, body)
	}
	// Not due again until the next round.
	if _, err := cl.Challenge(ctx, n); err == nil {
		t.Fatal("a second challenge within the interval")
	}

	// Re-flashed: the bridge measures another module into PCR 14.
	if err := firmware.Measure(firmware.Report{Firmware: "9.9.9"}).Extend(ctx, log, tpm.PCRFirmware); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Attestation().Round(ctx); err != nil {
		t.Fatal(err)
	}
	v, err = cl.Round(ctx, p, n)
	if err != nil || v.Status != attestation.Failed || v.Reason != attestation.ReasonUnknownFW {
		t.Fatalf("round 2: %+v %v", v, err)
	}
	f := h.follower()
	var last *trustfeed.Device
	for _, e := range f.sync(t, h) {
		if e.Kind == trustfeed.KindDevice {
			d, err := trustfeed.Decode(e.Kind, e.Data)
			if err != nil {
				t.Fatal(err)
			}
			last = d.(*trustfeed.Device)
		}
	}
	if last == nil || last.Serial != "SN-A" || last.Status != trustfeed.Suspended || !strings.HasPrefix(last.Reason, "attestation-failed: unknown-firmware") {
		t.Fatalf("trust feed's last device entry: %+v", last)
	}

	code, body = h.do(t, "GET", "/v1/admin/attest", h.token, nil)
	nodes, _ := body["nodes"].([]any)
	if code != http.StatusOK || len(nodes) != 1 || nodes[0].(map[string]any)["state"] != attestation.Failed {
		t.Fatalf("list: %d %v", code, body)
	}
	if code, _ := h.do(t, "POST", "/v1/admin/attest/device/SN-A/release", "", map[string]string{"reason": "x"}); code != http.StatusUnauthorized {
		t.Fatalf("release without a token: %d", code)
	}
	code, body = h.do(t, "POST", "/v1/admin/attest/device/SN-A/release", h.token, map[string]string{"reason": "module replaced"})
	if code != http.StatusOK || body["state"] != attestation.Pending {
		t.Fatalf("release: %d %v", code, body)
	}
	d, err := h.c.Device(ctx, "SN-A")
	if err != nil || d.Status != trustfeed.Active {
		t.Fatalf("device after release: %+v %v", d, err)
	}
	rows, err := h.c.Audit(ctx, storeAuditSubject("device:SN-A"))
	if err != nil || rows[len(rows)-1].Action != "device.release-quarantine" || rows[len(rows)-2].Action != "device.quarantine" {
		t.Fatalf("audit: %+v %v", rows, err)
	}
	if code, _ := h.do(t, "GET", "/healthz/attest", "", nil); code != http.StatusOK {
		t.Fatalf("/healthz/attest: %d with the loop running", code)
	}
}

// CVE-2022-1053: Keylime's registrar accepted an AK without checking it was
// bound to the EK, so a software "TPM" could register. Here an AK is only
// recorded once the TPM holding the EK activated a credential bound to that
// AK's Name; an AK public area made in software (claiming fixedTPM) is
// refused at registration, and the device never becomes attestable.
func TestAKNotBoundToEKRefused(t *testing.T) {
	h := newHarness(t)
	a := newAgentTPM(t, "SN-S")
	h.allow(a)
	soft, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	softAK := tpm2.Marshal(tpm2.TPMTPublic{Type: tpm2.TPMAlgRSA, NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{FixedTPM: true, FixedParent: true, SensitiveDataOrigin: true, UserWithAuth: true, Restricted: true, SignEncrypt: true},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Scheme:  tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgRSASSA, Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgRSASSA, &tpm2.TPMSSigSchemeRSASSA{HashAlg: tpm2.TPMAlgSHA256})},
			KeyBits: 2048}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: soft.N.Bytes()})})
	q, err := a.prover().StartRequest(ctx, h.deviceToken("ACME"))
	if err != nil {
		t.Fatal(err)
	}
	q.AKPublic = softAK
	sr, err := h.client.Start(ctx, q)
	if err != nil {
		t.Fatal(err) // the claim is checked by activation, below
	}
	// The TPM holding the EK cannot activate for a Name none of its keys has.
	if _, err := a.tpm.ActivateCredential(ctx, a.ak, sr.CredentialBlob, sr.EncryptedSecret); err == nil {
		t.Fatal("the TPM activated a credential bound to a software AK")
	}
	guess := make([]byte, 32)
	rand.Read(guess)
	subj := enrol.DigitalIDSubject(a.devs[0].DigitalID)
	ftm, _ := a.prover().Prove(ctx, a.devs[0].FTM, sr.Nonce, enrol.RoleFTM, subj)
	dev, _ := a.prover().Prove(ctx, a.devs[0].Device, sr.Nonce, enrol.RoleDevice, subj)
	before := h.snapshot()
	_, err = h.client.Finish(ctx, &enrol.FinishRequest{Session: sr.Session, Secret: guess,
		Devices: []enrol.DeviceRequest{{DigitalID: a.devs[0].DigitalID, FTMKey: ftm, DeviceKey: dev}}})
	h.wantRefused(t, err, enrol.CodeActivation, before)
	_, err = h.c.AttestChallenge(ctx, attestation.Node{Kind: attestation.KindDevice, ID: "SN-S"})
	var e *enrol.Error
	if !errors.As(err, &e) || e.Status != http.StatusNotFound {
		t.Fatalf("challenge for a refused device: %v", err)
	}
}
