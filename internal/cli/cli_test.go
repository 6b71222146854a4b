package cli

import (
	"flag"
	"strings"
	"testing"
)

func TestEnvDefaults(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	state := fs.String("state", "", "")
	port := fs.Int("port", 0, "the port")
	tpm := fs.String("tpm-url", "", "")
	var certs StringList
	fs.Var(&certs, "cert", "")
	fs.Parse([]string{"--state", "cli", "--cert", "a", "--cert", "b"})
	set := map[string]bool{"state": true, "cert": true}
	t.Setenv("ET_STATE", "env")
	t.Setenv("ET_TPM_URL", "sim")
	t.Setenv("ET_PORT", "")
	if err := EnvDefaults(fs, "ET_", set); err != nil {
		t.Fatal(err)
	}
	if *state != "cli" || *tpm != "sim" || *port != 0 || !set["tpm-url"] || set["port"] {
		t.Fatalf("state %q tpm %q port %d set %v", *state, *tpm, *port, set)
	}
	if strings.Join(certs, ",") != "a,b" {
		t.Fatalf("repeatable flag: %v", certs)
	}
	t.Setenv("ET_PORT", "x")
	if err := EnvDefaults(fs, "ET_", set); err == nil || !strings.Contains(err.Error(), `ET_PORT="x" is not a valid value for --port (the port)`) {
		t.Fatalf("bad value: %v", err)
	}
}

func TestPrintHelpFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("id", "", "the id")
	fs.String("reason", "none", "why")
	for _, n := range []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima"} {
		fs.Bool(n, false, "other "+n)
	}
	var b strings.Builder
	PrintHelp(&b, fs, Help{Usage: "x --id ID", Example: "  x --id 1", Flags: []string{"id", "reason"}})
	out := b.String()
	if !strings.Contains(out, "  --id string\n        the id\n") || !strings.Contains(out, "  --reason string\n        why (default none)\n") {
		t.Errorf("own flags not in full:\n%s", out)
	}
	if strings.Contains(out, "other alpha") {
		t.Errorf("another command's flag explained:\n%s", out)
	}
	i := strings.Index(out, "Other commands' flags, accepted and unused here:\n")
	if i < 0 || !strings.Contains(out[i:], "--alpha --bravo") || !strings.Contains(out[i:], "--lima") {
		t.Fatalf("other flags not named:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if len(l) > 78 {
			t.Errorf("line over 78 columns: %q", l)
		}
	}
}
