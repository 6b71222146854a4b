package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/cli/clitest"
)

// TestHelp: --help and help CMD exit 0 on every command and name every flag.
func TestHelp(t *testing.T) { clitest.Help(t, program) }

// TestUsage: wrong usage of every command exits 2 with one line that
// points at --help.
func TestUsage(t *testing.T) { clitest.Usage(t, program) }

// TestAdminHelpFlags: each admin synopsis names only flags that exist, so
// its help lists them in full.
func TestAdminHelpFlags(t *testing.T) {
	for key, h := range adminHelp {
		var sets []*flag.FlagSet
		stop := cli.OnNewFlagSet(func(fs *flag.FlagSet) { sets = append(sets, fs) })
		var out bytes.Buffer
		code := program.RunContext(context.Background(), append(strings.Fields(key), "--help"), &cli.Env{Stdout: &out, Stderr: &out})
		stop()
		if code != 0 || len(sets) != 1 {
			t.Fatalf("%s --help: exit %d, %d flag sets", key, code, len(sets))
		}
		for _, n := range usageFlags(h.Usage) {
			if sets[0].Lookup(n) == nil {
				t.Errorf("%s: synopsis names --%s, which is not a flag", key, n)
			} else if !strings.Contains(out.String(), "  --"+n+" ") && !strings.Contains(out.String(), "  --"+n+"\n") {
				t.Errorf("%s: --%s is not explained", key, n)
			}
		}
	}
}
