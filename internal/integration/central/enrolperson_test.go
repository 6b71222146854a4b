package centralint

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/agent/devpki"
	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/central/store"
	"github.com/edgetrust/edgetrust/internal/biometric/match"
	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/internal/feed/recordfeed"
	"github.com/edgetrust/edgetrust/internal/feed/trustfeed"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/records/vid"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// Devices of the registration agent.
const (
	regSlap     = "ACME-FR-1" // finger slap, Registration, enrolled with central
	regAuth     = "ACME-FA-1" // finger single, Auth, enrolled with central
	regUnknown  = "ACME-FX-1" // finger slap, Registration, never enrolled
	regAuthSite = "https://appliance.example.org"
)

// regAgent is a real edgetrust agent, in-process on its own swtpm, whose
// devices regSlap and regAuth are enrolled with the harness's central under
// vendor ACME. regUnknown runs on the agent's --dev PKI seeded with ACME's
// provider CA: its answers chain to an active vendor, but central's registry
// has never heard of it.
type regAgent struct {
	svc    *agent.Service
	state  string
	client *client.Client
}

func startRegAgent(t *testing.T, h *harness) *regAgent {
	t.Helper()
	sw := enroltest.StartSwtpm(t)
	state := t.TempDir()
	ca := h.vendorCA("ACME")
	kder, err := x509.MarshalPKCS8PrivateKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	pkiDir := filepath.Join(state, "dev-pki")
	os.MkdirAll(pkiDir, 0o700)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	for name, b := range map[string][]byte{
		devpki.ProviderCACert: pki.CertPEM(ca.Cert), devpki.ProviderCAKey: keyPEM,
		devpki.FTMCACert: pki.CertPEM(ca.Cert), devpki.FTMCAKey: keyPEM,
	} {
		if err := os.WriteFile(filepath.Join(pkiDir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	dev := func(id, sub, purpose string) agent.DeviceConfig {
		return agent.DeviceConfig{ID: id, Type: sbi.TypeFinger, SubType: sub, Purpose: purpose, Make: "Acme", Model: "F" + sub, Sensor: "emulated"}
	}
	cfg := agent.Config{State: state, TPM: sw.URL, Dev: true, Provider: "Acme Biometrics", ProviderID: "ACME",
		Devices: []agent.DeviceConfig{dev(regSlap, "Slap", sbi.PurposeRegistration), dev(regAuth, "Single", sbi.PurposeAuth),
			dev(regUnknown, "Slap", sbi.PurposeRegistration)}}
	ek, err := agent.ShowEK(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.ek.Allow[ek.Fingerprint] = true
	h.setEK()
	if _, err := agent.Enrol(ctx, cfg, agent.EnrolOptions{Central: h.srv.URL, Token: h.deviceToken("ACME"), Devices: []string{regSlap, regAuth}}); err != nil {
		t.Fatal(err)
	}
	svc, err := agent.Start(ctx, cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &regAgent{svc: svc, state: state, client: &client.Client{PortMin: svc.Port(), PortMax: svc.Port()}}
}

// rcapture puts synthetic person seed's fingers on dev and returns its
// RCAPTURE answer for the left slap (four fingers) with the request.
func (ra *regAgent) rcapture(t *testing.T, h *harness, dev string, seed uint64) ([]byte, *sbi.CaptureRequest) {
	t.Helper()
	yes := true
	if _, err := agent.Control(ctx, ra.state, agent.ControlRequest{Op: "present", Device: dev, Present: &yes, Person: &seed, Finger: "Left IndexFinger"}); err != nil {
		t.Fatal(err)
	}
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
		// A generous timeout: these tests judge central, and a four-finger
		// slap under the race detector on a loaded 2-core machine can take
		// more than the 10 s a person would wait.
		Timeout: "60000", TransactionID: fmt.Sprintf("reg-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "4", Exception: []string{}, RequestedScore: "40", DeviceID: dev, DeviceSubID: "1"}}}
	resp, raw, err := ra.client.RCapture(ctx, ra.svc.Port(), req)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range resp.Biometrics {
		if b.Error.Code != "0" {
			t.Fatalf("the agent's RCAPTURE failed (entry %d: %s %s), not what this test is about", i, b.Error.Code, b.Error.Info)
		}
	}
	h.clock.set(time.Now().UTC())
	return raw, req
}

// capture is an Auth CAPTURE answer of regAuth.
func (ra *regAgent) capture(t *testing.T, h *harness, seed uint64) []byte {
	t.Helper()
	yes := true
	if _, err := agent.Control(ctx, ra.state, agent.ControlRequest{Op: "present", Device: regAuth, Present: &yes, Person: &seed, Finger: "Left IndexFinger"}); err != nil {
		t.Fatal(err)
	}
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "60000", DomainURI: regAuthSite, TransactionID: fmt.Sprintf("auth-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{sbi.SubtypeUnknown}, RequestedScore: "40", DeviceID: regAuth, DeviceSubID: "0"}}}
	_, raw, err := ra.client.Capture(ctx, ra.svc.Port(), req)
	if err != nil {
		t.Fatal(err)
	}
	h.clock.set(time.Now().UTC())
	return raw
}

var asha = map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01", "phone": "+911234567890"}

// peopleSnapshot is snapshot plus the people, VIDs and a records feed.
type peopleSnapshot struct {
	snapshot
	people  int
	records uint64
}

func (h *harness) peopleSnapshot(appliance string) peopleSnapshot {
	h.t.Helper()
	s := peopleSnapshot{snapshot: h.snapshot(), records: feedSize(h.t, h, recordfeed.FeedName(appliance))}
	h.st.View(ctx, func(tx store.Tx) error {
		for _, g := range []string{central.DefaultGroup, "north"} {
			ps, err := tx.People(ctx, g, "", 0)
			if err != nil {
				h.t.Fatal(err)
			}
			s.people += len(ps)
		}
		return nil
	})
	return s
}

func TestEnrolPersonFromRealCaptures(t *testing.T) {
	h := newHarness(t)
	a1 := enrolTestAppliance(t, h, "EDGE-1")
	enrolTestAppliance(t, h, "EDGE-2")
	if _, err := h.c.SetApplianceGroup(ctx, h.admin, "EDGE-2", "north"); err != nil {
		t.Fatal(err)
	}
	ra := startRegAgent(t, h)
	raw, _ := ra.rcapture(t, h, regSlap, 7)
	t.Logf("RCAPTURE answer of a 4-finger slap: %d bytes", len(raw))

	out, err := h.c.EnrolPerson(ctx, h.admin, &central.PersonRequest{Demographics: asha, Captures: []json.RawMessage{raw}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.UIN) != 10 || strings.Trim(out.UIN, "0123456789") != "" || out.UIN[0] < '2' {
		t.Errorf("UIN %q: want 10 digits", out.UIN)
	}
	if err := vid.Validate(out.VID); err != nil || out.VIDKind != "perpetual" || !out.VIDExpires.IsZero() || out.Group != central.DefaultGroup {
		t.Errorf("first VID: %+v %v", out, err)
	}
	if len(out.Templates) != 4 {
		t.Fatalf("templates %v: want the four fingers of the left slap", out.Templates)
	}

	// EDGE-1 (group default) gets the record, sealed to it and signed with
	// the feed key; EDGE-2 (group north) gets nothing.
	_, recs := a1.ops(t, h, 0)
	if len(recs) != 1 {
		t.Fatalf("EDGE-1 got %d records, want 1", len(recs))
	}
	r := recs[0]
	if r.UIN != out.UIN || r.VID != out.VID || r.VIDKind != "perpetual" || r.Demographics["fullName"] != "Asha Rao" || len(r.TokenSeed) != recordfeed.TokenSeedLen {
		t.Fatalf("record: %+v", r)
	}
	if len(r.Biometrics) != 4 {
		t.Fatalf("record holds %d biometrics, want 4", len(r.Biometrics))
	}
	for _, b := range r.Biometrics {
		var tpl match.Template
		if b.Type != sbi.TypeFinger || b.Format != recordfeed.TemplateMCC || tpl.UnmarshalBinary(b.Data) != nil || len(tpl.Minutiae) < central.EnrolMinMinutiae {
			t.Errorf("biometric %s %s (%s): not an MCC template with at least %d minutiae (%d)", b.Type, b.SubType, b.Format, central.EnrolMinMinutiae, len(tpl.Minutiae))
		}
		t.Logf("%s: %d minutiae, quality %d, template %d bytes", b.SubType, len(tpl.Minutiae), b.Quality, len(b.Data))
	}
	if n := feedSize(t, h, recordfeed.FeedName("EDGE-2")); n != 0 {
		t.Fatalf("EDGE-2 (group north) got %d records-feed entries", n)
	}

	// The admin view names the templates but carries none of them; the
	// stored person is sealed; the audit log names neither the UIN nor the
	// VID nor any demographic.
	pv, err := h.c.Person(ctx, out.UIN)
	if err != nil {
		t.Fatal(err)
	}
	pj, _ := json.Marshal(pv)
	if len(pv.Templates) != 4 || bytes.Contains(pj, []byte(base64.StdEncoding.EncodeToString(r.Biometrics[0].Data[:32]))) {
		t.Errorf("person view: %s", pj)
	}
	h.st.View(ctx, func(tx store.Tx) error {
		p, err := tx.Person(ctx, out.UIN)
		if err != nil {
			t.Fatal(err)
		}
		sj, _ := json.Marshal(p)
		if bytes.Contains(sj, []byte("Asha")) || bytes.Contains(sj, []byte("1990-04-01")) {
			t.Error("demographics stored in the clear")
		}
		return nil
	})
	rows, _ := h.c.Audit(ctx, store.AuditFilter{})
	aj, _ := json.Marshal(rows)
	for _, s := range []string{out.UIN, out.VID, "Asha", "1990-04-01", "+911234567890"} {
		if bytes.Contains(aj, []byte(s)) {
			t.Errorf("the audit log holds %q", s)
		}
	}
	if !bytes.Contains(aj, []byte("person.enrol")) || !bytes.Contains(aj, []byte(regSlap)) {
		t.Error("the enrolment is not audited with the device that captured it")
	}

	// Over HTTP, with the request beside the answer (counts and the hash
	// chain's start are then checked against it), a temporary first VID and
	// group north: only EDGE-2 hears of it.
	raw2, req2 := ra.rcapture(t, h, regSlap, 8)
	env, _ := json.Marshal(map[string]any{"request": req2, "response": json.RawMessage(raw2)})
	s1 := feedSize(t, h, recordfeed.FeedName("EDGE-1"))
	var out2 central.PersonEnrolled
	code := h.adminPost(t, "/v1/admin/people", map[string]any{"demographics": map[string]string{"fullName": "Ravi Kumar"},
		"captures": []json.RawMessage{env}, "group": "north", "vidKind": "temporary"}, &out2)
	if code != http.StatusOK || out2.UIN == out.UIN || out2.VIDKind != "temporary" || out2.VIDExpires.IsZero() || out2.Group != "north" {
		t.Fatalf("HTTP enrolment: %d %+v", code, out2)
	}
	if feedSize(t, h, recordfeed.FeedName("EDGE-1")) != s1 || feedSize(t, h, recordfeed.FeedName("EDGE-2")) != 1 {
		t.Fatal("a group-north enrolment must reach EDGE-2 only")
	}
	// The request must match the answer.
	req2.Bio[0].Count = "2"
	env, _ = json.Marshal(map[string]any{"request": req2, "response": json.RawMessage(raw2)})
	if _, err := h.c.EnrolPerson(ctx, h.admin, &central.PersonRequest{Demographics: asha, Captures: []json.RawMessage{env}}); err == nil {
		t.Error("an answer that does not match its request was enrolled")
	}
}

// adminPost posts JSON to the admin API and decodes the answer.
func (h *harness) adminPost(t *testing.T, path string, body, out any) int {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+h.token)
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	if rsp.StatusCode == http.StatusOK {
		json.NewDecoder(rsp.Body).Decode(out)
	} else {
		var e struct{ Error *enrol.Error }
		json.NewDecoder(rsp.Body).Decode(&e)
		t.Logf("POST %s: %d %+v", path, rsp.StatusCode, e.Error)
	}
	return rsp.StatusCode
}

func TestEnrolPersonRefusals(t *testing.T) {
	h := newHarness(t)
	enrolTestAppliance(t, h, "EDGE-1")
	ra := startRegAgent(t, h)
	good, _ := ra.rcapture(t, h, regSlap, 11)

	refuse := func(what, code string, q *central.PersonRequest) {
		t.Helper()
		before := h.peopleSnapshot("EDGE-1")
		_, err := h.c.EnrolPerson(ctx, h.admin, q)
		var e *enrol.Error
		if !errors.As(err, &e) || (code != "" && e.Code != code) {
			t.Errorf("%s: %v, want a refusal with code %q", what, err, code)
		} else {
			t.Logf("%s: %s (%s)", what, e.Message, e.Code)
			for _, s := range []string{"Asha", "1990-04-01"} {
				if strings.Contains(e.Message, s) {
					t.Errorf("%s: the error names %q", what, s)
				}
			}
		}
		if after := h.peopleSnapshot("EDGE-1"); after != before {
			t.Errorf("%s: a refused enrolment wrote %+v (before %+v)", what, after, before)
		}
	}
	one := func(raw []byte) *central.PersonRequest {
		return &central.PersonRequest{Demographics: asha, Captures: []json.RawMessage{raw}}
	}

	// A signature that does not verify.
	var m map[string]any
	json.Unmarshal(good, &m)
	bio := m["biometrics"].([]any)[0].(map[string]any)
	data := bio["data"].(string)
	i := strings.LastIndexByte(data, '.') + 5
	flip := byte('A')
	if data[i] == 'A' {
		flip = 'B'
	}
	bio["data"] = data[:i] + string(flip) + data[i+1:]
	bad, _ := json.Marshal(m)
	refuse("bad signature", "capture_invalid", one(bad))

	// An authentication capture of an enrolled device.
	refuse("purpose Auth", enrol.CodeBadRequest, one(ra.capture(t, h, 11)))

	// A device whose certificate chains to ACME's provider CA but that
	// central never enrolled.
	unknown, _ := ra.rcapture(t, h, regUnknown, 11)
	refuse("unknown device", "device_unknown", one(unknown))

	// Too old for the default window; accepted with a wider one.
	h.clock.Add(central.EnrolCaptureMaxAge + time.Hour)
	refuse("stale capture", "capture_invalid", one(good))

	// Bounds.
	many := make([]json.RawMessage, central.MaxEnrolCaptures+1)
	for i := range many {
		many[i] = good
	}
	refuse("too many captures", enrol.CodeBadRequest, &central.PersonRequest{Demographics: asha, Captures: many})
	big := make([]json.RawMessage, 0, central.MaxEnrolCaptures)
	for len(big) < central.MaxEnrolCaptures {
		big = append(big, json.RawMessage(`{"biometrics": [], "pad": "`+strings.Repeat("x", central.MaxCaptureBytes/central.MaxEnrolCaptures)+`"}`))
	}
	refuse("too many bytes", enrol.CodeBadRequest, &central.PersonRequest{Demographics: asha, Captures: big})
	refuse("no demographics", enrol.CodeBadRequest, &central.PersonRequest{Captures: []json.RawMessage{good}})
	refuse("bad attribute name", enrol.CodeBadRequest, &central.PersonRequest{Demographics: map[string]string{"full name": "x"}, Captures: []json.RawMessage{good}})
	refuse("bad group", enrol.CodeBadRequest, &central.PersonRequest{Demographics: asha, Group: "no such/group", Captures: []json.RawMessage{good}})
	refuse("bad VID kind", enrol.CodeBadRequest, &central.PersonRequest{Demographics: asha, VIDKind: "forever", Captures: []json.RawMessage{good}})

	// A revoked device, and a device whose vendor is suspended.
	fresh, _ := ra.rcapture(t, h, regSlap, 12)
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", central.StatusChange{Status: trustfeed.Suspended, Reason: "audit"}); err != nil {
		t.Fatal(err)
	}
	refuse("vendor suspended", "", one(fresh))
	if _, err := h.c.SetVendorStatus(ctx, h.admin, "ACME", central.StatusChange{Status: trustfeed.Active}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.SetDeviceStatus(ctx, h.admin, []string{regSlap}, central.StatusChange{Status: trustfeed.Revoked, Reason: "stolen"}); err != nil {
		t.Fatal(err)
	}
	refuse("revoked device", "device_not_active", one(fresh))
	// The same check runs again inside the enrolment's transaction, for a
	// revocation between verification and the write: central's
	// TestRecheckSigners.
	if _, err := h.c.SetDeviceStatus(ctx, h.admin, []string{regSlap}, central.StatusChange{Status: trustfeed.Active, Reason: "found", UndoRevocation: true}); err != nil {
		t.Fatal(err)
	}

	// After a key rotation, answers signed with the old key are refused.
	if _, err := ra.svc.RotateKey(ctx, regSlap); err != nil {
		t.Fatal(err)
	}
	refuse("retired device key", "device_key_retired", one(fresh))
	// The same answer, fresh, reinstated device, new key: enrolled. And an
	// old capture goes through when central allows older captures.
	if _, err := h.c.EnrolPerson(ctx, h.admin, one(ra.mustRCapture(t, h, 13))); err != nil {
		t.Fatalf("a good capture after the refusals: %v", err)
	}
	old, _ := ra.rcapture(t, h, regSlap, 14)
	h.clock.Add(30 * time.Hour)
	refuse("30 h old", "capture_invalid", one(old))
	for _, bad := range []time.Duration{-time.Hour, central.MaxCaptureMaxAge + time.Hour} {
		if _, err := central.New(central.Config{Store: h.st, Keys: h.keys, CaptureMaxAge: bad, SweepInterval: -1}); err == nil {
			t.Errorf("New accepted a capture max age of %s", bad)
		}
	}
	wide, err := central.New(central.Config{Store: h.st, Keys: h.keys, Now: h.clock.Now, CaptureMaxAge: 48 * time.Hour, SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer wide.Close()
	h.c = wide
	if _, err := h.c.EnrolPerson(ctx, h.admin, one(old)); err != nil {
		t.Fatalf("a 30 h old capture with a 48 h window: %v", err)
	}
}

func (ra *regAgent) mustRCapture(t *testing.T, h *harness, seed uint64) []byte {
	raw, _ := ra.rcapture(t, h, regSlap, seed)
	return raw
}
