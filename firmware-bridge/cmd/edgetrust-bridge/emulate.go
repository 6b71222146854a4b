package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/edgetrust/edgetrust/internal/sensor/r30x/emulator"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
)

const emulateHelp = `Usage: edgetrust-bridge emulate [flags]

Runs a software fingerprint module that speaks the R30x serial protocol on a
pseudo-terminal, prints the terminal's path (e.g. /dev/pts/3) and serves until
interrupted (Ctrl-C or SIGTERM). Point the agent or the other commands at that
path as if it were /dev/ttyUSB0: the real driver, serial library and framing
run unchanged.

Images come from --images (PNG, JPEG or binary PGM files, served in name
order, scaled and cropped to 256x288) or, by default, are synthetic prints.
Synthetic prints are drawn patterns, not real fingers: never use them to
evaluate a matcher. Fault flags make the module misbehave on purpose, to see
how the driver copes.

Examples:
  edgetrust-bridge emulate
  edgetrust-bridge emulate --images ./frames --link /tmp/sensor
  edgetrust-bridge emulate --garbage 20 --corrupt 3 --firmware 0.9.1
`

func runEmulate(ctx context.Context, e *env, args []string) int {
	flags := newFlags(e, "emulate", emulateHelp)
	images := flags.String("images", "", "folder of PNG/JPEG/PGM frames to serve (default: synthetic prints)")
	link := flags.String("link", "", "also create a symbolic link at this path to the pty, removed on exit")
	noFinger := flags.Bool("no-finger", false, "answer every GenImg with \"no finger\"")
	silent := flags.Bool("silent", false, "never answer, like an unplugged module")
	garbage := flags.Int("garbage", 0, "noise bytes to send before every reply")
	corrupt := flags.Int("corrupt", 0, "break the checksum of this many reply packets ...")
	corruptAfter := flags.Int("corrupt-after", 0, "... after this many intact ones")
	fw := flags.String("firmware", "1.0.0", "firmware version the module reports (GetFwVer)")
	model := flags.String("model", "EDGETRUST-EMU", "module type in the product information (ReadProdInfo)")
	serial := flags.String("serial", "EMU00001", "serial number in the product information")
	legacy := flags.Bool("legacy", false, "behave like an R307: no ReadProdInfo, GetFwVer or Aura LED")
	password := flags.String("password", "0", "module password in hex; non-zero makes the host verify it first")
	address := flags.String("address", "FFFFFFFF", "module address in hex")
	packetSize := flags.Int("packet-size", 128, "data packet size: 32, 64, 128 or 256")
	if code, ok := flags.parse(args); !ok {
		return code
	}
	if flags.NArg() > 0 {
		return flags.usageError("unexpected argument %q", flags.Arg(0))
	}
	if *garbage < 0 || *garbage > 4000 || *corrupt < 0 || *corruptAfter < 0 {
		return flags.usageError("--garbage must be 0..4000 and --corrupt, --corrupt-after non-negative")
	}
	pw, err := parseHex32(*password)
	if err != nil {
		return flags.usageError("--password: %v", err)
	}
	addr, err := parseHex32(*address)
	if err != nil {
		return flags.usageError("--address: %v", err)
	}
	log, err := flags.logger()
	if err != nil {
		return flags.usageError("%v", err)
	}
	var frames []*image.Gray
	if *images != "" {
		if frames, err = emulator.LoadDir(*images, proto.DefaultWidth, proto.DefaultHeight); err != nil {
			return fail(e, "emulate", err)
		}
	}
	em, err := emulator.Start(emulator.Config{
		Address: addr, Password: pw, Images: frames, PacketSize: *packetSize,
		Firmware: *fw, Legacy: *legacy,
		ProdInfo: proto.ProdInfo{
			Model: *model, Batch: "0001", Serial: *serial, HWMajor: 1, SensorType: "EMULATED",
			SensorWidth: proto.DefaultWidth, SensorHeight: proto.DefaultHeight, TemplateSize: 1536, DatabaseSize: 200,
		},
		Faults: emulator.Faults{NoFinger: *noFinger, Silent: *silent, Garbage: *garbage, Corrupt: *corrupt, CorruptAfter: *corruptAfter},
		Logger: log,
	})
	if err != nil {
		return fail(e, "emulate", err)
	}
	defer em.Close()
	if *link != "" {
		if err := replaceLink(em.Path(), *link); err != nil {
			return fail(e, "emulate", err)
		}
		defer os.Remove(*link)
	}
	fmt.Fprintln(e.stdout, em.Path())
	source := "synthetic prints"
	if len(frames) > 0 {
		source = fmt.Sprintf("%d frames from %s", len(frames), *images)
	}
	log.Info("emulating fingerprint module", "port", em.Path(), "link", *link, "images", source, "firmware", *fw)
	<-ctx.Done()
	st := em.Stats()
	names := make([]string, 0, len(st.Commands))
	for k, v := range st.Commands {
		names = append(names, fmt.Sprintf("%s=%d", k, v))
	}
	slices.Sort(names)
	log.Info("emulator stopped", "commands", strings.Join(names, " "), "images_sent", st.Images, "corrupted", st.Corrupted)
	return exitOK
}

// replaceLink points link at target, refusing to clobber anything that is
// not a symbolic link.
func replaceLink(target, link string) error {
	if fi, err := os.Lstat(link); err == nil {
		if fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("--link %s exists and is not a symbolic link", link)
		}
		if err := os.Remove(link); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Symlink(target, link)
}
