package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	attest "github.com/edgetrust/edgetrust/central/attestation"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// attestFlagValues are the flags only the attest commands use.
type attestFlagValues struct {
	device, scope, file, signed, release, signingKey, cert *string
}

func attestFlags(fs *flag.FlagSet) *attestFlagValues {
	return &attestFlagValues{
		device:     fs.String("device", "", "attest status / quarantine lift: the device's serial"),
		scope:      fs.String("scope", "", "attest policy show|set: a vendor id (its devices) or appliance"),
		file:       fs.String("file", "", "attest policy set: the policy JSON `FILE` (docs/api/central.md, Attestation)"),
		signed:     fs.String("signed", "", "attest golden add: the signed release `FILE` attest golden sign wrote"),
		release:    fs.String("release", "", `attest golden sign: the release JSON `+"`FILE`"+`: {"vendor": "ACME", "release": "1.3.0", "firmware": [{"digest": "<64 hex>", "model": "R307"}]}`),
		signingKey: fs.String("signing-key", "", "attest golden sign: the vendor's release-signing private key `FILE` (PEM: PKCS#8, EC or RSA)"),
		cert:       fs.String("cert", "", "attest golden sign: the signing key's certificate `FILE` (PEM), as attest signer issue wrote it"),
	}
}

type attestArgs struct {
	appliance, reason, vendor, csr, out string
	days                                int
}

// node is the --device or --appliance the command is about.
func (a attestArgs) node(f *attestFlagValues) (kind, id string, err error) {
	switch {
	case *f.device != "" && a.appliance != "":
		return "", "", cli.Usage(errors.New("--device and --appliance: name one node"))
	case *f.device != "":
		return "device", *f.device, nil
	case a.appliance != "":
		return "appliance", a.appliance, nil
	}
	return "", "", nil
}

type nodeStatusJSON struct {
	Kind          string    `json:"kind"`
	ID            string    `json:"id"`
	State         string    `json:"state"`
	Reason        string    `json:"reason"`
	Message       string    `json:"message"`
	LastAttested  time.Time `json:"lastAttested"`
	StaleAt       time.Time `json:"staleAt"`
	Firmware      []string  `json:"firmware"`
	PolicyVersion int       `json:"policyVersion"`
}

