package agent

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/edgetrust/edgetrust/internal/enrol"
	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/internal/tpm"
	"github.com/edgetrust/edgetrust/sbi"
)

// Files of a central enrolment in the state directory.
const (
	// CentralFile records which central enrolled which devices: rotation
	// goes back to it.
	CentralFile = "central.json"
	// AKFile is the TPM attestation key central knows this TPM by.
	AKFile = "ak.key"
	// ProviderCAFile (in each device directory) is the provider CA that
	// issued the device's certificates.
	ProviderCAFile = "provider-ca.pem"
)

// CentralEnrolment is what CentralFile holds.
type CentralEnrolment struct {
	URL           string    `json:"url"`
	VendorID      string    `json:"vendorId"`
	VendorName    string    `json:"vendorName"`
	EKFingerprint string    `json:"ekFingerprint"`
	Devices       []string  `json:"devices"`
	Enrolled      time.Time `json:"enrolled"`
}

// LoadCentralEnrolment reads state/central.json; (nil, nil) if absent.
func LoadCentralEnrolment(state string) (*CentralEnrolment, error) {
	b, err := os.ReadFile(filepath.Join(state, CentralFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// The agent wrote it, but a state directory is a file like any other:
	// read strictly; members a later version adds are tolerated.
	var e CentralEnrolment
	if err := jsonx.Unmarshal(b, &e, jsonx.Limits{MaxBytes: 1 << 20, Open: true}); err != nil {
		return nil, fmt.Errorf("%s: %w", CentralFile, err)
	}
	return &e, nil
}

// enrolledWithCentral reports whether device id was enrolled with central.
func enrolledWithCentral(state, id string) (*CentralEnrolment, bool) {
	e, err := LoadCentralEnrolment(state)
	if err != nil || e == nil {
		return nil, false
	}
	return e, slices.Contains(e.Devices, id)
}

// EnrolOptions say where and how to enrol.
type EnrolOptions struct {
	Central string // central's base URL
	// Replicas are more URLs of the same central (replicas on one
	// database): a request central certainly did not get goes to the next
	// (enrol.Client.Replicas).
	Replicas []string
	Token    string // one-use enrolment token from a central admin
	// Devices limits enrolment to these ids (default: every configured device).
	Devices []string
	// EKCert is a DER EK certificate to send instead of the TPM's own.
	EKCert []byte
	// HTTP timeout per request (default 30 s).
	Timeout time.Duration
}

// EnrolResult reports an enrolment.
type EnrolResult struct {
	Central       string   `json:"central"`
	VendorID      string   `json:"vendorId"`
	EKFingerprint string   `json:"ekFingerprint"`
	Devices       []string `json:"devices"`
	// DeviceCerts maps device id to its new device certificate's SBI thumbprint.
	DeviceCerts map[string]string `json:"deviceCerts"`
}

// EKInfo describes the TPM's endorsement key, for central's allow-list.
type EKInfo struct {
	Fingerprint    string `json:"fingerprint"`
	HasCertificate bool   `json:"hasCertificate"`
}

// ShowEK reads the TPM's EK (no enrolment, nothing written).
func ShowEK(ctx context.Context, cfg Config) (*EKInfo, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t, err := tpm.Open(ctx, cfg.TPM)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	ek, err := t.EndorsementKey(ctx)
	if err != nil {
		return nil, err
	}
	fp, err := enrol.EKFingerprint(ek.Public())
	if err != nil {
		return nil, err
	}
	return &EKInfo{Fingerprint: fp, HasCertificate: ek.Certificate != nil}, nil
}

// Enrol enrols the configured devices with central: the TPM proves its EK
// and AK, certifies each device's FTM and device keys, and central's
// certificates are stored beside the key blobs. A running agent must be
// stopped first (the simulator and swtpm serve one client); serve then
// loads the certificates and reports the devices Ready.
func Enrol(ctx context.Context, cfg Config, o EnrolOptions) (*EnrolResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Central == "" || o.Token == "" {
		return nil, errors.New("enrolment needs central's URL and an enrolment token")
	}
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	if _, err := Control(pctx, cfg.State, ControlRequest{Op: "list"}); err == nil {
		cancel()
		return nil, errors.New("an agent is running on this state directory: stop it, enrol, then serve again")
	}
	cancel()
	var devs []DeviceConfig
	for _, d := range cfg.Devices {
		if len(o.Devices) == 0 || slices.Contains(o.Devices, d.ID) {
			devs = append(devs, d)
		}
	}
	for _, id := range o.Devices {
		if !slices.ContainsFunc(cfg.Devices, func(d DeviceConfig) bool { return d.ID == id }) {
			return nil, fmt.Errorf("no device %q is configured", id)
		}
	}
	if len(devs) > enrol.MaxDevices {
		return nil, fmt.Errorf("%d devices: enrol at most %d at a time (--device)", len(devs), enrol.MaxDevices)
	}
	if err := os.MkdirAll(cfg.State, 0o700); err != nil {
		return nil, err
	}
	t, err := tpm.Open(ctx, cfg.TPM)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	ak, err := t.LoadOrCreateKey(ctx, filepath.Join(cfg.State, AKFile), tpm.AttestationKey)
	if err != nil {
		return nil, fmt.Errorf("attestation key: %w", err)
	}
	keys := make([]enrol.DeviceKeys, 0, len(devs))
	for _, dc := range devs {
		dir := filepath.Join(cfg.State, "devices", dc.ID)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		f := filesIn(dir)
		devKey, err := t.LoadOrCreateKey(ctx, f.deviceKey, tpm.RSA2048Sign)
		if err != nil {
			return nil, fmt.Errorf("device %s: device key: %w", dc.ID, err)
		}
		ftmKey, err := t.LoadOrCreateKey(ctx, f.ftmKey, tpm.RSA2048Sign)
		if err != nil {
			return nil, fmt.Errorf("device %s: FTM key: %w", dc.ID, err)
		}
		keys = append(keys, enrol.DeviceKeys{DigitalID: sbi.DigitalID{SerialNo: dc.ID, Make: dc.Make, Model: dc.Model,
			Type: dc.Type, DeviceSubType: dc.SubType, DeviceProvider: cfg.Provider, DeviceProviderID: cfg.ProviderID},
			FTM: ftmKey, Device: devKey})
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := &enrol.Client{URL: o.Central, Replicas: o.Replicas}
	client.HTTP = newHTTPClient(timeout)
	p := &enrol.Prover{TPM: t, AK: ak, EKCert: o.EKCert}
	r, err := p.EnrolDevices(ctx, client, o.Token, keys)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(r.CACert)
	if err != nil {
		return nil, fmt.Errorf("central sent a bad provider CA: %w", err)
	}
	if len(r.Devices) != len(keys) {
		return nil, fmt.Errorf("central certified %d of %d devices", len(r.Devices), len(keys))
	}
	res := &EnrolResult{Central: o.Central, DeviceCerts: map[string]string{}}
	// Check everything before writing anything.
	type issued struct {
		dir         string
		devCrt, ftm *x509.Certificate
		serial      string
	}
	var out []issued
	for i, d := range r.Devices {
		k := keys[i]
		if d.Serial != k.DigitalID.SerialNo {
			return nil, fmt.Errorf("central answered for %q where %q was asked", d.Serial, k.DigitalID.SerialNo)
		}
		dc, err := checkIssued(d.DeviceCert, k.Device, ca)
		if err != nil {
			return nil, fmt.Errorf("device %s: device certificate: %w", d.Serial, err)
		}
		fc, err := checkIssued(d.FTMCert, k.FTM, ca)
		if err != nil {
			return nil, fmt.Errorf("device %s: FTM certificate: %w", d.Serial, err)
		}
		out = append(out, issued{dir: filepath.Join(cfg.State, "devices", d.Serial), devCrt: dc, ftm: fc, serial: d.Serial})
	}
	for _, x := range out {
		f := filesIn(x.dir)
		if err := writeCert(f.deviceCert, x.devCrt); err != nil {
			return nil, err
		}
		if err := writeCert(f.ftmCert, x.ftm); err != nil {
			return nil, err
		}
		if err := writeCert(filepath.Join(x.dir, ProviderCAFile), ca); err != nil {
			return nil, err
		}
		res.Devices = append(res.Devices, x.serial)
		res.DeviceCerts[x.serial] = sbi.Thumbprint(x.devCrt)
	}
	ek, err := t.EndorsementKey(ctx)
	if err != nil {
		return nil, err
	}
	res.EKFingerprint, _ = enrol.EKFingerprint(ek.Public())
	prev, _ := LoadCentralEnrolment(cfg.State)
	rec := CentralEnrolment{URL: o.Central, VendorID: keys[0].DigitalID.DeviceProviderID, VendorName: cfg.Provider,
		EKFingerprint: res.EKFingerprint, Enrolled: time.Now().UTC()}
	if prev != nil && prev.URL == o.Central {
		rec.Devices = prev.Devices
	}
	for _, id := range res.Devices {
		if !slices.Contains(rec.Devices, id) {
			rec.Devices = append(rec.Devices, id)
		}
	}
	b, _ := json.MarshalIndent(rec, "", "  ")
	if err := writeFile(filepath.Join(cfg.State, CentralFile), append(b, '\n'), 0o600); err != nil {
		return nil, err
	}
	res.VendorID = rec.VendorID
	return res, nil
}

// checkIssued parses a certificate from central and checks it is for the
// TPM key and chains to the provider CA.
func checkIssued(der []byte, k *tpm.Key, ca *x509.Certificate) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(c.PublicKey) {
		return nil, errors.New("it certifies another key than the TPM's")
	}
	if err := c.CheckSignatureFrom(ca); err != nil {
		return nil, fmt.Errorf("not issued by the provider CA: %w", err)
	}
	return c, nil
}

// rotateCentral has central certify a new device key, proven by the AK
// central recorded at enrolment, then switches to it.
func (d *Device) rotateCentral(ctx context.Context, t *tpm.TPM, ce *CentralEnrolment, c *Config, port int) (*x509.Certificate, error) {
	blob, err := os.ReadFile(filepath.Join(c.State, AKFile))
	if err != nil {
		return nil, fmt.Errorf("attestation key: %w", err)
	}
	ak, err := t.LoadKey(ctx, blob)
	if err != nil {
		return nil, fmt.Errorf("attestation key: %w", err)
	}
	k, err := t.CreateKey(ctx, tpm.RSA2048Sign)
	if err != nil {
		return nil, err
	}
	p := &enrol.Prover{TPM: t, AK: ak}
	r, err := p.RotateDevice(ctx, &enrol.Client{URL: ce.URL, HTTP: newHTTPClient(30 * time.Second)}, d.cfg.ID, k)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(r.CACert)
	if err != nil {
		return nil, err
	}
	crt, err := checkIssued(r.DeviceCert, k, ca)
	if err != nil {
		return nil, fmt.Errorf("central's rotated certificate: %w", err)
	}
	d.mu.Lock()
	old := d.deviceCrt
	d.mu.Unlock()
	if old != nil && crt.NotBefore.Before(old.NotBefore) {
		return nil, errors.New("central's rotated certificate starts before the current one")
	}
	if err := d.installDeviceKey(c, port, k, crt); err != nil {
		return nil, err
	}
	return crt, nil
}

func newHTTPClient(timeout time.Duration) *http.Client { return &http.Client{Timeout: timeout} }
