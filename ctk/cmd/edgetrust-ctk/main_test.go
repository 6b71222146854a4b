package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/edgetrust/edgetrust/ctk"
	"github.com/edgetrust/edgetrust/ctk/internal/fakesbi"
	"github.com/edgetrust/edgetrust/internal/cli/clitest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"edgetrust-ctk": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts pins the command-line behaviour in testdata/*.txt.
//
// The fakesbi command starts a fake finger device in the test process
// (package fakesbi; "fakesbi FAULT" for a broken one), encrypting to the
// key in $EDGETRUST_CTK_HOME, and sets $TARGET, $DEVICE_CA and $FTM_CA.
func TestScripts(t *testing.T) {
	var pki *fakesbi.PKI
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("EDGETRUST_CTK_HOME", filepath.Join(env.WorkDir, "ctk-home"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonshape": clitest.JSONShape,
			"fakesbi": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) > 1 {
					ts.Fatalf("usage: fakesbi [fault]")
				}
				fault := ""
				if len(args) == 1 {
					fault = args[0]
				}
				var err error
				if pki == nil {
					pki, err = fakesbi.NewPKI()
					ts.Check(err)
				}
				key, err := ctk.LoadOrCreateKey(ts.Getenv("EDGETRUST_CTK_HOME"), time.Now())
				ts.Check(err)
				dev, err := fakesbi.Start(pki, key.Cert, fault)
				ts.Check(err)
				ts.Defer(func() { dev.Close() })
				devCA, ftmCA, err := pki.WriteCAs(ts.Getenv("WORK"))
				ts.Check(err)
				ts.Setenv("TARGET", dev.URL)
				ts.Setenv("DEVICE_CA", devCA)
				ts.Setenv("FTM_CA", ftmCA)
			},
		},
	})
}
