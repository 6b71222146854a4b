package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/clockskew"
	"github.com/edgetrust/edgetrust/internal/enrol/enroltest"
	"github.com/edgetrust/edgetrust/sbi"
)

// TestFaultClockSkew (issue #14): the agent's clock, then the
// appliance's, is set a day fast and a day slow
// (EDGETRUST_TEST_CLOCK_SKEW). Captures are never accepted silently: a
// capture stamped a day off, or judged on a clock a day off, is refused
// with its timestamp reasons (and the trust data is judged stale on a
// clock a day fast); Claim 169 QR codes are judged by their own rules on
// the appliance's clock: issued in the future on a slow clock is refused
// ("time"), a day fast is within the code's validity and the lists'
// 7-day freshness, so accepted. Back on the right clock everything is
// valid again.
func TestFaultClockSkew(t *testing.T) {
	sw := enroltest.StartSwtpm(t)
	root := t.TempDir()
	w := &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central"), aState: filepath.Join(root, "agent"), pState: filepath.Join(root, "appliance")}

	// Claim 169: an issuer, one code, signed lists (on the state directory,
	// before central serves from it).
	w.run("edgetrust-central", "issuer", "init", "--state", w.cState, "--issuer", "https://id.example.org")
	people := filepath.Join(root, "people.csv")
	os.WriteFile(people, []byte("id,fullName,dateOfBirth,gender,email\n3918592438,Janardhan BS,19840401,1,janardhan@example.org\n"), 0o644)
	qrDir, lists := filepath.Join(root, "qr"), filepath.Join(root, "lists")
	w.run("edgetrust-central", "credential", "issue", "--state", w.cState, "--in", people, "--out", qrDir)
	w.run("edgetrust-central", "trust", "export", "--state", w.cState, "--out", lists)
	qrText, _ := os.ReadFile(filepath.Join(qrDir, "000001-3918592438.txt"))

	ek := strings.TrimSpace(w.run("edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", w.aState, "--show-ek"))
	applEK := strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--show-ek"))
	allow := filepath.Join(root, "ek-allow.txt")
	os.WriteFile(allow, []byte(strings.Fields(ek)[0]+"\n"+applEK+"\n"), 0o644)
	port := freePort(t)
	w.centralURL = fmt.Sprintf("https://127.0.0.1:%d", port)
	w.centralArgs = []string{"serve", "--state", w.cState, "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--ek-allow", allow}
	w.startCentral()
	w.vars = append(w.vars, "EDGETRUST_CENTRAL_URL="+w.centralURL,
		"EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE="+filepath.Join(w.cState, "admin-token"),
		"EDGETRUST_CENTRAL_ROOT="+filepath.Join(w.cState, "tls", "root.pem"))
	pin := rootPin(t, w.cState)
	w.run("edgetrust-central", "vendor", "add", "--id", "EDGETRUST.SBI", "--name", "edgetrust")
	tok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--vendor", "EDGETRUST.SBI"))
	w.run("edgetrust-agent", "enrol", "--dev", "--tpm", sw.URL, "--state", w.aState, "--central", w.centralURL, "--token", tok, "--central-root-sha256", pin)
	atok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-1"))
	w.run("edgetrust-appliance", "enrol", "--state", w.pState, "--tpm", "sim", "--central", w.centralURL, "--token", atok, "--id", "EDGE-1", "--central-root-sha256", pin)
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)
	encCert := filepath.Join(root, "appliance.pem")
	os.WriteFile(encCert, []byte(w.run("edgetrust-appliance", "cert", "--state", w.pState, "--tpm", "sim")), 0o644)
	aport := freePort(t)
	w.applianceURL = fmt.Sprintf("https://127.0.0.1:%d", aport)
	w.applianceArgs = []string{"serve", "--state", w.pState, "--tpm", "sim", "--listen", fmt.Sprintf("127.0.0.1:%d", aport),
		"--central", w.centralURL, "--feed-key", feedKey, "--poll-wait", "2s",
		"--qr-trust", filepath.Join(lists, "trust-list.json"), "--qr-revocations", filepath.Join(lists, "revocation-list.json")}
	base := w.env
	skewed := func(d time.Duration) *env {
		return &env{t: t, vars: append(append([]string{}, base.vars...), clockskew.Env+"="+d.String())}
	}
	startAgent := func(e *env) {
		w.agent = e.start("edgetrust-agent", "serve", "--dev", "--tpm", sw.URL, "--state", w.aState, "--encryption-cert", encCert)
		var info struct{ Port int }
		firstJSONLine(t, w.agent, &info)
		w.agentPort = info.Port
	}
	startAppl := func(e *env) {
		w.env = e
		w.startAppliance()
		w.env = base
	}
	startAgent(base)
	startAppl(base)
	const finger = "ETFA000000001"
	qr := func() (bool, string) {
		var a struct {
			Valid         bool
			Stage, Reason string
		}
		postJSON(t, w.applianceURL+"/v1/qr/verify", map[string]any{"text": strings.TrimSpace(string(qrText))}, &a)
		return a.Valid, a.Stage + ": " + a.Reason
	}
	fresh := func(what string) {
		t.Helper()
		waitFor(t, what+": a capture verifies", 20*time.Second, w.appliance, func() bool { return w.captureAndVerify(finger, sbi.TypeFinger).Valid })
		if ok, why := qr(); !ok {
			t.Fatalf("%s: the QR code is refused: %s", what, why)
		}
	}
	fresh("right clocks")

	day := 24 * time.Hour
	for _, c := range []struct {
		who  string
		skew time.Duration
		qrOK bool // what the QR rules say on that appliance clock
	}{
		{"agent", day, true}, {"agent", -day, true},
		{"appliance", day, true}, {"appliance", -day, false},
	} {
		name := fmt.Sprintf("%s clock %+v", c.who, c.skew)
		if c.who == "agent" {
			w.agent.stop(syscall.SIGTERM)
			startAgent(skewed(c.skew))
		} else {
			w.appliance.stop(syscall.SIGTERM)
			startAppl(skewed(c.skew))
		}
		v := w.captureAndVerify(finger, sbi.TypeFinger)
		if v.Valid || len(v.Reasons) == 0 {
			t.Fatalf("%s: capture accepted: %+v", name, v)
		}
		// An agent whose clock is before its certificate's notBefore is
		// Not Registered: it refuses to sign at all (SBI 100) rather
		// than sign with a certificate not valid on its clock.
		notRegistered := c.who == "agent" && c.skew < 0 && slices.ContainsFunc(v.Reasons, func(r string) bool {
			return strings.Contains(r, `(code "`+sbi.CodeNotRegistered+`")`)
		})
		if !hasTimeReason(v.Reasons) && !v.has("trust-stale") && !notRegistered {
			t.Fatalf("%s: refused, but not for its time: %v", name, v.Reasons)
		}
		ok, why := qr()
		if ok != c.qrOK {
			t.Fatalf("%s: QR valid=%v (%s), the rules say %v", name, ok, why, c.qrOK)
		}
		if !ok && !strings.Contains(why, "time") {
			t.Fatalf("%s: QR refused, but not for its time: %s", name, why)
		}
		t.Logf("%s: capture refused (%s); QR valid=%v %s", name, strings.Join(v.Reasons, "; "), ok, map[bool]string{true: "", false: "(" + why + ")"}[ok])
		// Back to the right clock.
		if c.who == "agent" {
			w.agent.stop(syscall.SIGTERM)
			startAgent(base)
		} else {
			w.appliance.stop(syscall.SIGTERM)
			startAppl(base)
		}
		fresh(name + ", then right again")
	}
}

// hasTimeReason reports whether a verdict's reasons name a timestamp check
// (sbi's timestamp and clock-skew checks).
func hasTimeReason(rs []string) bool {
	for _, r := range rs {
		l := strings.ToLower(r)
		if strings.Contains(l, "timestamp") || strings.Contains(l, "skew") || strings.Contains(l, "future") ||
			strings.Contains(l, "old") || strings.Contains(l, "datetime") || strings.Contains(l, "not yet valid") || strings.Contains(l, "expired") {
			return true
		}
	}
	return false
}
