package appliance

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance/tpmkey"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Continuous attestation: the appliance pulls central's challenge over its
// own connection and answers with a quote of its TPM under the AK central
// bound to its EK at enrolment (internal/attestation). The appliance
// extends no PCR itself, so its event log is empty: PCRs 14 and 16 must be
// zero, and PCRs 0–7 are what the appliance policy pins and what the
// platform's TCG boot log (Options.BootLog) explains.

// Attest runs one attestation round for this appliance. It needs the TPM,
// central and the enrolment's id and AK (state/appliance-id, tpm/ak.key).
func (a *Appliance) Attest(ctx context.Context) (*attest.Verdict, error) {
	if a.keys == nil || a.cfg.Central == "" {
		return nil, errors.New("attest: the appliance needs a TPM (--tpm) and central (--central)")
	}
	idb, err := os.ReadFile(filepath.Join(a.cfg.State, tpmkey.IDFile))
	if err != nil {
		return nil, fmt.Errorf("attest: not enrolled with central: %w", err)
	}
	blob, err := os.ReadFile(filepath.Join(a.cfg.State, tpmkey.AKFile))
	if err != nil {
		return nil, fmt.Errorf("attest: the enrolment's AK: %w", err)
	}
	ak, err := a.keys.TPM.LoadKey(ctx, blob)
	if err != nil {
		return nil, fmt.Errorf("attest: loading the AK: %w", err)
	}
	hc := a.centralClient // the pinned TLS client the command gave (Options.Sync.Client)
	if hc == nil && a.cfg.CentralCA != "" {
		pool, err := loadPool(a.cfg.CentralCA)
		if err != nil {
			return nil, err
		}
		hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, Proxy: http.ProxyFromEnvironment}}
	}
	c := &attest.Client{URL: a.cfg.Central, HTTP: hc}
	p := &attest.Prover{TPM: a.keys.TPM, AK: ak, Log: tpm.NewEventLog(a.keys.TPM), BootLog: a.bootLog}
	v, err := c.Round(ctx, p, attest.Node{Kind: attest.KindAppliance, ID: strings.TrimSpace(string(idb))})
	if err != nil {
		return nil, err
	}
	if v.Status == attest.Failed {
		a.log.Warn("central failed this appliance's attestation: it is quarantined and receives no person records until released",
			"reason", v.Reason, "detail", v.Message)
	} else {
		a.log.Info("appliance attested", "policyVersion", v.PolicyVersion)
	}
	return v, nil
}

// attestLoop answers central's challenges every poll until ctx ends.
func (a *Appliance) attestLoop(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		_, err := a.Attest(ctx)
		var ae *attest.Error
		if err != nil && ctx.Err() == nil && !(errors.As(err, &ae) && ae.Code == "attest_not_due") {
			a.log.Warn("attestation round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
