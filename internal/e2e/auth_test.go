package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	badger "github.com/dgraph-io/badger/v4"

	applstore "github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// authAnswer is the appliance's answer to POST /v1/auth.
type authAnswer struct {
	JWS      string `json:"jws"`
	Decision struct {
		TransactionID string            `json:"transactionId"`
		AuthStatus    bool              `json:"authStatus"`
		AuthToken     string            `json:"authToken"`
		KYC           map[string]string `json:"kyc"`
		Errors        []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	} `json:"decision"`
}

func (a authAnswer) has(code string) bool {
	for _, e := range a.Decision.Errors {
		if strings.HasPrefix(e.Code, code) {
			return true
		}
	}
	return false
}

type authWorld struct {
	*world
	sw      *enroltest.Swtpm
	root    string
	feedKey string
	encCert string
	rpKeys  map[string]string
	// rpClients present each relying party's client certificate from
	// central (rp cert issue): the appliance's default --rp-auth cert+key.
	rpClients map[string]*http.Client
	enrolled  map[uint64]enrolledPerson
}

type enrolledPerson struct {
	UIN string `json:"uin"`
	VID string `json:"vid"`
}

// TestCachedRecordAuthEndToEnd is issue #6's acceptance test with real
// processes: a person is enrolled at central from the agent's RCAPTURE of a
// synthetic person's left slap; the record reaches the appliance sealed to
// its TPM key; relying parties authenticate with fresh CAPTUREs and
// demographics; revoked, used-up and locked cases are refused with their
// reasons; the audit log verifies.
func TestCachedRecordAuthEndToEnd(t *testing.T) {
	sw := enroltest.StartSwtpm(t)
	root := t.TempDir()
	w := &authWorld{world: &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central"), aState: filepath.Join(root, "agent"), pState: filepath.Join(root, "appliance")},
		sw: sw, root: root, rpKeys: map[string]string{}, rpClients: map[string]*http.Client{}, enrolled: map[uint64]enrolledPerson{}}
	w.setUp()

	// Enrol two synthetic people from registration slaps of their left hand.
	w.enrolPerson(7, map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1990-04-01", "gender": "F", "phone": "+91 98450 00007"})
	w.enrolPerson(8, map[string]string{"fullName": "Binod Kumar", "dateOfBirth": "1985-11-30", "gender": "M"})
	asha, binod := w.enrolled[7], w.enrolled[8]

	w.startApplianceWithRecords()
	w.waitAuth("records reach the appliance", asha.VID, func(a authAnswer) bool { return a.Decision.AuthStatus },
		"kiosk-a", map[string]any{"demographics": map[string]string{"fullName": "asha  rao"}})

	// Fresh CAPTURE of the enrolled finger: success with kiosk-a's token ID.
	w.present(7, "Left IndexFinger")
	a := w.bioAuth("kiosk-a", asha.VID, nil)
	if !a.Decision.AuthStatus || a.Decision.AuthToken == "" {
		t.Fatalf("fresh capture of the enrolled finger: %+v", a.Decision)
	}
	if a.Decision.KYC["fullName"] != "Asha Rao" || a.Decision.KYC["phone"] != "" {
		t.Fatalf("kyc is not what kiosk-a's policy allows (fullName only): %v", a.Decision.KYC)
	}
	if strings.Contains(a.JWS, asha.VID) || strings.Contains(a.JWS, asha.UIN) {
		t.Fatal("the decision JWS carries the VID or UIN")
	}
	tokenA := a.Decision.AuthToken
	if again := w.bioAuth("kiosk-a", asha.VID, nil); again.Decision.AuthToken != tokenA {
		t.Fatalf("token ID not stable for one relying party: %q then %q", tokenA, again.Decision.AuthToken)
	}
	// A second relying party gets a different token ID for the same person.
	b := w.demoAuth("kiosk-b", asha.VID, map[string]string{"fullName": "ASHA RAO", "dateOfBirth": "1990-04-01"})
	if !b.Decision.AuthStatus || b.Decision.AuthToken == "" || b.Decision.AuthToken == tokenA {
		t.Fatalf("kiosk-b: %+v (kiosk-a's token %q)", b.Decision, tokenA)
	}

	// A finger not enrolled, and another person's finger: failure.
	w.present(7, "Right IndexFinger")
	if a := w.bioAuth("kiosk-a", asha.VID, nil); a.Decision.AuthStatus || !a.has("bio-mismatch") {
		t.Fatalf("a finger that was not enrolled: %+v", a.Decision)
	}
	w.present(8, "Left IndexFinger")
	if a := w.bioAuth("kiosk-a", asha.VID, nil); a.Decision.AuthStatus || !a.has("bio-mismatch") {
		t.Fatalf("another person's finger: %+v", a.Decision)
	}
	if a := w.bioAuth("kiosk-a", binod.VID, nil); !a.Decision.AuthStatus {
		t.Fatalf("Binod's own finger: %+v", a.Decision)
	}
	// Wrong demographics fail.
	if a := w.demoAuth("kiosk-b", asha.VID, map[string]string{"fullName": "Asha Rao", "dateOfBirth": "1991-04-01"}); a.Decision.AuthStatus || !a.has("demo-mismatch") {
		t.Fatalf("wrong date of birth: %+v", a.Decision)
	}
	// kiosk-b may not use fingerprints.
	if a := w.bioAuth("kiosk-b", binod.VID, nil); a.Decision.AuthStatus || !a.has("rp-auth-type-not-allowed") {
		t.Fatalf("bio from a demo-only relying party: %+v", a.Decision)
	}

	// A one-time VID works once.
	once := w.issueVID(asha.UIN, "one-time")
	first := w.waitAuth("one-time VID reaches the appliance", once, func(a authAnswer) bool { return !a.has("vid-unknown") },
		"kiosk-b", map[string]any{"demographics": map[string]string{"fullName": "Asha Rao"}})
	if !first.Decision.AuthStatus {
		t.Fatalf("first use of a one-time VID: %+v", first.Decision)
	}
	if a := w.demoAuth("kiosk-b", once, map[string]string{"fullName": "Asha Rao"}); a.Decision.AuthStatus || !a.has("vid-used") {
		t.Fatalf("one-time VID used a second time: %+v", a.Decision)
	}

	// A revoked VID is refused.
	temp := w.issueVID(binod.UIN, "temporary")
	w.waitAuth("temporary VID reaches the appliance", temp, func(a authAnswer) bool { return a.Decision.AuthStatus },
		"kiosk-b", map[string]any{"demographics": map[string]string{"fullName": "Binod Kumar"}})
	w.run("edgetrust-central", "vid", "revoke", "--vid", temp, "--reason", "e2e: card lost")
	w.waitAuth("VID revocation reaches the appliance", temp, func(a authAnswer) bool { return !a.Decision.AuthStatus },
		"kiosk-b", map[string]any{"demographics": map[string]string{"fullName": "Binod Kumar"}})
	if a := w.demoAuth("kiosk-b", temp, map[string]string{"fullName": "Binod Kumar"}); !a.has("vid-revoked") && !a.has("vid-unknown") {
		t.Fatalf("revoked VID: %+v", a.Decision)
	}

	// A locked auth type is refused; the others keep working.
	w.run("edgetrust-central", "person", "lock", "--uin", binod.UIN, "--auth-type", "bio-Finger")
	w.present(8, "Left IndexFinger")
	waitFor(t, "the lock reaches the appliance", 15*time.Second, w.appliance, func() bool {
		return w.bioAuth("kiosk-a", binod.VID, nil).has("auth-type-locked")
	})
	if a := w.demoAuth("kiosk-b", binod.VID, map[string]string{"fullName": "Binod Kumar"}); !a.Decision.AuthStatus {
		t.Fatalf("demographic auth after a bio lock: %+v", a.Decision)
	}

	// Enrolment refuses captures that are not registration captures from an
	// active, registered device, and writes nothing.
	w.refuseEnrol("auth capture", w.authCaptureFile(), "purpose Registration")
	good := w.rcaptureFile(9)
	raw, _ := os.ReadFile(good)
	forged := bytes.Replace(raw, []byte(`"data":"ey`), []byte(`"data":"eX`), 1)
	os.WriteFile(good+".forged", forged, 0o600)
	w.refuseEnrol("forged signature", good+".forged", "does not verify")
	w.run("edgetrust-central", "device", "suspend", "--serial", "ETFR000000001", "--reason", "e2e")
	w.refuseEnrol("suspended device", good, "not active")
	w.run("edgetrust-central", "device", "reinstate", "--serial", "ETFR000000001")

	// A capture from a revoked device is refused.
	w.present(7, "Left IndexFinger")
	w.run("edgetrust-central", "device", "revoke", "--serial", "ETFA000000001", "--reason", "e2e")
	waitFor(t, "device revocation reaches the appliance", 15*time.Second, w.appliance, func() bool {
		return w.bioAuth("kiosk-a", asha.VID, nil).has("device-revoked")
	})

	// A record altered in the appliance's database files is refused on
	// use, never passed: stop the appliance, flip one byte of every stored
	// record, start it again.
	w.appliance.stop(syscall.SIGTERM)
	if n := tamperRecords(t, filepath.Join(w.pState, "db")); n == 0 {
		t.Fatal("no records found in the appliance's database")
	}
	w.startAppliance()
	if a := w.demoAuth("kiosk-b", asha.VID, map[string]string{"fullName": "Asha Rao"}); a.Decision.AuthStatus || !a.has("record-tampered") {
		t.Fatalf("altered record: %+v", a.Decision)
	}

	// Every decision is in the appliance's audit log; stop the appliance
	// (it holds the database) and verify the log and its signed checkpoints.
	w.appliance.stop(syscall.SIGTERM)
	out := w.run("edgetrust-appliance", "audit", "verify", "--state", w.pState)
	t.Logf("audit verify: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "OK:") {
		t.Fatalf("audit verify: %s", out)
	}
	// On shutdown the appliance signed a last checkpoint and uploaded its
	// log to central, which recomputed the root before accepting it.
	if a := w.run("edgetrust-central", "audit", "list", "--subject", "appliance:EDGE-1"); !strings.Contains(a, "appliance.audit-checkpoint") {
		t.Fatalf("no audit checkpoint from the appliance at central:\n%s", a)
	}
	// Nothing in the appliance's state directory names a VID or UIN.
	filepath.WalkDir(w.pState, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, _ := os.ReadFile(path)
		for _, p := range []enrolledPerson{asha, binod} {
			if bytes.Contains(raw, []byte(p.VID)) || bytes.Contains(raw, []byte(p.UIN)) {
				t.Errorf("%s contains a VID or UIN in plaintext", path)
			}
		}
		return nil
	})
	// No VID or UIN in the appliance's log output.
	for _, p := range []enrolledPerson{asha, binod} {
		if o := w.appliance.Output(); strings.Contains(o, p.VID) || strings.Contains(o, p.UIN) {
			t.Fatal("a VID or UIN in the appliance's log")
		}
	}
}

