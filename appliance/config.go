package appliance

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/edgetrust/edgetrust/appliance/auth"
	"github.com/edgetrust/edgetrust/appliance/captureverify"
	"github.com/edgetrust/edgetrust/internal/delegate"
	"github.com/edgetrust/edgetrust/internal/feed"
	"github.com/edgetrust/edgetrust/internal/jsonx"
)

// Config is the appliance's configuration: a JSON file, overridden by
// EDGETRUST_APPLIANCE_* environment variables, overridden by flags (see
// cmd/edgetrust-appliance).
type Config struct {
	// State is the directory for the database, TPM key blobs and
	// certificates (required).
	State string `json:"state"`
	// Listen is the API address (default 127.0.0.1:8443; plain HTTP).
	Listen string `json:"listen"`
	// Central is central's base URL; without it the trust data is never
	// refreshed and goes stale.
	Central string `json:"central"`
	// CentralReplicas are more URLs of the same central (replicas on one
	// PostgreSQL): the feeds fail over to them in turn, from the stored
	// checkpoint (at most follow.MaxCentrals URLs in all).
	CentralReplicas []string `json:"centralReplicas,omitempty"`
	// FeedKeys are PEM files with the Ed25519 public keys central signs
	// feeds with (required with Central).
	FeedKeys []string `json:"feedKeys"`
	// CentralCA is a PEM file of CA certificates for central's TLS
	// certificate (default: the system roots).
	CentralCA string `json:"centralCA"`
	// TPM holds the SBI decryption key (sim, swtpm://HOST:PORT,
	// /dev/tpmrm0). Without it auth captures cannot be fully verified.
	TPM string `json:"tpm"`
	// Name goes into the appliance's certificates (default: the host name).
	Name string `json:"name"`
	// MaxStaleness is how old the trust data may be (default 10m).
	MaxStaleness Duration `json:"maxStaleness"`
	// StalePolicy is reject (default) or warn.
	StalePolicy string `json:"stalePolicy"`
	// PollWait is the long-poll wait asked of central (default 30s).
	PollWait Duration `json:"pollWait"`
	// CaptureMaxAge and CaptureMaxFuture bound capture timestamps
	// (defaults 2m and 30s).
	CaptureMaxAge    Duration `json:"captureMaxAge"`
	CaptureMaxFuture Duration `json:"captureMaxFuture"`
	// RateLimit is verifications per second (default 5000; negative: none).
	RateLimit float64 `json:"rateLimit"`
	// MaxInFlight is concurrent verifications (default 4 × cores).
	MaxInFlight int `json:"maxInFlight"`
	// QRTrustList and QRRevocations are the signed Claim 169 trust list
	// and revocation list (edgetrust-central trust export), verified with
	// the feed keys and reloaded when they change. Without a trust list
	// POST /v1/qr/verify answers that none is loaded.
	QRTrustList   string `json:"qrTrustList"`
	QRRevocations string `json:"qrRevocations"`
	// QRRateLimit is QR verifications per second, all clients together
	// (default qrverify.DefaultRate, burst qrverify.RateBurst).
	QRRateLimit float64 `json:"qrRateLimit"`

	// ID is the appliance's id at central: its records feed is
	// records.<id>. Default: the id it was enrolled as (edgetrust-appliance
	// enrol --id saves it in the state directory).
	ID string `json:"id"`
	// TargetFMR is the fingerprint false-match rate POST /v1/auth decides
	// at (default 1e-4; the matcher is calibrated down to 3e-5).
	TargetFMR float64 `json:"targetFMR"`
	// IrisThreshold and FaceThreshold are the iris (normalised Hamming
	// distance, default 0.36, in (0, 0.5)) and face (descriptor distance,
	// default 0.6, in (0, 1.5)) thresholds POST /v1/auth decides at; set
	// them from a deployment's own impostor scores (docs/performance.md).
	IrisThreshold float64 `json:"irisThreshold"`
	FaceThreshold float64 `json:"faceThreshold"`
	// LockoutFailures consecutive failed matches lock a VID out for
	// LockoutDuration (defaults 5 and 15m; negative failures: never).
	LockoutFailures int      `json:"lockoutFailures"`
	LockoutDuration Duration `json:"lockoutDuration"`
	// RPRateLimit is decisions per second per relying party, RPBurst its
	// bucket (defaults 20 and 40; negative rate: unlimited).
	RPRateLimit float64 `json:"rpRateLimit"`
	RPBurst     int     `json:"rpBurst"`
	// RPAuth is how relying parties authenticate on POST /v1/auth:
	// "cert+key" (default: central's client certificate and the API
	// key), "cert" (the certificate alone) or "key" (the API key alone,
	// an explicit fallback).
	RPAuth string `json:"rpAuth"`
	// DecisionSigning is "delegated" (default: decisions are signed ES256
	// by an in-memory key the TPM key vouches for, renewed every
	// DelegateLifetime/2; decision 0017) or "tpm" (every decision signed
	// RS256 inside the TPM: slower by the chip's signing time).
	DecisionSigning  string   `json:"decisionSigning"`
	DelegateLifetime Duration `json:"delegateLifetime"`
	// SessionKeyUnwrap is "software" (default: the SBI decryption key is a
	// software key sealed at rest by the TPM and unsealed into memory, so
	// unwrapping a capture's session key costs microseconds, not a chip's
	// RSA operation; decision 0017) or "tpm". It takes effect when the
	// state directory gets its encryption key; an appliance enrolled with
	// its TPM key keeps it.
	SessionKeyUnwrap string `json:"sessionKeyUnwrap"`
}

