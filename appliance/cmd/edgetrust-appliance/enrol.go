package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/tlsx"
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
	rootPin := fs.String("central-root-sha256", os.Getenv("EDGETRUST_APPLIANCE_CENTRAL_ROOT_SHA256"), "SHA-256 of central's TLS root (edgetrust-central tls root, or token create, prints it); required for an https central without --central-ca")
	centralCA := fs.String("central-ca", os.Getenv("EDGETRUST_APPLIANCE_CENTRAL_CA"), "PEM `FILE` of central's TLS root instead of the pin")
	name := fs.String("name", "", "name in the appliance's certificates (default: the host name)")
	var sans stringList
	fs.Var(&sans, "tls-san", "`NAME` or IP address in the appliance's TLS certificate from central; repeatable (default: the host name, localhost, 127.0.0.1, ::1)")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: edgetrust-appliance enrol --state DIR --tpm URL --central URL --token T --id ID
       edgetrust-appliance enrol --state DIR --tpm URL --show-ek

Proves the appliance's TPM to central (EK, AK bound by credential activation,
TPM2_Certify of its SBI decryption key and a signing key) and stores the
certificates central issues; the SBI encryption certificate then chains to
central's appliance CA. Stop a running appliance first.

Central's TLS certificate is verified against the root whose SHA-256 you
pass (--central-root-sha256, printed by edgetrust-central tls root and by
token create); the root is then saved (STATE/tls/central-root.pem) for
serve. With the enrolment done, the appliance asks central's TLS CA for its
certificate (client and server; signed over the enrolled TPM signing key),
saved in STATE/tls/ and renewed by serve at 2/3 of its 30 days.

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
	// Every request of the enrolment goes to central over TLS verified
	// against the pinned root: tpmkey.Enrol uses the default transport.
	var hc *http.Client
	if !strings.HasPrefix(*central, "http://") {
		trust, err := centralTrust(*state, *central, *centralCA, *rootPin)
		if err != nil {
			return cli.Usage(err)
		}
		trust.OnRoot = saveRootOnce(*state)
		cfg, err := tlsx.ClientConfig(trust)
		if err != nil {
			return cli.Usage(err)
		}
		http.DefaultTransport = tlsx.Transport(cfg, 30*time.Second)
		hc = &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport}
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
	if hc == nil {
		fmt.Fprintln(stderr, "central is plain HTTP: no TLS certificate requested")
		return nil
	}
	names := []string(sans)
	if len(names) == 0 {
		names = tlsx.DefaultSANs("")
	}
	keys, err := tpmkey.Open(ctx, u, *state, *name, time.Now(), false) // enrolled: the state has its keys
	if err != nil {
		return err
	}
	defer keys.Close()
	sign, err := enrolledSigner(ctx, keys, *state, *name)
	if err != nil {
		return err
	}
	tc, err := requestCert(ctx, hc, *central, *state, *id, names, sign, keys)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "TLS certificate for appliance %s from central's TLS CA (%s; its key in the TPM, %s), valid until %s\n", *id,
		filepath.Join(*state, certFile), filepath.Join(*state, tpmkey.TLSKeyFile), tc.Leaf.NotAfter.Format(time.DateOnly))
	return nil
}
