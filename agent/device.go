package agent

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/edgetrust/edgetrust/agent/devpki"
	"github.com/edgetrust/edgetrust/agent/sensors"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// Device is one biometric device: its configuration, its TPM keys and
// certificates, its sensor and its status. One capture runs at a time.
type Device struct {
	cfg       DeviceConfig
	dir       string
	sensor    sensors.Sensor
	mu        sync.Mutex
	status    string // Ready, Not Ready or Not Registered (set by keys or operator)
	capturing bool   // a CAPTURE/RCAPTURE is running
	streams   int    // open STREAMs
	builder   *sbi.Builder
	deviceCrt *x509.Certificate
	ftmCrt    *x509.Certificate
	ftmKey    *tpm.Key
	// unregistered answers discovery and info while Not Registered.
	unregistered *sbi.Builder
	// now is the service's clock (Options.Now): certificate validity,
	// answer times and every signed timestamp (digital ID dateTime, data
	// timestamp) come from it.
	now func() time.Time
	// rot is the automatic rotation's state (rotate.go).
	rot rotState
}

// ID is the device's serial number, also its deviceId.
func (d *Device) ID() string { return d.cfg.ID }

// Config returns the device's configuration.
func (d *Device) Config() DeviceConfig { return d.cfg }

// Status is what discovery and info report: Busy while a capture or stream
// runs on a Ready device.
func (d *Device) Status() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.statusLocked()
}

func (d *Device) statusLocked() string {
	if d.status == sbi.StatusReady && !d.usableLocked() {
		// An expired certificate, or one central refused to renew
		// (revoked or suspended device), is never used to sign.
		return sbi.StatusNotRegistered
	}
	if d.status == sbi.StatusReady && (d.capturing || d.streams > 0) {
		return sbi.StatusBusy
	}
	return d.status
}

// SetStatus lets an operator take a device out of service (Not Ready) and
// back. Not Registered can be set to test clients, but Ready is refused
// while the device has no certificate.
func (d *Device) SetStatus(s string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch s {
	case sbi.StatusReady:
		if d.builder == nil {
			return errors.New("device has no certificate: enrol it first")
		}
	case sbi.StatusNotReady, sbi.StatusNotRegistered:
	default:
		return fmt.Errorf("status %q: want Ready, Not Ready or Not Registered", s)
	}
	d.status = s
	return nil
}

// Builder returns the current answer builder (nil if not registered).
func (d *Device) Builder() *sbi.Builder {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.builder
}

// begin marks a capture as running; it fails with the SBI error to answer.
func (d *Device) begin() (*sbi.Builder, sbi.Error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.status == sbi.StatusNotRegistered || d.builder == nil || !d.usableLocked():
		return nil, sbi.NewError(sbi.CodeNotRegistered)
	case d.status == sbi.StatusNotReady:
		return nil, sbi.NewError(sbi.CodeNotReady)
	case d.capturing:
		return nil, sbi.NewError(sbi.CodeBusy)
	}
	d.capturing = true
	return d.builder, sbi.Success
}

func (d *Device) end() {
	d.mu.Lock()
	d.capturing = false
	d.mu.Unlock()
}

// keyFiles are where a device's TPM key blobs and certificates live.
type keyFiles struct{ deviceKey, deviceCert, ftmKey, ftmCert string }

func filesIn(dir string) keyFiles {
	return keyFiles{
		deviceKey: filepath.Join(dir, "device.key"), deviceCert: filepath.Join(dir, "device.pem"),
		ftmKey: filepath.Join(dir, "ftm.key"), ftmCert: filepath.Join(dir, "ftm.pem"),
	}
}

// certValidity is how long a device-key certificate lasts: MOSIP's default
// rotation policy is 30 days.
const certValidity = 30 * 24 * time.Hour

// digitalIDMaxAge is how long a signed digital ID is reused: well inside
// IDA's 60 s, and it saves one TPM signature per capture.
const digitalIDMaxAge = 20 * time.Second

// ftmValidity is the FTM chip certificate's lifetime.
const ftmValidity = 5 * 365 * 24 * time.Hour

