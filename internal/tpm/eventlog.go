package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/google/go-tpm/tpm2"
)

// Event is one measurement extended into a PCR, as an event log records it:
// the PCR, what kind of thing was measured, the SHA-256 that was extended
// and, when the measurer keeps it, the exact bytes that were hashed
// (Digest is then SHA-256(Data)). It is the edgetrust event-log format
// (docs/decisions/0018-attestation.md), not the TCG binary one: the events
// edgetrust extends are its own, and the platform's boot log (PCRs 0–7) is
// checked against golden PCR values instead.
type Event struct {
	PCR    int    `json:"pcr"`
	Type   string `json:"type"`
	Digest []byte `json:"digest"`
	Data   []byte `json:"data,omitempty"`
}

// Limits of an event log.
const (
	MaxEvents        = 1024
	MaxEventData     = 4096
	MaxEventTypeSize = 64
)

// Check refuses an event the log format does not allow.
func (e Event) Check() error {
	if e.PCR < 0 || e.PCR >= NumPCRs {
		return fmt.Errorf("tpm: event log: PCR %d out of range 0–%d", e.PCR, NumPCRs-1)
	}
	if e.Type == "" || len(e.Type) > MaxEventTypeSize {
		return fmt.Errorf("tpm: event log: event type must be 1–%d bytes", MaxEventTypeSize)
	}
	if len(e.Digest) != sha256.Size {
		return fmt.Errorf("tpm: event log: digest must be 32 bytes (SHA-256), got %d", len(e.Digest))
	}
	if len(e.Data) > MaxEventData {
		return fmt.Errorf("tpm: event log: event data over %d bytes", MaxEventData)
	}
	if len(e.Data) > 0 {
		if d := sha256.Sum256(e.Data); !bytes.Equal(d[:], e.Digest) {
			return errors.New("tpm: event log: an event's digest is not the SHA-256 of its data")
		}
	}
	return nil
}

// ErrLogReplay is returned when an event log does not reproduce PCR values.
var ErrLogReplay = errors.New("tpm: the event log does not reproduce the quoted PCR values")

// ReplayEvents extends, in software and from all-zero PCRs, every event of
// the log in order, and returns the resulting value of each PCR the log
// touches. Each event is checked first (Event.Check).
func ReplayEvents(events []Event) (map[int][]byte, error) {
	if len(events) > MaxEvents {
		return nil, fmt.Errorf("tpm: event log: more than %d events", MaxEvents)
	}
	out := map[int][]byte{}
	for _, e := range events {
		if err := e.Check(); err != nil {
			return nil, err
		}
		v, ok := out[e.PCR]
		if !ok {
			v = make([]byte, sha256.Size)
		}
		h := sha256.New()
		h.Write(v)
		h.Write(e.Digest)
		out[e.PCR] = h.Sum(nil)
	}
	return out, nil
}

// CheckReplay replays events and checks that, for every PCR in pcrs, the
// replayed value is the quoted one (a PCR the log never touches must be all
// zero). It returns ErrLogReplay, wrapped with the first PCR that differs.
func CheckReplay(events []Event, pcrs []int, quoted map[int][]byte) error {
	got, err := ReplayEvents(events)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLogReplay, err)
	}
	for p := range got {
		if !slices.Contains(pcrs, p) {
			return fmt.Errorf("%w: the log extends PCR %d, which the quote does not cover", ErrLogReplay, p)
		}
	}
	for _, p := range normalisePCRs(pcrs) {
		want, ok := got[p]
		if !ok {
			want = make([]byte, sha256.Size)
		}
		if !bytes.Equal(want, quoted[p]) {
			return fmt.Errorf("%w: PCR %d", ErrLogReplay, p)
		}
	}
	return nil
}

// EventLog records the events extended through it: it is a PCR extender
// (firmware.PCRExtender and firmware.EventExtender) in front of a TPM that
// keeps, in memory, the log a verifier needs to explain the PCR values. Its
// zero value is not usable; make one with NewEventLog.
type EventLog struct {
	t      *TPM
	mu     sync.Mutex
	events []Event
}

// NewEventLog logs the extends made through it into t.
func NewEventLog(t *TPM) *EventLog { return &EventLog{t: t} }

// EventTypeDigest is the event type of an extend made through ExtendPCR,
// which carries no data.
const EventTypeDigest = "edgetrust/digest"

// ExtendPCR extends idx with digest and logs it with no data.
func (l *EventLog) ExtendPCR(ctx context.Context, idx int, digest []byte) error {
	return l.Extend(ctx, Event{PCR: idx, Type: EventTypeDigest, Digest: digest})
}

