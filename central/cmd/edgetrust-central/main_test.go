package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/edgetrust/edgetrust/internal/cli/clitest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"edgetrust-central": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) },
	})
}

// TestScripts pins the command-line behaviour in testdata/*.txt.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		// [requiretools]: EDGETRUST_REQUIRE_TOOLS=1 (CI), where a missing
		// tool fails the script instead of skipping it.
		Condition: func(cond string) (bool, error) {
			if cond == "requiretools" {
				return os.Getenv("EDGETRUST_REQUIRE_TOOLS") == "1", nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Setup: func(env *testscript.Env) error {
			env.Setenv("EDGETRUST_CENTRAL_PASSPHRASE", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonshape": clitest.JSONShape,
			"waitfile":  clitest.WaitFile(60 * time.Second),
			// setenvfile NAME PATH: set NAME to PATH's trimmed content.
			"setenvfile": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: setenvfile NAME path")
				}
				ts.Setenv(args[0], strings.TrimSpace(ts.ReadFile(args[1])))
			},
			// mode PATH OCTAL: PATH's permission bits are OCTAL.
			"mode": func(ts *testscript.TestScript, neg bool, args []string) {
				if len(args) != 2 {
					ts.Fatalf("usage: mode path 0600")
				}
				fi, err := os.Stat(ts.MkAbs(args[0]))
				ts.Check(err)
				if got := fmtMode(fi.Mode().Perm()); (got == args[1]) == neg {
					ts.Fatalf("%s has mode %s, want %s", args[0], got, args[1])
				}
			},
		},
	})
}

func fmtMode(m os.FileMode) string {
	const digits = "01234567"
	return "0" + string(digits[(m>>6)&7]) + string(digits[(m>>3)&7]) + string(digits[m&7])
}
