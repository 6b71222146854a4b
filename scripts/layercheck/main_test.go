package main

import (
	"slices"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	m := func(s string) string { return module + "/" + s }
	pkgs := []Package{
		{ImportPath: m("internal/biometric/match"), Imports: []string{m("firmware-bridge/fir"), m("internal/jp2"), "fmt"}},
		{ImportPath: m("agent"), Imports: []string{m("appliance/db"), m("sbi"), m("internal/tpm")}},
		{ImportPath: m("appliance/auth"), Imports: []string{m("appliance/db")}, TestImports: []string{m("internal/agenttest"), m("agent")}},
		{ImportPath: m("appliance"), Imports: []string{m("internal/agenttest")}},
		{ImportPath: m("internal/agenttest"), Imports: []string{m("agent")}},
		{ImportPath: m("internal/e2e"), TestImports: []string{m("central")}},
		{ImportPath: m("sbi/client"), Imports: []string{m("sbi"), m("internal/cli"), m("claim169")}},
		{ImportPath: m("claim169/trust"), Imports: []string{m("claim169")}},
		{ImportPath: m("central/cmd/edgetrust-central"), Imports: []string{m("central"), m("central/store"), m("internal/issuer")}},
		{ImportPath: "example.com/other", Imports: []string{m("agent")}},
	}
	got := Check(pkgs)
	want := []string{
		"agent imports appliance/db: daemons must not import each other",
		"appliance imports internal/agenttest: a test-support package",
		"appliance/auth imports agent (in a test): daemons must not import each other",
		"internal/biometric/match imports firmware-bridge/fir: a library must not import a daemon",
		"sbi/client imports claim169: sbi and claim169 are public libraries",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d violations, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("violation %d: got %q, want prefix %q", i, got[i], w)
		}
	}
	if !slices.IsSorted(got) {
		t.Error("not sorted")
	}
}
