package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"go.bug.st/serial"

	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/sensor/pins"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x"
	"github.com/edgetrust/edgetrust/internal/sensor/r30x/proto"
	"github.com/edgetrust/edgetrust/internal/sensor/serialport"
	"github.com/edgetrust/edgetrust/sbi/iso"
)

// ErrNoFinger is returned (wrapped) when no finger arrives in time.
var ErrNoFinger = r30x.ErrNoFinger

// Config describes the module and the trust checks to run when opening it.
type Config struct {
	// Port is a device path, "usb:VID:PID" or "auto" (see serialport.Resolve).
	Port string
	// Baud rate; 0 means 57600, the module's factory setting.
	Baud int
	// Address and Password of the module; zero means factory defaults.
	Address, Password uint32
	// Timeout per reply and Retries per command; zero means the driver's defaults.
	Timeout time.Duration
	Retries int

	// MinVersion holds the pinned minimum firmware version; nil pins nothing.
	MinVersion firmware.MinVersionStore
	// PCR, if set, is extended at PCRIndex with the module measurement.
	PCR      firmware.PCRExtender
	PCRIndex int

	// FingerDetect and LED are optional GPIO lines.
	FingerDetect *pins.FingerDetect
	LED          *pins.LED

	// Record header fields; zero means unknown. PPI 0 means 500.
	Technology   byte
	VendorID     uint16
	DeviceTypeID uint16
	PPI          uint16

	Logger *slog.Logger
}

// Info is what was learned about the module when it was opened.
type Info struct {
	Port        string
	SysParams   proto.SysParams
	ProdInfo    *proto.ProdInfo // nil on modules without ReadProdInfo
	Firmware    string          // "" on modules without GetFwVer
	Version     firmware.Version
	Measurement firmware.Measurement
}

// Device is an opened, checked module. Captures are serialised.
type Device struct {
	mu     sync.Mutex
	s      *r30x.Sensor
	cfg    Config
	info   Info
	closer io.Closer
	log    *slog.Logger
}

// Open resolves cfg.Port, opens it with go.bug.st/serial and runs NewDevice.
func Open(ctx context.Context, cfg Config) (*Device, error) {
	name, err := serialport.Resolve(cfg.Port)
	if err != nil {
		return nil, err
	}
	if cfg.Baud == 0 {
		cfg.Baud = r30x.DefaultBaud
	}
	p, err := serialport.Open(name, cfg.Baud)
	if err != nil {
		return nil, err
	}
	cfg.Port = name
	d, err := NewDevice(ctx, p, cfg)
	if err != nil {
		p.Close()
		return nil, err
	}
	d.closer = p
	return d, nil
}

// NewDevice talks to a module on an already open port: handshake, system
// parameters, product information and firmware version, measurement (and
// PCR extension), then the minimum version check. A module whose firmware
// is below the pinned minimum is refused.
func NewDevice(ctx context.Context, port r30x.Port, cfg Config) (*Device, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Baud == 0 {
		cfg.Baud = r30x.DefaultBaud
	}
	s := r30x.New(port, r30x.Config{
		Address: cfg.Address, Password: cfg.Password, Timeout: cfg.Timeout, Retries: cfg.Retries,
		PortName: cfg.Port, Baud: cfg.Baud, Logger: log,
	})
	if err := s.Handshake(ctx); err != nil {
		return nil, err
	}
	info := Info{Port: cfg.Port}
	var err error
	if info.SysParams, err = s.SysParams(ctx); err != nil {
		return nil, err
	}
	if pi, err := s.ProdInfo(ctx); err == nil {
		info.ProdInfo = &pi
		if w, h := int(pi.SensorWidth), int(pi.SensorHeight); w > 0 && h > 0 && w <= proto.MaxDim && h <= proto.MaxDim {
			if err := s.SetImageSize(w, h); err != nil {
				return nil, err
			}
		}
	} else if _, isCode := r30x.Code(err); !isCode {
		return nil, err
	}
	if fw, err := s.FirmwareVersion(ctx); err == nil {
		info.Firmware = fw
	} else if _, isCode := r30x.Code(err); !isCode {
		return nil, err
	}
	info.Measurement = firmware.Measure(firmware.Report{
		Firmware: info.Firmware, ProdInfo: info.ProdInfo,
		SystemID: info.SysParams.SystemID, LibrarySize: info.SysParams.LibrarySize,
	})
	// Measure before deciding, as measured boot does: the PCR then also
	// records a module that was refused.
	if cfg.PCR != nil {
		if err := info.Measurement.Extend(ctx, cfg.PCR, cfg.PCRIndex); err != nil {
			return nil, err
		}
	}
	if info.Version, err = firmware.CheckMinimum(ctx, cfg.MinVersion, info.Firmware); err != nil {
		return nil, err
	}
	if cfg.FingerDetect != nil {
		if err := cfg.FingerDetect.Init(); err != nil {
			return nil, err
		}
	}
	model := ""
	if info.ProdInfo != nil {
		model = info.ProdInfo.Model
	}
	log.Info("fingerprint module ready", "port", cfg.Port, "model", model, "firmware", info.Firmware,
		"measurement", info.Measurement.Hex())
	return &Device{s: s, cfg: cfg, info: info, log: log}, nil
}