func (w *authWorld) setUp() {
	t := w.t
	ek := strings.TrimSpace(w.run("edgetrust-agent", "enrol", "--dev", "--tpm", w.sw.URL, "--state", w.aState, "--show-ek"))
	applEK := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--show-ek"))
	os.MkdirAll(w.cState, 0o700)
	allow := filepath.Join(w.root, "ek-allow.txt")
	os.WriteFile(allow, []byte(strings.Fields(ek)[0]+"\n"+applEK+"\n"), 0o644)
	port := freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--ek-allow", allow}
	w.startCentral()
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(w.cState, "tls", "root.pem"))

	w.run("edgetrust-central", "vendor", "add", "--id", "EDGETRUST.SBI", "--name", "edgetrust")
	tok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--vendor", "EDGETRUST.SBI"))
	pin := rootPin(w.t, w.cState)
	w.run("edgetrust-agent", "enrol", "--dev", "--tpm", w.sw.URL, "--state", w.aState, "--central", w.centralURL, "--token", tok, "--central-root-sha256", pin)
	atok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-1"))
	w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--central", w.centralURL, "--token", atok, "--id", "EDGE-1", "--central-root-sha256", pin)
	w.feedKey = filepath.Join(w.root, "feed-key.pem")
	os.WriteFile(w.feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	w.encCert = filepath.Join(w.root, "appliance.pem")
	os.WriteFile(w.encCert, []byte(w.run("edgetrust-appliance", "cert", "--state", w.pState, "--tpm", "sim")), 0o644)

	// Two relying parties: kiosk-a may use fingerprints and demographics
	// and receive the full name; kiosk-b only demographics and no attributes.
	w.run("edgetrust-central", "rp", "add", "--id", "kiosk-a", "--name", "Kiosk A", "--auth-type", "bio-Finger", "--auth-type", "demo", "--attr", "fullName")
	w.run("edgetrust-central", "rp", "add", "--id", "kiosk-b", "--name", "Kiosk B", "--auth-type", "demo")
	for _, rp := range []string{"kiosk-a", "kiosk-b"} {
		key := strings.TrimSpace(w.run("edgetrust-central", "rp", "key", "add", "--id", rp))
		if !strings.HasPrefix(key, "etr_") {
			t.Fatalf("rp key add printed %q", key)
		}
		w.rpKeys[rp] = key
		w.rpClients[rp] = rpClient(t, w.env, w.root, rp)
	}

	w.agent = w.start("edgetrust-agent", "serve", "--dev", "--tpm", w.sw.URL, "--state", w.aState, "--encryption-cert", w.encCert)
	var info struct{ Port int }
	firstJSONLine(t, w.agent, &info)
	w.agentPort = info.Port
}

