package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// The --dev agent's sensors, by modality.
var (
	regDevice  = map[string]string{sbi.TypeFinger: "ETFR000000001", sbi.TypeIris: "ETIR000000001", sbi.TypeFace: "ETCR000000001"}
	authDevice = map[string]string{sbi.TypeFinger: "ETFA000000001", sbi.TypeIris: "ETIA000000001", sbi.TypeFace: "ETCA000000001"}
)

// TestIrisFaceAuthEndToEnd is issue #18's acceptance test with real
// processes: a synthetic person is enrolled at central from RCAPTUREs of a
// left slap, both eyes and the face; the appliance, offline from the
// agent's point of view, authenticates fresh captures of that person by
// each modality alone and by all three at once; another person is refused
// by each; an iris or face capture for a person enrolled with fingers only
// is refused as having no template of that modality, never compared with
// a finger template.
func TestIrisFaceAuthEndToEnd(t *testing.T) {
	sw := enroltest.StartSwtpm(t)
	root := t.TempDir()
	w := &authWorld{world: &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central"), aState: filepath.Join(root, "agent"), pState: filepath.Join(root, "appliance")},
		sw: sw, root: root, rpKeys: map[string]string{}, rpClients: map[string]*http.Client{}, enrolled: map[uint64]enrolledPerson{}}
	w.setUp()
	w.run("edgetrust-central", "rp", "add", "--id", "kiosk-m", "--name", "Kiosk M", "--auth-type", "bio-Finger",
		"--auth-type", "bio-Iris", "--auth-type", "bio-Face", "--auth-type", "demo")
	w.rpKeys["kiosk-m"] = strings.TrimSpace(w.run("edgetrust-central", "rp", "key", "add", "--id", "kiosk-m"))
	w.rpClients["kiosk-m"] = rpClient(t, w.env, root, "kiosk-m")

	// Person 7: fingers, eyes and face. Person 8: fingers only.
	w.presentAll(7)
	var caps []string
	for _, c := range []struct {
		typ          string
		count, subID int
	}{{sbi.TypeFinger, 4, 1}, {sbi.TypeIris, 2, 3}, {sbi.TypeFace, 1, 0}} {
		req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
			Timeout: "10000", TransactionID: fmt.Sprintf("reg-%d", time.Now().UnixNano()),
			Bio: []sbi.BioRequest{{Type: c.typ, Count: sbi.NumString(fmt.Sprint(c.count)), RequestedScore: "40",
				DeviceID: regDevice[c.typ], DeviceSubID: sbi.NumString(fmt.Sprint(c.subID))}}}
		_, raw, err := (&client.Client{}).RCapture(context.Background(), w.agentPort, req)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(root, "rcapture-7-"+c.typ+".json")
		os.WriteFile(f, raw, 0o600)
		caps = append(caps, "--capture", f)
	}
	demo := filepath.Join(root, "demo-7.json")
	os.WriteFile(demo, []byte(`{"fullName": "Asha Rao"}`), 0o600)
	out := w.run("edgetrust-central", append([]string{"person", "enrol", "--demographics", demo, "--json"}, caps...)...)
	var asha enrolledPerson
	if err := json.Unmarshal([]byte(out), &asha); err != nil || asha.VID == "" {
		t.Fatalf("person enrol printed %q: %v", out, err)
	}
	w.enrolPerson(8, map[string]string{"fullName": "Binod Kumar"})
	binod := w.enrolled[8]

	w.startApplianceWithRecords()
	w.waitAuth("records reach the appliance", asha.VID, func(a authAnswer) bool { return a.Decision.AuthStatus },
		"kiosk-m", map[string]any{"demographics": map[string]string{"fullName": "Asha Rao"}})

	// Each modality alone authenticates the enrolled person.
	w.presentAll(7)
	for _, typ := range []string{sbi.TypeFinger, sbi.TypeIris, sbi.TypeFace} {
		if a := w.modalAuth("kiosk-m", asha.VID, typ); !a.Decision.AuthStatus || a.Decision.AuthToken == "" {
			t.Fatalf("person 7's own %s: %+v", typ, a.Decision)
		}
	}
	// All three in one request (every one must match).
	if a := w.modalAuth("kiosk-m", asha.VID, sbi.TypeFinger, sbi.TypeIris, sbi.TypeFace); !a.Decision.AuthStatus {
		t.Fatalf("finger + iris + face of person 7: %+v", a.Decision)
	}
	// A relying party allowed fingerprints only may not use the iris.
	if a := w.modalAuth("kiosk-a", asha.VID, sbi.TypeIris); a.Decision.AuthStatus || !a.has("rp-auth-type-not-allowed") {
		t.Fatalf("iris from a fingerprint-only relying party: %+v", a.Decision)
	}

	// An impostor (person 9, never enrolled) is refused by each modality.
	w.presentAll(9)
	for _, typ := range []string{sbi.TypeFinger, sbi.TypeIris, sbi.TypeFace} {
		if a := w.modalAuth("kiosk-m", asha.VID, typ); a.Decision.AuthStatus || !a.has("bio-mismatch") {
			t.Fatalf("person 9's %s for person 7: %+v", typ, a.Decision)
		}
	}

	// Person 8 has finger templates only: an iris or a face is refused as
	// having no template of its modality, not compared with the fingers.
	w.presentAll(8)
	for _, typ := range []string{sbi.TypeIris, sbi.TypeFace} {
		a := w.modalAuth("kiosk-m", binod.VID, typ)
		if a.Decision.AuthStatus || !a.has("bio-no-template") || !strings.Contains(a.Decision.Errors[0].Message, "no "+strings.ToLower(typ)+" template") {
			t.Fatalf("%s for a fingers-only record: %+v", typ, a.Decision)
		}
	}
	if a := w.modalAuth("kiosk-m", binod.VID, sbi.TypeFinger); !a.Decision.AuthStatus {
		t.Fatalf("person 8's own finger: %+v", a.Decision)
	}
}

