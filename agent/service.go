package agent

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/agent/devpki"
	"github.com/edgetrust/edgetrust/agent/sensors"
	attest "github.com/edgetrust/edgetrust/internal/attestation"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/sensor/firmware"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// Service is a running agent: the TPM, the devices and the SBI listener.
type Service struct {
	cfg     Config
	log     *slog.Logger
	tpm     *tpm.TPM
	pki     *devpki.PKI
	devices []*Device
	enc     map[string]*x509.Certificate // domainUri ("*" = any) → encryption certificate
	ln      net.Listener
	port    int
	srv     *http.Server
	ctl     net.Listener
	now     func() time.Time
	// evlog is the event log of the measurements the sensors extend
	// (attest.go); attestStop ends the attestation loop.
	evlog      *tpm.EventLog
	attestHTTP *http.Client
	attestStop context.CancelFunc
	rotateStop context.CancelFunc
	rotateDone chan struct{}
	// rotMu runs one rotation at a time (the loop and rotate-key).
	rotMu   sync.Mutex
	bootLog func() ([]byte, error) // Options.BootLog

	closeOnce sync.Once
}

// Options tune a Service beyond its Config.
type Options struct {
	Logger *slog.Logger
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// SampleDelay is how long emulated iris and face captures take.
	SampleDelay time.Duration
	// AttestPoll, when positive, is how often the agent asks central for
	// an attestation challenge when its devices are enrolled (serve
	// --attest-poll; DefaultAttestPoll is the suggested value). Zero: no
	// loop (Attest can still be called).
	AttestPoll time.Duration
	// RotateCheck is how often the agent looks whether a device key is
	// due for rotation (rotate.go); zero is DefaultRotateCheck, negative
	// runs no loop (tests call RotateDue with their clock).
	RotateCheck time.Duration
	// BootLog is the platform's TCG boot log the agent sends with each
	// quote that covers PCRs 0–7 (serve --boot-log): "" means
	// attestation.BootLogPath, attestation.NoBootLog sends none. A
	// missing file sends none (no TPM driver or firmware log); central's
	// policy decides whether that fails (requireBootLog).
	BootLog string
}

// DevTPMURL returns the TPM URL --dev uses: the simulator with a seed kept in
// the state directory, so the key blobs there load again after a restart.
func DevTPMURL(state string) (string, error) {
	p := filepath.Join(state, "tpm-sim-seed")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		var s [8]byte
		if _, err := rand.Read(s[:]); err != nil {
			return "", err
		}
		seed := int64(binary.BigEndian.Uint64(s[:]) >> 1)
		b = []byte(strconv.FormatInt(seed, 10))
		if err := os.MkdirAll(state, 0o700); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			return "", err
		}
	} else if err != nil {
		return "", err
	}
	return "sim?seed=" + string(b), nil
}

// Start opens the TPM and the sensors, loads keys and certificates, binds
// the SBI port on 127.0.0.1 and the control socket, and serves.
func Start(ctx context.Context, cfg Config, o Options) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, log: o.Logger, now: o.Now, enc: map[string]*x509.Certificate{}, bootLog: attest.BootLogFile(o.BootLog)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, err
	}
	var err error
	if s.tpm, err = tpm.Open(ctx, cfg.TPM); err != nil {
		return nil, err
	}
	s.openEventLog(ctx)
	if cfg.Dev {
		if s.pki, err = devpki.LoadOrCreate(filepath.Join(cfg.State, "dev-pki"), cfg.Provider, s.now()); err != nil {
			return nil, fmt.Errorf("dev PKI: %w", err)
		}
	}
	if cfg.Dev && len(cfg.EncryptionCerts) == 0 {
		e, err := devpki.LoadOrCreateEncryption(filepath.Join(cfg.State, "dev-pki"), s.now())
		if err != nil {
			return nil, fmt.Errorf("dev encryption certificate: %w", err)
		}
		s.enc["*"] = e.Cert
		s.log.Warn("auth captures are encrypted to the development certificate; pass --encryption-cert for a real auth server",
			"cert", filepath.Join(cfg.State, "dev-pki", devpki.EncryptionCert))
	}
	for domain, path := range cfg.EncryptionCerts {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("encryption certificate for %q: %w", domain, err)
		}
		c, err := pki.ParseCertPEM(b)
		if err != nil {
			return nil, fmt.Errorf("encryption certificate %s: %w", path, err)
		}
		s.enc[domain] = c
	}
	if s.ln, s.port, err = listen(cfg.Port); err != nil {
		return nil, err
	}
	for _, dc := range cfg.Devices {
		d := &Device{cfg: dc, dir: filepath.Join(cfg.State, "devices", dc.ID), now: s.now, rot: rotState{jitter: newJitter()}}
		if d.sensor, err = s.openSensor(ctx, dc, o); err != nil {
			return nil, fmt.Errorf("device %s: sensor: %w", dc.ID, err)
		}
		s.devices = append(s.devices, d)
		if err := d.loadKeys(ctx, s.tpm, s.pki, &s.cfg, s.port, s.now()); err != nil {
			return nil, err
		}
		s.log.Info("device ready", "device", dc.ID, "type", dc.Type, "subType", dc.SubType,
			"purpose", dc.Purpose, "status", d.Status(), "firmware", d.sensor.Firmware())
	}
	if err := s.saveEventLog(); err != nil {
		s.log.Warn("saving the event log", "err", err)
	}
	if ce, _ := LoadCentralEnrolment(cfg.State); ce != nil && o.AttestPoll > 0 {
		poll := o.AttestPoll
		actx, cancel := context.WithCancel(context.Background())
		s.attestStop = cancel
		go s.attestLoop(actx, poll)
	}
	if every := o.RotateCheck; every >= 0 {
		if every == 0 {
			every = DefaultRotateCheck
		}
		rctx, cancel := context.WithCancel(context.Background())
		s.rotateStop, s.rotateDone = cancel, make(chan struct{})
		go func() { defer close(s.rotateDone); s.rotateLoop(rctx, every) }()
	}
	if err := s.startControl(); err != nil {
		return nil, err
	}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		IdleTimeout:       5 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	go s.srv.Serve(s.ln)
	s.log.Info("SBI service listening", "addr", s.ln.Addr().String(), "devices", len(s.devices))
	ok = true
	return s, nil
}

