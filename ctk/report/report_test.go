package report

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/testtool"
)

func sample() *Report {
	r := &Report{Tool: "edgetrust-ctk", Version: "test", Target: "http://127.0.0.1:4501",
		Suite:   Suite{Source: "embedded", SHA256: strings.Repeat("ab", 32), Cases: 200},
		Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), DurationMS: 1234, Mode: "non-interactive",
		Devices: []Device{{ID: "DEV1", SerialNo: "DEV1", Type: "Finger", SubType: "Single", Purpose: "Auth", Certification: "L1", Status: "Ready"}},
		Cases: []Case{
			{ID: "SBI1000", Name: "Discover device", Device: "DEV1", Method: "device", DurationMS: 12,
				Validators: []Verdict{{Name: "SchemaValidator", Origin: OriginMOSIP, Status: Passed, Message: "fits"}}},
			{ID: "SBI1020", Name: "Auth capture - LeftIndex Finger", Device: "DEV1", Method: "capture", DurationMS: 80,
				Validators: []Verdict{
					{Name: "SchemaValidator", Origin: OriginMOSIP, Status: Passed, Message: "fits"},
					{Name: "SignatureValidator", Origin: OriginMOSIP, Status: Failed, Message: "segment 0: signature (data): <script>alert(1)</script> does not verify"},
				},
				Exchanges: []Exchange{{Method: "CAPTURE", URL: "http://127.0.0.1:4501/capture",
					Request:  json.RawMessage(`{"env":"Developer"}`),
					Response: json.RawMessage(`{"biometrics":[{"data":"<redacted>"}]}`)}}},
			{ID: "SBI1112", Name: "Quality Assessment", Device: "DEV1", Method: "rcapture",
				Validators: []Verdict{{Name: "SchemaValidator", Origin: OriginMOSIP, Status: Skipped, Message: "needs 10 persons"}}},
		},
	}
	for i := range r.Cases {
		r.Cases[i].Status, r.Cases[i].Reason = CaseStatus(r.Cases[i].Validators)
	}
	r.Tally()
	return r
}

func TestCaseStatus(t *testing.T) {
	for _, tc := range []struct {
		vs   []Verdict
		want string
	}{
		{nil, Skipped},
		{[]Verdict{{Status: Passed}}, Passed},
		{[]Verdict{{Status: Passed}, {Status: Skipped}}, Skipped},
		{[]Verdict{{Status: Skipped}, {Status: Failed}}, Failed},
	} {
		if got, _ := CaseStatus(tc.vs); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.vs, got, tc.want)
		}
	}
	r := sample()
	if r.Summary != (Summary{Total: 3, Passed: 1, Failed: 1, Skipped: 1}) || r.OK() {
		t.Fatalf("summary %+v", r.Summary)
	}
	if !strings.HasPrefix(r.Cases[1].Reason, "SignatureValidator: ") {
		t.Fatalf("reason %q", r.Cases[1].Reason)
	}
}

func TestWriteAll(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	if err := r.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	var back Report
	b, _ := os.ReadFile(filepath.Join(dir, "report.json"))
	if err := json.Unmarshal(b, &back); err != nil || back.Summary != r.Summary || len(back.Cases) != 3 {
		t.Fatalf("report.json round trip: %v %+v", err, back.Summary)
	}
	x, _ := os.ReadFile(filepath.Join(dir, "report.xml"))
	var ju junitSuites
	if err := xml.Unmarshal(x, &ju); err != nil {
		t.Fatal(err)
	}
	if ju.Tests != 3 || ju.Failures != 1 || ju.Skipped != 1 || len(ju.Suites) != 1 || len(ju.Suites[0].Cases) != 3 {
		t.Fatalf("junit %+v", ju)
	}
	if c := ju.Suites[0].Cases[1]; c.Failure == nil || !strings.Contains(c.Failure.Message, "SignatureValidator") {
		t.Fatalf("failure not in junit: %+v", c)
	}
	if c := ju.Suites[0].Cases[2]; c.Skipped == nil || c.Failure != nil {
		t.Fatalf("skip not in junit: %+v", c)
	}
	h, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	if strings.Contains(string(h), "<script>") {
		t.Fatal("HTML does not escape device-supplied text")
	}
	for _, s := range []string{"http://", "https://"} {
		for _, line := range strings.Split(string(h), "\n") {
			if strings.Contains(line, "src=\""+s) || strings.Contains(line, "href=\""+s) {
				t.Fatalf("HTML loads an external resource: %s", line)
			}
		}
	}
}

// TestHTMLInChromium opens report.html in headless Chromium and checks
// the rendered DOM shows the summary and every case.
func TestHTMLInChromium(t *testing.T) {
	bin := testtool.Need(t, "apt-get install -y chromium", "chromium", "chromium-browser", "google-chrome")
	dir := t.TempDir()
	r := sample()
	if err := r.WriteAll(dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+filepath.Join(dir, "profile"),
		"--dump-dom", "file://"+filepath.Join(dir, "report.html"))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)
	for _, want := range []string{
		`<b id="total">3</b>`, `<b id="passed">1</b>`, `<b id="failed">1</b>`, `<b id="skipped">1</b>`,
		`id="verdict" class="failed">FAIL</b>`,
		`id="case-SBI1000-DEV1"`, `id="case-SBI1020-DEV1"`, `id="case-SBI1112-DEV1"`,
		`data-status="failed"`, "Discover device", "needs 10 persons",
		"&lt;script&gt;alert(1)&lt;/script&gt;", // escaped, not executed
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if n := strings.Count(dom, `class="case-row"`); n != 3 {
		t.Errorf("%d case rows, want 3", n)
	}
	// The failed case's details are open so a reader sees them first.
	if !strings.Contains(dom, `id="case-SBI1020-DEV1" class="case" data-status="failed" open=""`) {
		t.Errorf("failed case not expanded")
	}
}
