package cli

import (
	"flag"
	"strings"
	"testing"
	"time"
)

// FuzzConfigFile: a config file is untrusted input (an operator's typo, a
// file someone else wrote). ConfigFile must never panic, must be
// deterministic (the same bytes set the same flags to the same values, so
// no setting depends on map order), and must never touch a flag already
// set elsewhere. Central reads its config file through it.
func FuzzConfigFile(f *testing.F) {
	for _, s := range []string{
		`{"state": "/var/lib/edgetrust-central", "addr": "127.0.0.1:8443", "store": "badger"}`,
		`{"pg-dsn": "postgres://x", "pgDsn": "postgres://y"}`,
		`{"ek-allow": ["a.txt", "b.txt"], "rate": 2.5, "verbose": true, "wait": "30s"}`,
		`{"rate": 0, "verbose": false, "state": null, "wait": ""}`,
		`{"config": "loop.json"}`,
		`{"state": "x"} {"state": "y"}`,
		`{"state": {"nested": [1, [2, [3]]]}}`,
		"{\"state\": \"\xff\"}",
		`[]`, ``, `{`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		run := func() (string, error) {
			fs := flag.NewFlagSet("fuzz", flag.ContinueOnError)
			fs.String("state", "", "")
			fs.String("addr", "127.0.0.1:8443", "")
			fs.String("store", "badger", "")
			fs.String("pg-dsn", "", "")
			fs.String("config", "", "")
			fs.String("kept", "flag", "")
			fs.Float64("rate", 1, "")
			fs.Bool("verbose", false, "")
			fs.Duration("wait", time.Second, "")
			var allow StringList
			fs.Var(&allow, "ek-allow", "")
			set := map[string]bool{"kept": true}
			err := ConfigFile(fs, b, set)
			if v := fs.Lookup("kept").Value.String(); v != "flag" {
				t.Fatalf("a flag set on the command line was changed by the file to %q", v)
			}
			var out strings.Builder
			fs.VisitAll(func(fl *flag.Flag) { out.WriteString(fl.Name + "=" + fl.Value.String() + ";") })
			return out.String(), err
		}
		a, errA := run()
		b2, errB := run()
		if (errA == nil) != (errB == nil) || a != b2 {
			t.Fatalf("not deterministic: %q (%v) then %q (%v)", a, errA, b2, errB)
		}
		if errA != nil && errA.Error() != errB.Error() {
			t.Fatalf("error not deterministic: %v then %v", errA, errB)
		}
	})
}

// TestConfigFileErrorsDeterministic is what FuzzConfigFile found: with two
// unknown fields, which one the error named depended on map order.
func TestConfigFileErrorsDeterministic(t *testing.T) {
	for range 50 {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.String("state", "", "")
		err := ConfigFile(fs, []byte(`{"zeta": 1, "alpha": 2, "state": "x"}`), map[string]bool{})
		if err == nil || err.Error() != `unknown field "alpha"` {
			t.Fatalf("got %v, want the first unknown field in sorted order", err)
		}
	}
}