// Info returns what was learned at open.
func (d *Device) Info() Info { return d.info }

// Sensor gives access to the driver for diagnostics.
func (d *Device) Sensor() *r30x.Sensor { return d.s }

// ModemLines reads CTS, DSR, RI and DCD, for diagnostics, on a port that
// Open opened. Pseudo-terminals and some adapters have none.
func (d *Device) ModemLines() (*serial.ModemStatusBits, error) {
	p, ok := d.closer.(serial.Port)
	if !ok {
		return nil, errors.New("capture: modem lines need a serial port opened by Open")
	}
	return serialport.ModemLines(p)
}

// Close closes the port if Open opened it.
func (d *Device) Close() error {
	if d.closer == nil {
		return nil
	}
	return d.closer.Close()
}

// Request is one capture.
type Request struct {
	Purpose  Purpose
	Position byte // ISO finger position
	// Timeout to wait for a finger; 0 means 10 s.
	Timeout time.Duration
	// Quality overrides the built-in estimate (for an agent with NFIQ).
	Quality *iso.Quality
}

// Result is one captured finger.
type Result struct {
	Record     []byte // ISO/IEC 19794-4:2011 record
	Quality    uint8
	Width      int
	Height     int
	CapturedAt time.Time
}

// pollInterval is the pause between GenImg tries while waiting for a finger.
const pollInterval = 50 * time.Millisecond

// Capture waits for a finger, uploads the image and builds the record.
// Without a finger it returns an error wrapping ErrNoFinger once the
// timeout has passed, never earlier (MOSIP checks that too).
func (d *Device) Capture(ctx context.Context, req Request) (res *Result, err error) {
	if err := checkPosition(req.Purpose, req.Position); err != nil {
		return nil, err
	}
	timeout := req.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	start := time.Now()
	d.indicate(ctx, true, nil)
	// The LED goes off even when the request was cancelled, but never on a
	// line that just went dead: that would only add its retries to the
	// caller's wait (see indicate).
	defer func() { d.indicate(context.WithoutCancel(ctx), false, err) }()

	if fd := d.cfg.FingerDetect; fd != nil {
		if err := fd.Wait(ctx, timeout); err != nil {
			if errors.Is(err, pins.ErrNoFinger) {
				return nil, fmt.Errorf("capture: %w within %s", ErrNoFinger, timeout)
			}
			return nil, err
		}
	}
	deadline := start.Add(timeout)
	for {
		err := d.s.GenImg(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, r30x.ErrNoFinger) {
			return nil, err
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, fmt.Errorf("capture: %w within %s", ErrNoFinger, timeout)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(wait, pollInterval)):
		}
	}
	at := time.Now()
	img, err := d.s.UpImage(ctx)
	if err != nil {
		return nil, err
	}
	q := iso.Quality{Score: EstimateQuality(img)}
	if req.Quality != nil {
		q = *req.Quality
	}
	rec, err := BuildRecord(img, RecordOptions{
		Purpose: req.Purpose, Position: req.Position, CapturedAt: at, Quality: q,
		Technology: d.cfg.Technology, VendorID: d.cfg.VendorID, DeviceTypeID: d.cfg.DeviceTypeID, PPI: d.cfg.PPI,
	})
	if err != nil {
		return nil, err
	}
	b := img.Bounds()
	d.log.Info("finger captured", "purpose", req.Purpose.String(), "position", req.Position,
		"quality", q.Score, "record_bytes", len(rec), "took", time.Since(start).Round(time.Millisecond))
	return &Result{Record: rec, Quality: q.Score, Width: b.Dx(), Height: b.Dy(), CapturedAt: at}, nil
}

// ledBudget bounds one Aura LED command, retries included: the module
// acknowledges in milliseconds, and an LED is not worth holding a capture
// for (a dead line would otherwise cost Timeout x (Retries+1) per command,
// 3 s with the defaults, before and again after the capture).
const ledBudget = 300 * time.Millisecond

// indicate drives the LEDs; failures only matter for the log, and modules
// without an Aura ring answer with a confirmation code that is ignored.
// After a capture that failed because the module stopped answering
// (capErr), the Aura command is not sent at all.
func (d *Device) indicate(ctx context.Context, waiting bool, capErr error) {
	if d.cfg.LED != nil {
		if err := d.cfg.LED.Set(waiting); err != nil {
			d.log.Debug("LED", "err", err)
		}
	}
	if d.info.ProdInfo == nil {
		return // R307-class: no Aura ring
	}
	if lineDead(capErr) {
		d.log.Debug("Aura LED left as it is: the module stopped answering", "err", capErr)
		return
	}
	mode := r30x.LEDOff
	if waiting {
		mode = r30x.LEDBreathing
	}
	ctx, cancel := context.WithTimeout(ctx, ledBudget)
	defer cancel()
	if err := d.s.LED(ctx, mode, r30x.LEDBlue, 0x40, 0); err != nil {
		d.log.Debug("Aura LED", "err", err)
	}
}

// lineDead reports whether err says the module stopped answering or its
// replies stopped arriving whole.
func lineDead(err error) bool {
	return err != nil && (errors.Is(err, r30x.ErrNoAnswer) || errors.Is(err, r30x.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded))
}
