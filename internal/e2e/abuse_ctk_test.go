package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestAbuseCTKUnderLoad runs the compliance tool kit against the agent
// (emulated sensors) once on an idle machine and once while two busy
// loops per core saturate the CPU: no case may change verdict. The short
// form runs discovery, info, the capture timeouts (SBI1046-1048) and the
// TimeCheck cases (SBI1087-1090), the timing-dependent ones;
// EDGETRUST_FAULTS=full runs every applicable case.
func TestAbuseCTKUnderLoad(t *testing.T) {
	dir := t.TempDir()
	ctk := filepath.Join(dir, "edgetrust-ctk")
	if out, err := exec.Command("go", "build", "-o", ctk, "github.com/edgetrust/edgetrust/ctk/cmd/edgetrust-ctk").CombinedOutput(); err != nil {
		t.Fatalf("building the ctk: %v\n%s", err, out)
	}
	e := &env{t: t}
	keys := filepath.Join(dir, "ctk-keys")
	cert := filepath.Join(dir, "ctk.pem")
	out, err := exec.Command(ctk, "cert", "--key-dir", keys).Output()
	if err != nil {
		t.Fatalf("ctk cert: %v", err)
	}
	os.WriteFile(cert, out, 0o644)
	state := filepath.Join(dir, "agent")
	agent := e.start("edgetrust-agent", "serve", "--dev", "--state", state, "--encryption-cert", cert)
	var info struct{ Port int }
	firstJSONLine(t, agent, &info)

	cases := "SBI1000,SBI1001,SBI1046,SBI1047,SBI1048,SBI1087,SBI1088,SBI1089,SBI1090" // discovery, info, capture timeouts, TimeCheck
	if abuseFull() {
		cases = ""
	}
	run := func(name string) map[string]string {
		t.Helper()
		rep := filepath.Join(dir, "report-"+name)
		args := []string{"run", "--target", fmt.Sprintf("http://127.0.0.1:%d", info.Port),
			"--device-ca", filepath.Join(state, "dev-pki", "provider-ca.pem"), "--ftm-ca", filepath.Join(state, "dev-pki", "ftm-ca.pem"),
			"--control", "unix:" + filepath.Join(state, "control.sock"), "--key-dir", keys, "--non-interactive", "--report-dir", rep}
		if cases != "" {
			args = append(args, "--case", cases)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		start := time.Now()
		cmd := exec.CommandContext(ctx, ctk, args...)
		combined, err := cmd.CombinedOutput()
		if ctx.Err() != nil {
			t.Fatalf("ctk run (%s) did not finish: %s", name, combined)
		}
		_ = err // a failing case exits 1; the verdicts are compared below
		b, rerr := os.ReadFile(filepath.Join(rep, "report.json"))
		if rerr != nil {
			t.Fatalf("ctk run (%s): no report (%v): %s", name, err, combined)
		}
		var r struct {
			Summary struct{ Total, Passed, Failed, Skipped int }
			Cases   []struct{ ID, Device, Status, Reason string }
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		v := map[string]string{}
		for _, c := range r.Cases {
			v[c.ID+" "+c.Device] = c.Status + ": " + c.Reason
		}
		t.Logf("ABUSE ctk %s: %d cases in %v: %d passed, %d failed, %d skipped", name, r.Summary.Total,
			time.Since(start).Round(time.Second), r.Summary.Passed, r.Summary.Failed, r.Summary.Skipped)
		if r.Summary.Total == 0 {
			t.Fatalf("ctk run (%s) ran no case: %s", name, combined)
		}
		return v
	}
	idle := run("idle")

	// Busy loops as separate processes (two per core, at least two), so
	// the ctk and the agent compete with them for every core.
	var hogs []*exec.Cmd
	for range busyLoops() {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		hogs = append(hogs, c)
	}
	loaded := func() map[string]string {
		defer func() {
			for _, c := range hogs {
				c.Process.Kill()
				c.Wait()
			}
		}()
		return run("loaded")
	}()

	var changed []string
	for id, a := range idle {
		if b, ok := loaded[id]; !ok {
			changed = append(changed, id+": missing under load")
		} else if verdictOf(a) != verdictOf(b) {
			changed = append(changed, fmt.Sprintf("%s: %s idle, %s loaded", id, a, b))
		}
	}
	for id := range loaded {
		if _, ok := idle[id]; !ok {
			changed = append(changed, id+": only under load")
		}
	}
	sort.Strings(changed)
	if len(changed) > 0 {
		t.Fatalf("%d cases changed verdict under CPU load:\n%s", len(changed), strings.Join(changed, "\n"))
	}
	t.Logf("ABUSE ctk: %d cases, none changed verdict under %d busy loops", len(idle), busyLoops())
}

func busyLoops() int { return max(2, 2*runtime.NumCPU()) }

// verdictOf is the status of "status: reason".
func verdictOf(s string) string {
	v, _, _ := strings.Cut(s, ":")
	return v
}
