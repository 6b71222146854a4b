package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestAbuseFlood floods each creating and authenticating endpoint for
// floodTime (5 s; 60 s with EDGETRUST_FAULTS=full) from 8 connections while
// a legitimate client asks every 100 ms: the rate limit answers 429, the
// legitimate client keeps being served (its p99 is logged, with the RSS of
// both daemons), memory stays bounded. Loopback only.
func TestAbuseFlood(t *testing.T) {
	w := newAbuseWorld(t, []string{"--admin-rate", "20", "--enrol-rate", "5", "--console-origin", "https://localhost:{port}"}, []string{"--qr-rate-limit", "50"})
	consoleOrigin := strings.Replace(w.centralURL, "127.0.0.1", "localhost", 1)
	procs := map[string]*proc{"central": w.central, "appliance": w.appliance}
	var seq atomic.Int64
	qrBody := []byte(`{"text":"HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH"}`)
	cases := []struct {
		name string
		// flood and legit requests; sharedLimit: the endpoint's limit
		// is one for all clients (QR verify), so the legitimate client
		// shares it with the flood and is only required to get through
		// sometimes.
		flood, legit func(c *http.Client) int
		sharedLimit  bool
		during       func() error
	}{
		{name: "appliance POST /v1/auth (kiosk-a floods, kiosk-b asks)",
			flood: func(c *http.Client) int { return w.authStatus(c, "kiosk-a") },
			legit: func(c *http.Client) int { return w.authStatus(c, "kiosk-b") }},
		{name: "appliance POST /v1/qr/verify", sharedLimit: true,
			flood: func(c *http.Client) int {
				req, _ := http.NewRequest("POST", w.applianceURL+"/v1/qr/verify", strings.NewReader(string(qrBody)))
				req.Header.Set("Content-Type", "application/json")
				return status(c, req)
			},
			legit: func(c *http.Client) int {
				req, _ := http.NewRequest("POST", w.applianceURL+"/v1/qr/verify", strings.NewReader(string(qrBody)))
				req.Header.Set("Content-Type", "application/json")
				return status(c, req)
			}},
		{name: "central POST /v1/admin/tokens (one admin client floods, another reads)",
			flood: func(c *http.Client) int {
				return status(c, w.centralReq("POST", "/v1/admin/tokens", "10.9.0.1", true, []byte(`{"kind":"appliance","ttl":"1m"}`)))
			},
			legit: func(c *http.Client) int {
				return status(c, w.centralReq("GET", "/v1/admin/whoami", "10.9.0.2", true, nil))
			}},
		{name: "central POST /console/api/signin/begin (the console's sign-in; the sign-in page is read meanwhile)",
			flood: func(c *http.Client) int {
				req := w.centralReq("POST", "/console/api/signin/begin", "", false, []byte(`{}`))
				req.Header.Del("X-Forwarded-For") // the console limits by the TCP peer
				req.Header.Set("Origin", consoleOrigin)
				return status(c, req)
			},
			legit: func(c *http.Client) int {
				req := w.centralReq("GET", "/console/signin", "", false, nil)
				req.Header.Del("X-Forwarded-For")
				return status(c, req)
			}},
		{name: "central POST /v1/enrol/start (guessed tokens; a real appliance enrols meanwhile)",
			flood: func(c *http.Client) int {
				body := fmt.Sprintf(`{"token":"ete_%016d_guess","ekPublic":"AA==","akPublic":"AA=="}`, seq.Add(1))
				return status(c, w.centralReq("POST", "/v1/enrol/start", "10.9.1.1", false, []byte(body)))
			},
			legit: func(c *http.Client) int {
				return status(c, w.centralReq("GET", "/v1/feeds/trust?after=0&limit=10", "10.9.1.2", false, nil))
			},
			during: func() error {
				tok := strings.TrimSpace(w.run("edgetrust-central", "token", "create", "--appliance", "EDGE-2"))
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				out, err := w.cmd(ctx, "edgetrust-appliance", "enrol", "--state", w.pState2, "--tpm", "sim", "--central", w.centralURL,
					"--token", tok, "--id", "EDGE-2", "--central-root-sha256", rootPin(t, w.cState)).CombinedOutput()
				if err != nil {
					return fmt.Errorf("%v: %s", err, out)
				}
				return nil
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			errc := make(chan error, 1)
			var enrolTook time.Duration
			if tc.during != nil {
				go func() {
					time.Sleep(500 * time.Millisecond)
					start := time.Now()
					err := tc.during()
					enrolTook = time.Since(start)
					errc <- err
				}()
			}
			res := runFlood(floodTime(), 8, tc.flood, 100*time.Millisecond, tc.legit, procs)
			var rss []string
			for _, n := range []string{"central", "appliance"} {
				rss = append(rss, fmt.Sprintf("%s %d→%d MiB", n, res.rssBefore[n]>>10, res.rssPeak[n]>>10))
			}
			t.Logf("ABUSE flood %s for %v: flood %s; legitimate %s, p99 %v; RSS (peak) %s",
				tc.name, floodTime(), res.flood.String(), res.legit.String(), res.p99().Round(time.Millisecond), strings.Join(rss, ", "))
			if res.flood.get(http.StatusTooManyRequests) == 0 {
				t.Errorf("the flood got no 429: %s", res.flood.String())
			}
			if n := res.flood.get(0) + res.flood.get(500); n > 0 {
				t.Errorf("%d flood requests failed in transport or with 500: %s", n, res.flood.String())
			}
			ok := res.legit.get(http.StatusOK)
			if tc.sharedLimit {
				if ok == 0 {
					t.Errorf("the legitimate client was never served: %s", res.legit.String())
				}
			} else if ok != res.legit.total() || ok == 0 {
				t.Errorf("the legitimate client was not always served: %s", res.legit.String())
			}
			for n := range procs {
				if grow := res.rssPeak[n] - res.rssBefore[n]; grow > 256<<10 {
					t.Errorf("%s grew by %d MiB during the flood", n, grow>>10)
				}
			}
			if tc.during != nil {
				select {
				case err := <-errc:
					if err != nil {
						t.Errorf("a real enrolment during the flood failed: %v", err)
					} else {
						t.Logf("ABUSE a real appliance enrolment during the flood took %v", enrolTook.Round(10*time.Millisecond))
					}
				case <-time.After(2 * time.Minute):
					t.Error("the real enrolment did not finish")
				}
			}
			for n, p := range procs {
				if !p.alive() {
					t.Fatalf("%s died during the flood:\n%s", n, p.Output())
				}
			}
		})
	}
}
