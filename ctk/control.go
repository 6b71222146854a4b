package ctk

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Controller puts a device into the states some cases need. A device may
// offer such a hook (edgetrust-agent has a control socket); without one the
// ctk asks the person at the keyboard, or skips the case.
type Controller interface {
	// SetStatus sets "Ready", "Not Ready" or "Not Registered".
	SetStatus(ctx context.Context, device, status string) error
	// RotateKey makes the device rotate its device key.
	RotateKey(ctx context.Context, device string) error
	// Present puts the biometric on the sensor (true) or takes it off.
	Present(ctx context.Context, device string, present bool) error
	// HoldBusy keeps the device Busy for d.
	HoldBusy(ctx context.Context, device string, d time.Duration) error
}

// ParseControl parses a --control value. Only "unix:PATH" is supported: a
// Unix socket speaking JSON lines, one request and one answer per line, as
// edgetrust-agent's control socket does.
func ParseControl(spec string) (Controller, error) {
	path, ok := strings.CutPrefix(spec, "unix:")
	if !ok || path == "" {
		return nil, fmt.Errorf("control hook %q: want unix:PATH (e.g. unix:/tmp/agent/control.sock)", spec)
	}
	return &UnixControl{Path: path}, nil
}

// UnixControl is the JSON-lines control protocol over a Unix socket:
//
//	→ {"op":"set-status","device":"ID","status":"Not Ready"}
//	← {"ok":true}   or   {"ok":false,"error":"..."}
//
// Ops: set-status, rotate-key, present (with "present"), hold-busy (with "ms").
type UnixControl struct {
	Path string
	mu   sync.Mutex // one request at a time keeps answers in order
}

type controlRequest struct {
	Op      string `json:"op"`
	Device  string `json:"device,omitempty"`
	Status  string `json:"status,omitempty"`
	Present *bool  `json:"present,omitempty"`
	Millis  int    `json:"ms,omitempty"`
}

type controlResponse struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// maxControlLine bounds an answer line.
const maxControlLine = 64 << 10

func (u *UnixControl) do(ctx context.Context, req controlRequest) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 45*time.Second) // a TPM key rotation can take a while
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", u.Path)
	if err != nil {
		return fmt.Errorf("control hook: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("control hook: %w", err)
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxControlLine)
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return fmt.Errorf("control hook: reading answer: %w", err)
		}
		return errors.New("control hook: connection closed without an answer")
	}
	var resp controlResponse
	if err := jsonx.Unmarshal(sc.Bytes(), &resp, jsonx.Limits{MaxBytes: maxControlLine, Open: true}); err != nil {
		return fmt.Errorf("control hook: answer is not JSON: %w", err)
	}
	if !resp.OK {
		msg := resp.Error
		if len(msg) > 300 {
			msg = msg[:300]
		}
		return fmt.Errorf("control hook refused %s: %s", req.Op, msg)
	}
	return nil
}

// SetStatus implements Controller.
func (u *UnixControl) SetStatus(ctx context.Context, device, status string) error {
	return u.do(ctx, controlRequest{Op: "set-status", Device: device, Status: status})
}

// RotateKey implements Controller.
func (u *UnixControl) RotateKey(ctx context.Context, device string) error {
	return u.do(ctx, controlRequest{Op: "rotate-key", Device: device})
}

// Present implements Controller.
func (u *UnixControl) Present(ctx context.Context, device string, present bool) error {
	return u.do(ctx, controlRequest{Op: "present", Device: device, Present: &present})
}

// HoldBusy implements Controller.
func (u *UnixControl) HoldBusy(ctx context.Context, device string, d time.Duration) error {
	return u.do(ctx, controlRequest{Op: "hold-busy", Device: device, Millis: int(d / time.Millisecond)})
}

// Prompter asks the person at the keyboard to do something and waits until
// they confirm.
type Prompter interface {
	Ask(ctx context.Context, instruction string) error
}

// LinePrompter prints an instruction to Out and waits for a line on In.
type LinePrompter struct {
	In  io.Reader
	Out io.Writer

	once sync.Once
	r    *bufio.Reader
	mu   sync.Mutex
}

// ErrAborted is returned when the person ends input (Ctrl-D) instead of
// confirming.
var ErrAborted = errors.New("input closed")

// Ask implements Prompter.
func (p *LinePrompter) Ask(ctx context.Context, instruction string) error {
	p.once.Do(func() { p.r = bufio.NewReader(p.In) })
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.Out, "\n>>> %s\n>>> Press Enter when done (Ctrl-D skips the rest of the interactive steps): ", instruction)
	done := make(chan error, 1)
	go func() {
		_, err := p.r.ReadString('\n')
		if err == io.EOF {
			err = ErrAborted
		}
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