func (w *authWorld) startApplianceWithRecords() {
	aport := freePort(w.t)
	w.applianceURL = fmt.Sprintf("https://127.0.0.1:%d", aport)
	w.applianceArgs = []string{"serve", "--state", w.pState, "--tpm", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", aport),
		"--central", w.centralURL, "--feed-key", w.feedKey, "--poll-wait", "2s"}
	w.startAppliance()
}

// present puts synthetic person seed's fingers on both emulated finger
// sensors; an auth capture (bioSubType UNKNOWN) gets finger.
func (w *authWorld) present(seed uint64, finger string) {
	for _, dev := range []string{"ETFR000000001", "ETFA000000001"} {
		w.run("edgetrust-agent", "present", "--state", w.aState, "--device", dev, "--present=true",
			"--person", fmt.Sprint(seed), "--finger", finger)
	}
}

func (w *authWorld) enrolPerson(seed uint64, demo map[string]string) {
	t := w.t
	w.present(seed, "Left IndexFinger")
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", TransactionID: fmt.Sprintf("reg-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "4", RequestedScore: "40", DeviceID: "ETFR000000001", DeviceSubID: "1"}}}
	_, raw, err := (&client.Client{}).RCapture(context.Background(), w.agentPort, req)
	if err != nil {
		t.Fatal(err)
	}
	capFile := filepath.Join(w.root, fmt.Sprintf("rcapture-%d.json", seed))
	demoFile := filepath.Join(w.root, fmt.Sprintf("demo-%d.json", seed))
	os.WriteFile(capFile, raw, 0o600)
	db, _ := json.Marshal(demo)
	os.WriteFile(demoFile, db, 0o600)
	out := w.run("edgetrust-central", "person", "enrol", "--demographics", demoFile, "--capture", capFile, "--json")
	var p enrolledPerson
	if err := json.Unmarshal([]byte(out), &p); err != nil || p.UIN == "" || p.VID == "" {
		t.Fatalf("person enrol printed %q: %v", out, err)
	}
	w.enrolled[seed] = p
}

