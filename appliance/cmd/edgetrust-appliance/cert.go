package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/cli"
)

func cert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("cert")
	fs.SetOutput(stderr)
	state := fs.String("state", "", "the appliance's state directory (required)")
	tpmFlag := fs.String("tpm", "", "TPM holding the key (as for serve; default: sim if the state directory has a simulator seed)")
	unwrap := fs.String("unwrap", unwrapDefault(), "where session keys are unwrapped: software (a TPM-sealed key in memory, fast; decision 0017) or tpm (every unwrap in the chip); fixed when the state directory gets its encryption key")
	name := fs.String("name", "", "name in the certificates when they are first made (default: the host name)")
	chain := fs.Bool("chain", false, "also print the self-issued certificate that signed it")
	asJSON := fs.Bool("json", false, "print {thumbprint, certificate, file} as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-appliance cert --state DIR [--tpm URL] [--chain] [--json]

Prints (as PEM) the certificate of the appliance's SBI decryption key, making the
key in the TPM and the certificate on first use. Agents encrypt auth captures to
it:  edgetrust-agent serve ... --encryption-cert appliance.pem
Until central issues appliance certificates (with enrolment), it is issued by a
second TPM key of the appliance (self-issued). The file stays the same across
restarts, so its thumbprint does too. Safe to run while serve runs.

Flags (each also as EDGETRUST_APPLIANCE_<FLAG>):
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Example:
  edgetrust-appliance cert --state /var/lib/edgetrust-appliance --tpm /dev/tpmrm0 > appliance.pem
`)
	}
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *state == "" {
		return cli.Usage(errors.New("--state DIR is required"))
	}
	u, err := *tpmFlag, error(nil)
	if u == "" {
		if _, err := os.Stat(filepath.Join(*state, tpmkey.SimSeedFile)); err != nil {
			return cli.Usage(errors.New("--tpm is required: sim, swtpm://HOST:PORT or /dev/tpmrm0 (the one serve uses)"))
		}
		u = "sim"
	}
	if u, err = tpmURL(u, *state); err != nil {
		return err
	}
	n := *name
	if n == "" {
		n, _ = os.Hostname()
	}
	soft, err := softUnwrap(*unwrap)
	if err != nil {
		return err
	}
	k, err := tpmkey.Open(ctx, u, *state, n, time.Now(), soft)
	if err != nil {
		return err
	}
	defer k.Close()
	if *asJSON {
		b, _ := json.Marshal(map[string]string{"thumbprint": k.Thumbprint(), "certificate": string(tpmkey.PEM(k.Cert)),
			"file": filepath.Join(*state, tpmkey.CertFile), "subject": k.Cert.Subject.String(), "notAfter": k.Cert.NotAfter.UTC().Format(time.RFC3339)})
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	stdout.Write(tpmkey.PEM(k.Cert))
	if *chain {
		stdout.Write(tpmkey.PEM(k.Issuer))
	}
	return nil
}

// apiURL finds a running appliance: --api, or state/api.json.
