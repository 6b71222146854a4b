package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/agent/devpki"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/cli"
	"github.com/edgetrust/edgetrust/internal/clockskew"
	"github.com/edgetrust/edgetrust/internal/tlsx"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("serve")
	configPath := fs.String("config", "", "JSON config file (devices, encryption certificates, ...)")
	state := fs.String("state", "", "state directory: TPM key blobs, certificates, control socket (required)")
	tpmURL := fs.String("tpm", "", "TPM: sim, swtpm://127.0.0.1:2321 or /dev/tpmrm0 (default with --dev: a simulator seeded from the state directory)")
	port := fs.Int("port", 0, "port on 127.0.0.1; 0 takes the first free one in 4501-4600")
	dev := fs.Bool("dev", false, "development mode: simulated TPM, emulated sensors for every CTK device kind, development PKI")
	env := fs.String("env", "", "environment the device is registered for: Staging, Developer, Pre-Production, Production (default Developer)")
	metrics := fs.String("metrics", "", "serve /metrics and /healthz on this address, e.g. 127.0.0.1:9464 (off by default)")
	keyRotation := fs.String("key-rotation", "", "replace each device signing key after this long, attested as at enrolment: whole days (30d) or a duration (720h), 1h to 30d (default 30d, the SBI schedule; a key is also replaced at 2/3 of its certificate's life)")
	attestPoll := fs.Duration("attest-poll", 0, "ask the central the devices were enrolled with for an attestation challenge this often, e.g. 1m (0: off)")
	bootLog := fs.String("boot-log", attest.BootLogPath, "the platform's TCG boot log, sent with each quote of PCRs 0-7 so central can replay it (a missing file sends none; \""+attest.NoBootLog+"\" never sends one)")
	var logf cli.LogFlags
	logf.Register(fs, "json")
	var encCerts stringList
	fs.Var(&encCerts, "encryption-cert", "`[domainUri=]FILE`: PEM certificate auth captures are encrypted to; repeatable; without domainUri it serves any domainUri")
	cli.SetHelp(fs, stderr, cli.Help{
		Usage:     "edgetrust-agent serve [flags]",
		About:     "Runs the SBI service. Stop it with Ctrl-C (SIGINT) or SIGTERM.",
		Example:   "  edgetrust-agent serve --dev --state /tmp/agent --encryption-cert https://ida.example.org=ida.pem",
		EnvPrefix: envPrefix,
	})
	cfg, set, err := parseBase(fs, args, configPath, state, tpmURL, dev)
	if err != nil {
		return err
	}
	if set["port"] {
		cfg.Port = *port
	}
	if set["env"] {
		cfg.Env = *env
	}
	if set["metrics"] {
		cfg.MetricsAddr = *metrics
	}
	if set["key-rotation"] {
		cfg.KeyRotation = *keyRotation
	}
	for _, e := range encCerts {
		if cfg.EncryptionCerts == nil {
			cfg.EncryptionCerts = map[string]string{}
		}
		domain, file, ok := strings.Cut(e, "=")
		if !ok || strings.HasPrefix(e, "/") || strings.HasPrefix(e, ".") {
			domain, file = "*", e
		}
		cfg.EncryptionCerts[domain] = file
	}
	if err := finishConfig(&cfg, "where TPM key blobs and certificates live"); err != nil {
		return err
	}
	log, err := logf.Logger(stderr)
	if err != nil {
		return err
	}
	// The SBI port is loopback only (agent.Start binds 127.0.0.1); the
	// metrics listener must be too: the agent serves nothing off the host.
	if cfg.MetricsAddr != "" {
		if err := tlsx.CheckListen(cfg.MetricsAddr, true, true, "--metrics"); err != nil {
			return cli.Usage(fmt.Errorf("--metrics %s: the agent listens on loopback only (127.0.0.1 or [::1]): %w", cfg.MetricsAddr, err))
		}
	}
	// Key rotation reaches central with the root pinned at enrolment.
	if err := pinCentral(cfg.State, "", "", ""); err != nil {
		return err
	}

	// A deliberately wrong clock, for fault injection only (internal/clockskew).
	now, skew, err := clockskew.FromEnv()
	if err != nil {
		return cli.Usage(err)
	}
	if skew != 0 {
		log.Warn("the clock is skewed on purpose (a test setting): every signed timestamp is off", "env", clockskew.Env, "skew", skew.String())
	}
	svc, err := agent.Start(ctx, cfg, agent.Options{Logger: log, AttestPoll: *attestPoll, Now: now, BootLog: *bootLog})
	if err != nil {
		return err
	}
	defer svc.Close()
	if cfg.MetricsAddr != "" {
		ms := &http.Server{Addr: cfg.MetricsAddr, Handler: agent.MetricsHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics listener", "err", err)
			}
		}()
		defer ms.Close()
	}
	info := map[string]any{"url": svc.URL(), "port": svc.Port(), "state": cfg.State}
	if ce, _ := agent.LoadCentralEnrolment(cfg.State); ce != nil && len(ce.Devices) > 0 {
		// Enrolled: central's provider CA issued both device and FTM certificates.
		ca := filepath.Join(cfg.State, "devices", ce.Devices[0], agent.ProviderCAFile)
		info["deviceCA"], info["ftmCA"], info["central"] = ca, ca, ce.URL
	} else if cfg.Dev {
		info["deviceCA"] = filepath.Join(cfg.State, "dev-pki", devpki.ProviderCACert)
		info["ftmCA"] = filepath.Join(cfg.State, "dev-pki", devpki.FTMCACert)
	}
	var devs []string
	for _, d := range svc.Devices() {
		devs = append(devs, d.ID()+" ("+d.Config().Type+" "+d.Config().SubType+", "+d.Config().Purpose+", "+d.Status()+")")
	}
	info["devices"] = devs
	b, _ := json.Marshal(info)
	fmt.Fprintln(stdout, string(b))
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
