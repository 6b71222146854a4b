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