// Session-key unwrap modes.
const (
	UnwrapSoftware = "software"
	UnwrapTPM      = "tpm"
)

// Decision signing modes.
const (
	SignDelegated = "delegated"
	SignTPM       = "tpm"
)

// Duration is a time.Duration written as "10m" in JSON.
type Duration time.Duration

// UnmarshalJSON reads "10m", "30s", ...
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"10m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// LoadConfig reads a JSON config file; unknown fields are errors, so a
// typo does not silently fall back to a default.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Strict JSON (internal/jsonx): a key given twice or in another case
	// is an error too, not the last or a case-folded match.
	var c Config
	if err := jsonx.Unmarshal(b, &c, jsonx.Limits{MaxBytes: 1 << 20}); err != nil {
		// A config has fields, as the flags and docs call them.
		return nil, fmt.Errorf("config %s: %s", path, strings.Replace(err.Error(), "unknown member", "unknown field", 1))
	}
	return &c, nil
}

// Defaults.
const (
	DefaultListen       = "127.0.0.1:8443"
	DefaultMaxStaleness = 10 * time.Minute
	DefaultPollWait     = 30 * time.Second
)

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.State == "" {
		return errors.New("no state directory: pass --state DIR")
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen address %q: want HOST:PORT such as 127.0.0.1:8443", c.Listen)
	}
	if c.Central != "" {
		u, err := url.Parse(c.Central)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("central %q: want a URL such as https://central.example.org", c.Central)
		}
		for _, r := range c.CentralReplicas {
			if u, err := url.Parse(r); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("central replica %q: want a URL such as https://central-2.example.org", r)
			}
		}
		if len(c.FeedKeys) == 0 {
			return errors.New("--central needs --feed-key FILE: the Ed25519 public key central signs its feeds with (PEM)")
		}
	}
	if c.MaxStaleness == 0 {
		c.MaxStaleness = Duration(DefaultMaxStaleness)
	}
	if c.MaxStaleness < 0 {
		return errors.New("max staleness must be positive")
	}
	switch captureverify.StalePolicy(c.StalePolicy) {
	case "":
		c.StalePolicy = string(captureverify.StaleReject)
	case captureverify.StaleReject, captureverify.StaleWarn:
	default:
		return fmt.Errorf("stale policy %q: want reject or warn", c.StalePolicy)
	}
	if c.PollWait == 0 {
		c.PollWait = Duration(DefaultPollWait)
	}
	if c.PollWait < 0 || time.Duration(c.PollWait) > 5*time.Minute {
		return errors.New("poll wait must be between 0 and 5m")
	}
	if time.Duration(c.PollWait) >= time.Duration(c.MaxStaleness) {
		return fmt.Errorf("poll wait %s must be well under the maximum staleness %s", time.Duration(c.PollWait), time.Duration(c.MaxStaleness))
	}
	if c.CaptureMaxAge == 0 {
		c.CaptureMaxAge = Duration(captureverify.DefaultMaxAge)
	}
	if c.CaptureMaxFuture == 0 {
		c.CaptureMaxFuture = Duration(captureverify.DefaultMaxFuture)
	}
	if c.CaptureMaxAge < 0 || c.CaptureMaxFuture < 0 {
		return errors.New("capture time windows must be positive")
	}
	if c.Name == "" {
		c.Name, _ = os.Hostname()
	}
	if c.ID != "" && !validID.MatchString(c.ID) {
		return fmt.Errorf("appliance id %q: want 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", c.ID)
	}
	if c.TargetFMR == 0 {
		c.TargetFMR = auth.DefaultTargetFMR
	}
	if !(c.TargetFMR >= auth.MinTargetFMR && c.TargetFMR <= 0.01) {
		return fmt.Errorf("target FMR %g: want between %g (the lowest the matcher is calibrated for) and 0.01", c.TargetFMR, auth.MinTargetFMR)
	}
	if c.IrisThreshold == 0 {
		c.IrisThreshold = auth.DefaultIrisThreshold
	}
	if !(c.IrisThreshold > 0 && c.IrisThreshold < 0.5) {
		return fmt.Errorf("iris threshold %g: want above 0 and below 0.5 (what unrelated irises score)", c.IrisThreshold)
	}
	if c.FaceThreshold == 0 {
		c.FaceThreshold = auth.DefaultFaceThreshold
	}
	if !(c.FaceThreshold > 0 && c.FaceThreshold < 1.5) {
		return fmt.Errorf("face threshold %g: want above 0 and below 1.5", c.FaceThreshold)
	}
	if c.LockoutFailures == 0 {
		c.LockoutFailures = auth.DefaultLockoutFailures
	}
	if c.LockoutFailures > 1000 {
		return errors.New("lockout failures must be at most 1000 (negative: no lockout)")
	}
	if c.LockoutDuration == 0 {
		c.LockoutDuration = Duration(auth.DefaultLockoutDuration)
	}
	if c.LockoutDuration < 0 {
		return errors.New("lockout duration must be positive")
	}
	if c.RPRateLimit == 0 {
		c.RPRateLimit = auth.DefaultRPRate
	}
	if c.RPBurst < 0 {
		return errors.New("relying-party burst must be positive")
	}
	switch c.RPAuth {
	case "":
		c.RPAuth = auth.RPAuthCertKey
	case auth.RPAuthKey, auth.RPAuthCertKey, auth.RPAuthCert:
	default:
		return fmt.Errorf("relying-party authentication %q: want %s, %s or %s", c.RPAuth, auth.RPAuthCertKey, auth.RPAuthCert, auth.RPAuthKey)
	}
	switch c.DecisionSigning {
	case "":
		c.DecisionSigning = SignDelegated
	case SignDelegated, SignTPM:
	default:
		return fmt.Errorf("decision signing %q: want %q or %q", c.DecisionSigning, SignDelegated, SignTPM)
	}
	switch c.SessionKeyUnwrap {
	case "":
		c.SessionKeyUnwrap = UnwrapSoftware
	case UnwrapSoftware, UnwrapTPM:
	default:
		return fmt.Errorf("session-key unwrap %q: want %q or %q", c.SessionKeyUnwrap, UnwrapSoftware, UnwrapTPM)
	}
	if c.DelegateLifetime == 0 {
		c.DelegateLifetime = Duration(delegate.DefaultLifetime)
	}
	if c.DelegateLifetime < Duration(2*time.Minute) || c.DelegateLifetime > Duration(delegate.MaxLifetime) {
		return fmt.Errorf("delegate lifetime %v: want between 2m and %v", time.Duration(c.DelegateLifetime), delegate.MaxLifetime)
	}
	return nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// LoadFeedKeys reads Ed25519 public keys (PEM "PUBLIC KEY" blocks, several
// per file allowed) and returns them by feed.KeyID.
func LoadFeedKeys(paths []string) (map[string]ed25519.PublicKey, error) {
	keys := map[string]ed25519.PublicKey{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("feed key: %w", err)
		}
		n := 0
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			if blk.Type != "PUBLIC KEY" {
				continue
			}
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("feed key %s: %w", p, err)
			}
			pub, ok := k.(ed25519.PublicKey)
			if !ok {
				return nil, fmt.Errorf("feed key %s: not an Ed25519 key (feeds are signed with Ed25519)", p)
			}
			keys[feed.KeyID(pub)] = pub
			n++
		}
		if n == 0 {
			return nil, fmt.Errorf("feed key %s: no PEM \"PUBLIC KEY\" block", p)
		}
	}
	return keys, nil
}
