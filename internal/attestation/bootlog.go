package attestation

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	gattest "github.com/google/go-attestation/attest"
)

// Boot event logs: the platform firmware's TCG PC Client log (crypto-agile,
// TCG PFP 2.0, as Linux exposes it at BootLogPath) that explains PCRs 0–7.
// Parsing and replay are go-attestation's (ParseEventLog, Verify, with its
// workarounds for known firmware quirks); this file bounds the input and
// keeps the result to what central checks.

// BootLogPath is where Linux exposes the firmware's event log.
const BootLogPath = "/sys/kernel/security/tpm0/binary_bios_measurements"

// MaxBootLog bounds a boot log (real ones are 10–100 KiB).
const MaxBootLog = 512 << 10

// BootPCRs are the platform PCRs a boot log explains.
var BootPCRs = []int{0, 1, 2, 3, 4, 5, 6, 7}

// Boot-log failure reasons (Verdict.Reason).
const (
	ReasonBootLog       = "boot-log-replay"  // the boot log does not parse or does not reproduce the quoted PCRs 0–7
	ReasonBootLogAbsent = "boot-log-missing" // the policy requires a boot log and the evidence has none
	ReasonSecureBootOff = "secure-boot-off"  // the policy requires UEFI Secure Boot and the log says it is off
)

// BootLog is what a replayed boot log established.
type BootLog struct {
	// Events is the number of events replayed into the PCRs checked.
	Events int
	// PCRs are the PCRs checked (those of 0–7 the quote covers).
	PCRs []int
	// SecureBoot reports UEFI Secure Boot as the log records it (nil: the
	// log does not say, or its PCR 7 events do not parse).
	SecureBoot *bool
}

// ReplayBootLog parses a TCG PC Client event log and replays it against the
// quoted values of PCRs 0–7 in bank alg (crypto.SHA256 for central's
// quotes). Every quoted PCR among 0–7 must be reproduced exactly; a log for
// none of them is refused.
func ReplayBootLog(raw []byte, quoted map[int][]byte, alg crypto.Hash) (bl *BootLog, err error) {
	if len(raw) == 0 {
		return nil, errors.New("boot log: empty")
	}
	if len(raw) > MaxBootLog {
		return nil, fmt.Errorf("boot log: %d bytes, more than %d", len(raw), MaxBootLog)
	}
	var pcrs []gattest.PCR
	var checked []int
	for _, i := range BootPCRs {
		if v, ok := quoted[i]; ok {
			pcrs = append(pcrs, gattest.PCR{Index: i, Digest: v, DigestAlg: alg})
			checked = append(checked, i)
		}
	}
	if len(pcrs) == 0 {
		return nil, errors.New("boot log: the quote covers none of PCRs 0–7, so there is nothing to check it against")
	}
	// The parser is third-party code fed untrusted bytes: a panic in it is
	// a refused log, not a crashed verifier.
	defer func() {
		if r := recover(); r != nil {
			bl, err = nil, fmt.Errorf("boot log: the parser failed on it: %v", r)
		}
	}()
	el, err := gattest.ParseEventLog(raw)
	if err != nil {
		return nil, fmt.Errorf("boot log: %w", err)
	}
	events, err := el.Verify(pcrs)
	if err != nil {
		var re gattest.ReplayError
		if errors.As(err, &re) {
			return nil, fmt.Errorf("boot log: it does not reproduce the quoted PCRs %v", re.InvalidPCRs)
		}
		return nil, fmt.Errorf("boot log: %w", err)
	}
	bl = &BootLog{Events: len(events), PCRs: checked}
	if slices.Contains(checked, 7) {
		if sb, err := gattest.ParseSecurebootState(events); err == nil {
			on := sb.Enabled
			bl.SecureBoot = &on
		}
	}
	return bl, nil
}

// ReadBootLog reads the platform's boot log (nil, nil where it has none:
// no TPM driver, or a platform without a firmware log).
func ReadBootLog() ([]byte, error) { return BootLogFile(BootLogPath)() }

// NoBootLog is the BootLogFile path that turns the boot log off.
const NoBootLog = "none"

// BootLogFile returns a Prover.BootLog that reads the TCG boot log at path
// (BootLogPath when empty; nil for NoBootLog). A missing file is no log,
// not an error: the node sends none and the policy decides
// (requireBootLog). A larger file than MaxBootLog is an error.
func BootLogFile(path string) func() ([]byte, error) {
	if path == NoBootLog {
		return nil
	}
	if path == "" {
		path = BootLogPath
	}
	return func() ([]byte, error) {
		f, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("boot log %s: %w", path, err)
		}
		defer f.Close()
		// securityfs reports size 0, so read to a bound, not by Stat.
		b, err := io.ReadAll(io.LimitReader(f, MaxBootLog+1))
		if err != nil {
			return nil, fmt.Errorf("boot log %s: %w", path, err)
		}
		if len(b) > MaxBootLog {
			return nil, fmt.Errorf("boot log %s: more than %d bytes", path, MaxBootLog)
		}
		if len(b) == 0 {
			return nil, nil
		}
		return b, nil
	}
}
