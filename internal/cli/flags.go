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
	// Flags, when set, are the flags this command uses, listed in full;
	// the rest of a flag set shared by several commands are only named,
	// so the help does not teach flags that do nothing here.
	Flags []string
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
	if len(h.Flags) == 0 {
		PrintFlags(w, fs, h.EnvPrefix)
	} else {
		use := map[string]bool{}
		for _, n := range h.Flags {
			use[n] = true
		}
		mine := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
		var other []string
		fs.VisitAll(func(f *flag.Flag) {
			if use[f.Name] {
				mine.Var(f.Value, f.Name, f.Usage)
				mine.Lookup(f.Name).DefValue = f.DefValue
			} else {
				other = append(other, "--"+f.Name)
			}
		})
		PrintFlags(w, mine, h.EnvPrefix)
		if len(other) > 0 {
			fmt.Fprintf(w, "\nOther commands' flags, accepted and unused here:\n%s\n", wrap("  ", strings.Join(other, " "), 78))
		}
	}
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

// wrap breaks s at spaces into lines of at most width, each indented.
func wrap(indent, s string, width int) string {
	var b strings.Builder
	line := indent
	for _, word := range strings.Fields(s) {
		if len(line) > len(indent) && len(line)+1+len(word) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += word
	}
	b.WriteString(line)
	return b.String()
}
