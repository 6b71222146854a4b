package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// ctkOutput is what edgetrust-ctk run writes to stderr, in the format of
// ctk.Runner.progress: a header, a line per case, a reason under the ones
// that did not pass.
func ctkOutput(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "edgetrust-ctk: %d applicable cases on 3 device(s) at http://127.0.0.1:4501\n", n)
	for i := 1; i <= n; i++ {
		status := "passed"
		if i%7 == 0 {
			status = "skipped"
		}
		if i == 13 {
			status = "failed"
		}
		fmt.Fprintf(&b, "[%*d/%d] %-8s %-15s %-7s %6.2fs  %s\n", len(fmt.Sprint(n)), i, n, fmt.Sprintf("SBI%04d", 1000+i), "finger-slap", status, 0.25, "a case")
		if status != "passed" {
			fmt.Fprintf(&b, "%*s↳ %s\n", 10, "", "why")
		}
	}
	b.WriteString("report: out/report.html\n")
	return b.String()
}

func TestCTKProgressPipe(t *testing.T) {
	var out strings.Builder
	other := ctkProgress(strings.NewReader(ctkOutput(100)), &out, false, time.Now())
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 10 {
		t.Fatalf("want a line every tenth of 100 cases, got %d:\n%s", len(lines), out.String())
	}
	if !strings.HasPrefix(strings.TrimSpace(lines[0]), "10/100 cases, ") {
		t.Errorf("first line: %q", lines[0])
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "100/100 cases") || !strings.HasSuffix(last, "85 passed, 1 failed, 14 skipped") {
		t.Errorf("last line: %q", last)
	}
	if strings.Contains(out.String(), "\r") {
		t.Error("no carriage returns into a pipe")
	}
	if strings.Join(other, "|") != "edgetrust-ctk: 100 applicable cases on 3 device(s) at http://127.0.0.1:4501|report: out/report.html" {
		t.Errorf("other lines: %q", other)
	}
}

func TestCTKProgressTerminal(t *testing.T) {
	var out strings.Builder
	ctkProgress(strings.NewReader(ctkOutput(7)), &out, true, time.Now())
	s := out.String()
	last := s[strings.LastIndex(s, "\r"):]
	if strings.Count(s, "\r") != 7 || !strings.HasPrefix(last, "\r      7/7 cases, ") || !strings.HasSuffix(last, ": 6 passed, 0 failed, 1 skipped\x1b[K\n") {
		t.Fatalf("want 7 redraws ending in the total and a newline, got %q", s)
	}
}

func TestCTKProgressFewCases(t *testing.T) {
	var out strings.Builder
	ctkProgress(strings.NewReader(ctkOutput(3)), &out, false, time.Now())
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Fatalf("3 cases, want 3 lines, got %d: %q", n, out.String())
	}
}
