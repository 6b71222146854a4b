package main

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/central"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/issuer"
)

// Claim 169 issuance lives beside the registry: the issuer key in
// STATE/issuer (age-encrypted), revocations in STATE/issuer/revocations.json,
// and trust exports signed with central's feed key, which appliances and
// verifiers already trust.

const issuerUsage = `All the Claim 169 commands:
  edgetrust-central issuer init --state DIR [--alg EdDSA|ES256] [--issuer URI] [--validity 17520h]
  edgetrust-central credential issue --state DIR --in FILE|- [--format json|jsonl|csv] --out DIR [--png] [--svg]
  edgetrust-central credential revoke --state DIR --id ID [--issued-before TIME] [--reason TEXT]
  edgetrust-central trust export --state DIR --out DIR [--validity 168h]
`

// issuerHelp is what each command's --help says it does.
var issuerHelp = map[string]cli.Help{
	"issuer init": {
		Usage: "edgetrust-central issuer init --state DIR [--alg EdDSA|ES256] [--issuer URI] [--validity 17520h]",
		About: `Creates the Claim 169 issuer signing key in STATE/issuer, encrypted with the
passphrase (age). Run it once; credential issue signs with the key and trust
export publishes its public half. It refuses to replace an existing key.`,
		Example: "  EDGETRUST_ISSUER_PASSPHRASE='a long passphrase' edgetrust-central issuer init --state /var/lib/edgetrust-central --issuer https://id.example.org",
	},
	"credential issue": {
		Usage: "edgetrust-central credential issue --state DIR --in FILE|- [--format json|jsonl|csv] --out DIR [--png] [--svg]",
		About: `Signs one Claim 169 identity QR code per record of --in (one JSON object, JSON
lines, or CSV whose header row names the fields: id, fullName, dateOfBirth,
gender, ..., expiresAt, notBefore, issuedAt as Unix seconds) and writes each
code's Base45 text (NNNNNN-ID.txt, in input order) and, with --png or --svg, its image into --out.
Progress goes to stderr, the summary to stdout.`,
		Example: "  edgetrust-central credential issue --state /var/lib/edgetrust-central --in people.csv --out qr/ --png",
	},
	"credential revoke": {
		Usage: "edgetrust-central credential revoke --state DIR --id ID [--issued-before TIME] [--reason TEXT]",
		About: `Records a revocation in STATE/issuer/revocations.json: every credential of
--id, or only those issued at or before --issued-before (RFC 3339 or Unix
seconds). Nothing changes for verifiers until trust export publishes the list.`,
		Example: "  edgetrust-central credential revoke --state /var/lib/edgetrust-central --id 3918592438 --issued-before 2026-12-01T00:00:00Z --reason 'card lost'",
	},
	"trust export": {
		Usage: "edgetrust-central trust export --state DIR --out DIR [--validity 168h]",
		About: `Writes trust-list.json (the issuer keys) and revocation-list.json into --out,
signed with central's feed key, for offline verifiers: edgetrust-appliance
verify-qr --trust and serve --qr-trust. Export again before --validity runs
out, or verifiers call the lists stale.`,
		Example: "  edgetrust-central trust export --state /var/lib/edgetrust-central --out lists/",
	},
}

func issuerDir(state string) string { return filepath.Join(state, "issuer") }

