package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
)

var (
	hookMu sync.Mutex
	hook   func(*flag.FlagSet)
)

// NewFlagSet is flag.NewFlagSet with ContinueOnError, so a bad flag is an
// error the runner turns into exit 2 and --help is flag.ErrHelp (exit 0).
func NewFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	hookMu.Lock()
	h := hook
	hookMu.Unlock()
	if h != nil {
		h(fs)
	}
	return fs
}

// OnNewFlagSet calls fn with every flag set NewFlagSet makes until the
// returned func is called. Help tests use it to learn a command's flags.
func OnNewFlagSet(fn func(*flag.FlagSet)) (stop func()) {
	hookMu.Lock()
	hook = fn
	hookMu.Unlock()
	return func() {
		hookMu.Lock()
		hook = nil
		hookMu.Unlock()
	}
}

// Parse parses args into fs. --help prints fs.Usage and returns
// flag.ErrHelp (exit 0); any other mistake is a UsageError (exit 2) and
// prints nothing more, the runner prints the error.
func Parse(fs *flag.FlagSet, args []string) error {
	usage, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	fs.Usage = usage
	fs.SetOutput(out)
	if errors.Is(err, flag.ErrHelp) {
		// Help asked for goes to stdout: the runner hands commands a
		// Stderr that Parse can point there while usage prints.
		if hw, ok := out.(*helpWriter); ok {
			hw.help = true
			defer func() { hw.help = false }()
		}
		fs.Usage()
		return err
	}
	if err != nil {
		return UsageError{err} // the runner adds where to look next
	}
	return nil
}

// EnvName is the variable that fills flag name: prefix+NAME, upper case,
// - as _ (EDGETRUST_AGENT_TPM_URL for --tpm-url).
func EnvName(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Help is what a command's --help teaches.
type Help struct {
	Usage   string // "edgetrust-agent serve [flags]"
	About   string // what it does, a paragraph or two
	Example string // indented command lines
	// EnvPrefix, when set, names each flag's variable (EDGETRUST_AGENT_).
	EnvPrefix string
}

// SetHelp makes fs's --help print h and every flag (with its default and,
// given EnvPrefix, its variable) to w.
func SetHelp(fs *flag.FlagSet, w io.Writer, h Help) {
	fs.SetOutput(w)
	fs.Usage = func() { PrintHelp(w, fs, h) }
}

// PrintHelp prints h and fs's flags.
func PrintHelp(w io.Writer, fs *flag.FlagSet, h Help) {
	fmt.Fprintf(w, "Usage: %s\n", h.Usage)
	if h.About != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(h.About, "\n"))
	}
	fmt.Fprint(w, "\nFlags:\n")
	PrintFlags(w, fs, h.EnvPrefix)
	if h.Example != "" {
		fmt.Fprintf(w, "\nExample:\n%s\n", strings.TrimRight(h.Example, "\n"))
	}
}

// PrintFlags lists fs's flags as --name TYPE, the usage, the default and
// the environment variable (when envPrefix is set).
func PrintFlags(w io.Writer, fs *flag.FlagSet, envPrefix string) {
	fs.VisitAll(func(f *flag.Flag) {
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if kind != "" {
			line += " " + kind
		}
		switch f.DefValue {
		case "", "0", "false", "[]", "0s":
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		if envPrefix != "" {
			usage += " [$" + EnvName(envPrefix, f.Name) + "]"
		}
		fmt.Fprintf(w, "%s\n        %s\n", line, strings.ReplaceAll(usage, "\n", "\n        "))
	})
}