// ExtendPCREvent extends idx with digest and logs it with the measured
// bytes data and the event type typ.
func (l *EventLog) ExtendPCREvent(ctx context.Context, idx int, typ string, digest, data []byte) error {
	return l.Extend(ctx, Event{PCR: idx, Type: typ, Digest: digest, Data: data})
}

// Extend extends e.PCR with e.Digest and appends e to the log. The lock is
// held across the extend so the log's order is the TPM's.
func (l *EventLog) Extend(ctx context.Context, e Event) error {
	e.Digest, e.Data = slices.Clone(e.Digest), slices.Clone(e.Data)
	if err := e.Check(); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) >= MaxEvents {
		return fmt.Errorf("tpm: event log full (%d events)", MaxEvents)
	}
	if err := l.t.ExtendPCR(ctx, e.PCR, e.Digest); err != nil {
		return err
	}
	l.events = append(l.events, e)
	return nil
}

// Events returns a copy of the log.
func (l *EventLog) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// QuoteWithLog quotes pcrs with nonce and returns the log under the same
// lock, so no extend made through the log slips in between.
func (l *EventLog) QuoteWithLog(ctx context.Context, ak *Key, pcrs []int, nonce []byte) (*Quote, []Event, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q, err := l.t.Quote(ctx, ak, pcrs, nonce)
	if err != nil {
		return nil, nil, err
	}
	return q, slices.Clone(l.events), nil
}

// QuoteInfo is what a verified quote says beyond the PCR digest: the TPM's
// clock and its reset and restart counters (TPMS_CLOCK_INFO), the TPM
// firmware version, and the PCRs it covers. For a key outside the
// endorsement hierarchy the TPM obfuscates ResetCount, RestartCount and
// FirmwareVersion with a per-key constant, so they can be compared for
// equality with an earlier quote by the same AK, not ordered.
type QuoteInfo struct {
	Clock           uint64
	ResetCount      uint32
	RestartCount    uint32
	Safe            bool
	FirmwareVersion uint64
	PCRs            []int
}

// VerifyQuoteInfo is VerifyQuote that also returns the quote's QuoteInfo.
func VerifyQuoteInfo(akPub crypto.PublicKey, q *Quote, nonce []byte) (*QuoteInfo, error) {
	if err := VerifyQuote(akPub, q, nonce); err != nil {
		return nil, err
	}
	att, err := tpm2.Unmarshal[tpm2.TPMSAttest](q.Attest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongAttest, err)
	}
	info := &QuoteInfo{Clock: att.ClockInfo.Clock, ResetCount: att.ClockInfo.ResetCount, RestartCount: att.ClockInfo.RestartCount,
		Safe: bool(att.ClockInfo.Safe), FirmwareVersion: att.FirmwareVersion}
	for p := range q.PCRs {
		info.PCRs = append(info.PCRs, p)
	}
	slices.Sort(info.PCRs)
	return info, nil
}

// QuoteNonce returns the qualifying data (nonce) a quote's signed
// TPMS_ATTEST carries, without verifying anything: a verifier uses it to
// tell a replayed answer from one to the current challenge.
func QuoteNonce(q *Quote) ([]byte, error) {
	att, err := tpm2.Unmarshal[tpm2.TPMSAttest](q.Attest)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongAttest, err)
	}
	return att.ExtraData.Buffer, nil
}

// VerifyAttestationSignature checks only the AK's signature over the
// marshalled TPMS_ATTEST.
func VerifyAttestationSignature(akPub crypto.PublicKey, a *Attestation) error {
	rk, ok := akPub.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("tpm: attestation keys are RSA; got %T", akPub)
	}
	d := sha256.Sum256(a.Attest)
	if rsa.VerifyPKCS1v15(rk, crypto.SHA256, d[:], a.Signature) != nil {
		return ErrBadSignature
	}
	return nil
}

// Restore starts the log with events recorded earlier in this boot (an agent
// restarted without a reboot: the PCRs still hold those extends). It checks
// that they replay to the TPM's current values of the PCRs they touch, and
// returns ErrLogReplay, leaving the log empty, when they do not.
func (l *EventLog) Restore(ctx context.Context, events []Event) error {
	got, err := ReplayEvents(events)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrLogReplay, err)
	}
	pcrs := make([]int, 0, len(got))
	for p := range got {
		pcrs = append(pcrs, p)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) != 0 {
		return errors.New("tpm: event log: restore into a log that already has events")
	}
	if len(pcrs) == 0 {
		return nil
	}
	cur, err := l.t.ReadPCRs(ctx, pcrs)
	if err != nil {
		return err
	}
	for p, v := range got {
		if !bytes.Equal(cur[p], v) {
			return fmt.Errorf("%w: PCR %d (a reboot reset it, or something else extended it)", ErrLogReplay, p)
		}
	}
	l.events = slices.Clone(events)
	return nil
}
