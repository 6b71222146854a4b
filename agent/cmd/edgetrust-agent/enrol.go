package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/internal/cli"
)

const enrolHelp = `Usage: edgetrust-agent enrol --central URL --token TOKEN [flags]

Enrols this agent's devices with central. The TPM proves itself: its
endorsement key (EK) must be trusted by central (manufacturer certificate, or
the fingerprint on central's --ek-allow list: print it with --show-ek), a new
attestation key (AK) is bound to the EK by credential activation, and the AK
certifies each device's FTM and device keys. Central then issues the FTM and
device certificates, which are stored beside the key blobs in
STATE/devices/<id>/; "serve" loads them and the devices report Ready.
Key rotation (rotate-key) then goes through the same central.

Central's TLS certificate is verified against the root whose SHA-256 is
given (--central-root-sha256); the root is saved (STATE/tls/central-root.pem)
for key rotation. Stop a running agent first: the simulator and swtpm serve
one client.
The token is one-use and short-lived: ask a central admin
(edgetrust-central token create --vendor ID). The config's provider and
providerId must be the vendor's name and id at central.

Flags:
`

func enrolCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("enrol")
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "JSON config file (devices, provider, providerId, tpm, state)")
	state := fs.String("state", "", "state directory (as for serve)")
	tpmURL := fs.String("tpm", "", "TPM: swtpm://127.0.0.1:2321, /dev/tpmrm0 or sim?seed=N")
	dev := fs.Bool("dev", false, "the --dev device set and simulated TPM of serve --dev")
	central := fs.String("central", "", "central's URL, e.g. https://central.example.org")
	token := fs.String("token", "", "one-use enrolment token (or EDGETRUST_AGENT_TOKEN, or --token-file)")
	tokenFile := fs.String("token-file", "", "file holding the enrolment token")
	ekCert := fs.String("ek-cert", "", "PEM or DER EK certificate to send when the TPM holds none in NV")
	showEK := fs.Bool("show-ek", false, "print the TPM's EK fingerprint (for central's --ek-allow list) and exit")
	rootPin := fs.String("central-root-sha256", os.Getenv("EDGETRUST_AGENT_CENTRAL_ROOT_SHA256"), "SHA-256 of central's TLS root (edgetrust-central tls root, or token create, prints it); required for an https central without --central-ca")
	centralCA := fs.String("central-ca", os.Getenv("EDGETRUST_AGENT_CENTRAL_CA"), "PEM `FILE` of central's TLS root instead of the pin")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	var devices, replicas stringList
	fs.Var(&replicas, "central-replica", "`URL` of another replica of central; repeatable: tried in turn when one cannot be reached")
	fs.Var(&devices, "device", "enrol only this device id; repeatable (default: every configured device)")
	fs.Usage = func() {
		fmt.Fprint(stderr, enrolHelp)
		fs.PrintDefaults()
		fmt.Fprint(stderr, "\nExample:\n  edgetrust-agent enrol --config agent.json --central https://central:8443 --token-file token.txt\n")
	}
	cfg, _, err := parseBase(fs, args, configPath, state, tpmURL, dev)
	if err != nil {
		return err
	}
	if err := finishConfig(&cfg, "the agent's state directory"); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if *showEK {
		ek, err := agent.ShowEK(ctx, cfg)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(stdout).Encode(ek)
		}
		fmt.Fprintln(stdout, ek.Fingerprint)
		if !ek.HasCertificate {
			fmt.Fprintln(stderr, "this TPM holds no EK certificate: central must have the fingerprint above on its --ek-allow list")
		}
		return nil
	}
	tok := *token
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return err
		}
		tok = strings.TrimSpace(string(b))
	}
	if *central == "" || tok == "" {
		return cli.Usage(errors.New("--central URL and --token TOKEN (or --token-file) are required"))
	}
	if err := pinCentral(cfg.State, *central, *centralCA, *rootPin); err != nil {
		return cli.Usage(err)
	}
	o := agent.EnrolOptions{Central: *central, Replicas: replicas, Token: tok, Devices: devices}
	if *ekCert != "" {
		b, err := os.ReadFile(*ekCert)
		if err != nil {
			return err
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		o.EKCert = b
	}
	r, err := agent.Enrol(ctx, cfg, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(r)
	}
	fmt.Fprintf(stdout, "enrolled %d device(s) with %s (vendor %s, EK %s):\n", len(r.Devices), r.Central, r.VendorID, r.EKFingerprint)
	for _, id := range r.Devices {
		fmt.Fprintf(stdout, "  %-16s device certificate %s\n", id, r.DeviceCerts[id])
	}
	fmt.Fprintln(stdout, "start the agent (edgetrust-agent serve) to use them")
	return nil
}