func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func attestAdmin(ctx context.Context, c *adminClient, verb string, f *attestFlagValues, a attestArgs, raw *json.RawMessage,
	show func(func(w *tabwriter.Writer) error) error, stdout io.Writer) error {
	switch verb {
	case "status":
		kind, id, err := a.node(f)
		if err != nil {
			return err
		}
		if kind == "" {
			if err := c.call(ctx, "GET", "/v1/admin/attest", nil, raw); err != nil {
				return err
			}
			var l struct {
				Health attest.Health    `json:"health"`
				Nodes  []nodeStatusJSON `json:"nodes"`
			}
			json.Unmarshal(*raw, &l)
			return show(func(w *tabwriter.Writer) error {
				state := "healthy"
				if !l.Health.Healthy {
					state = "NOT HEALTHY: " + l.Health.Message
				}
				fmt.Fprintf(w, "attestation rounds: %s (every %s; last round %s, %d in all)\n", state, l.Health.Interval, when(l.Health.LastRound), l.Health.Rounds)
				fmt.Fprintln(w, "NODE\tSTATE\tLAST ATTESTED\tFIRMWARE\tREASON")
				for _, n := range l.Nodes {
					fmt.Fprintf(w, "%s:%s\t%s\t%s\t%s\t%s\n", n.Kind, n.ID, n.State, when(n.LastAttested), strings.Join(n.Firmware, ","), n.Reason)
				}
				return nil
			})
		}
		if err := c.call(ctx, "GET", "/v1/admin/attest/"+kind+"/"+url.PathEscape(id), nil, raw); err != nil {
			return err
		}
		var n nodeStatusJSON
		json.Unmarshal(*raw, &n)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "%s %s\t%s\t%s\n", n.Kind, n.ID, n.State, n.Reason)
			if n.Message != "" {
				fmt.Fprintf(w, "  %s\n", n.Message)
			}
			fmt.Fprintf(w, "last attested\t%s\nstale at\t%s\nfirmware\t%s\npolicy version\t%d\n", when(n.LastAttested), when(n.StaleAt), strings.Join(n.Firmware, ", "), n.PolicyVersion)
			return nil
		})
	case "quarantine lift":
		kind, id, err := a.node(f)
		if err != nil {
			return err
		}
		if kind == "" {
			return cli.Usage(errors.New("--device SERIAL or --appliance ID is required"))
		}
		if strings.TrimSpace(a.reason) == "" {
			return cli.Usage(errors.New("--reason is required: say why the quarantine may be lifted (it is audited)"))
		}
		if err := c.call(ctx, "POST", "/v1/admin/attest/"+kind+"/"+url.PathEscape(id)+"/release", map[string]string{"reason": a.reason}, raw); err != nil {
			return err
		}
		var n nodeStatusJSON
		json.Unmarshal(*raw, &n)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "%s %s: quarantine lifted; it is %s and must answer its next challenge by %s\n", n.Kind, n.ID, n.State, when(n.StaleAt))
			return nil
		})
	case "policy show":
		if *f.scope == "" {
			return cli.Usage(errors.New("--scope is required (a vendor id, or appliance)"))
		}
		if err := c.call(ctx, "GET", "/v1/admin/attest-policies/"+url.PathEscape(*f.scope), nil, raw); err != nil {
			return err
		}
		return showPolicy(*raw, show)
	case "policy set":
		if *f.scope == "" || *f.file == "" {
			return cli.Usage(errors.New("--scope and --file are required"))
		}
		b, err := os.ReadFile(*f.file)
		if err != nil {
			return err
		}
		var p map[string]any
		if err := jsonx.Unmarshal(b, &p, attest.PolicyLimits); err != nil {
			return fmt.Errorf("--file %s: %w", *f.file, err)
		}
		if err := c.call(ctx, "PUT", "/v1/admin/attest-policies/"+url.PathEscape(*f.scope), p, raw); err != nil {
			return err
		}
		return showPolicy(*raw, show)
	case "golden add":
		if *f.signed == "" {
			return cli.Usage(errors.New("--signed FILE is required (attest golden sign writes it, at the vendor)"))
		}
		b, err := os.ReadFile(*f.signed)
		if err != nil {
			return err
		}
		var sr attest.SignedRelease
		if err := jsonx.Unmarshal(b, &sr, attest.SignedReleaseLimits); err != nil {
			return fmt.Errorf("--signed %s is not a signed release: %w", *f.signed, err)
		}
		if err := c.call(ctx, "POST", "/v1/admin/attest/golden", &sr, raw); err != nil {
			return err
		}
		var r attest.ReleaseRecord
		json.Unmarshal(*raw, &r)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintf(w, "release %s of %s added (version %d, %d golden value(s)), signed by %s (SHA-256 %s)\n",
				r.Release, r.Vendor, r.Version, len(r.Firmware), r.SignerSubject, r.Signer)
			return nil
		})
	case "golden list":
		if a.vendor == "" {
			return cli.Usage(errors.New("--vendor is required"))
		}
		if err := c.call(ctx, "GET", "/v1/admin/attest/golden/"+url.PathEscape(a.vendor), nil, raw); err != nil {
			return err
		}
		var rs []attest.ReleaseRecord
		json.Unmarshal(*raw, &rs)
		return show(func(w *tabwriter.Writer) error {
			fmt.Fprintln(w, "RELEASE\tVERSION\tDIGEST\tMODEL\tSIGNER\tADDED")
			for _, r := range rs {
				for _, g := range r.Firmware {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", r.Release, r.Version, g.Digest, g.Model, r.Signer[:16]+"…", when(r.Added))
				}
			}
			return nil
		})
	case "signer issue":
		if a.vendor == "" || a.csr == "" {
			return cli.Usage(errors.New("--vendor and --csr are required"))
		}
		b, err := os.ReadFile(a.csr)
		if err != nil {
			return err
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		if err := c.call(ctx, "POST", "/v1/admin/attest/signers/"+url.PathEscape(a.vendor), map[string]any{"csr": b, "days": a.days}, raw); err != nil {
			return err
		}
		var sc attest.SignerCert
		json.Unmarshal(*raw, &sc)
		out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sc.Certificate})
		if a.out != "" {
			if err := os.WriteFile(a.out, out, 0o644); err != nil {
				return err
			}
		}
		return show(func(w *tabwriter.Writer) error {
			if a.out == "" {
				w.Write(out)
			}
			fmt.Fprintf(w, "release-signing certificate for %s, SHA-256 %s, valid until %s\n", sc.Vendor, sc.SHA256, when(sc.NotAfter))
			return nil
		})
	}
	return cli.Usage(fmt.Errorf("attest %s: unknown command", verb))
}

