package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func testProgram(ran *[]string) *Program {
	leaf := func(name string) func(context.Context, *Env, []string) error {
		return func(_ context.Context, env *Env, args []string) error {
			fs := NewFlagSet(name)
			// Help through Stderr, as the commands do: the runner must
			// still put it on stdout.
			SetHelp(fs, env.Stderr, Help{Usage: "prog " + name + " [flags]", About: "Does " + name + ".", Example: "  prog " + name, EnvPrefix: "P_"})
			fs.String("thing", "x", "the `THING`")
			if err := Parse(fs, args); err != nil {
				return err
			}
			*ran = append(*ran, name+" "+strings.Join(fs.Args(), " "))
			switch fs.Arg(0) {
			case "usage":
				return Usagef("bad %s", "call")
			case "usage2":
				return Usage(errors.Join(errors.New("--a is required"), errors.New("--b is required")))
			case "usagehelp":
				return Usagef("see edgetrust --help")
			case "fail":
				return errors.New("broke")
			case "quiet":
				return Code(3)
			}
			return nil
		}
	}
	return &Program{Name: "prog", Help: "prog does things\n", Commands: []*Command{
		{Name: "serve", Summary: "serve", Run: leaf("serve")},
		{Name: "present", Aliases: []string{"finger"}, Run: leaf("present")},
		{Name: "vendor", Summary: "manage vendors", Example: "  prog vendor add --thing acme", Commands: []*Command{
			{Name: "add", Summary: "add one", Run: leaf("add")},
			{Name: "list", Summary: "list them", Run: leaf("list")},
		}},
	}}
}

func TestRun(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		code           int
		stdout, stderr string
		ran            string
	}{
		{nil, 2, "", "prog does things", ""},
		{[]string{"help"}, 0, "prog does things", "", ""},
		{[]string{"--help"}, 0, "prog does things", "", ""},
		{[]string{"-h"}, 0, "prog does things", "", ""},
		{[]string{"help", "serve"}, 0, "Does serve.", "", ""},
		{[]string{"help", "vendor", "add"}, 0, "Usage: prog add [flags]", "", ""},
		{[]string{"serve", "--help"}, 0, "[$P_THING]", "", ""},
		{[]string{"serve", "-h"}, 0, "(default x)", "", ""},
		{[]string{"vendor", "--help"}, 0, "add          add one", "", ""},
		{[]string{"help", "vendor"}, 0, "list them", "", ""},
		{[]string{"vendor", "-h"}, 0, "\nExample:\n  prog vendor add --thing acme\n", "", ""},
		{[]string{"vendor"}, 2, "", `prog vendor needs a subcommand: add or list (run "prog vendor --help" for what each does)` + "\n", ""},
		{[]string{"serv"}, 2, "", `prog: unknown command "serv" (did you mean "serve"?); run "prog --help" for the list` + "\n", ""},
		{[]string{"vendor", "ad"}, 2, "", `prog vendor: unknown command "ad" (did you mean "add"?); run "prog vendor --help" for the list` + "\n", ""},
		{[]string{"zzzzzzzz"}, 2, "", `prog: unknown command "zzzzzzzz"; run "prog --help" for the list` + "\n", ""},
		{[]string{"serve", "--nope"}, 2, "", `prog serve: flag provided but not defined: -nope (run "prog serve --help")` + "\n", ""},
		{[]string{"serve", "usage"}, 2, "", `prog serve: bad call (run "prog serve --help")` + "\n", "serve usage"},
		{[]string{"serve", "usage2"}, 2, "", `prog serve: --a is required; --b is required (run "prog serve --help")` + "\n", "serve usage2"},
		{[]string{"serve", "usagehelp"}, 2, "", "prog serve: see edgetrust --help\n", "serve usagehelp"},
		{[]string{"serve", "fail"}, 1, "", "prog serve: broke", "serve fail"},
		{[]string{"serve", "quiet"}, 3, "", "", "serve quiet"},
		{[]string{"finger", "a"}, 0, "", "", "present a"},
		{[]string{"vendor", "list", "b"}, 0, "", "", "list b"},
	} {
		var ran []string
		var out, errb bytes.Buffer
		code := testProgram(&ran).Run(tc.args, &Env{Stdout: &out, Stderr: &errb})
		if code != tc.code || !strings.Contains(out.String(), tc.stdout) || !strings.Contains(errb.String(), tc.stderr) ||
			strings.Join(ran, ";") != strings.TrimSpace(tc.ran) && tc.ran != "" {
			t.Errorf("%q: code %d ran %q\nstdout %q\nstderr %q", tc.args, code, ran, out.String(), errb.String())
		}
		if tc.stdout == "" && out.Len() > 0 {
			t.Errorf("%q: unexpected stdout %q", tc.args, out.String())
		}
		if tc.stderr == "" && errb.Len() > 0 {
			t.Errorf("%q: unexpected stderr %q", tc.args, errb.String())
		}
		if tc.code == 2 && len(tc.args) > 0 && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%q: a usage error is one line, got %q", tc.args, errb.String())
		}
	}
}