// listen binds 127.0.0.1 (never a name, never another interface) on port,
// or on the first free port in 4501–4600 when port is 0.
func listen(port int) (net.Listener, int, error) {
	if port != 0 {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return nil, 0, fmt.Errorf("cannot listen on 127.0.0.1:%d: %w", port, err)
		}
		return ln, port, nil
	}
	for p := sbi.PortMin; p <= sbi.PortMax; p++ {
		ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			return ln, p, nil
		}
	}
	return nil, 0, fmt.Errorf("no free port in 127.0.0.1:%d–%d", sbi.PortMin, sbi.PortMax)
}

func (s *Service) openSensor(ctx context.Context, dc DeviceConfig, o Options) (sensors.Sensor, error) {
	if dc.Type != sbi.TypeFinger {
		if dc.Sensor != "emulated" {
			return nil, fmt.Errorf("only emulated %s sensors are supported (sensor %q)", dc.Type, dc.Sensor)
		}
		return sensors.NewSamples(dc.Type, o.SampleDelay)
	}
	fc := sensors.FingerConfig{Port: dc.Sensor, Baud: dc.Baud, PCR: s.evlog, PCRIndex: tpm.PCRFirmware, Logger: s.log}
	if dc.Sensor == "emulated" {
		// The emulated module reports 1.0.0; pin it so a downgrade would be refused.
		fc.Firmware = "1.0.0"
		fc.MinVersion = &firmware.NVStore{NV: s.tpm, Index: tpm.NVFirmwareFloor,
			Releases: []firmware.Release{{SVN: 1, Version: firmware.MustParseVersion("1.0.0")}}}
		if err := fc.MinVersion.RaiseMinVersion(ctx, firmware.MustParseVersion("1.0.0")); err != nil {
			return nil, fmt.Errorf("pinning minimum firmware: %w", err)
		}
	}
	return sensors.OpenFinger(ctx, fc)
}

// Port is the SBI port the service listens on.
func (s *Service) Port() int { return s.port }

// URL is the service's callback base, http://127.0.0.1:PORT/.
func (s *Service) URL() string { return sbi.CallbackID(s.port) }

// Devices lists the devices.
func (s *Service) Devices() []*Device { return s.devices }

// Device returns the device with the given id, or nil.
func (s *Service) Device(id string) *Device {
	for _, d := range s.devices {
		if d.cfg.ID == id {
			return d
		}
	}
	return nil
}

// CACertificates returns the development CAs (nil outside --dev).
func (s *Service) CACertificates() (provider, ftm *x509.Certificate) {
	if s.pki == nil {
		return nil, nil
	}
	return s.pki.Provider.Cert, s.pki.FTM.Cert
}

// RotateKey rotates a device's key and returns its new certificate.
func (s *Service) RotateKey(ctx context.Context, id string) (*x509.Certificate, error) {
	d := s.Device(id)
	if d == nil {
		return nil, fmt.Errorf("no device %q", id)
	}
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	c, err := d.rotate(ctx, s.tpm, s.pki, &s.cfg, s.port, s.now())
	if err == nil {
		s.log.Info("device key rotated", "device", id, "notBefore", c.NotBefore, "notAfter", c.NotAfter)
	}
	return c, err
}

// Close stops serving and releases sensors and the TPM.
func (s *Service) Close() error {
	var errs []error
	s.closeOnce.Do(func() {
		if s.attestStop != nil {
			s.attestStop()
		}
		if s.rotateStop != nil {
			s.rotateStop()
			<-s.rotateDone // a rotation in flight finishes before the TPM closes
		}
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			errs = append(errs, s.srv.Shutdown(ctx))
			cancel()
		} else if s.ln != nil {
			s.ln.Close()
		}
		if s.ctl != nil {
			s.ctl.Close()
		}
		for _, d := range s.devices {
			if d.sensor != nil {
				errs = append(errs, d.sensor.Close())
			}
		}
		if s.tpm != nil {
			errs = append(errs, s.tpm.Close())
		}
	})
	return errors.Join(errs...)
}
