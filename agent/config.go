package agent

import (
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/edgetrust/edgetrust/internal/jsonx"
	"github.com/edgetrust/edgetrust/sbi"
)

// Config is the agent's configuration: a JSON file, overridden by flags and
// EDGETRUST_AGENT_* environment variables (see cmd/edgetrust-agent).
type Config struct {
	// Listen is the port to bind on 127.0.0.1; 0 takes the first free port
	// in 4501–4600, as SBI clients expect.
	Port int `json:"port"`
	// State is the directory for TPM key blobs, certificates and the
	// control socket.
	State string `json:"state"`
	// TPM is a TPM URL (sim, swtpm://host:port, /dev/tpmrm0).
	TPM string `json:"tpm"`
	// Env is the environment the device is registered for.
	Env string `json:"env"`
	// Provider names the device provider in digital IDs and certificates.
	Provider     string `json:"provider"`
	ProviderID   string `json:"providerId"`
	FTMProvider  string `json:"ftmProvider"`
	Dev          bool   `json:"dev"`
	MetricsAddr  string `json:"metricsAddr"`
	SerialPrefix string `json:"serialPrefix"`
	// KeyRotation is how long a device signing key is used before the
	// agent replaces it (ParseKeyRotation: "30d", "720h"); "" is the SBI
	// schedule, DefaultKeyRotation. A key is also replaced at 2/3 of its
	// certificate's life if that comes first.
	KeyRotation string `json:"keyRotation"`
	// EncryptionCerts maps a domainUri to the PEM certificate file auth
	// captures for it are encrypted to; "*" is used for any other domainUri.
	EncryptionCerts map[string]string `json:"encryptionCerts"`
	Devices         []DeviceConfig    `json:"devices"`
}

// DeviceConfig is one biometric device fronted by this agent.
type DeviceConfig struct {
	ID            string `json:"id"` // deviceId and serialNo
	Type          string `json:"type"`
	SubType       string `json:"subType"`
	Purpose       string `json:"purpose"`
	Certification string `json:"certification"`
	Make          string `json:"make"`
	Model         string `json:"model"`
	// Sensor says where images come from: "emulated" (the R30x emulator on
	// a pseudo-terminal for fingers; sample ISO records for iris and face),
	// or a serial port such as /dev/ttyUSB0, or "usb:VID:PID".
	Sensor string `json:"sensor"`
	Baud   int    `json:"baud"`
}

// DevDevices is the device set `serve --dev` fronts: one of every kind the
// MOSIP CTK has cases for.
func DevDevices(prefix string) []DeviceConfig {
	if prefix == "" {
		prefix = "ET"
	}
	d := func(id, typ, sub, purpose string) DeviceConfig {
		return DeviceConfig{ID: prefix + id, Type: typ, SubType: sub, Purpose: purpose,
			Certification: sbi.CertL1, Make: "edgetrust", Model: "emulated " + typ + " " + sub, Sensor: "emulated"}
	}
	return []DeviceConfig{
		d("FA000000001", sbi.TypeFinger, "Single", sbi.PurposeAuth),
		d("FR000000001", sbi.TypeFinger, "Slap", sbi.PurposeRegistration),
		d("IA000000001", sbi.TypeIris, "Single", sbi.PurposeAuth),
		d("IR000000001", sbi.TypeIris, "Double", sbi.PurposeRegistration),
		d("CA000000001", sbi.TypeFace, "Full face", sbi.PurposeAuth),
		d("CR000000001", sbi.TypeFace, "Full face", sbi.PurposeRegistration),
	}
}

// ConfigLimits bound the config file: at most 1 MiB, 256 devices and
// encryption certificates.
var ConfigLimits = jsonx.Limits{MaxBytes: 1 << 20, MaxDepth: 4, MaxArray: 256, MaxMembers: 256}

// LoadConfig reads a JSON config file strictly (internal/jsonx): unknown
// fields, names in another case, duplicated names and invalid UTF-8 are
// errors, so a typo or a second "env" does not silently decide the setting.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var c Config
	if err := jsonx.Decode(f, &c, ConfigLimits); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.State == "" {
		return errors.New("no state directory: pass --state DIR")
	}
	if c.Port != 0 && (c.Port < sbi.PortMin || c.Port > sbi.PortMax) {
		return fmt.Errorf("port %d is outside the SBI range %d–%d", c.Port, sbi.PortMin, sbi.PortMax)
	}
	if c.TPM == "" {
		return errors.New("no TPM: pass --tpm sim|swtpm://HOST:PORT|/dev/tpmrm0 (or --dev)")
	}
	if c.Env == "" {
		c.Env = sbi.EnvDeveloper
	}
	if !sbi.ValidEnv(c.Env) {
		return fmt.Errorf("env %q: want Staging, Developer, Pre-Production or Production", c.Env)
	}
	if c.Provider == "" {
		c.Provider = "edgetrust"
	}
	if c.ProviderID == "" {
		c.ProviderID = "EDGETRUST.SBI"
	}
	if c.FTMProvider == "" {
		c.FTMProvider = c.Provider
	}
	if _, err := ParseKeyRotation(c.KeyRotation); err != nil {
		return err
	}
	if len(c.Devices) == 0 {
		return errors.New("no devices configured: list them in the config file or use --dev")
	}
	seen := map[string]bool{}
	for i := range c.Devices {
		d := &c.Devices[i]
		if d.ID == "" || len(d.ID) > 64 {
			return fmt.Errorf("device %d: id must be 1–64 characters", i)
		}
		if seen[d.ID] {
			return fmt.Errorf("device id %q appears twice", d.ID)
		}
		seen[d.ID] = true
		if !sbi.ValidType(d.Type) || !sbi.ValidDeviceSubType(d.Type, d.SubType) {
			return fmt.Errorf("device %s: type %q / subType %q is not an SBI pairing", d.ID, d.Type, d.SubType)
		}
		if d.Purpose != sbi.PurposeAuth && d.Purpose != sbi.PurposeRegistration {
			return fmt.Errorf("device %s: purpose %q: want Auth or Registration", d.ID, d.Purpose)
		}
		if d.Certification == "" {
			d.Certification = sbi.CertL1
		}
		if !slices.Contains([]string{sbi.CertL0, sbi.CertL1}, d.Certification) {
			return fmt.Errorf("device %s: certification %q: want L0 or L1", d.ID, d.Certification)
		}
		if d.Sensor == "" {
			d.Sensor = "emulated"
		}
		if d.Make == "" {
			d.Make = c.Provider
		}
		if d.Model == "" {
			d.Model = d.Type + " " + d.SubType
		}
	}
	return nil
}

// subIDs is the deviceSubId set a device advertises (§2.1 of the SBI digest).
func subIDs(typ, sub string) []int {
	switch {
	case typ == sbi.TypeFinger && sub == "Slap":
		return []int{1, 2, 3}
	case typ == sbi.TypeIris && sub == "Double":
		return []int{1, 2, 3}
	}
	return []int{0}
}
