package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance"
	"github.com/edgetrust/edgetrust/appliance/qrverify"
	"github.com/edgetrust/edgetrust/claim169"
	"github.com/edgetrust/edgetrust/claim169/trust"
	"github.com/edgetrust/edgetrust/internal/cli"
)

const verifyQRHelp = `Usage: edgetrust-appliance verify-qr (--text TEXT | --image FILE) TRUST [flags]

Verifies a MOSIP Claim 169 identity QR code offline: Base45, inflate, COSE
signature, CWT times, Claim 169, revocation. Exit status 0 and the decoded
credential (JSON with --json) when it is valid; 1 and one line "stage: reason"
when it is not; 2 for usage errors.

TRUST is either the signed lists central exports (edgetrust-central trust export):
  --trust trust-list.json [--revocations revocation-list.json] --list-key central-feed.pem
or, for an ad-hoc check, one issuer key:
  --issuer-key issuer.pub.pem [--alg EdDSA|ES256] [--kid HEX]

Examples:
  edgetrust-appliance verify-qr --image photo.jpg --trust trust-list.json --list-key feed.pem
  edgetrust-appliance verify-qr --text "NCF..." --issuer-key issuer.pub.pem --now 2026-12-01T00:00:00Z --json

Flags:
`

func verifyQR(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("verify-qr")
	fs.SetOutput(stderr)
	text := fs.String("text", "", "the QR code's text (Base45)")
	image := fs.String("image", "", "`FILE`: a PNG or JPEG photo or scan of the QR code")
	trustFile := fs.String("trust", "", "`FILE`: signed trust list")
	revFile := fs.String("revocations", "", "`FILE`: signed revocation list")
	var listKeys stringList
	fs.Var(&listKeys, "list-key", "`FILE`: central's list/feed public key (PEM); repeatable")
	issuerKey := fs.String("issuer-key", "", "`FILE`: an issuer's public key (PEM) to trust for this check only")
	alg := fs.String("alg", "", "with --issuer-key: the algorithm it must be used with, EdDSA or ES256 (default: from the key)")
	kid := fs.String("kid", "", "with --issuer-key: the kid (hex) credentials carry (default: any)")
	decryptKey := fs.String("decrypt-key", "", "hex AES key (16 or 32 bytes) for encrypted credentials")
	var nowFlag cli.Time
	fs.Var(&nowFlag, "now", "verify as of this `TIME` (RFC 3339 or Unix seconds), e.g. for archived codes (default: the clock)")
	skew := fs.Duration("skew", 0, "clock tolerance for exp, nbf and iat")
	asJSON := fs.Bool("json", false, "print the decision as JSON")
	fs.Usage = func() { fmt.Fprint(stderr, verifyQRHelp); cli.PrintFlags(stderr, fs, "") }
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if (*text == "") == (*image == "") {
		return cli.Usage(errors.New("give exactly one of --text and --image"))
	}
	if (*trustFile == "") == (*issuerKey == "") {
		return cli.Usage(errors.New("give --trust FILE --list-key FILE, or --issuer-key FILE"))
	}
	now := time.Now()
	if nowFlag.IsSet() {
		now = nowFlag.T
	}
	v := &trust.Verifier{RejectStale: true, Now: func() time.Time { return now }}
	v.Decoder.Skew = *skew
	if *decryptKey != "" {
		k, err := hex.DecodeString(*decryptKey)
		if err != nil || (len(k) != 16 && len(k) != 32) {
			return cli.Usage(errors.New("--decrypt-key must be 32 or 64 hex digits"))
		}
		v.Decoder.DecryptionKeys = claim169.DecryptionKeyResolverFunc(func(claim169.KeyQuery) ([]byte, error) { return k, nil })
	}
	if *trustFile != "" {
		if len(listKeys) == 0 {
			return cli.Usage(errors.New("--trust needs --list-key FILE (central's feed key) to check the list's signature"))
		}
		keys, err := appliance.LoadFeedKeys(listKeys)
		if err != nil {
			return err
		}
		l := &qrverify.Lists{TrustFile: *trustFile, RevocationsFile: *revFile, Keys: keys, Verifier: v}
		if err := l.Load(); err != nil {
			return err
		}
	} else {
		pub, err := readPublicKey(*issuerKey)
		if err != nil {
			return err
		}
		kidBytes, err := hex.DecodeString(*kid)
		if err != nil {
			return cli.Usage(errors.New("--kid must be hex"))
		}
		ik, err := trust.NewIssuerKey(kidBytes, pub, "", time.Time{}, now.AddDate(100, 0, 0))
		if err != nil {
			return err
		}
		if *alg != "" && *alg != ik.Alg {
			return fmt.Errorf("--alg %s does not fit the key in %s (an %s key)", *alg, *issuerKey, ik.Alg)
		}
		tl := &trust.TrustList{IssuedAt: now, NextUpdate: now.AddDate(100, 0, 0), Keys: []trust.IssuerKey{ik}}
		if err := v.SetTrustList(tl); err != nil {
			return err
		}
		if *kid == "" {
			// Ad hoc: the one key, whatever kid the credential names.
			v.AnyKID = true
		}
	}
	var err error
	qrText := *text
	if *image != "" {
		if qrText, err = qrverify.DecodeImageFile(*image); err != nil {
			return report(stdout, stderr, *asJSON, qrverify.Answer{Stage: "image", Reason: "image: " + err.Error()})
		}
	}
	return report(stdout, stderr, *asJSON, qrverify.Decide(v.Verify(strings.TrimSpace(qrText))))
}

func report(stdout, stderr io.Writer, asJSON bool, a qrverify.Answer) error {
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(a)
	} else if a.Valid {
		var pretty any
		json.Unmarshal(a.Credential, &pretty)
		b, _ := json.MarshalIndent(pretty, "", "  ")
		fmt.Fprintln(stdout, string(b))
		if a.Stale {
			fmt.Fprintln(stderr, "warning: the trust or revocation list is past its nextUpdate")
		}
	} else {
		fmt.Fprintln(stderr, a.Reason)
	}
	if !a.Valid {
		return errInvalid
	}
	return nil
}

func readPublicKey(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM public key", path)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	switch pub.(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
		return pub, nil
	}
	return nil, fmt.Errorf("%s: not an Ed25519 or P-256 key", path)
}