func TestClosest(t *testing.T) {
	c := []string{"serve", "status", "set-status", "enrol", "rotate-key", "present", "version"}
	for in, want := range map[string]string{"serv": "serve", "stauts": "status", "enroll": "enrol", "rot": "rotate-key", "xyzzyxyzzy": "", "versoin": "version"} {
		if got := Closest(in, c); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWalk(t *testing.T) {
	var ran []string
	var got []string
	testProgram(&ran).Walk(func(p []string, _ *Command) { got = append(got, strings.Join(p, " ")) })
	if strings.Join(got, ",") != "serve,present,vendor,vendor add,vendor list" {
		t.Fatal(got)
	}
}

func TestOnNewFlagSet(t *testing.T) {
	var seen []string
	stop := OnNewFlagSet(func(fs *flag.FlagSet) { seen = append(seen, fs.Name()) })
	NewFlagSet("a")
	stop()
	NewFlagSet("b")
	if strings.Join(seen, ",") != "a" {
		t.Fatal(seen)
	}
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.json")
	os.WriteFile(cfg, []byte(`{"state": "file", "pgDsn": "file-dsn", "addr": "file-addr", "rate": 2.5, "dev": true, "cert": ["a", "b"], "store": ""}`), 0o600)
	fs := NewFlagSet("x")
	state := fs.String("state", "def", "")
	dsn := fs.String("pg-dsn", "def", "")
	addr := fs.String("addr", "def", "")
	store := fs.String("store", "badger", "")
	rate := fs.Float64("rate", 1, "")
	dev := fs.Bool("dev", false, "")
	var certs StringList
	fs.Var(&certs, "cert", "")
	fs.String("config", "", "")
	fs.Parse([]string{"--state", "flag"})
	t.Setenv("ET_PG_DSN", "env-dsn")
	set, err := Resolve(fs, "ET_", cfg)
	if err != nil {
		t.Fatal(err)
	}
	if *state != "flag" || *dsn != "env-dsn" || *addr != "file-addr" || *store != "badger" || *rate != 2.5 || !*dev ||
		strings.Join(certs, ",") != "a,b" || !set["addr"] || set["store"] {
		t.Fatalf("state %q dsn %q addr %q store %q rate %v dev %v certs %v set %v", *state, *dsn, *addr, *store, *rate, *dev, certs, set)
	}
	for body, want := range map[string]string{
		`{"stat": "x"}`:    `unknown field "stat"`,
		`{"config": "x"}`:  `unknown field "config"`,
		`{"rate": "fast"}`: `rate: parse error`,
		`{"addr": {}}`:     `addr: want a string`,
		`{"addr": "a"} {}`: `data after the JSON object`,
		`["state"]`:        `cannot unmarshal array`,
		// Strict (internal/jsonx): no duplicate decides a setting.
		`{"addr": "a", "addr": "b"}`:      `member "addr" given twice`,
		`{"pgDsn": "a", "pg-dsn": "b"}`:   `fields "pg-dsn" and "pgDsn" name the same setting`,
		"{\"addr\": \"a\xff\"}":           `invalid UTF-8`,
		`{"addr": [[[[[[[[["a"]]]]]]]]]}`: `nested deeper than 8`,
	} {
		os.WriteFile(cfg, []byte(body), 0o600)
		fs := NewFlagSet("y")
		fs.Float64("rate", 1, "")
		fs.String("addr", "", "")
		fs.String("config", "", "")
		_, err := Resolve(fs, "ET_", cfg)
		var ue UsageError
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "config "+cfg) || !errors.As(err, &ue) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
}

func TestConfigFileTooLarge(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"addr": "`+strings.Repeat("a", MaxConfigSize)+`"}`), 0o600)
	fs := NewFlagSet("y")
	fs.String("addr", "", "")
	var ue UsageError
	if _, err := Resolve(fs, "ET_", cfg); err == nil || !strings.Contains(err.Error(), "larger than") || !errors.As(err, &ue) {
		t.Fatalf("oversized config: %v", err)
	}
}

func TestLogger(t *testing.T) {
	var b bytes.Buffer
	l, err := NewLogger(&b, "warn", "json")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("quiet")
	l.Warn("loud", "k", 1)
	if !strings.Contains(b.String(), `"msg":"loud"`) || strings.Contains(b.String(), "quiet") {
		t.Fatal(b.String())
	}
	b.Reset()
	lf := LogFlags{}
	fs := NewFlagSet("z")
	lf.Register(fs, "text")
	fs.Parse(nil)
	l, _ = lf.Logger(&b)
	l.Info("hi")
	if !strings.Contains(b.String(), "msg=hi") {
		t.Fatal(b.String())
	}
	var ue UsageError
	if _, err := NewLogger(&b, "loud", "json"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--log-level") {
		t.Fatal(err)
	}
	if _, err := NewLogger(&b, "info", "xml"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "--log-format") {
		t.Fatal(err)
	}
}

func TestSignalContext(t *testing.T) {
	exited := make(chan int, 1)
	exit = func(code int) { exited <- code }
	defer func() { exit = os.Exit }()
	var errb bytes.Buffer
	ctx, stop := SignalContext(context.Background(), &errb)
	defer stop()
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("first signal did not cancel")
	}
	syscall.Kill(syscall.Getpid(), syscall.SIGTERM)
	select {
	case code := <-exited:
		if code != ExitFailure {
			t.Fatal(code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not exit")
	}
}

func TestParseEnv(t *testing.T) {
	fs := NewFlagSet("p")
	a := fs.String("a", "", "")
	b := fs.String("b", "", "")
	t.Setenv("ET_A", "env-a")
	t.Setenv("ET_B", "env-b")
	set, err := ParseEnv(fs, []string{"--b", "flag-b", "extra"}, "ET_")
	if err != nil || *a != "env-a" || *b != "flag-b" || !set["a"] || !set["b"] {
		t.Fatalf("%v a %q b %q set %v", err, *a, *b, set)
	}
	var ue UsageError
	if err := NoArgs(fs); !errors.As(err, &ue) || !strings.Contains(err.Error(), `unexpected argument "extra"`) {
		t.Fatal(err)
	}
	t.Setenv("ET_N", "x")
	fs = NewFlagSet("q")
	fs.Int("n", 0, "")
	if _, err := ParseEnv(fs, nil, "ET_"); !errors.As(err, &ue) {
		t.Fatal(err)
	}
	if _, err := ParseEnv(fs, []string{"--n"}, "ET_"); !errors.As(err, &ue) || !strings.Contains(err.Error(), "flag needs an argument: -n") {
		t.Fatal(err)
	}
}

func TestGroupDefault(t *testing.T) {
	var got []string
	p := &Program{Name: "p", Help: "p help\n", Commands: []*Command{{Name: "audit", Help: "audit help\n",
		Default: func(_ context.Context, _ *Env, args []string) error {
			got = append(got, strings.Join(args, " "))
			return Usagef("audit needs verify or show")
		},
		Commands: []*Command{{Name: "verify", Run: func(context.Context, *Env, []string) error { return nil }}}}}}
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb}
	if code := p.Run([]string{"audit"}, env); code != 2 || !strings.Contains(errb.String(), "p audit: audit needs verify or show") {
		t.Fatalf("%d %q", code, errb.String())
	}
	if code := p.Run([]string{"audit", "--state", "x"}, env); code != 2 || strings.Join(got, ";") != ";--state x" {
		t.Fatalf("%d %q", code, got)
	}
	out.Reset()
	if code := p.Run([]string{"audit", "-help"}, env); code != 0 || out.String() != "audit help\n" {
		t.Fatalf("%d %q", code, out.String())
	}
	if code := p.Run([]string{"audit", "verify"}, env); code != 0 {
		t.Fatal(code)
	}
}
