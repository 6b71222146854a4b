package e2e

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAbuseBruteForce guesses a relying party's API key at the appliance
// and the admin token's secret at central, with real processes: after the
// failure burst (10) the guesser gets 429 with Retry-After; the lock-out
// is logged, counted in /metrics and written to the hash-chained audit
// log (the appliance's decision log, central's audit log), naming the
// address or the public key id, never the presented secret.
func TestAbuseBruteForce(t *testing.T) {
	w := newAbuseWorld(t, nil, nil)
	const secretGuess = "GUESSEDSECRETGUESSEDSECRETGUESSEDSECRET0000"

	t.Run("appliance API key", func(t *testing.T) {
		key := w.rpKeys["kiosk-a"] // etr_<id>_<secret>
		id := strings.Split(key, "_")[1]
		guess := "etr_" + id + "_" + secretGuess
		send := func(k string) *http.Response {
			req, _ := http.NewRequest("POST", w.applianceURL+"/v1/auth", strings.NewReader(string(authBody())))
			req.Header.Set("Authorization", "Bearer "+k)
			req.Header.Set("Content-Type", "application/json")
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			return r
		}
		n := 0
		for ; n < 50; n++ {
			r := send(guess)
			if r.StatusCode == http.StatusTooManyRequests {
				if r.Header.Get("Retry-After") != "5" {
					t.Errorf("429 with Retry-After %q, want 5", r.Header.Get("Retry-After"))
				}
				break
			}
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", n+1, r.StatusCode)
			}
		}
		// The loopback address's bucket also holds the 401s of the set-up
		// (the keys were tried before they reached the appliance), so the
		// lock-out comes at the 10th failure of the address at the latest.
		if n == 0 || n > 10 {
			t.Fatalf("locked out after %d failures, want 1-10", n)
		}
		t.Logf("ABUSE brute force, appliance API key: %d wrong secrets answered 401, the next 429 (Retry-After 5)", n)
		if got := metric(t, w.applianceURL+"/metrics", "edgetrust_appliance_auth_lockouts_total"); got < 1 {
			t.Errorf("edgetrust_appliance_auth_lockouts_total %v, want ≥ 1", got)
		}
		if !strings.Contains(w.appliance.Output(), "locked out") {
			t.Error("no lock-out line in the appliance's log")
		}
		if strings.Contains(w.appliance.Output(), secretGuess) {
			t.Error("the guessed secret is in the appliance's log")
		}
		// The decision log holds the lock-out; the appliance holds the
		// database, so stop it to read and verify the log.
		w.appliance.stop(syscall.SIGTERM)
		show := w.run("edgetrust-appliance", "audit", "show", "--state", w.pState, "--last", "50")
		if !strings.Contains(show, `"kind":"lockout"`) || !strings.Contains(show, `"subject":"addr:127.0.0.1"`) {
			t.Errorf("no lock-out of the guessing address in the decision log:\n%s", show)
		}
		if strings.Contains(show, secretGuess) {
			t.Error("the guessed secret is in the decision log")
		}
		if out := w.run("edgetrust-appliance", "audit", "verify", "--state", w.pState); !strings.Contains(out, "OK") {
			t.Errorf("audit verify: %s", out)
		}
		w.startAppliance()
	})

	t.Run("central admin token", func(t *testing.T) {
		parts := strings.Split(w.adminToken, "_") // eta_<id>_<secret>
		id := parts[1]
		guess := "eta_" + id + "_" + secretGuess
		n := 0
		var retry string
		for ; n < 50; n++ {
			req := w.centralReq("GET", "/v1/admin/whoami", "10.5.0.1", false, nil)
			req.Header.Set("Authorization", "Bearer "+guess)
			r, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
			if r.StatusCode == http.StatusTooManyRequests {
				retry = r.Header.Get("Retry-After")
				break
			}
			if r.StatusCode != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", n+1, r.StatusCode)
			}
		}
		if n != 10 || retry != "2" {
			t.Fatalf("locked out after %d failures with Retry-After %q, want 10 and 2", n, retry)
		}
		t.Logf("ABUSE brute force, central admin token: %d wrong secrets answered 401, the next 429 (Retry-After %s)", n, retry)
		if got := metric(t, w.centralURL+"/metrics", "edgetrust_central_auth_lockouts_total"); got < 2 {
			t.Errorf("edgetrust_central_auth_lockouts_total %v, want ≥ 2 (the address and the token id)", got)
		}
		// The token id is locked too, so the right admin waits a token's
		// refill (Retry-After) before the CLI gets in.
		var list string
		waitFor(t, "the admin CLI gets in after Retry-After", 30*time.Second, w.central, func() bool {
			out, err := w.cmd(t.Context(), "edgetrust-central", "audit", "list", "--subject", "admin-token:"+id).CombinedOutput()
			list = string(out)
			return err == nil
		})
		if !strings.Contains(list, "auth.lockout") {
			t.Errorf("no auth.lockout for the admin token id in central's audit log:\n%s", list)
		}
		all := w.run("edgetrust-central", "audit", "list")
		if !strings.Contains(all, "addr:10.5.0.1") {
			t.Errorf("no auth.lockout for the guessing address:\n%s", all)
		}
		if strings.Contains(all, secretGuess) || strings.Contains(w.central.Output(), secretGuess) {
			t.Error("the guessed secret is in central's audit log or log")
		}
		if out := w.run("edgetrust-central", "audit", "verify"); !strings.Contains(out, "hash chain verified") {
			t.Errorf("audit verify: %s", out)
		}
	})
}