// presentAll puts synthetic person seed before every emulated sensor.
func (w *authWorld) presentAll(seed uint64) {
	for _, typ := range []string{sbi.TypeFinger, sbi.TypeIris, sbi.TypeFace} {
		for _, dev := range []string{regDevice[typ], authDevice[typ]} {
			args := []string{"present", "--state", w.aState, "--device", dev, "--present=true", "--person", fmt.Sprint(seed)}
			if typ == sbi.TypeFinger {
				args = append(args, "--finger", "Left IndexFinger")
			}
			w.run("edgetrust-agent", args...)
		}
	}
}

// modalAuth captures fresh auth samples of typs (one CAPTURE per
// modality) for one transaction and asks the appliance to authenticate
// them; one capture is sent as an object, several as an array.
func (w *authWorld) modalAuth(rp, vid string, typs ...string) authAnswer {
	w.t.Helper()
	body := w.request(vid, map[string]any{"requestedAuth": map[string]bool{"bio": true}})
	txn := body["transactionId"].(string)
	var caps []json.RawMessage
	for _, typ := range typs {
		b := sbi.BioRequest{Type: typ, Count: "1", RequestedScore: "40", DeviceID: authDevice[typ], DeviceSubID: "0"}
		if typ != sbi.TypeFace {
			b.BioSubType = []string{"UNKNOWN"}
		}
		req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
			Timeout: "10000", DomainURI: "https://appliance.example.org", TransactionID: txn, Bio: []sbi.BioRequest{b}}
		_, raw, err := (&client.Client{}).Capture(context.Background(), w.agentPort, req)
		if err != nil {
			w.t.Fatal(err)
		}
		caps = append(caps, raw)
	}
	if len(caps) == 1 {
		body["biometrics"] = caps[0]
	} else {
		body["biometrics"] = caps
	}
	return w.auth(rp, body)
}
