package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// maxResponse bounds what we read from a TCP TPM; real responses are < 8 KiB.
const maxResponse = 64 << 10

// retryTransport serialises commands and retries the TPM's "try again"
// warnings. A fresh swtpm, for example, answers the first TPM2_Sign with
// TPM_RC_RETRY while it finishes self-tests.
type retryTransport struct {
	mu       sync.Mutex
	inner    transport.TPM
	attempts int
	backoff  time.Duration
	// ctx, when set, bounds the retry loop of the command in flight.
	ctx context.Context
}

func newRetryTransport(inner transport.TPM) *retryTransport {
	return &retryTransport{inner: inner, attempts: 20, backoff: 10 * time.Millisecond}
}

// Send implements transport.TPM. The caller holds t.mu (see TPM.do).
func (t *retryTransport) Send(cmd []byte) ([]byte, error) {
	var rsp []byte
	var err error
	for i := 0; i < t.attempts; i++ {
		if t.ctx != nil {
			if err := t.ctx.Err(); err != nil {
				return nil, err
			}
		}
		rsp, err = t.inner.Send(cmd)
		if err != nil {
			return nil, err
		}
		if !isRetryable(responseCode(rsp)) {
			return rsp, nil
		}
		d := t.backoff * time.Duration(i+1)
		if d > 200*time.Millisecond {
			d = 200 * time.Millisecond
		}
		if t.ctx != nil {
			select {
			case <-t.ctx.Done():
				return nil, t.ctx.Err()
			case <-time.After(d):
			}
		} else {
			time.Sleep(d)
		}
	}
	return rsp, nil
}

func responseCode(rsp []byte) tpm2.TPMRC {
	if len(rsp) < 10 {
		return tpm2.TPMRCSuccess
	}
	return tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10]))
}

func isRetryable(rc tpm2.TPMRC) bool {
	switch rc {
	case tpm2.TPMRCRetry, tpm2.TPMRCYielded, tpm2.TPMRCTesting:
		return true
	}
	return false
}

// tcpTransport speaks swtpm's raw data channel: a TPM command out, a TPM
// response back, framed by the TPM header's own size field. swtpm is started
// with --flags startup-clear so no platform (ctrl) channel is needed.
type tcpTransport struct {
	conn    net.Conn
	timeout time.Duration
}

func dialTCP(ctx context.Context, addr string) (*tcpTransport, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &tcpTransport{conn: c, timeout: 30 * time.Second}, nil
}

func (t *tcpTransport) Send(cmd []byte) ([]byte, error) {
	if err := t.conn.SetDeadline(time.Now().Add(t.timeout)); err != nil {
		return nil, err
	}
	if _, err := t.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("writing command to swtpm: %w", err)
	}
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(t.conn, hdr); err != nil {
		return nil, fmt.Errorf("reading response header from swtpm: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > maxResponse {
		return nil, fmt.Errorf("swtpm sent a response of %d bytes: not a TPM response (is this the data port?)", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr)
	if _, err := io.ReadFull(t.conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("reading response body from swtpm: %w", err)
	}
	return rsp, nil
}

func (t *tcpTransport) Close() error { return t.conn.Close() }

// rwTransport adapts the simulator's Read/Write pair.
type rwTransport struct{ rw io.ReadWriter }

func (t rwTransport) Send(cmd []byte) ([]byte, error) {
	if _, err := t.rw.Write(cmd); err != nil {
		return nil, err
	}
	buf := make([]byte, maxResponse)
	n, err := t.rw.Read(buf)
	if err != nil {
		return nil, err
	}
	if n < 10 {
		return nil, errors.New("short response from TPM simulator")
	}
	return buf[:n], nil
}