// rcaptureFile writes the agent's RCAPTURE answer of synthetic person
// seed's left slap to a file.
func (w *authWorld) rcaptureFile(seed uint64) string {
	w.present(seed, "Left IndexFinger")
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", TransactionID: fmt.Sprintf("reg-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "4", RequestedScore: "40", DeviceID: "ETFR000000001", DeviceSubID: "1"}}}
	_, raw, err := (&client.Client{}).RCapture(context.Background(), w.agentPort, req)
	if err != nil {
		w.t.Fatal(err)
	}
	f := filepath.Join(w.root, fmt.Sprintf("rcapture-%d-%d.json", seed, time.Now().UnixNano()))
	os.WriteFile(f, raw, 0o600)
	return f
}

// authCaptureFile writes an auth CAPTURE answer to a file.
func (w *authWorld) authCaptureFile() string {
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", DomainURI: "https://appliance.example.org", TransactionID: fmt.Sprintf("e2e-%d", time.Now().UnixNano()),
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: "ETFA000000001", DeviceSubID: "0"}}}
	_, raw, err := (&client.Client{}).Capture(context.Background(), w.agentPort, req)
	if err != nil {
		w.t.Fatal(err)
	}
	f := filepath.Join(w.root, fmt.Sprintf("capture-%d.json", time.Now().UnixNano()))
	os.WriteFile(f, raw, 0o600)
	return f
}

