package main

import (
	"flag"
	"fmt"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/internal/cli"
)

// parseBase parses serve's or enrol's flags (then the environment) and
// builds the configuration they share; set names the flags given.
func parseBase(fs *flag.FlagSet, args []string, configPath, state, tpmURL *string, dev *bool) (agent.Config, map[string]bool, error) {
	set, err := cli.ParseEnv(fs, args, envPrefix)
	if err != nil {
		return agent.Config{}, nil, err
	}
	if err := cli.NoArgs(fs); err != nil {
		return agent.Config{}, nil, err
	}
	cfg, err := baseConfig(*configPath, set, *state, *tpmURL, *dev)
	return cfg, set, err
}

// baseConfig is the configuration serve and enrol share: the file, then
// --state, --tpm and --dev from flags or the environment.
func baseConfig(path string, set map[string]bool, state, tpmURL string, dev bool) (agent.Config, error) {
	var cfg agent.Config
	if path != "" {
		c, err := agent.LoadConfig(path)
		if err != nil {
			return cfg, err
		}
		cfg = *c
	}
	if set["state"] {
		cfg.State = state
	}
	if set["tpm"] {
		cfg.TPM = tpmURL
	}
	if dev {
		cfg.Dev = true
	}
	return cfg, nil
}

// finishConfig requires a state directory, fills the --dev defaults (device
// set, seeded simulator) and validates.
func finishConfig(cfg *agent.Config, stateWhy string) error {
	if cfg.State == "" {
		return cli.Usage(fmt.Errorf("--state DIR is required (%s)", stateWhy))
	}
	if cfg.Dev {
		if len(cfg.Devices) == 0 {
			cfg.Devices = agent.DevDevices(cfg.SerialPrefix)
		}
		if cfg.TPM == "" {
			u, err := agent.DevTPMURL(cfg.State)
			if err != nil {
				return err
			}
			cfg.TPM = u
		}
	}
	if err := cfg.Validate(); err != nil {
		return cli.Usage(err)
	}
	return nil
}