// loadKeys loads (or in dev mode creates) the device's TPM keys and
// certificates and builds its answer builder. Without certificates the device
// is Not Registered.
func (d *Device) loadKeys(ctx context.Context, t *tpm.TPM, dev *devpki.PKI, c *Config, port int, now time.Time) error {
	f := filesIn(d.dir)
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return err
	}
	devKey, err := t.LoadOrCreateKey(ctx, f.deviceKey, tpm.RSA2048Sign)
	if err != nil {
		return fmt.Errorf("device %s: device key: %w", d.cfg.ID, err)
	}
	ftmKey, err := t.LoadOrCreateKey(ctx, f.ftmKey, tpm.RSA2048Sign)
	if err != nil {
		return fmt.Errorf("device %s: FTM key: %w", d.cfg.ID, err)
	}
	if err := finishRotation(f, devKey); err != nil {
		return fmt.Errorf("device %s: %w", d.cfg.ID, err)
	}
	devCrt, err := readCert(f.deviceCert, devKey)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.cfg.ID, err)
	}
	ftmCrt, err := readCert(f.ftmCert, ftmKey)
	if err != nil {
		return fmt.Errorf("device %s: %w", d.cfg.ID, err)
	}
	// --dev certifies keys with the development PKI, unless central did.
	if _, central := enrolledWithCentral(c.State, d.cfg.ID); dev != nil && !central {
		if devCrt == nil || now.After(devCrt.NotAfter.Add(-24*time.Hour)) {
			if devCrt, err = d.issue(dev.Provider, devKey, c.Provider, certValidity, now); err != nil {
				return err
			}
			if err := writeCert(f.deviceCert, devCrt); err != nil {
				return err
			}
		}
		if ftmCrt == nil || now.After(ftmCrt.NotAfter.Add(-24*time.Hour)) {
			if ftmCrt, err = d.issue(dev.FTM, ftmKey, c.FTMProvider, ftmValidity, now); err != nil {
				return err
			}
			if err := writeCert(f.ftmCert, ftmCrt); err != nil {
				return err
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.unregistered = d.unregisteredBuilder(c, port)
	if devCrt == nil || ftmCrt == nil {
		d.status, d.builder = sbi.StatusNotRegistered, nil
		return nil
	}
	d.deviceCrt, d.ftmCrt, d.ftmKey = devCrt, ftmCrt, ftmKey
	d.builder = d.newBuilder(c, port, devKey, ftmKey, devCrt, ftmCrt)
	if d.status == "" || d.status == sbi.StatusNotRegistered {
		d.status = sbi.StatusReady
	}
	return nil
}

func (d *Device) issue(ca *devpki.CA, k *tpm.Key, org string, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	return ca.Issue(k.Public(), devpki.Leaf{CommonName: d.cfg.ID, Organization: org, Validity: validity}, now)
}

func (d *Device) newBuilder(c *Config, port int, devKey, ftmKey *tpm.Key, devCrt, ftmCrt *x509.Certificate) *sbi.Builder {
	fw := d.cfg.Model
	if d.sensor != nil {
		fw = d.sensor.Firmware()
	}
	return &sbi.Builder{
		Device: sbi.Device{
			DeviceID:       d.cfg.ID,
			DeviceCode:     d.cfg.ID,
			Certification:  d.cfg.Certification,
			ServiceVersion: ServiceVersion,
			Firmware:       fw,
			Env:            c.Env,
			Purpose:        d.cfg.Purpose,
			SubIDs:         subIDs(d.cfg.Type, d.cfg.SubType),
			Port:           port,
			DigitalID: sbi.DigitalID{
				SerialNo:         d.cfg.ID,
				Make:             d.cfg.Make,
				Model:            d.cfg.Model,
				Type:             d.cfg.Type,
				DeviceSubType:    d.cfg.SubType,
				DeviceProvider:   c.Provider,
				DeviceProviderID: c.ProviderID,
			},
		},
		DeviceKey:       sbi.Identity{Signer: countingSigner{devKey}, Chain: []*x509.Certificate{devCrt}},
		FTMKey:          sbi.Identity{Signer: countingSigner{ftmKey}, Chain: []*x509.Certificate{ftmCrt}},
		DigitalIDMaxAge: digitalIDMaxAge,
		Now:             d.now,
	}
}

// rotate makes a new device key in the TPM and a certificate for it, then
// switches to it: through central when central enrolled the device (the AK
// proves the new key), else with the --dev PKI. The FTM key is permanent
// and is not rotated.
func (d *Device) rotate(ctx context.Context, t *tpm.TPM, dev *devpki.PKI, c *Config, port int, now time.Time) (*x509.Certificate, error) {
	if ce, ok := enrolledWithCentral(c.State, d.cfg.ID); ok {
		return d.rotateCentral(ctx, t, ce, c, port)
	}
	if dev == nil {
		return nil, errors.New("key rotation needs enrolment with central (edgetrust-agent enrol) or --dev")
	}
	d.mu.Lock()
	old := d.deviceCrt
	d.mu.Unlock()
	k, err := t.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		return nil, err
	}
	if old != nil && now.Before(old.NotBefore) {
		now = old.NotBefore // the new certificate must not start before the old one
	}
	crt, err := d.issue(dev.Provider, k, c.Provider, certValidity, now)
	if err != nil {
		return nil, err
	}
	if err := d.installDeviceKey(c, port, k, crt); err != nil {
		return nil, err
	}
	return crt, nil
}

// installDeviceKey saves a new device key and its certificate and makes
// the builder sign with them from the next capture on (rotation, whether
// by the development PKI or by central).
func (d *Device) installDeviceKey(c *Config, port int, k *tpm.Key, crt *x509.Certificate) error {
	f := filesIn(d.dir)
	// The certificate goes beside the old pair first, then the key
	// replaces the old key, then the certificate the old certificate: a
	// crash at any point leaves either the old pair or the new key with
	// its certificate in device.pem.new, which loadKeys completes.
	if err := writeCert(f.deviceCert+".new", crt); err != nil {
		return err
	}
	if err := writeFile(f.deviceKey, k.Blob(), 0o600); err != nil {
		return err
	}
	if err := os.Rename(f.deviceCert+".new", f.deviceCert); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.deviceCrt = crt
	d.builder = d.newBuilder(c, port, k, d.ftmKey, crt, d.ftmCrt)
	d.rot = rotState{jitter: newJitter()}
	return nil
}

// finishRotation completes a rotation a crash interrupted: a
// device.pem.new for the key on file replaces device.pem; one for another
// key (the crash came before the key was written) is dropped, and the old
// pair stays.
func finishRotation(f keyFiles, k *tpm.Key) error {
	pending := f.deviceCert + ".new"
	if _, err := os.Stat(pending); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if c, err := readCert(pending, k); err == nil && c != nil {
		return os.Rename(pending, f.deviceCert)
	}
	return os.Remove(pending)
}

// readCert reads a certificate and checks it is for k; a missing file is (nil, nil).
func readCert(path string, k *tpm.Key) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(c.PublicKey) {
		return nil, fmt.Errorf("%s certifies another key than the one in the TPM blob beside it", path)
	}
	return c, nil
}

func writeCert(path string, c *x509.Certificate) error {
	return writeFile(path, pki.CertPEM(c), 0o644)
}

func writeFile(path string, b []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
