package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/sbi"
)

func cmdCert(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("cert [--key-dir DIR]",
		`Prints the ctk's encryption certificate (PEM) on stdout, creating the key pair
(RSA 2048, self-signed, two years) on first use. Give it to the device as the
certificate auth captures are encrypted to; the ctk then decrypts and checks
every bioValue. The thumbprint the device must send goes to stderr.`,
		"  edgetrust-ctk cert > ctk.pem\n  edgetrust-agent serve --dev --state /tmp/agent --encryption-cert ctk.pem", stderr)
	keyDir := fs.String("key-dir", "", "`DIR` of the key pair (default $EDGETRUST_CTK_HOME, else the user config dir)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	key, dir, err := loadKey(*keyDir)
	if err != nil {
		return err
	}
	stdout.Write(key.CertPEM())
	fmt.Fprintf(stderr, "edgetrust-ctk: certificate of %s, thumbprint %s\n", filepath.Join(dir, ctk.EncryptionCertFile), sbi.Thumbprint(key.Cert))
	return nil
}
