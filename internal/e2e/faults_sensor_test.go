package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// TestFaultSensorLine (issue #14): the agent process drives an R30x module
// emulated by the test on a pseudo-terminal, through its real serial
// driver, while the module misbehaves: pulled out before answering,
// pulled out half-way through the image upload, answering only garbage,
// stalling on the line. Each time the agent answers an SBI error code (102
// for a module that stopped answering or sent garbage; 101 when no finger
// came), answers within the request's timeout plus a bounded margin (never
// hangs), and the next capture once the module is back succeeds.
func TestFaultSensorLine(t *testing.T) {
	emu, err := emulator.Start(emulator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer emu.Close()
	root := t.TempDir()
	e := &env{t: t}
	cfgFile := filepath.Join(root, "agent.json")
	cfg := map[string]any{"devices": []map[string]any{{"id": "ETFA000000009", "type": sbi.TypeFinger, "subType": "Single",
		"purpose": sbi.PurposeAuth, "certification": sbi.CertL1, "make": "edgetrust", "model": "R30x on a pty", "sensor": emu.Path()}}}
	b, _ := json.Marshal(cfg)
	os.WriteFile(cfgFile, b, 0o600)
	agent := e.start("edgetrust-agent", "serve", "--dev", "--tpm", "sim", "--state", filepath.Join(root, "agent"), "--config", cfgFile)
	var info struct{ Port int }
	firstJSONLine(t, agent, &info)

	const timeoutMS = 3000
	capture := func() (code string, took time.Duration) {
		t.Helper()
		req := &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
			Timeout: sbi.NumString(fmt.Sprint(timeoutMS)), DomainURI: "https://ida.example.org", TransactionID: fmt.Sprintf("fault-%d", time.Now().UnixNano()),
			Bio: []sbi.BioRequest{{Type: sbi.TypeFinger, Count: "1", BioSubType: []string{"UNKNOWN"}, RequestedScore: "40", DeviceID: "ETFA000000009", DeviceSubID: "0"}}}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start := time.Now()
		resp, raw, err := (&client.Client{}).Capture(ctx, info.Port, req)
		took = time.Since(start)
		if err != nil {
			t.Fatalf("CAPTURE: %v\n%s", err, agent.Output())
		}
		if len(resp.Biometrics) == 0 {
			t.Fatalf("CAPTURE answered no biometrics: %s", raw)
		}
		return string(resp.Biometrics[0].Error.Code), took
	}
	if code, _ := capture(); code != sbi.CodeSuccess {
		t.Fatalf("healthy module: error %s", code)
	}
	// The bound: the request's timeout, plus one reply timeout and its
	// retries (3 s with the driver's defaults) for a command already on the
	// wire, plus slack for a loaded machine.
	bound := timeoutMS*time.Millisecond + 3*time.Second + 2*time.Second
	for _, c := range []struct {
		name  string
		fault emulator.Faults
		want  []string
	}{
		{"unplugged before answering", emulator.Faults{UnplugAfter: 1}, []string{sbi.CodeExtraction}},
		// Mid-image, the module's silence can outlast the request: the
		// driver then sees the request's deadline, not a dead module, and
		// the agent answers 101 (seen under -race on a loaded machine).
		{"unplugged mid-image", emulator.Faults{UnplugAfter: 20}, []string{sbi.CodeExtraction, sbi.CodeNoBiometric}},
		{"garbage on the line", emulator.Faults{Garbage: 40, Corrupt: 1 << 20}, []string{sbi.CodeExtraction}},
		{"stalled line", emulator.Faults{Stall: 5 * time.Second}, []string{sbi.CodeExtraction, sbi.CodeNoBiometric}},
		{"no finger", emulator.Faults{NoFinger: true}, []string{sbi.CodeNoBiometric}},
	} {
		emu.SetFaults(c.fault)
		code, took := capture()
		ok := false
		for _, w := range c.want {
			ok = ok || code == w
		}
		if !ok {
			t.Fatalf("%s: SBI error %q, want one of %v", c.name, code, c.want)
		}
		if took > bound {
			t.Fatalf("%s: answered after %v, over the request's %d ms timeout plus margin (%v)", c.name, took.Round(time.Millisecond), timeoutMS, bound)
		}
		emu.SetFaults(emulator.Faults{})
		// A stalled reply may still be on the wire: the driver drops it.
		var again string
		var tookOK time.Duration
		waitFor(t, c.name+": the module back, a capture succeeds", 30*time.Second, agent, func() bool {
			again, tookOK = capture()
			return again == sbi.CodeSuccess
		})
		t.Logf("%s: SBI %s after %v; healthy again: a capture in %v", c.name, code, took.Round(time.Millisecond), tookOK.Round(time.Millisecond))
	}
}
