package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// attestDemo shows continuous attestation (docs/attestation.md): the
// agent answers central's challenges with TPM quotes; the vendor raises
// its firmware floor above what the module runs, so the next quote fails,
// central quarantines the device through the trust feed and the appliance
// refuses its capture; the policy is put back and an admin lifts the
// quarantine.
func (c *chain) attestDemo(ctx context.Context) error {
	fmt.Println("\nContinuous attestation: TPM quotes checked against the vendor's policy")
	const dev, vendor = "ETFA000000001", "EDGETRUST.SBI"
	st, err := c.waitAttest(ctx, dev, func(s attestStatus) bool { return s.State == "attested" }, 60*time.Second)
	if err != nil {
		return err
	}
	step("%s answered central's fresh nonce with a TPM quote signed by its AK and the event log behind PCR 14: attested at %s (firmware %s)",
		dev, st.LastAttested.UTC().Format(time.TimeOnly), strings.Join(st.Firmware, ", "))

	if err := c.attestPolicy(ctx, vendor, `{"minFirmware": "99.0.0"}`); err != nil {
		return err
	}
	start := time.Now()
	var reasons []string
	for {
		valid, r, err := c.verifyAtAppliance(ctx, dev)
		if err != nil {
			return err
		}
		if !valid {
			reasons = r
			break
		}
		if time.Since(start) > 60*time.Second {
			return fmt.Errorf("the appliance still accepts %s 60 s after its vendor raised the firmware floor", dev)
		}
		time.Sleep(200 * time.Millisecond)
	}
	st, err = c.waitAttest(ctx, dev, func(s attestStatus) bool { return s.State == "failed" }, 10*time.Second)
	if err != nil {
		return err
	}
	step("the vendor raised its minimum firmware to 99.0.0 (remote downgrade protection): the next quote failed (%s), central quarantined %s, and %v after the policy change the appliance refused its capture: %s",
		st.Reason, dev, time.Since(start).Round(100*time.Millisecond), strings.Join(reasons, "; "))

	if err := c.attestPolicy(ctx, vendor, `{"minFirmware": "1.0.0"}`); err != nil {
		return err
	}
	// The floor was the vendor's, so every device of the vendor failed:
	// an admin lifts each quarantine (audited).
	out, err := c.run(ctx, "edgetrust-central", "device", "list", "--vendor", vendor, "--json")
	if err != nil {
		return err
	}
	var devs []struct {
		Serial, Status, Reason string
	}
	if err := json.Unmarshal([]byte(out), &devs); err != nil {
		return fmt.Errorf("device list --json: %w", err)
	}
	lifted := 0
	for _, d := range devs {
		if !strings.HasPrefix(d.Reason, "attestation-") {
			continue
		}
		if _, err := c.run(ctx, "edgetrust-central", "attest", "quarantine", "lift", "--device", d.Serial, "--reason", "demo: firmware floor put back"); err != nil {
			return err
		}
		lifted++
	}
	for start = time.Now(); ; time.Sleep(200 * time.Millisecond) {
		valid, r, err := c.verifyAtAppliance(ctx, dev)
		if err != nil {
			return err
		}
		if valid {
			break
		}
		if time.Since(start) > 60*time.Second {
			return fmt.Errorf("%s still refused after its quarantine was lifted: %v", dev, r)
		}
	}
	step("policy put back and the quarantines of the vendor's %d devices lifted by an admin (audited): captures verify again", lifted)
	return nil
}

type attestStatus struct {
	State        string    `json:"state"`
	Reason       string    `json:"reason"`
	LastAttested time.Time `json:"lastAttested"`
	Firmware     []string  `json:"firmware"`
}

func (c *chain) waitAttest(ctx context.Context, dev string, ok func(attestStatus) bool, d time.Duration) (attestStatus, error) {
	var st attestStatus
	for start := time.Now(); ; time.Sleep(250 * time.Millisecond) {
		out, err := c.run(ctx, "edgetrust-central", "attest", "status", "--device", dev, "--json")
		if err != nil {
			return st, err
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			return st, fmt.Errorf("attest status --json: %w", err)
		}
		if ok(st) {
			return st, nil
		}
		if time.Since(start) > d {
			return st, fmt.Errorf("%s is %s (%s) after %v", dev, st.State, st.Reason, d)
		}
	}
}

func (c *chain) attestPolicy(ctx context.Context, scope, policy string) error {
	f := filepath.Join(c.state, "attest-policy.json")
	if err := os.WriteFile(f, []byte(policy), 0o644); err != nil {
		return err
	}
	_, err := c.run(ctx, "edgetrust-central", "attest", "policy", "set", "--scope", scope, "--file", f)
	return err
}
