package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"

	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
)

const firmwareHelp = `Usage: edgetrust-bridge firmware <verify|sign|pin> [flags]

Firmware updates for the fingerprint module come with a manifest (model,
version, SHA-256 and size of the image) signed by the module vendor with
Ed25519 or ECDSA P-256. Nothing may be flashed until "verify" accepts it.

  verify   check a manifest and image against the vendor key and the pinned minimum version
  sign     make a signed manifest (vendor and test tooling)
  pin      raise the pinned minimum firmware version; it never goes down

Examples:
  edgetrust-bridge firmware verify --manifest fw.manifest.json --image fw.bin --vendor-key vendor.pub.pem --model R503 --min-version-file /var/lib/edgetrust/fw-min.json
  edgetrust-bridge firmware sign --key vendor.pem --model R503 --version 1.5.0 --image fw.bin --out fw.manifest.json
  edgetrust-bridge firmware pin --min-version-file /var/lib/edgetrust/fw-min.json --version 1.5.0
`

const verifyHelp = `Usage: edgetrust-bridge firmware verify --manifest M --image I --vendor-key K --model MODEL [flags]

Checks, in this order, and stops at the first failure:
  1. the manifest signature, with the vendor's public key (PEM, Ed25519 or P-256);
  2. the model in the manifest is the module's model (--model);
  3. the version is not below the pinned minimum (--min-version-file or
     --min-version) nor the version running now (--current): no rollback;
  4. the image has the size and SHA-256 the manifest states.
Exit status 0 means the image may be flashed; 1 means it must not be.

Example:
  edgetrust-bridge firmware verify --manifest fw.manifest.json --image fw.bin --vendor-key vendor.pub.pem --model R503 --current 1.4.2
`

func runFirmwareVerify(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "firmware verify", verifyHelp)
	manifest := fs.String("manifest", "", "signed manifest file (required)")
	img := fs.String("image", "", "firmware image file (required)")
	key := fs.String("vendor-key", "", "vendor public key, PEM (required)")
	model := fs.String("model", "", "model of the module to flash, as in its product information (required)")
	minFile := fs.String("min-version-file", "", "JSON file with the pinned minimum version")
	minVer := fs.String("min-version", "", "pinned minimum version, when there is no file")
	current := fs.String("current", "", "firmware version running now")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *manifest == "" || *img == "" || *key == "" || *model == "" {
		return fs.usageError("--manifest, --image, --vendor-key and --model are required")
	}
	if *minFile != "" && *minVer != "" {
		return fs.usageError("give --min-version-file or --min-version, not both")
	}
	pol := firmware.Policy{Model: *model}
	var err error
	if *minFile != "" {
		if pol.Min, err = (&firmware.FileStore{Path: *minFile}).MinVersion(ctx); err != nil {
			return fail(e, "firmware verify", err)
		}
	}
	if *minVer != "" {
		if pol.Min, err = firmware.ParseVersion(*minVer); err != nil {
			return fs.usageError("--min-version: %v", err)
		}
	}
	if *current != "" {
		if pol.Current, err = firmware.ParseVersion(*current); err != nil {
			return fs.usageError("--current: %v", err)
		}
	}
	keyPEM, err := readSmall(*key, 16<<10)
	if err != nil {
		return fail(e, "firmware verify", err)
	}
	pub, err := firmware.ParsePublicKey(keyPEM)
	if err != nil {
		return fail(e, "firmware verify", err)
	}
	signed, err := readSmall(*manifest, firmware.MaxManifestSize)
	if err != nil {
		return fail(e, "firmware verify", err)
	}
	f, err := os.Open(*img)
	if err != nil {
		return fail(e, "firmware verify", err)
	}
	defer f.Close()
	m, v, err := firmware.Verify(signed, f, pub, pol)
	if err != nil {
		fmt.Fprintln(e.stdout, "REJECTED: do not flash")
		return fail(e, "firmware verify", err)
	}
	fmt.Fprintf(e.stdout, "OK: %s firmware %s, %d bytes, sha256 %s: may be flashed\n", m.Model, v, m.Size, m.SHA256)
	return exitOK
}

const signHelp = `Usage: edgetrust-bridge firmware sign --key K --model MODEL --version V --image I --out M

Writes a signed manifest for a firmware image: the SHA-256 and size of the
image, the model and version, signed with the vendor's private key (PEM
PKCS#8 or SEC 1; Ed25519 or ECDSA P-256). Production vendor keys belong in an
HSM; this command is for development and test fixtures.

Example:
  edgetrust-bridge firmware sign --key vendor.pem --model R503 --version 1.5.0 --image fw.bin --out fw.manifest.json
`

func runFirmwareSign(e *env, args []string) int {
	fs := newFlags(e, "firmware sign", signHelp)
	key := fs.String("key", "", "vendor private key, PEM (required)")
	model := fs.String("model", "", "module model (required)")
	version := fs.String("version", "", "firmware version, e.g. 1.5.0 (required)")
	img := fs.String("image", "", "firmware image file (required)")
	out := fs.String("out", "", "manifest file to write (required)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *key == "" || *model == "" || *version == "" || *img == "" || *out == "" {
		return fs.usageError("--key, --model, --version, --image and --out are required")
	}
	if _, err := firmware.ParseVersion(*version); err != nil {
		return fs.usageError("--version: %v", err)
	}
	keyPEM, err := readSmall(*key, 16<<10)
	if err != nil {
		return fail(e, "firmware sign", err)
	}
	signer, err := firmware.ParsePrivateKey(keyPEM)
	if err != nil {
		return fail(e, "firmware sign", err)
	}
	f, err := os.Open(*img)
	if err != nil {
		return fail(e, "firmware sign", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(f, firmware.MaxImageSize+1))
	if err != nil {
		return fail(e, "firmware sign", err)
	}
	if n > firmware.MaxImageSize || n == 0 {
		return fail(e, "firmware sign", fmt.Errorf("image size %d out of range 1..%d", n, firmware.MaxImageSize))
	}
	signed, err := firmware.Sign(firmware.Manifest{Model: *model, Version: *version, SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, signer)
	if err != nil {
		return fail(e, "firmware sign", err)
	}
	if err := os.WriteFile(*out, append(signed, '\n'), 0o644); err != nil {
		return fail(e, "firmware sign", err)
	}
	fmt.Fprintf(e.stdout, "wrote %s: %s %s, %d bytes\n", *out, *model, *version, n)
	return exitOK
}

const pinHelp = `Usage: edgetrust-bridge firmware pin --min-version-file F --version V

Raises the pinned minimum firmware version stored in F. Modules reporting an
older version are then refused by probe, capture and the agent, and older
update images fail "verify". The pin only goes up: lowering it fails. On
devices the pin lives in a TPM NV index; this file form is for development.

Example:
  edgetrust-bridge firmware pin --min-version-file /var/lib/edgetrust/fw-min.json --version 1.5.0
`

func runFirmwarePin(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "firmware pin", pinHelp)
	file := fs.String("min-version-file", "", "JSON file holding the pin (required)")
	version := fs.String("version", "", "new minimum version (required)")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if *file == "" || *version == "" {
		return fs.usageError("--min-version-file and --version are required")
	}
	v, err := firmware.ParseVersion(*version)
	if err != nil {
		return fs.usageError("--version: %v", err)
	}
	if err := (&firmware.FileStore{Path: *file}).RaiseMinVersion(ctx, v); err != nil {
		return fail(e, "firmware pin", err)
	}
	fmt.Fprintf(e.stdout, "pinned minimum firmware version %s in %s\n", v, *file)
	return exitOK
}

func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return b, nil
}
