package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Continuous attestation: the agent pulls central's challenge for each
// device it enrolled and answers with a quote of its TPM and the event log
// of the firmware-bridge measurements (internal/attestation).

// EventLogFile keeps the event log across agent restarts within one boot.
const EventLogFile = "eventlog.json"

// DefaultAttestPoll is how often the agent asks central for a challenge.
const DefaultAttestPoll = time.Minute

// openEventLog makes the log the sensors measure through, restoring the
// one saved by an earlier run of this boot when it still explains the PCRs.
func (s *Service) openEventLog(ctx context.Context) {
	s.evlog = tpm.NewEventLog(s.tpm)
	b, err := os.ReadFile(filepath.Join(s.cfg.State, EventLogFile))
	if err != nil {
		return
	}
	var evs []tpm.Event
	if err := jsonx.Unmarshal(b, &evs, jsonx.Limits{MaxBytes: 16 << 20, MaxDepth: 2, MaxArray: tpm.MaxEvents, MaxMembers: 8}); err != nil {
		s.log.Warn("event log file unreadable; starting a new log", "err", err)
		return
	}
	if err := s.evlog.Restore(ctx, evs); err != nil {
		s.log.Info("saved event log does not match the PCRs (a reboot?); starting a new log", "err", err)
	}
}

// saveEventLog writes the log next to the key blobs.
func (s *Service) saveEventLog() error {
	b, err := json.Marshal(s.evlog.Events())
	if err != nil {
		return err
	}
	p := filepath.Join(s.cfg.State, EventLogFile)
	if err := os.WriteFile(p+".tmp", b, 0o600); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}

// EventLog returns the event log of the measurements made by this agent.
func (s *Service) EventLog() []tpm.Event { return s.evlog.Events() }

// Attest runs one attestation round with the central the devices were
// enrolled with: for each enrolled device, fetch its challenge, prove it
// and submit. A device with no challenge due is skipped. It returns the
// verdicts central gave.
func (s *Service) Attest(ctx context.Context) ([]*attest.Verdict, error) {
	ce, err := LoadCentralEnrolment(s.cfg.State)
	if err != nil {
		return nil, err
	}
	if ce == nil {
		return nil, errors.New("attest: no devices enrolled with central")
	}
	blob, err := os.ReadFile(filepath.Join(s.cfg.State, AKFile))
	if err != nil {
		return nil, fmt.Errorf("attest: the enrolment's AK: %w", err)
	}
	ak, err := s.tpm.LoadKey(ctx, blob)
	if err != nil {
		return nil, fmt.Errorf("attest: loading the AK: %w", err)
	}
	c := &attest.Client{URL: ce.URL, HTTP: s.attestHTTP}
	p := &attest.Prover{TPM: s.tpm, AK: ak, Log: s.evlog, BootLog: s.bootLog}
	var out []*attest.Verdict
	var errs []error
	for _, id := range ce.Devices {
		n := attest.Node{Kind: attest.KindDevice, ID: id}
		v, err := c.Round(ctx, p, n)
		var ae *attest.Error
		if errors.As(err, &ae) && ae.Code == "attest_not_due" {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("device %s: %w", id, err))
			continue
		}
		if v.Status == attest.Failed {
			s.log.Warn("central failed this device's attestation", "device", id, "reason", v.Reason, "detail", v.Message)
		} else {
			s.log.Info("device attested", "device", id, "firmware", v.Firmware)
		}
		out = append(out, v)
	}
	return out, errors.Join(errs...)
}

// attestLoop answers central's challenges every poll until ctx ends.
func (s *Service) attestLoop(ctx context.Context, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if _, err := s.Attest(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("attestation round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
