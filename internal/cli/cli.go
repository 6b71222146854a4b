package cli

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

// EnvDefaults fills every flag not set on the command line (set names the
// ones that were) from the environment variable prefix+NAME, where NAME is
// the flag's name upper-cased with - as _ (EDGETRUST_AGENT_STATE for
// --state). Empty variables count as unset. It marks the flags it filled.
func EnvDefaults(fs *flag.FlagSet, prefix string, set map[string]bool) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		key := prefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := os.Getenv(key); v != "" {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q is not a valid value for --%s (%s)", key, v, f.Name, f.Usage)
			}
			set[f.Name] = true
		}
	})
	return err
}

// StringList is a repeatable flag.
type StringList []string

func (s *StringList) String() string     { return strings.Join(*s, ",") }
func (s *StringList) Set(v string) error { *s = append(*s, v); return nil }
