package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFaultCentralKilledMidEnrolment (issue #14): central is SIGKILLed in
// the middle of appliance enrolments and revocations, on badger and on
// PostgreSQL. The kill is timed from central's own "enrolment started"
// log line, at a random point of twice the measured start-to-commit window
// (so kills land between the two round trips, inside the finishing
// transaction or just after it, never before anything happened). After every restart: each
// enrolment either completed (the appliance is listed, its trust-feed
// entry published) or left nothing (not listed, no feed entry, and the
// same token enrols it now); each revocation is all or nothing the same
// way; the trust feed verifies from the start with no gap and extends
// what central served before the kill (no fork); the audit chain verifies.
func TestFaultCentralKilledMidEnrolment(t *testing.T) {
	for _, st := range []string{"badger", "postgres"} {
		t.Run(st, func(t *testing.T) { centralKills(t, st, faultCount(3, 20)) })
	}
}

func centralKills(t *testing.T, storeKind string, kills int) {
	root := t.TempDir()
	w := &world{env: &env{t: t, vars: []string{"EDGETRUST_CENTRAL_PASSPHRASE=e2e passphrase 0123456789"}},
		cState: filepath.Join(root, "central")}
	os.MkdirAll(w.cState, 0o700)
	// One simulated TPM per enrolment (seeded, so its EK is known ahead
	// and allowed), each with its own state directory.
	n := kills + 1
	var eks []string
	for i := 0; i <= n; i++ {
		eks = append(eks, strings.TrimSpace(w.run("edgetrust-appliance", "enrol", "--state", applState(root, i), "--tpm", simTPM(i), "--show-ek")))
	}
	allow := filepath.Join(root, "ek-allow.txt")
	os.WriteFile(allow, []byte(strings.Join(eks, "\n")+"\n"), 0o644)
	pin := w.serveCentral(t, storeKind, allow)
	feedKey := filepath.Join(root, "feed-key.pem")
	os.WriteFile(feedKey, []byte(w.run("edgetrust-central", "feed-key", "--state", w.cState)), 0o644)

	enrolArgs := func(i int, tok string) []string {
		return []string{"enrol", "--state", applState(root, i), "--tpm", simTPM(i), "--central", w.centralURL,
			"--token", tok, "--id", applID(i), "--central-root-sha256", pin}
	}
	// Calibrate: one enrolment without a kill, timed from central's
	// "enrolment started" to its "appliance enrolled".
	tok0 := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", applID(0)))
	mark := len(w.central.Output())
	w.run("edgetrust-appliance", enrolArgs(0, tok0)...)
	window := logGap(w.central.Output()[mark:], "enrolment started", "appliance enrolled")
	if window <= 0 {
		t.Fatalf("no enrolment log lines from central to time the kills by:\n%s", w.central.Output()[mark:])
	}
	t.Logf("%s: enrolment start-to-commit window %v (kills land at a random point of 0-200%% of it after the start)", storeKind, window.Round(time.Millisecond))

	before := fetchTrustFeed(t, w.centralURL, feedKey)
	var enrolDone, enrolNothing, revDone, revNothing int
	for k := 1; k <= kills; k++ {
		id := applID(k)
		tok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", id))
		mark := len(w.central.Output())
		// The previous appliance is revoked while this one enrols.
		revWait := w.startCmd("edgetrust-central", "appliance", "revoke", "--id", applID(k-1), "--reason", "e2e fault injection")
		enrolWait := w.startCmd("edgetrust-appliance", enrolArgs(k, tok)...)
		waitFor(t, "central logs the enrolment's start", 60*time.Second, w.central, func() bool {
			return strings.Contains(w.central.Output()[mark:], "enrolment started")
		})
		time.Sleep(randDuration(0, 2*window))
		w.central.stop(syscall.SIGKILL)
		enrolOut, enrolErr := enrolWait()
		revOut, revErr := revWait()

		w.startCentral()
		cf := fetchTrustFeed(t, w.centralURL, feedKey)
		cf.extends(t, before)
		before = cf
		inFeed := cf.appliances(t, uint64(len(cf.Entries)))
		listed := w.applianceStatuses(t)

		// The enrolment: completed, or nothing left.
		switch st, ok := listed[id]; {
		case ok:
			if st != "active" || inFeed[id] != "active" {
				t.Fatalf("kill %d: appliance %s listed %q, in the feed %q: a half-done enrolment", k, id, st, inFeed[id])
			}
			enrolDone++
		default:
			if enrolErr == nil {
				t.Fatalf("kill %d: the enrolment of %s succeeded but central lost it:\n%s", k, id, enrolOut)
			}
			if _, ok := inFeed[id]; ok {
				t.Fatalf("kill %d: %s is in the trust feed but not enrolled", k, id)
			}
			// Nothing was left behind: the same token enrols it now.
			w.run("edgetrust-appliance", enrolArgs(k, tok)...)
			enrolNothing++
		}
		// The revocation: done, or nothing.
		prev := applID(k - 1)
		switch st := w.applianceStatuses(t)[prev]; st {
		case "revoked":
			if inFeed[prev] != "revoked" {
				cf = fetchTrustFeed(t, w.centralURL, feedKey)
				if cf.appliances(t, uint64(len(cf.Entries)))[prev] != "revoked" {
					t.Fatalf("kill %d: %s revoked at central, not in the feed", k, prev)
				}
			}
			revDone++
		case "active":
			if revErr == nil {
				t.Fatalf("kill %d: the revocation of %s succeeded but central lost it:\n%s", k, prev, revOut)
			}
			if inFeed[prev] != "active" {
				t.Fatalf("kill %d: %s active at central, %q in the feed", k, prev, inFeed[prev])
			}
			w.run("edgetrust-central", "appliance", "revoke", "--id", prev, "--reason", "e2e fault injection, again")
			revNothing++
		default:
			t.Fatalf("kill %d: %s has status %q", k, prev, st)
		}
		w.auditVerify(t)
	}
	cf := fetchTrustFeed(t, w.centralURL, feedKey)
	cf.extends(t, before)
	t.Logf("%s: central SIGKILLed %d times after an enrolment started: enrolments %d completed, %d interrupted with nothing left (re-enrolled with the same token); revocations %d completed, %d interrupted with nothing left; trust feed %d entries, verified from the start; audit: %s",
		storeKind, kills, enrolDone, enrolNothing, revDone, revNothing, len(cf.Entries), w.auditVerify(t))
}

func applID(i int) string { return fmt.Sprintf("EDGE-F%02d", i) }
func simTPM(i int) string { return fmt.Sprintf("sim?seed=%d", 1000+i) }
func applState(root string, i int) string {
	return filepath.Join(root, fmt.Sprintf("appliance-%02d", i))
}

// applianceStatuses is `appliance list --json` as id → status.
func (w *world) applianceStatuses(t *testing.T) map[string]string {
	t.Helper()
	var list []struct{ ID, Status string }
	out := w.run("edgetrust-central", "appliance", "list", "--json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		var wrapped struct {
			Appliances []struct{ ID, Status string } `json:"appliances"`
		}
		if err2 := json.Unmarshal([]byte(out), &wrapped); err2 != nil {
			t.Fatalf("appliance list --json: %v\n%s", err, out)
		}
		list = wrapped.Appliances
	}
	m := map[string]string{}
	for _, a := range list {
		m[a.ID] = a.Status
	}
	return m
}

// logGap is the time between the first log line containing from and the
// first later one containing to (slog's time= field), or 0.
func logGap(log, from, to string) time.Duration {
	var t0 time.Time
	for _, l := range strings.Split(log, "\n") {
		ts := logTime(l)
		switch {
		case t0.IsZero() && strings.Contains(l, from):
			t0 = ts
		case !t0.IsZero() && strings.Contains(l, to):
			return ts.Sub(t0)
		}
	}
	return 0
}

func logTime(l string) time.Time {
	var m struct {
		Time time.Time `json:"time"`
	}
	if json.Unmarshal([]byte(l), &m) == nil && !m.Time.IsZero() {
		return m.Time
	}
	if i := strings.Index(l, "time="); i >= 0 {
		f := strings.Fields(l[i+5:])
		if len(f) > 0 {
			if ts, err := time.Parse(time.RFC3339Nano, strings.Trim(f[0], `"`)); err == nil {
				return ts
			}
		}
	}
	return time.Time{}
}
