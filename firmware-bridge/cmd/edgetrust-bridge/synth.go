package main

import (
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/internal/biometric/synth"
)

const synthHelp = `Usage: edgetrust-bridge synth --out DIR [flags]

Generates synthetic fingerprints with known identity (the SFinGe approach:
orientation field from cores and deltas, ridges grown by iterative Gabor
filtering, then per-impression displacement, rotation, elastic distortion,
pressure, dryness and noise) and writes them as 8-bit grey PNGs at 500 ppi:
DIR/fNNNN_K.png is impression K of finger NNNN. DIR/truth.csv lists each
image's finger, pattern class and pose. The same --seed always gives the
same images. Serve them from the emulator with --images DIR.

Examples:
  edgetrust-bridge synth --out ./prints --fingers 20 --impressions 4
  edgetrust-bridge synth --out ./big --width 400 --height 480 --master
  edgetrust-bridge emulate --images ./prints
`

func runSynth(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "synth", synthHelp)
	out := fs.String("out", "", "directory to write the PNG files to (required; created if missing)")
	fingers := fs.Int("fingers", 10, "number of fingers")
	imps := fs.Int("impressions", 4, "impressions per finger")
	seed := fs.Uint64("seed", 1, "base seed; finger i uses synth.FingerSeed(seed, i)")
	width := fs.Int("width", synth.DefaultWidth, "image width in pixels")
	height := fs.Int("height", synth.DefaultHeight, "image height in pixels")
	master := fs.Bool("master", false, "also write each master fingerprint as fNNNN_master.png")
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fs.usageError("unexpected argument %q", fs.Arg(0))
	}
	if *out == "" {
		return fs.usageError("--out is required")
	}
	if *fingers < 1 || *fingers > 100000 || *imps < 1 || *imps > 100 {
		return fs.usageError("--fingers must be 1..100000 and --impressions 1..100")
	}
	if *width < 64 || *height < 64 || *width > 1024 || *height > 1024 {
		return fs.usageError("--width and --height must be 64..1024")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fail(e, "synth", err)
	}
	truth, err := os.Create(filepath.Join(*out, "truth.csv"))
	if err != nil {
		return fail(e, "synth", err)
	}
	defer truth.Close()
	fmt.Fprintln(truth, "file,finger,impression,finger_seed,class,rotation_deg,centre_x,centre_y,pressure")
	start := time.Now()
	for i := 0; i < *fingers; i++ {
		if err := ctx.Err(); err != nil {
			return fail(e, "synth", err)
		}
		fseed := synth.FingerSeed(*seed, uint64(i))
		f := synth.NewFinger(fseed, synth.DefaultOptions)
		if *master {
			if err := writePNG(filepath.Join(*out, fmt.Sprintf("f%04d_master.png", i)), f.Master()); err != nil {
				return fail(e, "synth", err)
			}
		}
		for k := 0; k < *imps; k++ {
			img, pose := f.ImpressionPose(uint64(k), synth.ImpressionOptions{Width: *width, Height: *height})
			name := fmt.Sprintf("f%04d_%d.png", i, k)
			if err := writePNG(filepath.Join(*out, name), img); err != nil {
				return fail(e, "synth", err)
			}
			fmt.Fprintf(truth, "%s,%d,%d,%d,%s,%.2f,%.1f,%.1f,%.2f\n", name, i, k, fseed, f.Class,
				pose.Rotation*180/3.141592653589793, pose.CX, pose.CY, pose.Pressure)
		}
	}
	if err := truth.Close(); err != nil {
		return fail(e, "synth", err)
	}
	fmt.Fprintf(e.stdout, "wrote %d fingers x %d impressions (%dx%d) to %s in %v\n",
		*fingers, *imps, *width, *height, *out, time.Since(start).Round(time.Millisecond))
	return exitOK
}

func writePNG(path string, img image.Image) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
