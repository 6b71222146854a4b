package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// scripted is a fake transport at the one boundary we cannot otherwise make
// misbehave on demand: it answers with the response codes it is given.
type scripted struct {
	codes []tpm2.TPMRC
	calls int
}

func (s *scripted) Send([]byte) ([]byte, error) {
	rc := s.codes[min(s.calls, len(s.codes)-1)]
	s.calls++
	rsp := make([]byte, 10)
	binary.BigEndian.PutUint16(rsp, 0x8001)
	binary.BigEndian.PutUint32(rsp[2:], 10)
	binary.BigEndian.PutUint32(rsp[6:], uint32(rc))
	return rsp, nil
}

func TestRetryTransport(t *testing.T) {
	s := &scripted{codes: []tpm2.TPMRC{tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCSuccess}}
	rt := newRetryTransport(s)
	rt.backoff = 0
	rsp, err := rt.Send(nil)
	if err != nil || responseCode(rsp) != tpm2.TPMRCSuccess || s.calls != 3 {
		t.Fatalf("rc %v err %v after %d calls; want success after 3", responseCode(rsp), err, s.calls)
	}
	// Real errors are not retried.
	s = &scripted{codes: []tpm2.TPMRC{tpm2.TPMRCValue}}
	rt = newRetryTransport(s)
	if rsp, _ := rt.Send(nil); responseCode(rsp) != tpm2.TPMRCValue || s.calls != 1 {
		t.Fatalf("TPM_RC_VALUE retried %d times", s.calls)
	}
	// A TPM that never stops asking for a retry gives up, bounded.
	s = &scripted{codes: []tpm2.TPMRC{tpm2.TPMRCRetry}}
	rt = newRetryTransport(s)
	rt.backoff = 0
	if rsp, _ := rt.Send(nil); responseCode(rsp) != tpm2.TPMRCRetry || s.calls != rt.attempts {
		t.Fatalf("gave up after %d calls, want %d", s.calls, rt.attempts)
	}
	// Cancellation stops the retry loop.
	c, cancel := context.WithCancel(context.Background())
	cancel()
	s = &scripted{codes: []tpm2.TPMRC{tpm2.TPMRCRetry}}
	rt = newRetryTransport(s)
	rt.ctx = c
	if _, err := rt.Send(nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}
