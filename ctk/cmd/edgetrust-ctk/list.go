package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/internal/cli"
)

func cmdList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list [--target URL] [flags]",
		`Lists the test cases: id, SBI method, purposes, types, validators and name.
With --target it asks the device service for its devices and shows which cases
apply to which device, as run would select them.`,
		"  edgetrust-ctk list --case 'SBI104*'\n  edgetrust-ctk list --target http://127.0.0.1:4501 --purpose Auth", stderr)
	var sel selection
	sel.register(fs, "device service base `URL`; when given, show which cases apply to each device")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	filter, err := sel.filter()
	if err != nil {
		return err
	}
	st, err := sel.suite()
	if err != nil {
		return err
	}
	var devices []*ctk.Device
	if sel.target != "" {
		target, err := ctk.ParseTarget(sel.target)
		if err != nil {
			return cli.Usage(err)
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if devices, err = ctk.Discover(ctx, target); err != nil {
			return err
		}
	}
	applies := map[string][]string{}
	perDevice := map[string]int{}
	for _, p := range ctk.Plan(st, devices, filter) {
		applies[p.Case.ID] = append(applies[p.Case.ID], p.Device.ID())
		perDevice[p.Device.ID()]++
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	header := "ID\tMETHOD\tPURPOSE\tTYPE / SUB-TYPE\tVALIDATORS\tNAME"
	if devices != nil {
		header = "ID\tMETHOD\tAPPLIES TO\tVALIDATORS\tNAME"
	}
	fmt.Fprintln(tw, header)
	shown := 0
	for i := range st.Cases {
		c := &st.Cases[i]
		if !ctkFilterCase(filter, c.ID) {
			continue
		}
		var vals []string
		for _, v := range c.Validators() {
			vals = append(vals, strings.TrimSuffix(v, "Validator"))
		}
		if devices != nil {
			on := strings.Join(applies[c.ID], ",")
			if on == "" {
				on = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.ID, c.Method(), on, strings.Join(vals, ","), c.Name)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s / %s\t%s\t%s\n", c.ID, c.Method(), strings.Join(c.Attrs.Purpose, ","),
				strings.Join(c.Attrs.BiometricTypes, ","), strings.Join(c.Attrs.DeviceSubTypes, ","), strings.Join(vals, ","), c.Name)
		}
		shown++
	}
	tw.Flush()
	fmt.Fprintf(stdout, "\n%d of %d cases (%s)\n", shown, len(st.Cases), st.Source)
	for _, d := range devices {
		fmt.Fprintf(stdout, "device %s (%s %s, %s, %s): %d applicable\n", d.ID(), d.Type(), d.SubType(), d.Purpose(),
			d.Discovery.DeviceStatus, perDevice[d.ID()])
	}
	return nil
}

func ctkFilterCase(f ctk.Filter, id string) bool {
	if len(f.Cases) == 0 {
		return true
	}
	for _, p := range f.Cases {
		if ok, _ := filepath.Match(p, id); ok {
			return true
		}
	}
	return false
}
