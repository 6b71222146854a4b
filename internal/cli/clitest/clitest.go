package clitest

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/edgetrust/edgetrust/internal/cli"
)

// Help runs "PATH --help" and "help PATH" for every command and group of p
// and fails t unless each exits 0, prints help, and mentions every flag of
// the flag sets the command made (cli.NewFlagSet), and that a command's
// help shows an example.
func Help(t *testing.T, p *cli.Program) {
	t.Helper()
	var out, errb bytes.Buffer
	if code := p.RunContext(context.Background(), []string{"--help"}, &cli.Env{Stdout: &out, Stderr: &errb}); code != 0 || out.Len() == 0 {
		t.Errorf("%s --help: exit %d, stdout %q", p.Name, code, out.String())
	}
	p.Walk(func(path []string, c *cli.Command) {
		for _, args := range [][]string{append(append([]string{}, path...), "--help"), append([]string{"help"}, path...)} {
			var sets []*flag.FlagSet
			stop := cli.OnNewFlagSet(func(fs *flag.FlagSet) { sets = append(sets, fs) })
			var out, errb bytes.Buffer
			code := p.RunContext(context.Background(), args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
			stop()
			name := p.Name + " " + strings.Join(args, " ")
			if code != 0 {
				t.Errorf("%s: exit %d\nstderr: %s", name, code, errb.String())
				continue
			}
			help := out.String() + errb.String()
			if len(help) < 40 {
				t.Errorf("%s: help too short: %q", name, help)
			}
			if c.Run != nil && !strings.Contains(strings.ToLower(help), "example") {
				t.Errorf("%s: help has no example", name)
			}
			if c.Run != nil && len(sets) == 0 && len(path) > 0 {
				// A command without flags may still print help; nothing to check.
				continue
			}
			for _, fs := range sets {
				fs.VisitAll(func(f *flag.Flag) {
					if !strings.Contains(help, "-"+f.Name) {
						t.Errorf("%s: help does not mention --%s", name, f.Name)
					}
				})
			}
		}
	})
}
