package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/appliance/db"
	"github.com/edgetrust/edgetrust/appliance/sync/truststate"
)

func newAPI(t *testing.T, cfg Config) (*httptest.Server, *prometheus.Registry) {
	t.Helper()
	st, err := db.Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg, err := truststate.Open(st, nil)
	if err != nil {
		t.Fatal(err)
	}
	pr := prometheus.NewRegistry()
	cfg.Trust, cfg.Verifier, cfg.Gatherer, cfg.Registerer = reg, &captureverify.Verifier{Trust: reg}, pr, pr
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv, pr
}

func post(t *testing.T, url, ct string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/captures/verify", bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

const someCapture = `{"transactionId":"txn-1","response":{"biometrics":[{"specVersion":"0.9.5","data":"a.b.c","hash":"00"}]}}`

func TestVerifyEndpointAnswersAndBounds(t *testing.T) {
	srv, _ := newAPI(t, Config{})
	// A well-formed request with a capture that cannot verify: 200, invalid, reasons.
	code, m := post(t, srv.URL, "application/json", []byte(someCapture))
	if code != 200 || m["valid"] != false || len(m["reasons"].([]any)) == 0 || m["stale"] != true {
		t.Fatalf("%d %v", code, m)
	}
	if _, ok := m["device"]; !ok {
		t.Fatal("answer has no device field")
	}
	if !strings.HasPrefix(m["reasons"].([]any)[0].(string), "no-trust-data: ") {
		t.Fatalf("first reason %v", m["reasons"])
	}
	for _, c := range []struct {
		name, ct, body string
		code           int
	}{
		{"not JSON", "application/json", `{`, 400},
		{"missing transactionId", "application/json", `{"response":{}}`, 400},
		{"wrong content type", "text/plain", someCapture, 415},
		{"too large", "application/json", `{"transactionId":"txn-1","response":"` + strings.Repeat("A", captureverify.MaxRequestSize) + `"}`, 413},
	} {
		code, m := post(t, srv.URL, c.ct, []byte(c.body))
		if code != c.code || m["error"] == nil {
			t.Errorf("%s: %d %v, want %d with an error", c.name, code, m, c.code)
		}
	}
	resp, _ := http.Get(srv.URL + "/v1/captures/verify")
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET verify: %d", resp.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	srv, pr := newAPI(t, Config{RateLimit: 3})
	var codes []int
	for range 6 {
		code, _ := post(t, srv.URL, "application/json", []byte(someCapture))
		codes = append(codes, code)
	}
	if codes[0] != 200 || codes[5] != 429 {
		t.Fatalf("codes %v: want 200s then 429", codes)
	}
	mfs, _ := pr.Gather()
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "edgetrust_appliance_verifications_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "rate-limited" && m.GetCounter().GetValue() >= 1 {
					found = true
				}
			}
		}
	}
	if !found {
		t.Fatal("rate-limited requests not counted")
	}
}

func TestStatusHealthDevicesMetrics(t *testing.T) {
	srv, _ := newAPI(t, Config{Version: "9.9.9", Thumbprint: "AB"})
	post(t, srv.URL, "application/json", []byte(someCapture))
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s: no nosniff header", path)
		}
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || !strings.Contains(body, `"stale":true`) {
		t.Fatalf("healthz %d %s", code, body)
	}
	code, body := get("/v1/status")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 200 {
		t.Fatalf("status %d %s", code, body)
	}
	if !st.Stale || st.Trust.AgeSeconds != -1 || st.StalePolicy != "reject" || !st.Decryption.Configured || st.Sync != nil || st.Version != "9.9.9" {
		t.Fatalf("status %+v", st)
	}
	if code, _ := get("/v1/devices/SN-NOPE"); code != 404 {
		t.Fatalf("unknown device: %d", code)
	}
	if code, _ := get("/v1/devices/" + strings.Repeat("x", 200)); code != 400 {
		t.Fatalf("overlong serial: %d", code)
	}
	code, body = get("/metrics")
	for _, m := range []string{"edgetrust_appliance_verifications_total{result=\"invalid\"} 1", "edgetrust_appliance_verification_reasons_total{reason=\"no-trust-data\"} 1", "edgetrust_appliance_verification_seconds"} {
		if code != 200 || !strings.Contains(body, m) {
			t.Fatalf("metrics lack %s:\n%s", m, body)
		}
	}
}
