package main

import (
	"fmt"
	"os"

	"github.com/edgetrust/edgetrust/appliance"
)

// unwrapDefault is --unwrap's default: EDGETRUST_APPLIANCE_UNWRAP, else
// software. serve, cert and enrol share it, since the first of them to make
// the state directory's encryption key decides which key agents encrypt to.
func unwrapDefault() string {
	if v := os.Getenv("EDGETRUST_APPLIANCE_UNWRAP"); v != "" {
		return v
	}
	return appliance.UnwrapSoftware
}

func softUnwrap(mode string) (bool, error) {
	switch mode {
	case appliance.UnwrapSoftware:
		return true, nil
	case appliance.UnwrapTPM:
		return false, nil
	}
	return false, fmt.Errorf("--unwrap %q: want %s or %s", mode, appliance.UnwrapSoftware, appliance.UnwrapTPM)
}