// refuseEnrol checks that person enrol refuses a capture file with want in
// the message and that no person was added (central's audit log holds no
// new person.enrol).
func (w *authWorld) refuseEnrol(what, capFile, want string) {
	w.t.Helper()
	before := strings.Count(w.run("edgetrust-central", "audit", "list"), "person.enrol")
	demo := filepath.Join(w.root, "demo-refused.json")
	os.WriteFile(demo, []byte(`{"fullName":"Nobody"}`), 0o600)
	out, err := w.cmd(context.Background(), "edgetrust-central", "person", "enrol", "--demographics", demo, "--capture", capFile).CombinedOutput()
	if err == nil || !strings.Contains(string(out), want) {
		w.t.Fatalf("%s: person enrol answered (err %v):\n%s\nwant a refusal saying %q", what, err, out, want)
	}
	if after := strings.Count(w.run("edgetrust-central", "audit", "list"), "person.enrol"); after != before {
		w.t.Fatalf("%s: a refused enrolment was recorded", what)
	}
}

func (w *authWorld) issueVID(uin, kind string) string {
	out := w.run("edgetrust-central", "vid", "issue", "--uin", uin, "--kind", kind, "--json")
	var v struct {
		VID string `json:"vid"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || v.VID == "" {
		w.t.Fatalf("vid issue printed %q: %v", out, err)
	}
	return v.VID
}

func (w *authWorld) auth(rp string, body map[string]any) authAnswer {
	w.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, w.applianceURL+"/v1/auth", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+w.rpKeys[rp])
	req.Header.Set("Content-Type", "application/json")
	r, err := w.rpClients[rp].Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer r.Body.Close()
	rb, _ := io.ReadAll(r.Body)
	var a authAnswer
	if err := json.Unmarshal(rb, &a); err != nil {
		w.t.Fatalf("POST /v1/auth: HTTP %d %s", r.StatusCode, rb)
	}
	return a
}

func (w *authWorld) request(vid string, extra map[string]any) map[string]any {
	m := map[string]any{"transactionId": fmt.Sprintf("e2e-%d", time.Now().UnixNano()), "individualId": vid,
		"individualIdType": "VID", "consent": true}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func (w *authWorld) demoAuth(rp, vid string, demo map[string]string) authAnswer {
	return w.auth(rp, w.request(vid, map[string]any{"requestedAuth": map[string]bool{"demo": true}, "demographics": demo, "matchMode": "exact"}))
}

// bioAuth captures a fresh finger from the agent for this transaction and
// asks the appliance to authenticate it.
func (w *authWorld) bioAuth(rp, vid string, demo map[string]string) authAnswer {
	w.t.Helper()
	body := w.request(vid, map[string]any{"requestedAuth": map[string]bool{"bio": true, "demo": demo != nil}})
	if demo != nil {
		body["demographics"] = demo
	}
	txn := body["transactionId"].(string)
	req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", DomainURI: "https://appliance.example.org", TransactionID: txn,
		Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: "ETFA000000001", DeviceSubID: "0"}}}
	_, raw, err := (&client.Client{}).Capture(context.Background(), w.agentPort, req)
	if err != nil {
		w.t.Fatal(err)
	}
	body["biometrics"] = json.RawMessage(raw)
	return w.auth(rp, body)
}

// waitAuth repeats a request until ok holds (records and revocations reach
// the appliance through the feed).
func (w *authWorld) waitAuth(what, vid string, ok func(authAnswer) bool, rp string, extra map[string]any) authAnswer {
	w.t.Helper()
	var last authAnswer
	waitFor(w.t, what, 20*time.Second, w.appliance, func() bool {
		e := map[string]any{"requestedAuth": map[string]bool{"demo": true}, "matchMode": "exact"}
		for k, v := range extra {
			e[k] = v
		}
		last = w.auth(rp, w.request(vid, e))
		return ok(last)
	})
	return last
}

// tamperRecords flips a byte in the middle of every stored record value,
// as someone with the files could, and returns how many it altered.
func tamperRecords(t *testing.T, dir string) int {
	t.Helper()
	st, err := applstore.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	err = st.DB.Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte("rec/r/")})
		var keys, vals [][]byte
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				it.Close()
				return err
			}
			v[len(v)/2] ^= 0x20
			keys, vals = append(keys, it.Item().KeyCopy(nil)), append(vals, v)
		}
		it.Close()
		for i := range keys {
			if err := txn.Set(keys[i], vals[i]); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
