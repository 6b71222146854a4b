package attestation

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/tpm"
)

// HTTP paths on central.
const (
	PathChallenge = "/v1/attest/challenge" // GET ?kind=device|appliance&id=...
	PathEvidence  = "/v1/attest/evidence"  // POST Evidence → Verdict
)

// Node kinds.
const (
	KindDevice    = "device"
	KindAppliance = "appliance"
)

// ValidKind reports whether k is a node kind.
func ValidKind(k string) bool { return k == KindDevice || k == KindAppliance }

// Node names an attested node: an enrolled device (by serial) or appliance.
type Node struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

func (n Node) String() string { return n.Kind + ":" + n.ID }

// NonceSize is the size of a challenge nonce.
const NonceSize = 32

// Challenge is what central asks a node to prove. The nonce is sealed to the
// node's TPM: CredentialBlob and EncryptedSecret are the outputs of
// TPM2_MakeCredential for the node's enrolled EK and AK Name.
type Challenge struct {
	Node
	CredentialBlob  []byte    `json:"credentialBlob"`
	EncryptedSecret []byte    `json:"encryptedSecret"`
	PCRs            []int     `json:"pcrs"`
	Issued          time.Time `json:"issued"`
	Expires         time.Time `json:"expires"`
}

// Evidence is a node's answer: a quote over the challenge's PCRs with the
// recovered nonce as qualifying data, and the event log.
type Evidence struct {
	Node
	Quote    tpm.Quote   `json:"quote"`
	EventLog []tpm.Event `json:"eventLog"`
	// BootLog is the platform's TCG PC Client event log (the raw bytes of
	// BootLogPath), explaining PCRs 0–7, where the platform has one and the
	// challenge covers any of those PCRs (≤ MaxBootLog).
	BootLog []byte `json:"bootLog,omitempty"`
}

// Outcomes.
const (
	Attested = "attested"
	Failed   = "failed"
	Stale    = "stale"
	Pending  = "pending" // enrolled, never attested yet (or released by an admin)
)

// Failure reasons (Verdict.Reason).
const (
	ReasonBadSignature  = "bad-signature"
	ReasonNonce         = "nonce"        // a nonce central never issued to this node
	ReasonReplayedNonce = "nonce-replay" // a nonce already answered
	ReasonPCRMismatch   = "pcr-mismatch" // the PCR values do not hash to the quoted digest, or the quote covers other PCRs
	ReasonLogReplay     = "log-replay"   // the event log does not reproduce the quoted PCRs
	ReasonDebugPCR      = "debug-pcr"
	ReasonPCRValue      = "pcr-value"        // a PCR the policy pins holds another value
	ReasonUnknownFW     = "unknown-firmware" // a firmware measurement not on the policy's list
	ReasonFWBelowFloor  = "firmware-below-floor"
	ReasonCounters      = "clock-counters" // the TPM clock went backwards without a reset or restart
	ReasonMalformed     = "malformed"
	ReasonNoPolicy      = "no-policy"
	ReasonStale         = "stale"
)

// Verdict is central's answer to evidence.
type Verdict struct {
	Node
	Status  string    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	Time    time.Time `json:"time"`
	// Firmware lists the firmware versions the log measured.
	Firmware      []string `json:"firmware,omitempty"`
	PolicyVersion int      `json:"policyVersion,omitempty"`
}

// Limits of the evidence.
const (
	MaxEvidenceBytes = 1 << 20
	MaxAttestBytes   = 1024
	MaxSignature     = 512
	MaxChallengePCRs = tpm.NumPCRs
)

// EvidenceLimits bound evidence while it is decoded: closed contracts,
// tpm.MaxEvents events (the largest array), depth
// evidence.quote.pcrs.<n>.
var EvidenceLimits = jsonx.Limits{MaxBytes: MaxEvidenceBytes, MaxDepth: 4, MaxArray: tpm.MaxEvents, MaxMembers: 32,
	MaxValues: 8 * tpm.MaxEvents}

// DecodeEvidence reads and checks evidence.
func DecodeEvidence(r io.Reader) (*Evidence, error) {
	var e Evidence
	if err := jsonx.Decode(r, &e, EvidenceLimits); err != nil {
		var je *jsonx.Error
		if errors.As(err, &je) {
			return nil, fmt.Errorf("evidence: %w", je)
		}
		return nil, fmt.Errorf("reading evidence: %w", err)
	}
	if err := e.Check(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Check checks evidence's shape (not its cryptography).
func (e *Evidence) Check() error {
	if !ValidKind(e.Kind) || e.ID == "" || len(e.ID) > 64 {
		return errors.New("evidence: kind must be device or appliance and id 1–64 bytes")
	}
	if len(e.Quote.Attest) == 0 || len(e.Quote.Attest) > MaxAttestBytes || len(e.Quote.Signature) == 0 || len(e.Quote.Signature) > MaxSignature {
		return fmt.Errorf("evidence: quote.attest must be 1–%d bytes and quote.signature 1–%d", MaxAttestBytes, MaxSignature)
	}
	if len(e.Quote.PCRs) == 0 || len(e.Quote.PCRs) > tpm.NumPCRs {
		return fmt.Errorf("evidence: quote.pcrs must hold 1–%d values", tpm.NumPCRs)
	}
	for p, v := range e.Quote.PCRs {
		if p < 0 || p >= tpm.NumPCRs || len(v) != sha256.Size {
			return fmt.Errorf("evidence: quote.pcrs: PCR %d must be 0–%d with a 32-byte value", p, tpm.NumPCRs-1)
		}
	}
	if len(e.BootLog) > MaxBootLog {
		return fmt.Errorf("evidence: bootLog is %d bytes, more than %d", len(e.BootLog), MaxBootLog)
	}
	if len(e.EventLog) > tpm.MaxEvents {
		return fmt.Errorf("evidence: more than %d events", tpm.MaxEvents)
	}
	for i, ev := range e.EventLog {
		if err := ev.Check(); err != nil {
			return fmt.Errorf("evidence: eventLog[%d]: %w", i, err)
		}
	}
	return nil
}

// ChallengeLimits bound a challenge a prover reads.
var ChallengeLimits = jsonx.Limits{MaxBytes: 64 << 10, MaxDepth: 2, MaxArray: MaxChallengePCRs, MaxMembers: 16, Open: true}

// DecodeChallenge reads and checks a challenge (the prover's side).
func DecodeChallenge(b []byte) (*Challenge, error) {
	var c Challenge
	if err := jsonx.Unmarshal(b, &c, ChallengeLimits); err != nil {
		return nil, fmt.Errorf("challenge: %w", err)
	}
	if !ValidKind(c.Kind) || len(c.CredentialBlob) == 0 || len(c.CredentialBlob) > 1024 ||
		len(c.EncryptedSecret) == 0 || len(c.EncryptedSecret) > 1024 || len(c.PCRs) == 0 {
		return nil, errors.New("challenge: kind, credentialBlob, encryptedSecret and pcrs are required")
	}
	for _, p := range c.PCRs {
		if p < 0 || p >= tpm.NumPCRs {
			return nil, fmt.Errorf("challenge: PCR %d out of range", p)
		}
	}
	c.PCRs = slices.Compact(slices.Sorted(slices.Values(c.PCRs)))
	return &c, nil
}
