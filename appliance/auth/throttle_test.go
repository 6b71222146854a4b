package auth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/appliance/auth"
)

// TestFailedKeysThrottled: a guesser of API keys is answered 429 once it
// has spent auth.FailBurst failures, before its key is checked, and the
// failures are counted; the right key of the same relying party, from
// another address, still gets a decision; wrong secrets for that key id
// from a fresh address are 429 too.
func TestFailedKeysThrottled(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(c *auth.Config) { c.Registerer = reg })
	number := f.person("1111222233", "perpetual", asha, nil, nil)
	good := f.rpKeys["kiosk-a"]
	wrong := rpKey{id: good.id, secret: strings.Repeat("0", 43)}
	body := `{"transactionId":"txn-throttle-1","individualId":"` + number + `","consent":true,"requestedAuth":{"demo":true},"demographics":{"fullName":"Asha Rao"}}`
	send := func(addr, key string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/v1/auth", strings.NewReader(body))
		req.RemoteAddr = addr + ":40000"
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec
	}
	for i := range auth.FailBurst {
		if rec := send("203.0.113.7", wrong.String()); rec.Code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401 within the burst", i, rec.Code)
		}
	}
	rec := send("203.0.113.7", wrong.String())
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("guess past the burst: %d %v, want 429 with Retry-After", rec.Code, rec.Header())
	}
	// Throttled before the check: even the right key from that address waits.
	if rec := send("203.0.113.7", good.String()); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("right key from the guessing address: %d, want 429", rec.Code)
	}
	// Garbage from another guessing address is throttled by address too.
	for range auth.FailBurst {
		send("203.0.113.8", "etr_nope")
	}
	if rec := send("203.0.113.8", ""); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("missing key past the burst: %d, want 429", rec.Code)
	}
	// The good key from another address is unaffected, though its key id
	// is out of failure tokens.
	if rec := send("198.51.100.1", good.String()); rec.Code != http.StatusOK {
		t.Fatalf("good key from another address: %d %s", rec.Code, rec.Body)
	}
	// A wrong secret for the exhausted key id, from a fresh address: 429.
	if rec := send("198.51.100.2", wrong.String()); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("wrong secret for a throttled key id: %d, want 429", rec.Code)
	}
	c, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range c {
		if mf.GetName() != "edgetrust_appliance_auth_credential_failures_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetCounter().GetValue()
		}
	}
	if got["refused"] != auth.FailBurst || got["throttled"] != 4 || got["malformed"] != auth.FailBurst || got["missing"] != 0 {
		t.Fatalf("credential failures counted %v", got)
	}
	// Each lock-out was audited once (the first guessing address, the key
	// id it guessed, the second address), naming no secret, and counted.
	f.audit.mu.Lock()
	lockouts := f.audit.lockouts
	f.audit.mu.Unlock()
	var subjects []string
	for _, l := range lockouts {
		subjects = append(subjects, l.Subject)
		if l.Failures != auth.FailBurst || l.RetryAfter != 5 || l.Time.IsZero() {
			t.Errorf("lock-out %+v", l)
		}
		if strings.Contains(l.Subject, wrong.secret) || strings.Contains(l.Subject, good.secret) {
			t.Errorf("a lock-out names a secret: %q", l.Subject)
		}
	}
	if want := "addr:203.0.113.7 key:" + good.id + " addr:203.0.113.8"; strings.Join(subjects, " ") != want {
		t.Fatalf("lock-outs audited: %q, want %q", strings.Join(subjects, " "), want)
	}
	if rec := send("203.0.113.7", wrong.String()); rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("Retry-After %q, want 5 (one failure token at auth.FailRate)", rec.Header().Get("Retry-After"))
	}
	var locked float64
	for _, mf := range c {
		if mf.GetName() == "edgetrust_appliance_auth_lockouts_total" {
			for _, m := range mf.GetMetric() {
				locked += m.GetCounter().GetValue()
			}
		}
	}
	if locked != 3 {
		t.Fatalf("lock-outs counted %v, want 3", locked)
	}
}
