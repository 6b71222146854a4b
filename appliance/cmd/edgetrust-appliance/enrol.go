package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/sbi"
)

func enrolCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("enrol")
	fs.SetOutput(stderr)
	state := fs.String("state", os.Getenv("EDGETRUST_APPLIANCE_STATE"), "the appliance's state directory (required)")
	tpmFlag := fs.String("tpm", os.Getenv("EDGETRUST_APPLIANCE_TPM"), "TPM as for serve: sim, swtpm://HOST:PORT or /dev/tpmrm0 (required)")
	unwrap := fs.String("unwrap", unwrapDefault(), "where session keys are unwrapped: software (a TPM-sealed key in memory, fast; decision 0017) or tpm (every unwrap in the chip); fixed when the state directory gets its encryption key")
	central := fs.String("central", os.Getenv("EDGETRUST_APPLIANCE_CENTRAL"), "central's URL")
	token := fs.String("token", os.Getenv("EDGETRUST_APPLIANCE_TOKEN"), "one-use appliance enrolment token (edgetrust-central token create --appliance ID)")
	id := fs.String("id", "", "the appliance id the token was made for")
	showEK := fs.Bool("show-ek", false, "print the TPM's EK fingerprint (for central's --ek-allow list) and exit")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-appliance enrol --state DIR --tpm URL --central URL --token T --id ID
       edgetrust-appliance enrol --state DIR --tpm URL --show-ek

Proves the appliance's TPM to central (EK, AK bound by credential activation,
TPM2_Certify of its SBI decryption key and a signing key) and stores the
certificates central issues; the SBI encryption certificate then chains to
central's appliance CA. Stop a running appliance first.

Flags:
`)
		fs.PrintDefaults()
		fmt.Fprint(stderr, `
Example:
  edgetrust-appliance enrol --state /var/lib/edgetrust-appliance --tpm /dev/tpmrm0 \
      --central https://central.example.org --token "$TOKEN" --id edge-1
`)
	}
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *state == "" || *tpmFlag == "" {
		return cli.Usage(errors.New("--state DIR and --tpm URL are required"))
	}
	u, err := tpmURL(*tpmFlag, *state)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if *showEK {
		fp, err := tpmkey.EKFingerprint(ctx, u)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, fp)
		return nil
	}
	if *central == "" || strings.TrimSpace(*token) == "" || *id == "" {
		return cli.Usage(errors.New("--central URL, --token T and --id ID are required"))
	}
	soft, err := softUnwrap(*unwrap)
	if err != nil {
		return err
	}
	c, err := tpmkey.Enrol(ctx, u, *state, *id, *central, strings.TrimSpace(*token), soft)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "appliance %s enrolled; SBI encryption certificate %s (thumbprint %s), valid until %s\n",
		*id, c.Subject.CommonName, sbi.Thumbprint(c), c.NotAfter.Format(time.DateOnly))
	return nil
}
