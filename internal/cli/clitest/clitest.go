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
// and fails t unless each exits 0, prints help on stdout and nothing on
// stderr, mentions every flag of the flag sets the command made
// (cli.NewFlagSet), and shows an example (groups too).
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
			help := out.String()
			if errb.Len() > 0 {
				t.Errorf("%s: help went to stderr, want stdout: %q", name, errb.String())
			}
			if len(help) < 40 {
				t.Errorf("%s: help too short: %q", name, help)
			}
			if !strings.Contains(strings.ToLower(help), "example") {
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

// Usage checks what every binary promises about wrong usage: an unknown
// command at the top and in every group, a bare group (one without a
// Default) and an unknown flag on every command each exit 2, print
// nothing on stdout and one line on stderr that names the command and
// says where to look next (--help).
func Usage(t *testing.T, p *cli.Program) {
	t.Helper()
	check := func(args []string) {
		var out, errb bytes.Buffer
		code := p.RunContext(context.Background(), args, &cli.Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb})
		name := p.Name + " " + strings.Join(args, " ")
		msg := errb.String()
		switch {
		case code != cli.ExitUsage:
			t.Errorf("%s: exit %d, want %d\nstderr: %s", name, code, cli.ExitUsage, msg)
		case out.Len() > 0:
			t.Errorf("%s: wrote to stdout on a usage error: %q", name, out.String())
		case strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n"):
			t.Errorf("%s: want one line on stderr, got %q", name, msg)
		case !strings.HasPrefix(msg, p.Name) || !strings.Contains(msg, "--help"):
			t.Errorf("%s: the line should name the command and point at --help: %q", name, msg)
		}
	}
	check([]string{"no-such-command"})
	p.Walk(func(path []string, c *cli.Command) {
		at := func(extra ...string) []string { return append(append([]string{}, path...), extra...) }
		if c.Run != nil {
			check(at("--no-such-flag"))
			return
		}
		check(at("no-such-command"))
		if c.Default == nil {
			check(at())
		}
	})
}