func showPolicy(raw json.RawMessage, show func(func(w *tabwriter.Writer) error) error) error {
	var p attest.Policy
	json.Unmarshal(raw, &p)
	return show(func(w *tabwriter.Writer) error {
		by := p.UpdatedBy
		if p.Version == 0 {
			by = "nobody (the default policy)"
		}
		fmt.Fprintf(w, "policy %s version %d, set by %s\n", p.Scope, p.Version, by)
		fmt.Fprintf(w, "releases\t%s (%d golden value(s))\ninline golden values\t%d\nminimum firmware\t%s\nextra PCRs\t%v\npinned PCRs\t%d\ndebug PCR allowed\t%v\nstale after\t%d intervals, then %s\nauto release\t%v\n",
			strings.Join(p.Releases, ", "), p.GoldenFromReleases, len(p.Firmware), orNone(p.MinFirmware), p.PCRs, len(p.PCRValues), p.AllowDebugPCR, p.StaleAfter, p.OnStale, p.AutoRelease)
		return nil
	})
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// goldenSign signs a release file with the vendor's key, offline.
func goldenSign(f *attestFlagValues, out string, stdout, stderr io.Writer) error {
	if *f.release == "" || *f.signingKey == "" || *f.cert == "" {
		return cli.Usage(errors.New("--release, --signing-key and --cert are required"))
	}
	b, err := os.ReadFile(*f.release)
	if err != nil {
		return err
	}
	var r attest.Release
	if err := jsonx.Unmarshal(b, &r, jsonx.Limits{MaxBytes: 128 << 10, MaxDepth: 3, MaxArray: attest.MaxGolden, MaxMembers: 16}); err != nil {
		return fmt.Errorf("--release %s: %w", *f.release, err)
	}
	key, err := readSigningKey(*f.signingKey)
	if err != nil {
		return err
	}
	cb, err := os.ReadFile(*f.cert)
	if err != nil {
		return err
	}
	var chain []*x509.Certificate
	for blk, rest := pem.Decode(cb); blk != nil; blk, rest = pem.Decode(rest) {
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("--cert %s: %w", *f.cert, err)
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		return fmt.Errorf("--cert %s holds no PEM certificate", *f.cert)
	}
	if !publicEqual(key.Public(), chain[0].PublicKey) {
		return fmt.Errorf("--signing-key does not match --cert: sign with the key the certificate was issued for")
	}
	r.Issued = time.Time{}
	sr, err := attest.SignRelease(&r, key, chain)
	if err != nil {
		return err
	}
	enc, err := json.MarshalIndent(sr, "", "  ")
	if err != nil {
		return err
	}
	enc = append(enc, '\n')
	if out != "" {
		if err := os.WriteFile(out, enc, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "signed release %s of %s (%d golden value(s)) written to %s; add it with: edgetrust-central attest golden add --signed %s\n",
			r.Release, r.Vendor, len(r.Firmware), out, out)
		return nil
	}
	_, err = stdout.Write(enc)
	return err
}

func publicEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func readSigningKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("--signing-key %s: not PEM", path)
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("--signing-key %s: a %q block, want PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY (an encrypted key must be decrypted first)", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("--signing-key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("--signing-key %s: a %T cannot sign", path, k)
	}
	return s, nil
}

var attestGroup = func() *cli.Command {
	g := adminGroup("attest", "continuous attestation: node status, policies, vendors' signed golden values, quarantines",
		"status: a node's attestation state (or every node's, and the rounds' health)")
	sub := func(name, summary string, verbs ...string) {
		s := adminGroup("attest", "", verbs...)
		var ex []string
		for _, k := range s.Commands {
			verb := name + " " + k.Name
			k.Run = func(ctx context.Context, e *cli.Env, args []string) error {
				return adminCommand(ctx, "attest", verb, args, e.Stdout, e.Stderr)
			}
			ex = append(ex, "  edgetrust-central "+adminHelp["attest "+verb].Example)
		}
		g.Commands = append(g.Commands, &cli.Command{Name: name, Summary: summary, Commands: s.Commands, Example: strings.Join(ex, "\n"),
			Default: func(context.Context, *cli.Env, []string) error {
				var names []string
				for _, k := range s.Commands {
					names = append(names, k.Name)
				}
				return cli.Usagef("attest %s needs %s", name, strings.Join(names, " or "))
			}})
	}
	sub("policy", "attestation policies per vendor or for appliances", "show: show a scope's policy", "set: store a new version of a scope's policy")
	sub("golden", "vendors' signed golden firmware values", "sign: sign a release's golden values with the vendor's key (offline)",
		"add: register a signed release", "list: list a vendor's releases")
	sub("signer", "vendors' release-signing certificates", "issue: certify a vendor's release-signing key from its CSR")
	sub("quarantine", "attestation quarantines", "lift: lift a node's attestation quarantine (audited)")
	g.Example = groupExample(g, func(verb string) string {
		if h, ok := adminHelp["attest "+verb]; ok {
			return "edgetrust-central " + h.Example
		}
		return ""
	})
	for _, k := range g.Commands {
		if len(k.Commands) > 0 {
			g.Example += k.Example + "\n"
		}
	}
	return g
}()
