package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/edgetrust/edgetrust/internal/cli/clitest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"edgetrust-bridge": func() { os.Exit(mainCode()) },
	})
}

// TestScripts pins the command-line behaviour in testdata/*.txt.
func TestScripts(t *testing.T) {
	mosip, err := filepath.Abs("../../../internal/sensor/testdata/mosip")
	if err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("MOSIP", mosip)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonshape": clitest.JSONShape,
			"waitfile":  clitest.WaitFile(10 * time.Second),
		},
	})
}
