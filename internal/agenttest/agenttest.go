package agenttest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgetrust/edgetrust/agent"
	"github.com/edgetrust/edgetrust/agent/devpki"
	"github.com/edgetrust/edgetrust/internal/pki"
	"github.com/edgetrust/edgetrust/sbi"
	"github.com/edgetrust/edgetrust/sbi/client"
)

// Vendor is a device provider with the CA central would issue it.
type Vendor struct {
	ID   string
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// NewVendor makes a vendor CA.
func NewVendor(t testing.TB, id string) *Vendor {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.SelfSigned(k, pki.Profile{
		Subject:  pkix.Name{CommonName: id + " provider CA (issued by central)", Organization: []string{id}},
		Validity: 365*24*time.Hour + pki.Backdate, KeyUsage: x509.KeyUsageCertSign}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &Vendor{ID: id, Key: k, Cert: ca.Cert}
}

// Agent is a running agent.
type Agent struct {
	Svc    *agent.Service
	Client *client.Client
	Port   int
	State  string
}

// Devices is the device set tests use: finger Single/Auth (TFA000000001),
// finger Slap/Registration (TFR000000001), iris Single/Auth (TIA000000001).
func Devices() []agent.DeviceConfig { return agent.DevDevices("T")[:3] }

// AllDevices adds iris Double/Registration (TIR000000001) and face
// Auth and Registration (TCA000000001, TCR000000001) to Devices.
func AllDevices() []agent.DeviceConfig { return agent.DevDevices("T") }

// Start starts an agent on the simulated TPM ("sim", shared with the
// appliance under test) whose certificates v's CA issues, encrypting auth
// captures to the certificate in encCertFile.
func Start(t testing.TB, v *Vendor, encCertFile string, devices ...agent.DeviceConfig) *Agent {
	t.Helper()
	state := t.TempDir()
	dir := filepath.Join(state, "dev-pki")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	keyPEM, err := pki.KeyPEM(v.Key)
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		devpki.ProviderCACert: pki.CertPEM(v.Cert), devpki.ProviderCAKey: keyPEM,
		devpki.FTMCACert: pki.CertPEM(v.Cert), devpki.FTMCAKey: keyPEM,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if len(devices) == 0 {
		devices = Devices()
	}
	cfg := agent.Config{State: state, TPM: "sim", Dev: true, Provider: v.ID, Devices: devices,
		EncryptionCerts: map[string]string{"*": encCertFile}}
	svc, err := agent.Start(context.Background(), cfg, agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &Agent{Svc: svc, Port: svc.Port(), State: state,
		Client: &client.Client{PortMin: svc.Port(), PortMax: svc.Port()}}
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pki.ParseCertPEM(b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// DeviceCert is a device's current device-key certificate.
func (a *Agent) DeviceCert(t testing.TB, id string) *x509.Certificate {
	return readCert(t, filepath.Join(a.State, "devices", id, "device.pem"))
}

// FTMCert is a device's FTM certificate.
func (a *Agent) FTMCert(t testing.TB, id string) *x509.Certificate {
	return readCert(t, filepath.Join(a.State, "devices", id, "ftm.pem"))
}

var txn atomic.Int64

// TransactionID returns a fresh, valid transactionId.
func TransactionID() string {
	return fmt.Sprintf("txn-%d-%d", time.Now().UnixNano()%1e12, txn.Add(1))
}

// AuthRequest is a CAPTURE request for count segments of typ.
func AuthRequest(dev, typ string, count int) *sbi.CaptureRequest {
	return &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeAuth, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", DomainURI: "https://appliance.example.org", TransactionID: TransactionID(),
		Bio: []sbi.BioRequest{{Type: typ, Count: sbi.NumString(fmt.Sprint(count)), BioSubType: []string{sbi.SubtypeUnknown},
			RequestedScore: "40", DeviceID: dev, DeviceSubID: "0"}}}
}

// RegRequest is an RCAPTURE request.
func RegRequest(dev, typ string, subID, count int) *sbi.CaptureRequest {
	return &sbi.CaptureRequest{Env: sbi.EnvDeveloper, Purpose: sbi.PurposeRegistration, SpecVersion: sbi.SpecVersion,
		Timeout: "10000", TransactionID: TransactionID(),
		Bio: []sbi.BioRequest{{Type: typ, Count: sbi.NumString(fmt.Sprint(count)), Exception: []string{},
			RequestedScore: "40", DeviceID: dev, DeviceSubID: sbi.NumString(fmt.Sprint(subID))}}}
}

// Capture sends req and returns the raw answer.
func (a *Agent) Capture(t testing.TB, req *sbi.CaptureRequest) []byte {
	t.Helper()
	var raw []byte
	var err error
	if req.Purpose == sbi.PurposeAuth {
		_, raw, err = a.Client.Capture(context.Background(), a.Port, req)
	} else {
		_, raw, err = a.Client.RCapture(context.Background(), a.Port, req)
	}
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Present puts synthetic person seed's finger on the emulated sensors devs
// through the agent's control socket (an UNKNOWN bioSubType captures finger).
func (a *Agent) Present(ctx context.Context, seed uint64, finger string, devs ...string) error {
	yes := true
	for _, dev := range devs {
		if _, err := agent.Control(ctx, a.State, agent.ControlRequest{Op: "present", Device: dev, Present: &yes, Person: &seed, Finger: finger}); err != nil {
			return err
		}
	}
	return nil
}