// issuerPassphrase: EDGETRUST_ISSUER_PASSPHRASE, a file, or central's own.
func issuerPassphrase(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	if p := os.Getenv("EDGETRUST_ISSUER_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	if p := os.Getenv("EDGETRUST_CENTRAL_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	return nil, cli.Usage(errors.New("the issuer key is encrypted: set EDGETRUST_ISSUER_PASSPHRASE (or EDGETRUST_CENTRAL_PASSPHRASE) or pass --passphrase-file FILE"))
}

func issuerCommand(ctx context.Context, group, sub string, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet(group + " " + sub)
	fs.SetOutput(stderr)
	state := fs.String("state", os.Getenv("EDGETRUST_CENTRAL_STATE"), "central's state directory (required)")
	passFile := fs.String("passphrase-file", "", "file holding the issuer key passphrase (else EDGETRUST_ISSUER_PASSPHRASE, else EDGETRUST_CENTRAL_PASSPHRASE)")
	h := issuerHelp[group+" "+sub]
	fs.Usage = func() {
		cli.PrintHelp(stderr, fs, h)
		fmt.Fprint(stderr, "\n", issuerUsage)
	}
	switch group + " " + sub {
	case "issuer init":
		alg := fs.String("alg", "EdDSA", "EdDSA (Ed25519) or ES256 (P-256)")
		iss := fs.String("issuer", "", "the iss claim credentials carry, a URI such as https://id.example.org")
		validity := fs.Duration("validity", 2*365*24*time.Hour, "how long the key may issue")
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if *state == "" {
			return cli.Usage(errors.New("--state DIR is required"))
		}
		pass, err := issuerPassphrase(*passFile)
		if err != nil {
			return err
		}
		m, err := issuer.Init(issuerDir(*state), *alg, *iss, pass, *validity, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "issuer key %s (%s) created in %s, valid until %s\n", m.KID, m.Alg, issuerDir(*state), m.NotAfter.Format(time.DateOnly))
		return nil

	case "credential issue":
		in := fs.String("in", "", "input `FILE` (- for stdin): one JSON credential, JSONL or CSV")
		format := fs.String("format", "", "json, jsonl or csv (default: from the file name)")
		out := fs.String("out", "", "output `DIR` for Base45 text (.txt) and QR images")
		png := fs.Bool("png", false, "also write a QR code PNG per credential")
		svg := fs.Bool("svg", false, "also write a QR code SVG per credential")
		validity := fs.Duration("validity", 5*365*24*time.Hour, "expiresAt = issuedAt + validity, for records without expiresAt")
		encKey := fs.String("encrypt-key", "", "hex AES key (32 or 64 hex digits): wrap credentials in COSE_Encrypt0")
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if *state == "" || *in == "" || *out == "" {
			return cli.Usage(errors.New("--state, --in and --out are required"))
		}
		if *format == "" {
			switch {
			case strings.HasSuffix(*in, ".jsonl"):
				*format = "jsonl"
			case strings.HasSuffix(*in, ".csv"):
				*format = "csv"
			default:
				*format = "json"
			}
		}
		pass, err := issuerPassphrase(*passFile)
		if err != nil {
			return err
		}
		k, err := issuer.Load(issuerDir(*state), pass)
		if err != nil {
			return err
		}
		opts := &claim169.IssuerOptions{KeyID: k.KIDBytes()}
		if *encKey != "" {
			b, err := hex.DecodeString(*encKey)
			if err != nil || (len(b) != 16 && len(b) != 32) {
				return cli.Usage(errors.New("--encrypt-key must be 32 or 64 hex digits"))
			}
			opts.EncryptionKey = b
		}
		is, err := claim169.NewIssuer(k.Signer, opts)
		if err != nil {
			return err
		}
		r := io.Reader(os.Stdin)
		total := 0
		if *in != "-" {
			f, err := os.Open(*in)
			if err != nil {
				return err
			}
			defer f.Close()
			r = f
			if *format != "json" {
				total = countLines(*in) - map[bool]int{true: 1, false: 0}[*format == "csv"]
			}
		}
		s, err := issuer.Issue(ctx, is, r, *format, issuer.Options{OutDir: *out, PNG: *png, SVG: *svg,
			Issuer: k.Issuer, Validity: *validity, Progress: stderr, Total: total})
		fmt.Fprintf(stdout, "%d credentials issued into %s in %v (kid %s)\n", s.Issued, *out, s.Elapsed.Round(time.Millisecond), k.KID)
		return err

	case "credential revoke":
		id := fs.String("id", "", "the identity's claim 169 id (or CWT sub)")
		var before cli.Time
		fs.Var(&before, "issued-before", "revoke only credentials issued at or before this `TIME` (RFC 3339 or Unix seconds); default: all")
		reason := fs.String("reason", "", "why (kept in the list)")
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if *state == "" || *id == "" {
			return cli.Usage(errors.New("--state and --id are required"))
		}
		if _, err := os.Stat(issuerDir(*state)); err != nil {
			return fmt.Errorf("no issuer in %s (run edgetrust-central issuer init --state %s first)", *state, *state)
		}
		rev := trust.Revocation{ID: *id, Reason: *reason}
		if before.IsSet() {
			rev.IssuedBefore = before.T
		}
		list, err := readRevocations(*state)
		if err != nil {
			return err
		}
		list = append(list, rev)
		b, _ := json.MarshalIndent(list, "", "  ")
		if err := os.WriteFile(filepath.Join(issuerDir(*state), "revocations.json"), b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "credentials of %s revoked; run trust export to publish (%d revocations)\n", *id, len(list))
		return nil

	case "trust export":
		out := fs.String("out", "", "output `DIR` for trust-list.json and revocation-list.json")
		validity := fs.Duration("validity", 7*24*time.Hour, "how long the lists are fresh (their nextUpdate)")
		if err := cli.Parse(fs, args); err != nil {
			return err
		}
		if *state == "" || *out == "" {
			return cli.Usage(errors.New("--state and --out are required"))
		}
		meta, err := issuer.LoadMeta(issuerDir(*state))
		if err != nil {
			return err
		}
		pub, err := issuer.PublicKey(issuerDir(*state))
		if err != nil {
			return err
		}
		pass, err := passphrase("")
		if err != nil {
			return err
		}
		now := time.Now()
		kr, err := central.LoadKeyring(*state, pass)
		if errors.Is(err, central.ErrNoKeyring) {
			// As on central's first start: make the keyring (feed key included).
			kr, err = central.InitKeyring(*state, pass, now)
		}
		if err != nil {
			return err
		}
		tl, err := issuer.TrustList(kr.FeedSigner(), []issuer.Meta{*meta}, []crypto.PublicKey{pub}, nil, *validity, now)
		if err != nil {
			return err
		}
		revs, err := readRevocations(*state)
		if err != nil {
			return err
		}
		rl, err := issuer.RevocationList(kr.FeedSigner(), revs, *validity, now)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(*out, 0o755); err != nil {
			return err
		}
		for name, b := range map[string][]byte{"trust-list.json": tl, "revocation-list.json": rl} {
			if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
				return err
			}
		}
		fmt.Fprintf(stdout, "trust list (1 issuer key) and revocation list (%d) written to %s, signed by the feed key, fresh until %s\n",
			len(revs), *out, now.Add(*validity).UTC().Format(time.RFC3339))
		return nil
	}
	return cli.Usage(fmt.Errorf("unknown command %s %s\n\n%s", group, sub, issuerUsage))
}

func readRevocations(state string) ([]trust.Revocation, error) {
	b, err := os.ReadFile(filepath.Join(issuerDir(state), "revocations.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var list []trust.Revocation
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("revocations.json: %w", err)
	}
	return list, nil
}

func countLines(path string) int {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 256<<20 {
		return 0
	}
	n := strings.Count(string(b), "\n")
	if len(b) > 0 && b[len(b)-1] != '\n' {
		n++
	}
	return n
}
