package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes of every edgetrust binary.
const (
	ExitOK      = 0 // the command did what was asked
	ExitFailure = 1 // it could not (or, for checks, the answer was "no")
	ExitUsage   = 2 // the command line was wrong; nothing was done
)

// UsageError marks an error in how the command was called (exit 2).
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError.
func Usagef(format string, a ...any) error { return UsageError{fmt.Errorf(format, a...)} }

// ExitError ends the command with Code and prints nothing: the command has
// already said why (a failed check, a report on stdout).
type ExitError struct{ Code int }

func (e ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Code turns a command's exit code into its error: nil for 0.
func Code(code int) error {
	if code == ExitOK {
		return nil
	}
	return ExitError{code}
}

// Env is what a command reads and writes, so tests can capture it.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// Command is a leaf (Run set) or a group (Commands set).
type Command struct {
	Name    string
	Aliases []string
	Summary string // one line, shown in its group's list
	// Help is a group's help text; when empty the runner lists the
	// subcommands with their summaries, then Example.
	Help string
	// Example is a group's example command lines, indented, for the
	// generated help.
	Example string
	// Run parses its own flags from args (NewFlagSet) and does the work.
	// A flag.ErrHelp from it exits 0.
	Run      func(ctx context.Context, env *Env, args []string) error
	Commands []*Command
	// Default, for a group, runs when no subcommand is given; otherwise a
	// bare group is a usage error.
	Default func(ctx context.Context, env *Env, args []string) error
}

// Program is a binary: its name, top-level help and commands.
type Program struct {
	Name     string
	Help     string // printed for help, -h, --help (stdout) and no arguments (stderr)
	Commands []*Command
}

// Main runs the program on os.Args and exits.
func (p *Program) Main() {
	os.Exit(p.Run(os.Args[1:], &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}))
}

// Run runs args with a context that SIGINT and SIGTERM cancel, and returns
// the exit code.
func (p *Program) Run(args []string, env *Env) int {
	ctx, stop := SignalContext(context.Background(), env.Stderr)
	defer stop()
	return p.RunContext(ctx, args, env)
}

// RunContext is Run without the signal handling.
func (p *Program) RunContext(ctx context.Context, args []string, env *Env) int {
	if len(args) == 0 {
		fmt.Fprint(env.Stderr, p.Help)
		return ExitUsage
	}
	if isHelp(args[0]) {
		if args[0] == "help" && len(args) > 1 {
			// help CMD [SUB] is CMD [SUB] --help.
			return p.RunContext(ctx, append(append([]string{}, args[1:]...), "--help"), env)
		}
		fmt.Fprint(env.Stdout, p.Help)
		return ExitOK
	}
	return p.dispatch(ctx, p.Name, p.Commands, args, env)
}

func isHelp(a string) bool { return a == "help" || a == "-h" || a == "--help" || a == "-help" }

func (p *Program) dispatch(ctx context.Context, path string, cmds []*Command, args []string, env *Env) int {
	c := find(cmds, args[0])
	if c == nil {
		msg := fmt.Sprintf("%s: unknown command %q", path, args[0])
		if near := Closest(args[0], names(cmds)); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		// One line that says what to do next; the list is one help away.
		fmt.Fprintf(env.Stderr, "%s; run \"%s --help\" for the list\n", msg, path)
		return ExitUsage
	}
	path += " " + args[0]
	rest := args[1:]
	if c.Run == nil {
		ghelp := func(w io.Writer) { c.printHelp(w, path) }
		if len(rest) > 0 && isHelp(rest[0]) {
			ghelp(env.Stdout)
			return ExitOK
		}
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			if c.Default != nil {
				return p.finish(path, c.Default(ctx, env, rest), env)
			}
			fmt.Fprintf(env.Stderr, "%s needs a subcommand: %s (run \"%s --help\" for what each does)\n", path, orList(c.Commands), path)
			return ExitUsage
		}
		return p.dispatch(ctx, path, c.Commands, rest, env)
	}
	// The command writes its --help through Stderr (the flag package's
	// habit); helpWriter sends that, and only that, to Stdout.
	cenv := *env
	cenv.Stderr = &helpWriter{stderr: env.Stderr, stdout: env.Stdout}
	return p.finish(path, c.Run(ctx, &cenv, rest), env)
}

// helpWriter is the Stderr a command sees: its writes go to stderr, except
// while Parse prints --help, which goes to stdout (help is output asked
// for, so it can be piped to a pager).
type helpWriter struct {
	stderr, stdout io.Writer
	help           bool
}

func (w *helpWriter) Write(b []byte) (int, error) {
	if w.help {
		return w.stdout.Write(b)
	}
	return w.stderr.Write(b)
}

// finish maps a command's error to its exit code, printing it.
func (p *Program) finish(path string, err error, env *Env) int {
	var ee ExitError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	}
	var ue UsageError
	if errors.As(err, &ue) {
		fmt.Fprintln(env.Stderr, usageLine(path, err))
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "%s: %v\n", path, err)
	return ExitFailure
}

// usageLine is a usage error as the one line the user sees: what was
// wrong, every part of it (errors.Join's lines joined with "; "), and
// where to look next unless the message already says.
func usageLine(path string, err error) string {
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	if !strings.Contains(msg, "--help") {
		msg += fmt.Sprintf(" (run \"%s --help\")", path)
	}
	return path + ": " + msg
}

func (c *Command) printHelp(w io.Writer, path string) {
	if c.Help != "" {
		fmt.Fprint(w, c.Help)
		return
	}
	if c.Summary != "" {
		fmt.Fprintf(w, "%s — %s\n\n", path, c.Summary)
	}
	fmt.Fprintf(w, "Usage:\n  %s <command> [flags]\n\nCommands:\n", path)
	for _, s := range c.Commands {
		fmt.Fprintf(w, "  %-12s %s\n", s.Name, s.Summary)
	}
	if c.Example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", strings.TrimRight(c.Example, "\n"))
	}
	fmt.Fprintf(w, "\nRun \"%s <command> --help\" for a command's flags and an example.\n", path)
}

// orList is "a, b or c".
func orList(cmds []*Command) string {
	var n []string
	for _, c := range cmds {
		n = append(n, c.Name)
	}
	if len(n) < 2 {
		return strings.Join(n, "")
	}
	return strings.Join(n[:len(n)-1], ", ") + " or " + n[len(n)-1]
}

func find(cmds []*Command, name string) *Command {
	for _, c := range cmds {
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

func names(cmds []*Command) []string {
	var n []string
	for _, c := range cmds {
		n = append(n, c.Name)
		n = append(n, c.Aliases...)
	}
	sort.Strings(n)
	return n
}

// Closest returns the candidate nearest to s by edit distance, or "" when
// none is near enough to be a likely typo.
func Closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		if d := distance(s, c); bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(s)/3) {
		return best
	}
	for _, c := range candidates {
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			return c
		}
	}
	return ""
}

// distance is the Levenshtein distance.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Walk calls fn with the path of every command and group under p (the
// help tests use it).
func (p *Program) Walk(fn func(path []string, c *Command)) {
	var walk func([]string, []*Command)
	walk = func(path []string, cmds []*Command) {
		for _, c := range cmds {
			q := append(append([]string{}, path...), c.Name)
			fn(q, c)
			walk(q, c.Commands)
		}
	}
	walk(nil, p.Commands)
}

// Usage marks err as a usage error (exit 2); nil stays nil.
func Usage(err error) error {
	if err == nil {
		return nil
	}
	return UsageError{err}
}
