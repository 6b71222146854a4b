package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/ctk/suite"
	"github.com/edgetrust/edgetrust/internal/cli"
)

// common flags of run and list.
type selection struct {
	target, cases, schemas, caseFilter, purpose, devices string
}

func (s *selection) register(fs *flag.FlagSet, targetHelp string) {
	fs.StringVar(&s.target, "target", os.Getenv("EDGETRUST_CTK_TARGET"), targetHelp)
	fs.StringVar(&s.cases, "cases", "", "test definition `FILE` to use instead of the shipped MOSIP 1.4.0 set (MOSIP's compliance_test_definitions_sbi.json format)")
	fs.StringVar(&s.schemas, "schemas", "", "`DIR` of JSON schemas to use instead of the shipped ones (DIR/<specVersion>/<Name>.json or DIR/<Name>.json)")
	fs.StringVar(&s.caseFilter, "case", "", "only these cases: comma-separated ids or patterns, e.g. SBI1000,SBI104*")
	fs.StringVar(&s.purpose, "purpose", "", "only devices of this purpose: Auth or Registration")
	fs.StringVar(&s.devices, "device", "", "only these devices: comma-separated deviceId or serial numbers")
}

func (s *selection) suite() (*suite.Suite, error) {
	if s.cases == "" {
		if s.schemas != "" {
			sch, err := suite.LoadSchemas(s.schemas)
			if err != nil {
				return nil, err
			}
			st, err := suite.Embedded()
			if err != nil {
				return nil, err
			}
			st.Schemas = sch
			return st, nil
		}
		return suite.Embedded()
	}
	return suite.Load(s.cases, s.schemas)
}

func (s *selection) filter() (ctk.Filter, error) {
	f := ctk.Filter{Cases: ctk.ParseList(s.caseFilter), Purpose: s.purpose, Devices: ctk.ParseList(s.devices)}
	if err := f.Validate(); err != nil {
		return f, cli.Usage(err)
	}
	return f, nil
}

func newFlagSet(name, synopsis, example string, stderr io.Writer) *flag.FlagSet {
	fs := cli.NewFlagSet(name)
	cli.SetHelp(fs, stderr, cli.Help{Usage: "edgetrust-ctk " + name, About: synopsis, Example: example})
	return fs
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "Prints the ctk's version.", "  edgetrust-ctk version", stderr)
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if err := cli.NoArgs(fs); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "edgetrust-ctk", version)
	return nil
}
