package attestation

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/edgetrust/edgetrust/internal/tpm"
)

// Prover answers challenges with the TPM's AK (the one central bound to the
// EK at enrolment) and the event log of the extends made through Log.
type Prover struct {
	TPM *tpm.TPM
	AK  *tpm.Key
	// Log is the event log of the node's measurements; nil: an empty log
	// (every PCR the quote covers must then still be all zero).
	Log *tpm.EventLog
	// BootLog, when set, returns the platform's TCG boot log (ReadBootLog;
	// nil bytes: none), sent when the challenge covers any of PCRs 0–7.
	BootLog func() ([]byte, error)
}

// Prove recovers the challenge's nonce (TPM2_ActivateCredential: only the
// TPM holding the enrolled EK, with the enrolled AK loaded, can) and quotes
// the challenge's PCRs with it.
func (p *Prover) Prove(ctx context.Context, c *Challenge) (*Evidence, error) {
	if p.TPM == nil || p.AK == nil {
		return nil, errors.New("attest: a prover needs a TPM and its AK")
	}
	nonce, err := p.TPM.ActivateCredential(ctx, p.AK, c.CredentialBlob, c.EncryptedSecret)
	if err != nil {
		return nil, fmt.Errorf("attest: recovering the challenge nonce: %w", err)
	}
	var q *tpm.Quote
	var events []tpm.Event
	if p.Log != nil {
		q, events, err = p.Log.QuoteWithLog(ctx, p.AK, c.PCRs, nonce)
	} else {
		q, err = p.TPM.Quote(ctx, p.AK, c.PCRs, nonce)
	}
	if err != nil {
		return nil, err
	}
	if events == nil {
		events = []tpm.Event{}
	}
	ev := &Evidence{Node: c.Node, Quote: *q, EventLog: events}
	if p.BootLog != nil && slices.ContainsFunc(c.PCRs, func(i int) bool { return i < len(BootPCRs) }) {
		if ev.BootLog, err = p.BootLog(); err != nil {
			return nil, fmt.Errorf("attest: reading the boot log: %w", err)
		}
	}
	return ev, nil
}
