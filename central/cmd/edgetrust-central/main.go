package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/edgetrust/edgetrust/internal/cli"
)

const usage = `edgetrust-central — the device trust registry: vendors and their provider CAs,
TPM-attested enrolment of devices and appliances, revocation, an audit log,
and the signed "trust" feed appliances follow.

Server:
  edgetrust-central serve [flags]          run the API (serve --help for flags)
  edgetrust-central admin init --state DIR mint an admin token into DIR/admin-token (0600)
  edgetrust-central feed-key --state DIR   print the feed's public key (PEM) for appliances
  edgetrust-central tls root --state DIR   print the TLS root (PEM) and its SHA-256, for clients to pin

Admin (over the API, authenticated by an admin token):
  edgetrust-central vendor add --id ID --name NAME
  edgetrust-central vendor list
  edgetrust-central vendor revoke|suspend|reinstate --id ID [--reason TEXT]
  edgetrust-central device list [--vendor ID] [--status S]
  edgetrust-central device show --serial SN
  edgetrust-central device revoke|suspend|reinstate --serial SN [--serial SN ...] [--reason TEXT]
  edgetrust-central token create --vendor ID [--ttl 15m]       a one-use device enrolment token
  edgetrust-central token create --appliance ID [--ttl 15m]    a one-use appliance enrolment token
  edgetrust-central appliance list
  edgetrust-central appliance show --id ID
  edgetrust-central appliance revoke|suspend|reinstate --id ID [--reason TEXT]
  edgetrust-central appliance group --id ID --group G        move an appliance to a records group
  edgetrust-central rp add --id ID --name NAME --auth-type demo|bio-Finger|... [--attr NAME ...]
  edgetrust-central rp list
  edgetrust-central rp revoke|suspend|reinstate --id ID [--reason TEXT]
  edgetrust-central rp key add --id ID                     an API key (etr_...), shown once
  edgetrust-central rp key revoke --id ID --key KEYID

People and VIDs (records reach the appliances of the person's group, sealed to each):
  edgetrust-central person enrol --demographics FILE.json --capture RCAPTURE.json [--capture ...]
                                 [--group G] [--vid-kind perpetual|temporary|one-time]
  edgetrust-central person show --uin UIN
  edgetrust-central person lock|unlock --uin UIN --auth-type bio-Finger [--auth-type demo]
  edgetrust-central vid issue --uin UIN [--kind perpetual|temporary|one-time] [--ttl 30m]
  edgetrust-central vid list --uin UIN [--show-numbers]
  edgetrust-central vid revoke --vid VID --reason TEXT
  edgetrust-central audit list [--subject device:SN] [--after N]
  edgetrust-central audit verify            check the audit log's hash chain

Continuous attestation (decision 0018):
  edgetrust-central attest status [--device SN | --appliance ID]
  edgetrust-central attest policy show|set --scope VENDOR|appliance [--file POLICY.json]
  edgetrust-central attest signer issue --vendor ID --csr FILE     a vendor's release-signing certificate
  edgetrust-central attest golden sign --release R.json --signing-key K --cert C   (at the vendor, offline)
  edgetrust-central attest golden add --signed FILE | list --vendor ID
  edgetrust-central attest quarantine lift --device SN | --appliance ID --reason TEXT

Claim 169 identity QR codes (run where the state directory is):
  edgetrust-central issuer init --state DIR [--alg EdDSA|ES256] [--issuer URI]
  edgetrust-central credential issue --state DIR --in people.csv --out qr/ --png
  edgetrust-central credential revoke --state DIR --id ID
  edgetrust-central trust export --state DIR --out lists/   # for offline verifiers

Admin commands find central with --central URL (EDGETRUST_CENTRAL_URL, default
https://127.0.0.1:8443), trust its TLS root from --central-root FILE
(EDGETRUST_CENTRAL_ROOT, e.g. STATE/tls/root.pem) or --central-root-sha256, and
take the token from --admin-token-file FILE (EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE)
or EDGETRUST_CENTRAL_ADMIN_TOKEN; --json prints the API's answer.

Start on one machine:

  export EDGETRUST_CENTRAL_PASSPHRASE='a long passphrase'   # unlocks central's keys
  edgetrust-central serve --state /var/lib/edgetrust-central \
      --ek-allow /etc/edgetrust/ek-allow.txt --ek-ca /etc/edgetrust/tpm-vendor-cas.pem

The first start creates the keys and writes the first admin token to
STATE/admin-token (mode 0600). Then:

  export EDGETRUST_CENTRAL_ADMIN_TOKEN_FILE=/var/lib/edgetrust-central/admin-token
  edgetrust-central vendor add --id ACME --name "Acme Biometrics"
  edgetrust-central token create --vendor ACME
  # on the device: edgetrust-agent enrol --central URL --token ete_...

Exit status: 0 ok, 1 failure, 2 usage error. Run "edgetrust-central help CMD"
(or CMD --help) for a command's flags.
`

// group is a command group whose verbs ("verb: summary") all run in one
// function, as adminCommand and issuerCommand do.
func group(name, summary string, run func(ctx context.Context, group, verb string, args []string, stdout, stderr io.Writer) error, verbs ...string) *cli.Command {
	g := &cli.Command{Name: name, Summary: summary}
	for _, v := range verbs {
		verb, sum, _ := strings.Cut(v, ": ")
		g.Commands = append(g.Commands, &cli.Command{Name: verb, Summary: sum, Run: func(ctx context.Context, e *cli.Env, args []string) error {
			return run(ctx, name, verb, args, e.Stdout, e.Stderr)
		}})
	}
	return g
}

