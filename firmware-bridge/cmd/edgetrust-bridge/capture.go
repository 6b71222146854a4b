package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/edgetrust/edgetrust/internal/sensor/capture"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

const captureHelp = `Usage: edgetrust-bridge capture --port PORT --out FILE [flags]

Waits for a finger on the module, uploads the image and writes it as an
ISO/IEC 19794-4:2011 finger image record, compressed as MOSIP SBI expects:
JPEG 2000 lossy (about 10:1) for --purpose auth, JPEG 2000 lossless for
--purpose registration. The file is written with mode 0600: it is
biometric data. Nothing about the image is logged beyond its size.

Without a finger the command fails after --wait with "no finger".

Examples:
  edgetrust-bridge capture --port /dev/ttyUSB0 --out thumb.iso
  edgetrust-bridge capture --port auto --purpose registration --finger left-index --out li.iso
`

func runCapture(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "capture", captureHelp)
	var lf linkFlags
	lf.register(fs)
	out := fs.String("out", "", "file to write the ISO/IEC 19794-4 record to (required)")
	purpose := fs.String("purpose", "auth", "auth (JPEG 2000 lossy) or registration (JPEG 2000 lossless)")
	finger := fs.String("finger", "unknown", "finger position: 0..10 or a name such as right-index or left-thumb (registration needs a real finger)")
	wait := fs.Duration("wait", 10*time.Second, "how long to wait for a finger")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return fs.usageError("--out is required")
	}
	p, err := capture.ParsePurpose(*purpose)
	if err != nil {
		return fs.usageError("--purpose: %v", err)
	}
	pos, err := iso.ParsePosition(*finger)
	if err != nil {
		return fs.usageError("--finger: %v", err)
	}
	d, code := lf.open(ctx, fs, e, "capture")
	if d == nil {
		return code
	}
	defer d.Close()
	res, err := d.Capture(ctx, capture.Request{Purpose: p, Position: pos, Timeout: *wait})
	if err != nil {
		return fail(e, "capture", err)
	}
	if err := writePrivate(*out, res.Record); err != nil {
		return fail(e, "capture", err)
	}
	comp := iso.JPEG2000Lossy
	if p == capture.Registration {
		comp = iso.JPEG2000Lossless
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d bytes, %s, finger %d (%s), %dx%d, %s, quality %d\n",
		*out, len(res.Record), p, pos, iso.PositionName(pos), res.Width, res.Height, comp, res.Quality)
	return exitOK
}

// writePrivate writes biometric data readable by the owner only, via a
// temporary file so a failed write leaves no half record behind.
func writePrivate(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

const inspectHelp = `Usage: edgetrust-bridge inspect [--purpose auth|registration] FILE

Prints the headers of an ISO/IEC 19794-4:2011 finger image record (never
the image itself). With --purpose it also applies MOSIP SBI's rules for that
purpose (format and version, one finger, capture time, technology, quality
range, finger position, 8-bit depth, 490..1010 ppi, compression) and decodes
JPEG 2000 images to check that their size and wavelet match the header.
Exit status 1 means the record does not conform.

Examples:
  edgetrust-bridge inspect finger.iso
  edgetrust-bridge inspect --purpose registration enrol.iso
`

func runInspect(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "inspect", inspectHelp)
	purpose := fs.String("purpose", "", "also check the record against MOSIP rules for auth or registration")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.usageError("want exactly one record file")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return fail(e, "inspect", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, iso.MaxRecordSize+1))
	if err != nil {
		return fail(e, "inspect", err)
	}
	rec, err := iso.ParseFinger(b)
	if err != nil {
		return fail(e, "inspect", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "format:\tISO/IEC 19794-4:2011 (FIR 020), %d bytes\n", len(b))
	fmt.Fprintf(tw, "representations:\t%d (fingers %d, certification flag %d)\n", len(rec.Representations), rec.Fingers, rec.CertFlag)
	for i, r := range rec.Representations {
		at := "invalid"
		if t, ok := r.CaptureTime.Time(); ok {
			at = t.Format("2006-01-02T15:04:05.000Z")
		}
		fmt.Fprintf(tw, "[%d] captured:\t%s\n", i+1, at)
		fmt.Fprintf(tw, "[%d] finger:\t%d (%s), impression %d\n", i+1, r.Position, iso.PositionName(r.Position), r.Impression)
		fmt.Fprintf(tw, "[%d] device:\ttechnology %d, vendor 0x%04X, type 0x%04X\n", i+1, r.Technology, r.VendorID, r.DeviceTypeID)
		for _, q := range r.Quality {
			fmt.Fprintf(tw, "[%d] quality:\t%d (vendor 0x%04X, algorithm 0x%04X)\n", i+1, q.Score, q.VendorID, q.AlgorithmID)
		}
		unit := "ppi"
		if r.ScaleUnits == iso.PixelsPerCentimetre {
			unit = "ppcm"
		}
		fmt.Fprintf(tw, "[%d] image:\t%dx%d, %d-bit, %dx%d %s, %s, %d bytes\n", i+1, r.Width, r.Height, r.BitDepth,
			r.ImageResH, r.ImageResV, unit, r.Compression, len(r.Image))
		if len(r.Extended) > 0 {
			fmt.Fprintf(tw, "[%d] extended data:\t%d bytes\n", i+1, len(r.Extended))
		}
	}
	tw.Flush()
	if *purpose == "" {
		return exitOK
	}
	p, err := capture.ParsePurpose(*purpose)
	if err != nil {
		return fs.usageError("--purpose: %v", err)
	}
	if err := capture.CheckRecord(b, p); err != nil {
		fmt.Fprintf(e.stdout, "MOSIP %s rules: FAIL\n", p)
		return fail(e, "inspect", err)
	}
	fmt.Fprintf(e.stdout, "MOSIP %s rules: ok\n", p)
	return exitOK
}
