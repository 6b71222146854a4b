package ctk

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/ctk/internal/fakesbi"
	"github.com/edgetrust/edgetrust/ctk/report"
	"github.com/edgetrust/edgetrust/ctk/suite"
)

// The fake devices (package fakesbi) are a correct finger device and one
// per fault the ctk must catch.

var (
	fakeOnce sync.Once
	fakePKI  *fakesbi.PKI
	fakeKey  *EncryptionKey
	fakeErr  error
)

func fakeSetup(t *testing.T) (*fakesbi.PKI, *EncryptionKey) {
	fakeOnce.Do(func() {
		if fakePKI, fakeErr = fakesbi.NewPKI(); fakeErr != nil {
			return
		}
		fakeKey, fakeErr = LoadOrCreateKey(t.TempDir(), time.Now())
	})
	if fakeErr != nil {
		t.Fatal(fakeErr)
	}
	return fakePKI, fakeKey
}

// autoPrompter confirms every instruction, like a person who does exactly
// what is asked.
type autoPrompter struct {
	mu   sync.Mutex
	asks []string
}

func (a *autoPrompter) Ask(_ context.Context, s string) error {
	a.mu.Lock()
	a.asks = append(a.asks, s)
	a.mu.Unlock()
	return nil
}

func runFake(t *testing.T, fault, cases string) *report.Report {
	t.Helper()
	p, key := fakeSetup(t)
	dev, err := fakesbi.Start(p, key.Cert, fault)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	target, err := ParseTarget(dev.URL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := suite.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	devPool, ftmPool := p.Pools()
	rep, err := Run(context.Background(), Options{Target: target, Suite: st, DeviceRoots: devPool, FTMRoots: ftmPool,
		Key: key, Prompter: &autoPrompter{}, Filter: Filter{Cases: ParseList(cases)}, Slack: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findCase(t *testing.T, rep *report.Report, id string) report.Case {
	t.Helper()
	for _, c := range rep.Cases {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("case %s not run", id)
	return report.Case{}
}

func verdictOf(c report.Case, name string) report.Verdict {
	for _, v := range c.Validators {
		if v.Name == name {
			return v
		}
	}
	return report.Verdict{}
}

const fakeCases = "SBI1000,SBI1001,SBI1020,SBI1048,SBI1069,SBI1090,SBI1107,SBI1196"

// TestCorrectFakePasses is the control for the fault tests: the same
// cases on a correct device all pass, so each fault below is what fails.
func TestCorrectFakePasses(t *testing.T) {
	for _, fault := range []string{fakesbi.None, fakesbi.Resigned} {
		rep := runFake(t, fault, fakeCases)
		if rep.Summary.Total != 8 {
			t.Fatalf("%q: %d cases ran, want 8", fault, rep.Summary.Total)
		}
		for _, c := range rep.Cases {
			if c.Status != report.Passed {
				t.Errorf("%q: %s %s: %s", fault, c.ID, c.Status, c.Reason)
			}
		}
	}
}

// TestFaultsCaught runs each broken device and checks that the right
// validator reports the fault.
func TestFaultsCaught(t *testing.T) {
	tests := []struct {
		fault, caseID, validator, contains string
	}{
		{fakesbi.BadSignature, "SBI1020", suite.ValSignature, "signature does not verify"},
		{fakesbi.Unchained, "SBI1020", suite.ValSignature, "does not chain to a trusted root"},
		{fakesbi.Millis, "SBI1090", suite.ValTimeCheck, "fractional seconds"},
		{fakesbi.BrokenHash, "SBI1107", suite.ValHash, "does not continue the chain"},
		{fakesbi.WrongCount, "SBI1020", suite.ValResponseMismatch, "2 entries, request count 1"},
		{fakesbi.EarlyTimeout, "SBI1048", suite.ValTimeout, "before the timeout"},
		{fakesbi.WrongKey, "SBI1069", ValBioValue, "session key does not unwrap"},
		{fakesbi.WrongKey, "SBI1069", suite.ValISO, "did not decode"},
	}
	covered := map[string]bool{}
	for _, tc := range tests {
		covered[tc.fault] = true
		t.Run(tc.fault+"/"+tc.caseID+"/"+tc.validator, func(t *testing.T) {
			rep := runFake(t, tc.fault, tc.caseID)
			c := findCase(t, rep, tc.caseID)
			if c.Status != report.Failed || rep.OK() {
				t.Fatalf("status %s (report OK %v), want failed", c.Status, rep.OK())
			}
			v := verdictOf(c, tc.validator)
			if v.Status != report.Failed {
				t.Fatalf("%s: %s (%s); verdicts %+v", tc.validator, v.Status, v.Message, c.Validators)
			}
			if !strings.Contains(v.Message, tc.contains) {
				t.Errorf("%s message %q does not mention %q", tc.validator, v.Message, tc.contains)
			}
		})
	}
	for _, f := range fakesbi.Faults {
		if !covered[f] {
			t.Errorf("fault %s is not tested", f)
		}
	}
}

// The early answer is judged against the timeout the case names.
func TestTimeoutNumbers(t *testing.T) {
	rep := runFake(t, fakesbi.EarlyTimeout, "SBI1048")
	v := verdictOf(findCase(t, rep, "SBI1048"), suite.ValTimeout)
	if !strings.Contains(v.Message, "(timeout 500 ms)") {
		t.Fatalf("message %q", v.Message)
	}
	ms := strings.TrimPrefix(strings.SplitN(v.Message, " ms", 2)[0], "answered after ")
	if n, err := strconv.Atoi(ms); err != nil || n >= 500 {
		t.Fatalf("elapsed %q", ms)
	}
}

// Without a person or a hook, a case that needs the biometric withheld is
// skipped, never passed.
func TestNonInteractiveSkipsWithReason(t *testing.T) {
	p, key := fakeSetup(t)
	dev, err := fakesbi.Start(p, key.Cert, fakesbi.None)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	target, _ := ParseTarget(dev.URL)
	st, _ := suite.Embedded()
	devPool, ftmPool := p.Pools()
	rep, err := Run(context.Background(), Options{Target: target, Suite: st, DeviceRoots: devPool, FTMRoots: ftmPool,
		Key: key, Filter: Filter{Cases: []string{"SBI1048", "SBI1024", "SBI1027", "SBI1154"}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Skipped != 4 || rep.Summary.Passed != 0 {
		t.Fatalf("summary %+v", rep.Summary)
	}
	for _, c := range rep.Cases {
		if !strings.Contains(c.Reason, "--non-interactive") && !strings.Contains(c.Reason, "run interactively") {
			t.Errorf("%s: reason %q does not say how to run it", c.ID, c.Reason)
		}
	}
}