func adminGroup(name, summary string, verbs ...string) *cli.Command {
	g := group(name, summary, adminCommand, verbs...)
	g.Example = groupExample(g, func(verb string) string { return "edgetrust-central " + adminHelp[name+" "+verb].Example })
	return g
}

func issuerGroup(name, summary string, verbs ...string) *cli.Command {
	g := group(name, summary, issuerCommand, verbs...)
	g.Example = groupExample(g, func(verb string) string { return strings.TrimSpace(issuerHelp[name+" "+verb].Example) })
	return g
}

// groupExample is one example line per verb of g, from the verbs' own help.
func groupExample(g *cli.Command, example func(verb string) string) string {
	var b strings.Builder
	for _, c := range g.Commands {
		if e := example(c.Name); strings.TrimSpace(e) != "" && e != "edgetrust-central " {
			b.WriteString("  " + e + "\n")
		}
	}
	return b.String()
}

func cmd(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) *cli.Command {
	return &cli.Command{Name: name, Summary: summary, Run: func(ctx context.Context, e *cli.Env, args []string) error {
		return run(ctx, args, e.Stdout, e.Stderr)
	}}
}

var rpGroup = func() *cli.Command {
	g := adminGroup("rp", "relying parties", "add: add a relying party", "list: list them",
		"revoke: revoke one", "suspend: suspend one", "reinstate: reinstate one")
	key := adminGroup("rp", "", "add: an API key (etr_...), shown once", "revoke: revoke an API key")
	for _, k := range key.Commands {
		name := k.Name
		k.Run = func(ctx context.Context, e *cli.Env, args []string) error {
			return adminCommand(ctx, "rp", "key "+name, args, e.Stdout, e.Stderr)
		}
	}
	g.Commands = append(g.Commands, &cli.Command{Name: "key", Summary: "relying-party API keys", Commands: key.Commands,
		Example: "  edgetrust-central " + adminHelp["rp key add"].Example + "\n  edgetrust-central " + adminHelp["rp key revoke"].Example,
		Default: func(context.Context, *cli.Env, []string) error { return cli.Usagef("rp key needs add or revoke") }})
	cert := adminGroup("rp", "", "issue: a TLS client certificate from the relying party's CSR")
	for _, k := range cert.Commands {
		name := k.Name
		k.Run = func(ctx context.Context, e *cli.Env, args []string) error {
			return adminCommand(ctx, "rp", "cert "+name, args, e.Stdout, e.Stderr)
		}
	}
	g.Commands = append(g.Commands, &cli.Command{Name: "cert", Summary: "relying-party TLS client certificates", Commands: cert.Commands,
		Default: func(context.Context, *cli.Env, []string) error { return cli.Usagef("rp cert needs issue") }})
	return g
}()

var program = &cli.Program{Name: "edgetrust-central", Help: usage, Commands: []*cli.Command{
	cmd("serve", "run the API", serve),
	{Name: "admin", Summary: "bootstrap administration", Example: "  edgetrust-central admin init --state /var/lib/edgetrust-central --out /root/second-admin-token", Commands: []*cli.Command{
		cmd("init", "mint an admin token into DIR/admin-token (0600)", adminInit),
	}},
	cmd("feed-key", "print the feed's public key (PEM) for appliances", feedKey),
	{Name: "tls", Summary: "central's TLS CA", Example: "  edgetrust-central tls root --state /var/lib/edgetrust-central > central-root.pem", Commands: []*cli.Command{
		cmd("root", "print the TLS root (PEM) and its SHA-256, for clients to pin", tlsRoot),
	}},
	adminGroup("vendor", "device vendors and their provider CAs", "add: add a vendor", "list: list vendors",
		"revoke: revoke a vendor", "suspend: suspend a vendor", "reinstate: reinstate a vendor"),
	adminGroup("device", "enrolled devices", "list: list devices", "show: show one device",
		"revoke: revoke devices", "suspend: suspend devices", "reinstate: reinstate devices"),
	adminGroup("token", "one-use enrolment tokens", "create: a device (--vendor) or appliance (--appliance) enrolment token"),
	adminGroup("appliance", "enrolled appliances", "list: list appliances", "show: show one appliance",
		"revoke: revoke an appliance", "suspend: suspend an appliance", "reinstate: reinstate an appliance",
		"group: move an appliance to a records group"),
	rpGroup,
	adminGroup("person", "people and their records", "enrol: enrol a person from demographics and captures",
		"show: show a person", "lock: lock auth types", "unlock: unlock auth types"),
	adminGroup("vid", "virtual ids", "issue: issue a VID", "list: list a person's VIDs", "revoke: revoke a VID"),
	adminGroup("audit", "the audit log", "list: list audit entries", "verify: check the audit log's hash chain"),
	attestGroup,
	issuerGroup("issuer", "the Claim 169 issuer key", "init: create the issuer key"),
	issuerGroup("credential", "Claim 169 identity QR codes", "issue: issue credentials from a file", "revoke: revoke a credential"),
	issuerGroup("trust", "trust lists for offline verifiers", "export: write the signed trust and revocation lists"),
}}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	return program.Run(args, &cli.Env{Stdin: os.Stdin, Stdout: stdout, Stderr: stderr})
}

// envPrefix names the variables that fill unset flags.
const envPrefix = "EDGETRUST_CENTRAL_"
