package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/edgetrust/edgetrust/agent/sensors"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/sbi"
)

// The control socket is a Unix socket in the state directory (mode 0600),
// for operators and test tools on the device: it is deliberately not an
// HTTP endpoint, so nothing a browser page can reach may change the device.
// The protocol is one JSON request per line and one JSON answer per line.
// Both are read strictly (internal/jsonx): a request with a member it does
// not define, a duplicated member or invalid UTF-8 is refused, and so is a
// line over maxControlLine.

// maxControlLine bounds one request or answer line.
const maxControlLine = 64 << 10

// controlLimits are the strict-JSON bounds of a control request: a closed
// contract of scalars.
var controlLimits = jsonx.Limits{MaxBytes: maxControlLine, MaxDepth: 2, MaxArray: 1, MaxMembers: 16}

// answerLimits bound a control answer: one entry per configured device.
var answerLimits = jsonx.Limits{MaxBytes: 1 << 20, MaxDepth: 4, MaxArray: 1000, MaxMembers: 16, Open: true}

// ControlSocket is the socket's file name inside the state directory.
const ControlSocket = "control.sock"

// ControlRequest is one control command.
type ControlRequest struct {
	Op      string `json:"op"`               // list, set-status, rotate-key, present (alias finger), hold-busy
	Device  string `json:"device,omitempty"` // device id
	Status  string `json:"status,omitempty"` // set-status: Ready, Not Ready, Not Registered
	Present *bool  `json:"present,omitempty"`
	Millis  int    `json:"ms,omitempty"` // hold-busy
	// present on an emulated sensor: a synthetic person's fingers
	// (sensors.Finger.PresentPerson, with the finger an UNKNOWN bioSubType
	// gets), eyes or face (sensors.Samples.PresentPerson).
	Person *uint64 `json:"person,omitempty"`
	Finger string  `json:"finger,omitempty"`
}

// ControlDevice describes a device in a list answer.
type ControlDevice struct {
	ID       string `json:"id"`
	Type     string `json:"type"`
	SubType  string `json:"subType"`
	Purpose  string `json:"purpose"`
	Status   string `json:"status"`
	Firmware string `json:"firmware"`
	CertSHA  string `json:"deviceCertificate,omitempty"` // thumbprint of the device-key certificate
}

// ControlResponse answers a ControlRequest.
type ControlResponse struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error,omitempty"`
	Port    int             `json:"port,omitempty"`
	Devices []ControlDevice `json:"devices,omitempty"`
}

func (s *Service) startControl() error {
	path := filepath.Join(s.cfg.State, ControlSocket)
	os.Remove(path) // a stale socket from a crash; the state dir is ours
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return err
	}
	s.ctl = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serveControl(c)
		}
	}()
	return nil
}

func (s *Service) serveControl(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), maxControlLine)
	enc := json.NewEncoder(c)
	for sc.Scan() {
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		var req ControlRequest
		var resp ControlResponse
		if err := jsonx.Unmarshal(sc.Bytes(), &req, controlLimits); err != nil {
			resp.Error = "not a JSON control request: " + err.Error()
		} else if err := s.control(&req, &resp); err != nil {
			resp.Error = err.Error()
		} else {
			resp.OK = true
		}
		if err := enc.Encode(resp); err != nil {
			return
		}
	}
}

func (s *Service) control(req *ControlRequest, resp *ControlResponse) error {
	resp.Port = s.port
	var d *Device
	if req.Op != "list" {
		if d = s.Device(req.Device); d == nil {
			return fmt.Errorf("no device %q (edgetrust-agent status lists them)", req.Device)
		}
	}
	switch req.Op {
	case "list":
	case "set-status":
		if err := d.SetStatus(req.Status); err != nil {
			return err
		}
		s.log.Info("device status set by operator", "device", d.cfg.ID, "status", req.Status)
	case "rotate-key":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := s.RotateKey(ctx, d.cfg.ID); err != nil {
			return err
		}
	case "present", "finger":
		if req.Present == nil {
			return errors.New("present needs present: true|false")
		}
		switch sn := d.sensor.(type) {
		case *sensors.Finger:
			if sn.Emulator() == nil {
				return errors.New("present works only on emulated sensors; this is a real module")
			}
			if req.Person != nil && *req.Present {
				if err := sn.PresentPerson(*req.Person, req.Finger); err != nil {
					return err
				}
			}
			sn.Emulator().SetFinger(*req.Present)
		case *sensors.Samples:
			if req.Person != nil && *req.Present {
				sn.PresentPerson(*req.Person)
			}
			sn.SetPresent(*req.Present)
		default:
			return errors.New("present works only on emulated sensors")
		}
	case "hold-busy":
		if req.Millis <= 0 || req.Millis > 60000 {
			return errors.New("hold-busy needs ms between 1 and 60000")
		}
		if _, e := d.begin(); !e.OK() {
			return fmt.Errorf("device cannot be made busy: %s", e.Info)
		}
		time.AfterFunc(time.Duration(req.Millis)*time.Millisecond, d.end)
	default:
		return fmt.Errorf("unknown op %q: want list, set-status, rotate-key, present or hold-busy", req.Op)
	}
	for _, x := range s.devices {
		cd := ControlDevice{ID: x.cfg.ID, Type: x.cfg.Type, SubType: x.cfg.SubType, Purpose: x.cfg.Purpose,
			Status: x.Status(), Firmware: x.sensor.Firmware()}
		x.mu.Lock()
		if x.deviceCrt != nil {
			cd.CertSHA = sbi.Thumbprint(x.deviceCrt)
		}
		x.mu.Unlock()
		resp.Devices = append(resp.Devices, cd)
	}
	return nil
}

// Control sends one request to a running agent's control socket.
func Control(ctx context.Context, state string, req ControlRequest) (*ControlResponse, error) {
	var dl net.Dialer
	c, err := dl.DialContext(ctx, "unix", filepath.Join(state, ControlSocket))
	if err != nil {
		return nil, fmt.Errorf("no agent is running with state %s (%w)", state, err)
	}
	defer c.Close()
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(c)
	sc.Buffer(make([]byte, 4096), int(answerLimits.MaxBytes))
	if !sc.Scan() {
		err := sc.Err()
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading control answer: %w", err)
	}
	var resp ControlResponse
	if err := jsonx.Unmarshal(sc.Bytes(), &resp, answerLimits); err != nil {
		return nil, fmt.Errorf("reading control answer: %w", err)
	}
	if !resp.OK {
		return &resp, errors.New(resp.Error)
	}
	return &resp, nil
}
